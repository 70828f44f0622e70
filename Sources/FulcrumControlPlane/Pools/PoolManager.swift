import FulcrumCluster
import FulcrumCore
import FulcrumPluginHost
import FulcrumProxy
import FulcrumRegistry
import FulcrumRouting
import FulcrumSDK
import Glibc
import Synchronization

/// The set of pools and the routes (CONTRACT §10): builds them from the
/// configuration file (or, without one, the single `default` pool), and
/// swaps in a new file on reload — pools matched by name, so what a pool
/// has learnt survives; the data plane sees each change as one `Routing`.
public final class PoolManager: @unchecked Sendable {
    let options: Options
    let catalog: PluginCatalog
    let workers: Int
    /// The file (-config), if any.
    public let configPath: String?
    public let routing: Published<Routing>
    /// Weights are published ×10 (a pool uses slow start; fixed at start, as plugins read it once).
    let scaled: Bool

    private struct State {
        var runtimes: [PoolRuntime]
        /// Pools a reload dropped, kept until their backends have drained away.
        var retired: [PoolRuntime] = []
        var config: RoutingConfig?
        var started = false
    }
    private let state: Mutex<State>
    /// With -registry: the non-default pools' shared registries (set once at start).
    var sharing: PoolSharing? {
        get { sharingCell.withLock { $0 } }
        set { sharingCell.withLock { $0 = newValue } }
    }
    private let sharingCell = Mutex<PoolSharing?>(nil)

    /// Reloads (and start-up) one at a time.
    private let reloading = Mutex<Void>(())

    /// Builds the pools of `config` (nil: only `default`) and the routing.
    init(options: Options, catalog: PluginCatalog, config: RoutingConfig?, configPath: String?) throws(PoolRuntime.SetupError) {
        self.options = options
        self.catalog = catalog
        self.configPath = configPath
        workers = max(1, options.workers)
        scaled = options.slowStart != nil || (config?.pools.contains { ($0.slowStart ?? 0) > 0 } ?? false)
        if scaled { HostServices.setWeightScale(SlowStart.weightScale) }
        var runtimes: [PoolRuntime] = []
        for pool in config?.effectivePools ?? [PoolConfig(name: "default")] {
            let settings = PoolSettings(config == nil ? nil : pool, options: options, catalog: catalog)
            runtimes.append(try PoolRuntime(name: pool.name, settings: settings, catalog: catalog, scaled: scaled))
        }
        state = Mutex(State(runtimes: runtimes, config: config))
        var filters: RouteFilters?
        if let config {
            switch FilterSetup.make(config, catalog: catalog, path: configPath ?? "") {
            case .success(let f): filters = f
            case .failure(let problems): throw PoolRuntime.SetupError(message: problems.messages.joined(separator: "; "))
            }
        }
        routing = Published(Self.makeRouting(runtimes, config, workers: workers, previous: nil, filters: filters))
    }

    static func makeRouting(_ runtimes: [PoolRuntime], _ config: RoutingConfig?, workers: Int, previous: Routing?,
                            filters: RouteFilters? = nil) -> Routing {
        let pools = runtimes.map(\.proxyPool)
        guard let config else {
            return Routing(pools: pools, table: nil, defaultPool: 0, unmatchedPool: 0, workers: workers)
        }
        let names = pools.map(\.name)
        let defaultIndex = names.firstIndex(of: config.defaultPoolName) ?? 0
        let table = RouteTable(config.routes, pools: names, defaultPool: config.defaultPoolName)
        return Routing(pools: pools, table: table, defaultPool: defaultIndex,
                       unmatchedPool: config.defaultPool == nil ? nil : defaultIndex, workers: workers,
                       previous: previous, filters: filters)
    }

    // MARK: reading

    var runtimes: [PoolRuntime] { state.withLock { $0.runtimes } }
    var config: RoutingConfig? { state.withLock { $0.config } }

    func runtime(named name: String) -> PoolRuntime? { state.withLock { s in s.runtimes.first { $0.name == name } } }

    /// The default pool: registrations and admin calls without a pool.
    var defaultRuntime: PoolRuntime {
        let name = routing.value.defaultProxyPool.name
        return runtime(named: name) ?? runtimes[0]
    }

    /// The pool a `pool` parameter names (nil or empty: the default), or nil when unknown.
    func runtime(forParameter name: String?) -> PoolRuntime? {
        guard let name, !name.isEmpty else { return defaultRuntime }
        return runtime(named: name)
    }

    /// Every pool's registrations, for the state file (the default pool's without a pool name).
    func persistentEntries() -> [PersistentBackend] {
        let defaultName = routing.value.defaultProxyPool.name
        return runtimes.flatMap { r in
            r.registry.persistentEntries.map { e in
                var entry = e
                entry.pool = r.name == defaultName ? nil : r.name
                return entry
            }
        }
    }

    // MARK: running

    /// Starts every pool's health checks (after the start-up registrations).
    func startHealth() {
        let list = state.withLock { s -> [PoolRuntime] in
            s.started = true
            return s.runtimes
        }
        for r in list {
            r.slowStart?.arm()
            r.health.start()
        }
    }

    func stopHealth() { for r in runtimes { r.health.stop() } }

    /// Removes drained backends that have no request in flight; their addresses.
    func removeIdleDrained() -> [(pool: String, addresses: [String])] {
        let (current, retired) = state.withLock { ($0.runtimes, $0.retired) }
        let removed = current.map { ($0.name, $0.registry.removeIdleDrained()) }.filter { !$0.1.isEmpty }
        if !retired.isEmpty {
            for r in retired { _ = r.registry.removeIdleDrained() }
            state.withLock { $0.retired.removeAll { $0.registry.statuses().isEmpty } }
        }
        return removed
    }

    func republishIfRamping() { for r in runtimes { r.registry.republishIfRamping() } }

    /// Called after any pool's registrations change (the state file).
    func onPersistentChange(_ body: @escaping @Sendable () -> Void) {
        for r in runtimes { r.registry.onPersistentChange { _ in body() } }
        persistSink.withLock { $0 = body }
    }
    private let persistSink = Mutex<(@Sendable () -> Void)?>(nil)

    // MARK: reload

    /// Re-reads the file: nil when the new one is in force, else one
    /// message per problem (and nothing changed).
    public func reload() -> [String]? {
        guard let path = configPath else { return ["no configuration file (start with -config FILE)"] }
        return reloading.withLock { _ -> [String]? in
            let next: RoutingConfig
            switch ConfigLoader.read(path, options: options, catalog: catalog) {
            case .invalid(let problems): return problems
            case .valid(let c): next = c
            }
            return apply(next, path: path)
        }
    }

    /// Swaps in `next` (valid): pools by name, then the routing in one publish.
    private func apply(_ next: RoutingConfig, path: String) -> [String]? {
        // Filters first: a filter that refuses now (validation passed a moment
        // ago) leaves everything as it was.
        let filters: RouteFilters?
        switch FilterSetup.make(next, catalog: catalog, path: path) {
        case .success(let f): filters = f
        case .failure(let problems): return problems.messages
        }
        let (old, started) = state.withLock { ($0.runtimes, $0.started) }
        var runtimes: [PoolRuntime] = []
        var fresh: [PoolRuntime] = []
        for pool in next.effectivePools {
            let settings = PoolSettings(pool, options: options, catalog: catalog)
            do throws(PoolRuntime.SetupError) {
                if let kept = old.first(where: { $0.name == pool.name }) {
                    try kept.update(settings, catalog: catalog, started: started)
                    runtimes.append(kept)
                } else {
                    let r = try PoolRuntime(name: pool.name, settings: settings, catalog: catalog, scaled: scaled)
                    runtimes.append(r)
                    fresh.append(r)
                }
            } catch {
                return ["\(path): pools.\(pool.name): \(error.message)"]
            }
        }
        // The file's backends: new ones registered (probed, as at start), dropped ones drained.
        for (runtime, pool) in zip(runtimes, next.effectivePools) {
            let listed = pool.backends.map { ($0.address, $0.effectiveWeight) }
            let now = Set(listed.map(\.0))
            for gone in runtime.fileBackends.subtracting(now) where runtime.registry.drain(address: gone) != nil {
                Log.info("pool \(runtime.name): \(gone) is no longer in \(path): draining")
            }
            let entries = listed.compactMap { (address, weight) -> (FulcrumAddress, UInt32, Bool)? in
                guard case .success(let a) = FulcrumAddress.parse(address) else { return nil }
                let known = runtime.registry.statuses().first { $0.address == address }
                if let known, known.weight == weight, !known.draining { return nil }
                return (a, weight, false)
            }
            Fulcrum.registerAll(entries, registrar: runtime.registrar)
            runtime.fileBackends = now
        }
        if let sink = persistSink.withLock({ $0 }) {
            for r in fresh { r.registry.onPersistentChange { _ in sink() } }
        }
        let removed = old.filter { o in !runtimes.contains { $0 === o } }
        state.withLock {
            $0.runtimes = runtimes
            $0.config = next
            $0.retired += removed
        }
        routing.publish(Self.makeRouting(runtimes, next, workers: workers, previous: routing.value, filters: filters))
        if let sharing {
            let defaultName = routing.value.defaultProxyPool.name
            sharing.setKnown(runtimes.map(\.name))
            for r in removed { sharing.stop(r.name) }
            for r in fresh where r.name != defaultName {
                let seeds = (next.pool(named: r.name)?.backends ?? []).map { SharedBackend(address: $0.address, weight: $0.effectiveWeight, draining: false) }
                sharing.start(r, seeds: seeds)
            }
        }
        for r in removed {
            r.health.stop()
            for s in r.registry.statuses() { _ = r.registry.drain(address: s.address) }
            Log.info("pool \(r.name) is no longer in \(path): its backends drain")
        }
        if started { for r in fresh { r.health.start() } }
        Log.info("configuration \(path) reloaded: \(runtimes.count) pool(s), \(next.routes.count) route(s)")
        persistSink.withLock { $0 }?()
        return nil
    }

    /// Records the file's backends per pool (start-up registered them).
    func noteFileBackends(_ config: RoutingConfig) {
        for pool in config.effectivePools {
            runtime(named: pool.name)?.fileBackends = Set(pool.backends.map(\.address))
        }
    }
}
