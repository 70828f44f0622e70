import FulcrumCore
import FulcrumProxy
import FulcrumRegistry
import FulcrumRouting
import FulcrumSDK

/// The admin API's pool and route calls (CONTRACT §10), and the status page.
extension AdminAPI {
    /// `GET /pools`: every pool with its strategy (canonical) and backends.
    func listPools() -> AdminResponse {
        let routing = proxy.routing.value
        let list: [JSONValue] = pools.runtimes.map { p in
            var m: [(String, JSONValue)] = [("name", .string(p.name))]
            if case .object(let data) = backendsData(p) { m += data }
            m.append(("default", .bool(routing.defaultProxyPool === p.proxyPool)))
            return .object(m)
        }
        return Self.success(["pools": .array(list)])
    }

    /// `GET /routes`: the routes in match order, with their conditions,
    /// pool and how many requests each matched.
    func listRoutes() -> AdminResponse {
        let routing = proxy.routing.value
        guard let table = routing.table else {
            return Self.success(["routes": .array([]), "default_pool": .string(routing.defaultProxyPool.name)])
        }
        let counts = routing.counters.totals()
        let list: [JSONValue] = table.routes.map { r in
            var m: [(String, JSONValue)] = [("route", .string(r.label)), ("index", .integer(r.index))]
            if case .object(let written) = r.config.json { m += written.filter { $0.0 != "pool" && $0.0 != "name" } }
            if let name = r.config.name { m.append(("name", .string(name))) }
            m.append(("pool", .string(r.pool)))
            m.append(("requests", .integer(Int(r.index < counts.count ? counts[r.index] : 0))))
            return .object(m)
        }
        var data: [(String, JSONValue)] = [("routes", .array(list))]
        data.append(("default_pool", routing.unmatchedPool.map { .string(routing.pools[$0].name) } ?? .null))
        return Self.success(.object(data))
    }

    /// `POST /config/reload`: re-reads the file off the admin loop (a reload
    /// probes the backends it adds); 422 with every problem, nothing changed.
    func reloadConfig(respond: @escaping @Sendable (AdminResponse) -> Void) {
        guard pools.configPath != nil else {
            respond(Self.fail(404, "no configuration file (start with -config FILE)"))
            return
        }
        let pools = self.pools
        background.submit {
            if let problems = pools.reload() {
                Log.warn("POST /config/reload refused: \(problems.count) problem(s)")
                respond(Self.json(422, ["status": "fail", "data": ["errors": .array(problems.map { .string($0) })]]))
                return
            }
            let routing = pools.routing.value
            respond(Self.success(["pools": .integer(routing.pools.count), "routes": .integer(routing.table?.routes.count ?? 0)]))
        }
    }

    /// The status page: the default pool as before (live, with controls),
    /// then a section per other pool and the route table.
    func statusPage(_ r: AdminRequest) -> String {
        let main = pools.defaultRuntime
        var model = StatusPageModel(strategy: main.selection.value.descriptor.name,
                                    available: catalog.strategies.map { ($0.name, $0.description) },
                                    backends: rows(main), host: r.headers["host"] ?? "127.0.0.1:8090")
        let routing = proxy.routing.value
        if routing.table != nil || pools.runtimes.count > 1 {
            var extra = ""
            for p in pools.runtimes where p !== main {
                extra += StatusPage.poolSection(name: p.name, strategy: p.selection.value.descriptor.name, rows: rows(p))
            }
            if let table = routing.table {
                let counts = routing.counters.totals()
                extra += StatusPage.routeSection(table.routes.map { route in
                    (route.label, route.config.json.serialized, route.pool, route.index < counts.count ? counts[route.index] : 0)
                }, unmatched: routing.unmatchedPool.map { routing.pools[$0].name })
            }
            model.extra = extra
            model.defaultPoolName = main.name
        }
        return StatusPage.render(model)
    }

    func rows(_ p: PoolRuntime) -> [StatusPageModel.Row] {
        let statuses = p.registry.statuses()
        let counters = backendCounters(statuses)
        return statuses.map { s in
            let c = counters[s.id] ?? BackendCounters()
            return StatusPageModel.Row(address: s.address, weight: Int(s.weight), healthy: s.healthy, draining: s.draining,
                                       active: Int(s.active), requests: Int(c.requests), failures: Int(c.failures),
                                       latencyMillis: Double(s.latencyMicros) / 1000, lastCheck: s.lastCheck)
        }
    }
}
