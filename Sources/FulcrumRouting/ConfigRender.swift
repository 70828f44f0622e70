import FulcrumSDK

/// `RoutingConfig` → the JSON it came from (keys the file left out stay
/// out): what the fuzz target parses again, and what `GET /routes` shows.
extension RoutingConfig {
    public var json: JSONValue {
        var top: [(String, JSONValue)] = []
        if !pools.isEmpty {
            top.append(("pools", .object(pools.map { ($0.name, $0.json) })))
        }
        if !routes.isEmpty { top.append(("routes", .array(routes.map(\.json)))) }
        if let d = defaultPool { top.append(("default_pool", .string(d))) }
        if !filters.isEmpty { top.append(("filters", .array(filters.map(\.json)))) }
        return .object(top)
    }
}

extension PoolConfig {
    public var json: JSONValue {
        var m: [(String, JSONValue)] = []
        if let s = strategy { m.append(("strategy", .string(s))) }
        if let c = strategyConfig { m.append(("strategy_config", c)) }
        if !backends.isEmpty {
            m.append(("backends", .array(backends.map { b in
                guard b.asObject else { return .string(b.address) }
                var o: [(String, JSONValue)] = [("address", .string(b.address))]
                if let w = b.weight { o.append(("weight", .integer(Int(w)))) }
                return .object(o)
            })))
        }
        if health.present {
            var h: [(String, JSONValue)] = []
            if let v = health.probe { h.append(("probe", .string(v))) }
            if let v = health.path { h.append(("path", .string(v))) }
            if let v = health.interval { h.append(("interval", .number(v, isInteger: false))) }
            if let v = health.timeout { h.append(("timeout", .number(v, isInteger: false))) }
            if let v = health.rise { h.append(("rise", .integer(v))) }
            if let v = health.fall { h.append(("fall", .integer(v))) }
            m.append(("health", .object(h)))
        }
        if let s = slowStart { m.append(("slow_start", .number(s, isInteger: false))) }
        return .object(m)
    }
}

extension RouteConfig {
    /// The conditions and actions, as written.
    public var json: JSONValue {
        var m: [(String, JSONValue)] = []
        if let v = name { m.append(("name", .string(v))) }
        if let v = host { m.append(("host", .string(v))) }
        if let v = pathPrefix { m.append(("path_prefix", .string(v))) }
        if let v = path { m.append(("path", .string(v))) }
        if let v = methods { m.append(("methods", .array(v.map { .string($0) }))) }
        if let v = headers { m.append(("headers", .object(v.map { ($0.name, .string($0.value)) }))) }
        if let v = stripPrefix { m.append(("strip_prefix", .bool(v))) }
        if let v = pool { m.append(("pool", .string(v))) }
        if let v = requestHeaders { m.append(("request_headers", v.json)) }
        if let v = responseHeaders { m.append(("response_headers", v.json)) }
        if let v = filters { m.append(("filters", .array(v.map(\.json)))) }
        return .object(m)
    }
}

extension HeaderRules {
    public var json: JSONValue {
        var m: [(String, JSONValue)] = []
        if let s = set { m.append(("set", .object(s.map { ($0.name, .string($0.value)) }))) }
        if let r = remove { m.append(("remove", .array(r.map { .string($0) }))) }
        return .object(m)
    }
}

extension FilterConfig {
    public var json: JSONValue {
        var m: [(String, JSONValue)] = [("name", .string(name))]
        if let c = config { m.append(("config", c)) }
        return .object(m)
    }
}
