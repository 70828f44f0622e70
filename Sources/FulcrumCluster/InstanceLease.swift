import FulcrumCore
import FulcrumEtcd
import Glibc
import Synchronization

/// This instance's entry in PREFIX/instances/<id>, attached to a lease so
/// that an instance killed with -9 disappears from GET /cluster once the
/// lease's TTL runs out. Renewed every TTL/3; when etcd says the lease is
/// gone (expired while etcd was away, or revoked), a new lease is granted
/// and the key written again rather than giving up (traefik#11941).
final class InstanceLease: @unchecked Sendable {
    enum Phase: Equatable, Sendable {
        case unregistered
        case live(lease: Int64)
    }

    let client: EtcdClient
    let key: String
    let value: String
    let ttl: Int
    private let phase = Mutex(Phase.unregistered)
    private let stopped = Atomic<Bool>(false)
    /// Set when the key was deleted (by hand) while the lease lives: write it again.
    private let rewrite = Atomic<Bool>(false)

    /// The TTL: FULCRUM_REGISTRY_LEASE_TTL seconds (undocumented in -help,
    /// for tests and impatient operators; docs/cluster.md), else 10.
    static var configuredTTL: Int {
        if let e = getenv("FULCRUM_REGISTRY_LEASE_TTL"), let n = Int(String(cString: e)), n >= 1, n <= 3600 { return n }
        return 10
    }

    init(client: EtcdClient, key: String, value: String, ttl: Int) {
        self.client = client
        self.key = key
        self.value = value
        self.ttl = ttl
    }

    func start() { NamedThread.start(name: "fulcrum-lease") { [self] in run() } }

    private func run() {
        let period = max(0.2, Double(ttl) / 3)
        var retry = 0.1
        while !stopped.load(ordering: .relaxed) {
            do throws(EtcdError) {
                switch phase.withLock({ $0 }) {
                case .unregistered:
                    let lease = try client.grantLease(ttl: ttl)
                    try client.put(key, value, lease: lease)
                    phase.withLock { $0 = .live(lease: lease) }
                    Log.info("registry: this instance is \(key) (lease TTL \(ttl) s)")
                case .live(let lease):
                    if rewrite.exchange(false, ordering: .relaxed) {
                        try client.put(key, value, lease: lease)
                        Log.info("registry: \(key) was deleted; written again")
                    }
                    if try client.keepAlive(lease: lease) <= 0 {
                        Log.warn("registry: lease of \(key) expired; registering again")
                        phase.withLock { $0 = .unregistered }
                        continue
                    }
                }
                retry = 0.1
                pause(period)
            } catch {
                pause(retry)
                retry = min(retry * 2, period)
            }
        }
    }

    private func pause(_ seconds: Double) {
        let end = Clock.monotonicNanos() + UInt64(seconds * 1e9)
        while !stopped.load(ordering: .relaxed) && !rewrite.load(ordering: .relaxed) && Clock.monotonicNanos() < end { usleep(20_000) }
    }

    /// This instance's key was deleted while its lease lives: put it back now.
    func writeBack() { rewrite.store(true, ordering: .relaxed) }

    /// On a clean shutdown: remove the entry now rather than at TTL (bounded).
    func stop() {
        stopped.store(true, ordering: .relaxed)
        if case .live(let lease) = phase.withLock({ $0 }) { try? client.revoke(lease: lease, timeout: 1) }
    }
}
