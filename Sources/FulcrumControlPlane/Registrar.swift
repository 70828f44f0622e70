import FulcrumCore
import FulcrumPluginHost
import FulcrumRegistry
import FulcrumSDK

/// Registration as the admin API, `-backend` and the state file do it:
/// resolve the address, probe it once, and register it if alive.
public final class Registrar: Sendable {
    public enum Outcome: Sendable {
        case registered(Backend)
        /// The probe failed: not registered (the detail says why).
        case notAlive(String)
        case invalid(String)
        case full
    }

    let registry: Registry
    let probe: ProbeInstance
    let timeoutMilliseconds: UInt32
    let healthChecker: HealthChecker?

    init(registry: Registry, probe: ProbeInstance, timeout: Double, healthChecker: HealthChecker?) {
        self.registry = registry
        self.probe = probe
        timeoutMilliseconds = UInt32(max(1, timeout * 1000))
        self.healthChecker = healthChecker
    }

    /// What one probe of a candidate found.
    struct Check: Sendable {
        let address: FulcrumAddress
        let resolved: Result<SocketAddress, ResolveError>
        /// nil when alive, else why not.
        let detail: String?
    }

    /// Resolves and probes `address` once. Blocking: run it off any event loop.
    func check(_ address: FulcrumAddress) -> Check {
        let resolved = SocketAddress.resolve(host: address.host, port: address.port)
        var detail: String?
        switch resolved {
        case .success:
            detail = probe.check(address: address.description, timeoutMilliseconds: timeoutMilliseconds)
            healthChecker?.count(address: address.description, passed: detail == nil)
        case .failure(let e):
            detail = e.description
        }
        return Check(address: address, resolved: resolved, detail: detail)
    }

    /// Probes, then registers when alive (the admin API's rule).
    func register(_ address: FulcrumAddress, weight: UInt32, requireAlive: Bool) -> Outcome {
        commit(check(address), weight: weight, draining: false, requireAlive: requireAlive)
    }

    /// Registers after a check. With `requireAlive` false (start-up, state
    /// file) a dead backend is registered anyway, out of rotation until its
    /// probes pass.
    func commit(_ c: Check, weight: UInt32, draining: Bool, requireAlive: Bool) -> Outcome {
        let address = c.address
        let detail = c.detail
        let resolved: SocketAddress
        switch c.resolved {
        case .success(let s): resolved = s
        case .failure(let e): return requireAlive ? .notAlive(e.description) : .invalid(e.description)
        }
        if let detail, requireAlive { return .notAlive(detail) }
        switch registry.register(endpoint: address, socketAddress: resolved, weight: weight, healthy: detail == nil, draining: draining) {
        case .added(let b):
            Log.info("registered \(b.address) weight \(b.weight)\(b.healthy ? "" : " (not answering yet: \(detail ?? ""))")")
            return .registered(b)
        case .updated(let b):
            Log.info("updated \(b.address) weight \(b.weight)")
            return .registered(b)
        case .full:
            return .full
        }
    }
}
