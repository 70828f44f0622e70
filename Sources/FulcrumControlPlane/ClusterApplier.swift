import FulcrumCore
import FulcrumPluginHost
import FulcrumProxy
import FulcrumRegistry
import FulcrumSDK

/// Turns shared records into local state: the registry's backends and the
/// published strategy. Health is not shared: a backend new to this instance
/// enters rotation at once (the instance that registered it probed it
/// alive), and from then on only this instance's probes move it; a change
/// of weight or drain never touches its health here.
final class ClusterApplier: Sendable {
    let registry: Registry
    let selection: Published<StrategySelection>
    let catalog: PluginCatalog
    /// Keys under the prefix that are none of the above (another pool's, CONTRACT §10).
    let onOther: @Sendable (String) -> Void

    init(registry: Registry, selection: Published<StrategySelection>, catalog: PluginCatalog,
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
        let resolved: SocketAddress
        switch SocketAddress.resolve(host: endpoint.host, port: endpoint.port) {
        case .success(let s): resolved = s
        case .failure(let e):
            Log.warn("registry: cannot resolve shared backend \(b.address): \(e)")
            return
        }
        switch registry.register(endpoint: endpoint, socketAddress: resolved, weight: b.weight, healthy: local == nil, draining: b.draining) {
        case .added: Log.info("registry: backend \(b.address) weight \(b.weight)\(b.draining ? " (draining)" : "") added")
        case .updated: Log.info("registry: backend \(b.address) now weight \(b.weight)\(b.draining ? ", draining" : "")")
        case .full: Log.error("registry: no room for backend \(b.address)")
        }
    }

    /// The key is gone: drain it here (in-flight requests finish, then it is removed).
    func remove(_ address: String) {
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
