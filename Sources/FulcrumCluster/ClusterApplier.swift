import FulcrumCore
import FulcrumPluginHost
import FulcrumProxy
import FulcrumRegistry
import FulcrumSDK
import Glibc
import Synchronization

/// Turns shared records into local state: the registry's backends and the
/// published strategy. Health is not shared: a backend new to this instance
/// enters rotation at once (the instance that registered it probed it
/// alive), and from then on only this instance's probes move it; a change
/// of weight or drain never touches its health here.
public final class ClusterApplier: Sendable {
    let registry: Registry
    let selection: Published<StrategySelection>
    let catalog: PluginCatalog
    /// Host names waiting for (or retrying) resolution, with their latest
    /// record: resolved on a thread of their own, never on the watch thread
    /// (slow DNS must not stall the watch), retried while still shared.
    private let unresolved = Mutex<[String: SharedBackend]>([:])

    /// Keys under the prefix that are none of the above (another pool's, CONTRACT §10).
    public let onOther: @Sendable (String) -> Void

    public init(registry: Registry, selection: Published<StrategySelection>, catalog: PluginCatalog,
         onOther: @escaping @Sendable (String) -> Void = { _ in }) {
        self.registry = registry
        self.selection = selection
        self.catalog = catalog
        self.onOther = onOther
    }

    func put(_ b: SharedBackend) {
        put(b, local: registry.statuses().first { $0.address == b.address })
    }

    /// `local`: what this instance has at that address (looked up by the caller;
    /// a listing looks up all of them at once, not once per key).
    func put(_ b: SharedBackend, local: BackendStatus?) {
        if let local, local.weight == b.weight, local.draining == b.draining { return }
        guard case .success(let endpoint) = FulcrumAddress.parse(b.address) else {
            Log.warn("registry: ignoring backend \(b.address): not http://host:port")
            return
        }
        let literal = endpoint.isIPv6Literal || endpoint.host.allSatisfy { $0.isNumber || $0 == "." }
        guard literal else { resolveLater(b, endpoint); return }
        guard case .success(let resolved) = SocketAddress.resolve(host: endpoint.host, port: endpoint.port) else {
            resolveLater(b, endpoint)
            return
        }
        register(b, endpoint, resolved, healthy: local == nil)
    }

    private func register(_ b: SharedBackend, _ endpoint: FulcrumAddress, _ resolved: SocketAddress, healthy: Bool) {
        switch registry.register(endpoint: endpoint, socketAddress: resolved, weight: b.weight, healthy: healthy, draining: b.draining) {
        case .added: Log.info("registry: backend \(b.address) weight \(b.weight)\(b.draining ? " (draining)" : "") added")
        case .updated: Log.info("registry: backend \(b.address) now weight \(b.weight)\(b.draining ? ", draining" : "")")
        case .full: Log.error("registry: no room for backend \(b.address)")
        }
    }

    /// Resolves `b`'s host on its own thread, retrying (1 s doubling to 30 s)
    /// for as long as the address is shared; the newest record wins.
    private func resolveLater(_ b: SharedBackend, _ endpoint: FulcrumAddress) {
        let first = unresolved.withLock { u -> Bool in
            let isNew = u[b.address] == nil
            u[b.address] = b
            return isNew
        }
        guard first else { return }
        NamedThread.start(name: "fulcrum-resolve") { [self] in
            var wait = 1.0
            while true {
                switch SocketAddress.resolve(host: endpoint.host, port: endpoint.port) {
                case .success(let resolved):
                    guard let latest = unresolved.withLock({ $0.removeValue(forKey: b.address) }) else { return }
                    let local = registry.statuses().first { $0.address == latest.address }
                    register(latest, endpoint, resolved, healthy: local == nil)
                    return
                case .failure(let e):
                    Log.warn("registry: cannot resolve shared backend \(b.address): \(e); retrying in \(Int(wait)) s")
                }
                usleep(UInt32(wait * 1e6))
                wait = min(wait * 2, 30)
                if unresolved.withLock({ $0[b.address] == nil }) { return }
            }
        }
    }

    /// The key is gone: drain it here (in-flight requests finish, then it is removed).
    func remove(_ address: String) {
        unresolved.withLock { _ = $0.removeValue(forKey: address) }
        if registry.drain(address: address) != nil {
            Log.info("registry: backend \(address) deregistered; draining")
            registry.removeIdleDrained()
        }
    }

    func select(_ s: SharedStrategy) {
        let current = selection.value
        guard let descriptor = catalog.strategy(named: s.name) else {
            Log.error("registry: strategy \"\(s.name)\" is not loaded on this instance; keeping \(current.descriptor.name)")
            return
        }
        if descriptor === current.descriptor && s.config == current.config { return }
        guard descriptor.makeInstance(config: s.config) != nil else {
            Log.error("registry: strategy \(descriptor.name) refused configuration \(s.config); keeping \(current.descriptor.name)")
            return
        }
        selection.publish(StrategySelection(descriptor: descriptor, config: s.config))
        Log.info("registry: strategy switched from \(current.descriptor.name) to \(descriptor.name)")
    }

    /// After a full listing: the shared set becomes the local set.
    func resync(_ backends: [SharedBackend], strategy: SharedStrategy?) {
        let shared = Set(backends.map(\.address))
        let locals = registry.statuses()
        for local in locals where !shared.contains(local.address) && !local.draining {
            remove(local.address)
        }
        var byAddress: [String: BackendStatus] = [:]
        for local in locals { byAddress[local.address] = local }
        for b in backends { put(b, local: byAddress[b.address]) }
        if let strategy { select(strategy) }
    }
}
