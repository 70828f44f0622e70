import FulcrumPluginHost

/// The filters of one configuration (CONTRACT §11), as factories: one per
/// configured entry, made when the routing is built (a reload makes new
/// ones, so a reload resets rate-limit buckets). Each worker makes its own
/// instance of every entry from these (`WorkerFilters`). Immutable.
public final class RouteFilters: Sendable {
    /// The top-level `"filters"`: run before every route's own, and on
    /// requests that no route matched but `default_pool` catches.
    public let top: [FilterFactory]
    /// Each route's own entries, by route index.
    public let routes: [[FilterFactory]]

    public init(top: [FilterFactory], routes: [[FilterFactory]]) {
        precondition(routes.allSatisfy { top.count + $0.count <= FilterRun.maxFilters })
        self.top = top
        self.routes = routes
    }
}
