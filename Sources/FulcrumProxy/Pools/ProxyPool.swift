import CFulcrumShim
import FulcrumRegistry
import FulcrumRouting
import Synchronization

/// One named pool as the data plane sees it: its backends (a `Registry`,
/// with its own health counters and slow start) and the strategy its
/// workers run. Pools are matched by identity across reloads: a pool that
/// keeps its name is the same object, so its health, in-flight counts and
/// counters survive, and each worker keeps its strategy instance.
public final class ProxyPool: Sendable {
    public let name: String
    public let registry: Registry
    public let selection: Published<StrategySelection>

    public init(name: String, registry: Registry, selection: Published<StrategySelection>) {
        self.name = name
        self.registry = registry
        self.selection = selection
    }
}

/// What every worker routes with: the pools and the route table, replaced
/// as a whole (`Published`) by a reload. Immutable.
public final class Routing: Sendable {
    public let pools: [ProxyPool]
    /// nil without `-config`: every request goes to `pools[defaultPool]`,
    /// exactly as before pools existed (no path normalisation, no 404).
    public let table: RouteTable?
    /// Registrations without a pool, `GET /backends` without `?pool=`.
    public let defaultPool: Int
    /// Where unmatched requests go (`default_pool`), or nil: 404 "no route".
    public let unmatchedPool: Int?
    /// Per-route request counts (each worker its own row).
    public let counters: RouteCounters

    public init(pools: [ProxyPool], table: RouteTable?, defaultPool: Int, unmatchedPool: Int?, workers: Int,
                carriedCounts: [UInt64] = []) {
        self.pools = pools
        self.table = table
        self.defaultPool = defaultPool
        self.unmatchedPool = unmatchedPool
        counters = RouteCounters(workers: workers, routes: table?.routes.count ?? 0, base: carriedCounts)
    }

    public func pool(named name: String) -> ProxyPool? { pools.first { $0.name == name } }
    public var defaultProxyPool: ProxyPool { pools[defaultPool] }

    /// Requests matched per route so far, for a table about to replace this
    /// one: a route keeps its count when its label (name or `routes[N]`) is unchanged.
    public func countsCarried(to next: RouteTable?) -> [UInt64] {
        guard let table, let next else { return [] }
        let totals = counters.totals()
        var byLabel: [String: UInt64] = [:]
        for r in table.routes { byLabel[r.label] = totals[r.index] }
        return next.routes.map { byLabel[$0.label] ?? 0 }
    }
}

/// Request counts per route: each worker increments its own row (its own
/// cache lines, relaxed stores, no shared atomics); a reader sums the rows.
public final class RouteCounters: @unchecked Sendable {
    let stride: Int
    let words: UnsafeMutablePointer<UInt64>
    let workers: Int
    let base: [UInt64]
    public let routes: Int

    init(workers: Int, routes: Int, base: [UInt64]) {
        self.workers = workers
        self.routes = routes
        stride = (routes + 7) / 8 * 8
        self.base = base.count == routes ? base : [UInt64](repeating: 0, count: routes)
        words = .allocate(capacity: max(1, workers * stride))
        words.initialize(repeating: 0, count: max(1, workers * stride))
    }

    deinit { words.deallocate() }

    @inline(__always)
    func count(worker: Int, route: Int) {
        let p = words + worker * stride + route
        fulcrum_counter_add(p, 1)
    }

    public func totals() -> [UInt64] {
        (0..<routes).map { r in
            var sum = base[r]
            for w in 0..<workers { sum &+= fulcrum_load_relaxed(words + w * stride + r) }
            return sum
        }
    }
}
