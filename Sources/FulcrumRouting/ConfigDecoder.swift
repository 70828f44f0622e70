import FulcrumSDK

/// JSON → `RoutingConfig`, strictly: every key is known, every value has
/// its type. Problems are collected, not thrown: a file is checked whole
/// and every problem reported once (as `nginx -t` would, but all of them).
/// Semantic checks (pools that exist, strategies, header names) are
/// `ConfigValidator`'s.
struct ConfigDecoder {
    var problems: [ConfigProblem] = []

    mutating func problem(_ place: String, _ message: String) { problems.append(ConfigProblem(place: place, message: message)) }

    /// The members of `value`, or nil (and a problem) when it is not an
    /// object or has a key outside `allowed`.
    mutating func object(_ value: JSONValue, _ place: String, allowed: [String]) -> [(String, JSONValue)]? {
        guard let members = value.objectMembers else {
            problem(place, "must be a JSON object")
            return nil
        }
        for (key, _) in members where !allowed.contains(key) {
            problem(place, "unknown key \"\(key)\" (allowed: \(allowed.joined(separator: ", ")))")
        }
        return members
    }

    mutating func string(_ value: JSONValue, _ place: String) -> String? {
        guard let s = value.stringValue else { problem(place, "must be a string"); return nil }
        return s
    }

    mutating func number(_ value: JSONValue, _ place: String, min: Double, max: Double, allowZero: Bool = false) -> Double? {
        guard let d = value.doubleValue, d.isFinite, allowZero ? d >= 0 : d > min, d <= max else {
            problem(place, "must be a number of seconds \(allowZero ? "from 0" : "greater than \(Int(min))") to \(Int(max))")
            return nil
        }
        return d
    }

    mutating func integer(_ value: JSONValue, _ place: String, min: Int, max: Int) -> Int? {
        guard let n = value.intValue, n >= min, n <= max else {
            problem(place, "must be an integer from \(min) to \(max)")
            return nil
        }
        return n
    }

    mutating func stringMap(_ value: JSONValue, _ place: String) -> [HeaderCondition]? {
        guard let members = value.objectMembers else { problem(place, "must be a JSON object of strings"); return nil }
        var out: [HeaderCondition] = []
        for (k, v) in members {
            guard let s = v.stringValue else { problem(place, "value of \"\(k)\" must be a string"); continue }
            out.append(HeaderCondition(name: k, value: s))
        }
        return out
    }

    mutating func stringList(_ value: JSONValue, _ place: String) -> [String]? {
        guard let items = value.arrayValue else { problem(place, "must be an array of strings"); return nil }
        var out: [String] = []
        for (i, item) in items.enumerated() {
            guard let s = item.stringValue else { problem("\(place)[\(i)]", "must be a string"); continue }
            out.append(s)
        }
        return out
    }

    // MARK: the file

    mutating func decode(_ root: JSONValue) -> RoutingConfig {
        var config = RoutingConfig()
        guard let members = object(root, "", allowed: ["pools", "routes", "default_pool", "filters"]) else { return config }
        for (key, value) in members {
            switch key {
            case "pools":
                guard let pools = value.objectMembers else { problem("pools", "must be a JSON object (pool name → pool)"); continue }
                for (name, body) in pools { config.pools.append(pool(name, body)) }
            case "routes":
                guard let routes = value.arrayValue else { problem("routes", "must be an array of route objects"); continue }
                for (i, r) in routes.enumerated() { config.routes.append(route(r, "routes[\(i)]")) }
            case "default_pool":
                config.defaultPool = string(value, "default_pool")
            case "filters":
                config.filters = filters(value, "filters") ?? []
            default: break
            }
        }
        return config
    }

    mutating func pool(_ name: String, _ value: JSONValue) -> PoolConfig {
        let place = "pools.\(name)"
        var p = PoolConfig(name: name)
        guard let members = object(value, place, allowed: ["strategy", "strategy_config", "backends", "health", "slow_start"]) else { return p }
        for (key, v) in members {
            let here = "\(place).\(key)"
            switch key {
            case "strategy": p.strategy = string(v, here)
            case "strategy_config":
                if v.objectMembers == nil { problem(here, "must be a JSON object") } else { p.strategyConfig = v }
            case "backends":
                guard let items = v.arrayValue else { problem(here, "must be an array of addresses"); continue }
                for (i, item) in items.enumerated() {
                    guard let b = backend(item, "\(here)[\(i)]") else { continue }
                    if p.backends.contains(where: { $0.address == b.address }) {
                        problem("\(here)[\(i)]", "duplicate backend \(b.address)")
                    } else {
                        p.backends.append(b)
                    }
                }
            case "health": p.health = health(v, here)
            case "slow_start": p.slowStart = number(v, here, min: 0, max: 86_400, allowZero: true)
            default: break
            }
        }
        return p
    }

    mutating func backend(_ value: JSONValue, _ place: String) -> BackendEntry? {
        var text: String?
        var weight: UInt32?
        var asObject = false
        if let s = value.stringValue {
            text = s
        } else if let members = object(value, place, allowed: ["address", "weight"]) {
            asObject = true
            for (key, v) in members {
                switch key {
                case "address": text = string(v, "\(place).address")
                case "weight": weight = integer(v, "\(place).weight", min: 1, max: 1000).map(UInt32.init)
                default: break
                }
            }
            if !members.contains(where: { $0.0 == "address" }) { problem(place, "\"address\" is required") }
        } else {
            return nil
        }
        guard let text else { return nil }
        switch FulcrumAddress.parse(text) {
        case .success(let a): return BackendEntry(address: a.description, weight: weight, asObject: asObject)
        case .failure(let e):
            problem(place, "invalid address \"\(text)\": \(e)")
            return nil
        }
    }

    mutating func health(_ value: JSONValue, _ place: String) -> HealthConfig {
        var h = HealthConfig()
        h.present = true
        guard let members = object(value, place, allowed: ["probe", "path", "interval", "timeout", "rise", "fall"]) else { return h }
        for (key, v) in members {
            let here = "\(place).\(key)"
            switch key {
            case "probe": h.probe = string(v, here)
            case "path":
                if let s = string(v, here) {
                    if s.hasPrefix("/"), s.utf8.allSatisfy({ $0 > 0x20 && $0 < 0x7F }) { h.path = s } else {
                        problem(here, "\"\(s)\" must start with / and contain no spaces")
                    }
                }
            case "interval": h.interval = number(v, here, min: 0, max: 86_400)
            case "timeout": h.timeout = number(v, here, min: 0, max: 86_400)
            case "rise": h.rise = integer(v, here, min: 1, max: 100)
            case "fall": h.fall = integer(v, here, min: 1, max: 100)
            default: break
            }
        }
        return h
    }

    static let routeKeys = ["name", "host", "path_prefix", "path", "methods", "headers", "strip_prefix", "pool",
                            "request_headers", "response_headers", "filters"]

    mutating func route(_ value: JSONValue, _ place: String) -> RouteConfig {
        var r = RouteConfig()
        guard let members = object(value, place, allowed: Self.routeKeys) else { return r }
        for (key, v) in members {
            let here = "\(place).\(key)"
            switch key {
            case "name": r.name = string(v, here)
            case "host": r.host = string(v, here)
            case "path_prefix": r.pathPrefix = string(v, here)
            case "path": r.path = string(v, here)
            case "methods": r.methods = stringList(v, here)
            case "headers": r.headers = stringMap(v, here)
            case "strip_prefix":
                if let b = v.boolValue { r.stripPrefix = b } else { problem(here, "must be true or false") }
            case "pool": r.pool = string(v, here)
            case "request_headers": r.requestHeaders = rules(v, here)
            case "response_headers": r.responseHeaders = rules(v, here)
            case "filters": r.filters = filters(v, here)
            default: break
            }
        }
        return r
    }

    mutating func rules(_ value: JSONValue, _ place: String) -> HeaderRules? {
        guard let members = object(value, place, allowed: ["set", "remove"]) else { return nil }
        var rules = HeaderRules()
        for (key, v) in members {
            switch key {
            case "set": rules.set = stringMap(v, "\(place).set")
            case "remove": rules.remove = stringList(v, "\(place).remove")
            default: break
            }
        }
        return rules
    }

    mutating func filters(_ value: JSONValue, _ place: String) -> [FilterConfig]? {
        guard let items = value.arrayValue else { problem(place, "must be an array of {\"name\", \"config\"} objects"); return nil }
        var out: [FilterConfig] = []
        for (i, item) in items.enumerated() {
            let here = "\(place)[\(i)]"
            guard let members = object(item, here, allowed: ["name", "config"]) else { continue }
            var name: String?
            var config: JSONValue?
            for (key, v) in members {
                switch key {
                case "name": name = string(v, "\(here).name")
                case "config":
                    if v.objectMembers == nil { problem("\(here).config", "must be a JSON object") } else { config = v }
                default: break
                }
            }
            guard let name else {
                if !members.contains(where: { $0.0 == "name" }) { problem(here, "\"name\" is required") }
                continue
            }
            out.append(FilterConfig(name: name, config: config))
        }
        return out
    }
}

/// One problem with a configuration file: where (`routes[1]`,
/// `pools.api.strategy`, or "" for the file as a whole) and what.
public struct ConfigProblem: Equatable, Sendable, CustomStringConvertible {
    public var place: String
    public var message: String
    public init(place: String, message: String) {
        self.place = place
        self.message = message
    }
    public var description: String { place.isEmpty ? message : "\(place): \(message)" }
}
