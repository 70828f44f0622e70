import FulcrumSDK

/// What validation needs to know about the running program, passed in so
/// that validation stays pure (and testable, and fuzzable): which strategy
/// and probe names exist, whether a strategy takes a configuration, and
/// whether a filter takes its configuration (issue 16 plugs filters in).
public struct ValidationContext: Sendable {
    /// The canonical name of a strategy name or alias, nil when unknown.
    public var canonicalStrategy: @Sendable (String) -> String?
    /// Why `strategy` (canonical; nil: the -algo default) refuses `config`, or nil when it takes it.
    public var strategyRefusal: @Sendable (_ strategy: String?, _ config: JSONValue) -> String?
    /// Whether a probe of that name exists.
    public var probeExists: @Sendable (String) -> Bool
    /// Why a filter entry is refused (unknown filter, bad configuration), or nil.
    public var filterRefusal: @Sendable (FilterConfig) -> String?

    public init(canonicalStrategy: @escaping @Sendable (String) -> String?,
                strategyRefusal: @escaping @Sendable (String?, JSONValue) -> String? = { _, _ in nil },
                probeExists: @escaping @Sendable (String) -> Bool,
                filterRefusal: @escaping @Sendable (FilterConfig) -> String? = { "unknown filter \"\($0.name)\"" }) {
        self.canonicalStrategy = canonicalStrategy
        self.strategyRefusal = strategyRefusal
        self.probeExists = probeExists
        self.filterRefusal = filterRefusal
    }
}

/// The checks that need more than the file's shape: references between
/// its parts, names the program knows, and the header and path rules.
enum ConfigValidator {
    /// The longest chain (top-level plus a route's own): the host's
    /// per-request state is sized for it (FilterRun.maxFilters).
    static let maxFiltersPerRoute = 32

    static func validate(_ c: RoutingConfig, _ context: ValidationContext, into problems: inout [ConfigProblem]) {
        func problem(_ place: String, _ message: String) { problems.append(ConfigProblem(place: place, message: message)) }
        let poolNames = Set(c.effectivePools.map(\.name))
        for p in c.pools {
            let place = "pools.\(p.name)"
            if !HeaderNames.isPoolName(p.name) {
                problem(place, "invalid pool name \"\(p.name)\": 1 to 64 of A-Z a-z 0-9 . _ -")
            }
            var canonical: String?
            if let s = p.strategy {
                canonical = context.canonicalStrategy(s)
                if canonical == nil { problem("\(place).strategy", "unknown strategy \"\(s)\"") }
            }
            if let config = p.strategyConfig, p.strategy == nil || canonical != nil,
               let why = context.strategyRefusal(canonical, config) {
                problem("\(place).strategy_config", why)
            }
            if let probe = p.health.probe, !context.probeExists(probe) {
                problem("\(place).health.probe", "unknown probe \"\(probe)\"")
            }
        }
        if let d = c.defaultPool, !poolNames.contains(d) { problem("default_pool", "unknown pool \"\(d)\"") }
        for (i, f) in c.filters.enumerated() {
            if let why = context.filterRefusal(f) { problem("filters[\(i)]", why) }
        }
        if c.filters.count > maxFiltersPerRoute {
            problem("filters", "\(c.filters.count) filters: a chain holds at most \(maxFiltersPerRoute)")
        }
        var routeNames = Set<String>()
        for (i, r) in c.routes.enumerated() {
            let place = "routes[\(i)]"
            if let name = r.name {
                if !HeaderNames.isRouteName(name) {
                    problem(place, "invalid name \"\(name)\": 1 to 128 printable characters, no quotes or backslashes")
                } else if !routeNames.insert(name).inserted {
                    problem(place, "duplicate route name \"\(name)\"")
                }
            }
            if let host = r.host, let why = HeaderNames.hostProblem(host) { problem(place, "host \"\(host)\": \(why)") }
            for (key, path) in [("path_prefix", r.pathPrefix), ("path", r.path)] {
                guard let path else { continue }
                if let why = pathProblem(path) { problem(place, "\(key) \"\(path)\": \(why)") }
            }
            if let methods = r.methods {
                if methods.isEmpty { problem(place, "methods is empty: the route could never match") }
                for m in methods where !HeaderNames.isToken(m) { problem(place, "invalid method \"\(m)\"") }
            }
            for h in r.headers ?? [] {
                if !HeaderNames.isToken(h.name) { problem(place, "invalid header name \"\(h.name)\" in headers") }
                if !HeaderNames.isFieldValue(h.value) { problem(place, "invalid value for header \"\(h.name)\" in headers") }
            }
            if r.stripPrefix == true && r.pathPrefix == nil { problem(place, "strip_prefix needs a path_prefix") }
            let pool = r.pool ?? c.defaultPoolName
            if !poolNames.contains(pool) { problem(place, "unknown pool \"\(pool)\"") }
            for (key, rules, isRequest) in [("request_headers", r.requestHeaders, true), ("response_headers", r.responseHeaders, false)] {
                guard let rules else { continue }
                for h in rules.set ?? [] {
                    if let why = HeaderNames.ruleProblem(h.name, request: isRequest) { problem(place, "\(key).set: \(why)") }
                    if !HeaderNames.isFieldValue(h.value) { problem(place, "\(key).set: invalid value for header \"\(h.name)\"") }
                }
                for name in rules.remove ?? [] {
                    if let why = HeaderNames.ruleProblem(name, request: isRequest) { problem(place, "\(key).remove: \(why)") }
                }
            }
            for (j, f) in (r.filters ?? []).enumerated() {
                if let why = context.filterRefusal(f) { problem("\(place).filters[\(j)]", why) }
            }
            if let own = r.filters, c.filters.count <= maxFiltersPerRoute, c.filters.count + own.count > maxFiltersPerRoute {
                problem("\(place).filters", "\(c.filters.count + own.count) filters with the top-level ones: a chain holds at most \(maxFiltersPerRoute)")
            }
        }
    }

    /// Why a configured path cannot be matched as written, or nil.
    static func pathProblem(_ path: String) -> String? {
        guard path.hasPrefix("/") else { return "must start with /" }
        guard path.utf8.allSatisfy({ $0 > 0x20 && $0 < 0x7F && $0 != 0x3F && $0 != 0x23 }) else {
            return "must be printable ASCII without spaces, ? or #"
        }
        let (outcome, normal) = PathNormalizer.normalize(path)
        switch outcome {
        case .ok: return normal == path ? nil : "is not in normal form (requests are matched normalised): write \"\(normal)\""
        case .climbsAboveRoot: return "climbs above the root"
        case .nul: return "holds %00"
        case .badEscape: return "has a malformed %-escape"
        }
    }
}
