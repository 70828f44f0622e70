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
    /// The file's filters (CONTRACT §11), nil when it has none.
    public let filters: RouteFilters?

    /// `previous`: the routing this one replaces; a route keeps counting
    /// from its count there when its label (name or `routes[N]`) is unchanged.
    public init(pools: [ProxyPool], table: RouteTable?, defaultPool: Int, unmatchedPool: Int?, workers: Int,
                previous: Routing? = nil, filters: RouteFilters? = nil) {
        self.pools = pools
        self.filters = filters
        self.table = table
        self.defaultPool = defaultPool
        self.unmatchedPool = unmatchedPool
        counters = RouteCounters(workers: workers, labels: table?.routes.map(\.label) ?? [], parent: previous?.counters)
    }

    public func pool(named name: String) -> ProxyPool? { pools.first { $0.name == name } }
    public var defaultProxyPool: ProxyPool { pools[defaultPool] }
}

/// Request counts per route: each worker increments its own row (its own
/// cache lines, relaxed stores, no shared atomics); a reader sums the rows.
///
/// Across a reload the new table's counters keep the previous ones as a
/// parent, still live (a worker that has not switched yet may still count
/// there), and add the parent's count of the same label; the generation
/// before that is folded into fixed numbers, so the chain stays two long.
public final class RouteCounters: @unchecked Sendable {
    let stride: Int
    let words: UnsafeMutablePointer<UInt64>
    let workers: Int
    public let labels: [String]
    private let inherited: Mutex<(parent: RouteCounters?, base: [UInt64])>

    init(workers: Int, labels: [String], parent: RouteCounters?) {
        self.workers = workers
        self.labels = labels
        stride = (labels.count + 7) / 8 * 8
        words = .allocate(capacity: max(1, workers * stride))
        words.initialize(repeating: 0, count: max(1, workers * stride))
        parent?.foldParent()
        inherited = Mutex((parent, [UInt64](repeating: 0, count: labels.count)))
    }

    deinit { words.deallocate() }

    @inline(__always)
    func count(worker: Int, route: Int) {
        fulcrum_counter_add(words + worker * stride + route, 1)
    }

    /// Requests per route (in table order), earlier generations included.
    public func totals() -> [UInt64] {
        let (parent, base) = inherited.withLock { ($0.parent, $0.base) }
        let fromParent = parent?.totalsByLabel() ?? [:]
        return labels.indices.map { r in
            var sum = base[r] &+ (fromParent[labels[r]] ?? 0)
            for w in 0..<workers { sum &+= fulcrum_load_relaxed(words + w * stride + r) }
            return sum
        }
    }

    func totalsByLabel() -> [String: UInt64] {
        var out: [String: UInt64] = [:]
        for (label, n) in zip(labels, totals()) { out[label, default: 0] &+= n }
        return out
    }

    /// Turns the parent's live counts into fixed numbers (its table was
    /// replaced two reloads ago: no worker counts there any more).
    func foldParent() {
        let parent = inherited.withLock { $0.parent }
        guard let parent else { return }
        let theirs = parent.totalsByLabel()
        inherited.withLock { s in
            for (r, label) in labels.enumerated() { s.base[r] &+= theirs[label] ?? 0 }
            s.parent = nil
        }
    }
}
