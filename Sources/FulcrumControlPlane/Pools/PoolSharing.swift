import FulcrumCluster
import FulcrumCore
import FulcrumEtcd
import FulcrumPluginHost
import FulcrumRegistry
import Synchronization

/// `-registry` with pools (CONTRACT §10, docs/cluster.md): the default pool
/// keeps §7's keys; every other pool is shared under `PREFIX/pools/<name>`
/// with the same layout (`…/backends/<address>`, `…/strategy`), through a
/// shared registry of its own (its own watch, and an instance key under
/// `PREFIX/pools/<name>/instances/` that nothing reads: `GET /cluster` lists
/// the instances under PREFIX). Only the shared registry's public calls are
/// used, so the cluster code can live in a module of its own. Pools and routes come from each instance's own file;
/// a registration for a pool this instance does not have is ignored with a
/// warning (the default pool's sync sees its key and reports it).
final class PoolSharing: Sendable {
    let url: EtcdURL
    let catalog: PluginCatalog
    let instance: InstanceInfo
    private let syncs = Mutex<[String: SharedRegistry]>([:])
    /// Pool names this instance has (the default one included).
    private let known = Mutex<Set<String>>([])
    /// Unknown pools already warned about (once each).
    private let warned = Mutex<Set<String>>([])

    init(url: EtcdURL, catalog: PluginCatalog, instance: InstanceInfo) {
        self.url = url
        self.catalog = catalog
        self.instance = instance
    }

    /// The prefix of pool `name`'s keys.
    func url(for name: String) -> EtcdURL? {
        guard case .success(let u) = EtcdURL.parse(url.description + "/pools/" + name) else { return nil }
        return u
    }

    /// Starts sharing a (non-default) pool; `seeds`: its file's backends,
    /// written only where never written, as -backend ones are.
    func start(_ runtime: PoolRuntime, seeds: [SharedBackend]) {
        guard let poolURL = url(for: runtime.name) else { return }
        let strategySeed = SharedStrategy(name: runtime.selection.value.descriptor.name, config: runtime.selection.value.config)
        let shared = SharedRegistry(url: poolURL, applier: ClusterApplier(registry: runtime.registry, selection: runtime.selection, catalog: catalog),
                                    instance: instance) { ClusterStart.seed($0, backends: seeds, strategy: strategySeed) }
        syncs.withLock { $0[runtime.name] = shared }
        shared.start()
    }

    func stop(_ name: String) {
        if let s = syncs.withLock({ $0.removeValue(forKey: name) }) { s.stop() }
    }

    func stopAll() {
        for s in syncs.withLock({ Array($0.values) }) { s.stop() }
        syncs.withLock { $0.removeAll() }
    }

    func shared(for name: String) -> SharedRegistry? { syncs.withLock { $0[name] } }

    func setKnown(_ names: [String]) { known.withLock { $0 = Set(names) } }

    /// A key under PREFIX the default pool's sync does not handle: a
    /// registration for a pool this instance lacks is reported, once per pool.
    func other(key: String, prefix: String) {
        let poolsPrefix = prefix + "/pools/"
        guard key.hasPrefix(poolsPrefix) else { return }
        let rest = key.dropFirst(poolsPrefix.count)
        guard let slash = rest.firstIndex(of: "/"), rest[slash...].hasPrefix("/backends/") else { return }
        let pool = String(rest[..<slash])
        guard !known.withLock({ $0.contains(pool) }), warned.withLock({ $0.insert(pool).inserted }) else { return }
        Log.warn("registry: ignoring registrations for pool \(pool): this instance's configuration has no such pool")
    }
}
