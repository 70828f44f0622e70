import FulcrumCore
import FulcrumPluginHost

/// One route's chain as a worker runs it: the instances in order (the
/// top-level entries first, shared by every chain of this worker) and the
/// route's name as bytes for `fulcrum_filter_request.route`.
final class RouteChain {
    let chain: FilterChain
    let routeName: [UInt8]
    /// An instance could not be made (`on_filter_new` failed): the chain
    /// answers 500 rather than run without a filter the file asked for.
    let broken: Bool

    init(chain: FilterChain, routeName: [UInt8], broken: Bool) {
        self.chain = chain
        self.routeName = routeName
        self.broken = broken
    }
}

/// A worker's filter instances for the routing in force: one instance per
/// configured entry (never used by another thread), a chain per route, and
/// the reusable per-request runs. Rebuilt when a reload publishes new
/// routing; a request keeps its chain (and so its instances) until it ends.
final class WorkerFilters {
    /// By route index; nil for a route without filters (and no top-level ones).
    let chains: [RouteChain?]
    /// Requests no route matched, sent to `default_pool`: the top-level filters.
    let unmatched: RouteChain?
    let runs = FilterRunPool()

    /// nil when the configuration has no filters at all (the request path
    /// then costs one nil test).
    init?(_ filters: RouteFilters?, labels: [String], worker: Int) {
        guard let filters, !filters.top.isEmpty || filters.routes.contains(where: { !$0.isEmpty }) else { return nil }
        func instance(_ factory: FilterFactory) -> FilterInstance? {
            let made = factory.makeInstance(worker: UInt32(worker))
            if made == nil {
                Log.error("worker \(worker): filter \(factory.descriptor.name) could not make its instance; its routes answer 500")
            }
            return made
        }
        let top = filters.top.map(instance)
        func chain(_ own: [FilterFactory], label: String) -> RouteChain? {
            let mine = own.map(instance)
            let all = top + mine
            guard !all.isEmpty else { return nil }
            return RouteChain(chain: FilterChain(all.compactMap { $0 }), routeName: Array(label.utf8),
                              broken: all.contains { $0 == nil })
        }
        chains = zip(filters.routes, labels).map { chain($0.0, label: $0.1) }
        unmatched = chain([], label: "")
    }
}
