import FulcrumCore
import FulcrumEtcd
import Glibc
import Synchronization

/// Set once at start-up, read by every admin call: the shared registry
/// (made after the admin listener is bound, since its instance record
/// names the admin address) and that address.
public final class SharedBox: Sendable {
    public init() {}
    private let cell = Mutex<(SharedRegistry?, String)>((nil, ""))
    public var value: SharedRegistry? {
        get { cell.withLock { $0.0 } }
        set { cell.withLock { $0.0 = newValue } }
    }
    public var adminAddress: String {
        get { cell.withLock { $0.1 } }
        set { cell.withLock { $0.1 = newValue } }
    }
}

/// What -backend, -demo and -algo mean with -registry: written to etcd on
/// the first connection only if that address was never in the registry (no
/// `PREFIX/known/<address>` marker), so a restarted instance never undoes a
/// weight change, drain, removal or strategy switch made since through the
/// cluster. Until etcd answers, the instance serves those backends alone.
public enum ClusterStart {
    /// Returns false when etcd refused a write (e.g. the NOSPACE alarm): the
    /// caller retries, and meanwhile serves the -backend set it started with.
    public static func seed(_ shared: SharedRegistry, backends: [SharedBackend], strategy: SharedStrategy) -> Bool {
        do throws(EtcdError) {
            for b in backends where try shared.seedBackend(b) {
                Log.info("registry: -backend \(b.address) written to \(shared.url)")
            }
            if try shared.seedStrategy(strategy) {
                Log.info("registry: strategy \(strategy.name) written to \(shared.url) (there was none)")
            }
            return true
        } catch {
            Log.warn("registry: could not write the start-up backends/strategy: \(error.message)")
            return false
        }
    }

    /// host-pid-random: unique per run, readable in GET /cluster.
    public static func instanceID() -> String {
        var name = [CChar](repeating: 0, count: 256)
        let host = gethostname(&name, 255) == 0 ? String(cString: name) : "fulcrum"
        let random = String(UInt32.random(in: 0...UInt32.max), radix: 16)
        return "\(host)-\(getpid())-\(random)"
    }
}
