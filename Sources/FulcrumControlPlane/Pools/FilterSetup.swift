import FulcrumPluginHost
import FulcrumProxy
import FulcrumRouting

/// The filter factories of a validated configuration file: one per
/// configured entry (CONTRACT §11: each entry is its own instance set).
enum FilterSetup {
    struct Problems: Error { let messages: [String] }

    /// nil when the file has no filters; the problems (in `-check-config`'s
    /// form) if a filter refuses its configuration after all.
    static func make(_ config: RoutingConfig, catalog: PluginCatalog, path: String) -> Result<RouteFilters?, Problems> {
        var problems: [String] = []
        func factories(_ entries: [FilterConfig], _ place: String) -> [FilterFactory] {
            entries.enumerated().compactMap { i, entry in
                switch catalog.makeFilterFactory(name: entry.name, config: entry.config?.serialized ?? "{}") {
                case .success(let f): return f
                case .failure(let why):
                    problems.append("\(path): \(place)[\(i)]: \(why)")
                    return nil
                }
            }
        }
        let top = factories(config.filters, "filters")
        let routes = config.routes.enumerated().map { i, r in factories(r.filters ?? [], "routes[\(i)].filters") }
        guard problems.isEmpty else { return .failure(Problems(messages: problems)) }
        if top.isEmpty && routes.allSatisfy(\.isEmpty) { return .success(nil) }
        if let long = routes.firstIndex(where: { top.count + $0.count > FilterRun.maxFilters }) {
            return .failure(Problems(messages: ["\(path): routes[\(long)].filters: more than \(FilterRun.maxFilters) filters with the top-level ones"]))
        }
        return .success(RouteFilters(top: top, routes: routes))
    }
}
