import FulcrumSDK

/// The configuration file (CONTRACT §10) as a value: what the file says,
/// nothing filled in. A key the file leaves out is nil here and takes the
/// command line's default where it is used, so rendering this back gives
/// the same file (the fuzz target's round trip).
public struct RoutingConfig: Equatable, Sendable {
    /// Pools in file order.
    public var pools: [PoolConfig] = []
    /// Routes in match order.
    public var routes: [RouteConfig] = []
    public var defaultPool: String?
    /// Filters run before every route's own (issue 16 plugs them in).
    public var filters: [FilterConfig] = []

    public init() {}

    /// The pool that catches unmatched requests and takes registrations
    /// without a pool: `default_pool`, else `default`.
    public var defaultPoolName: String { defaultPool ?? "default" }

    public func pool(named name: String) -> PoolConfig? { effectivePools.first { $0.name == name } }

    /// The file's pools, plus an empty `default` when the file names no
    /// `default_pool` and has no pool of that name.
    public var effectivePools: [PoolConfig] {
        if defaultPool == nil && !pools.contains(where: { $0.name == "default" }) { return pools + [PoolConfig(name: "default")] }
        return pools
    }
}

public struct PoolConfig: Equatable, Sendable {
    public var name: String
    /// A strategy name or alias as written (nil: -algo).
    public var strategy: String?
    /// Its configuration object (nil: -algo-config).
    public var strategyConfig: JSONValue?
    public var backends: [BackendEntry] = []
    public var health = HealthConfig()
    /// Seconds (nil: -slow-start; 0: off).
    public var slowStart: Double?

    public init(name: String) { self.name = name }
}

public struct BackendEntry: Equatable, Sendable {
    /// Canonical (`FulcrumAddress.description`).
    public var address: String
    /// nil when written as a bare string (weight 1).
    public var weight: UInt32?
    /// Written as an object (`{"address": …}`), kept for rendering.
    public var asObject: Bool

    public init(address: String, weight: UInt32? = nil, asObject: Bool = false) {
        self.address = address
        self.weight = weight
        self.asObject = asObject
    }

    public var effectiveWeight: UInt32 { weight ?? 1 }
}

/// A pool's health check; nil keys take -probe, -health-path, -t,
/// -probe-timeout, -rise, -fall.
public struct HealthConfig: Equatable, Sendable {
    public var probe: String?
    public var path: String?
    public var interval: Double?
    public var timeout: Double?
    public var rise: Int?
    public var fall: Int?
    /// The file had a `health` object (kept for rendering).
    public var present = false

    public init() {}
}

public struct RouteConfig: Equatable, Sendable {
    public var name: String?
    /// Lower-cased; `*.example.com` for a suffix.
    public var host: String?
    public var pathPrefix: String?
    public var path: String?
    public var methods: [String]?
    /// Name (as written) → value; "*" means present with any value.
    public var headers: [HeaderCondition]?
    public var stripPrefix: Bool?
    /// nil: the default pool.
    public var pool: String?
    public var requestHeaders: HeaderRules?
    public var responseHeaders: HeaderRules?
    public var filters: [FilterConfig]?

    public init() {}
}

public struct HeaderCondition: Equatable, Sendable {
    public var name: String
    public var value: String
    public init(name: String, value: String) {
        self.name = name
        self.value = value
    }
}

/// `{"set": {name: value}, "remove": [names]}`.
public struct HeaderRules: Equatable, Sendable {
    public var set: [HeaderCondition]?
    public var remove: [String]?
    public init() {}

    public var isEmpty: Bool { (set?.isEmpty ?? true) && (remove?.isEmpty ?? true) }
}

/// One filter entry: a filter plugin's name and its configuration object.
public struct FilterConfig: Equatable, Sendable {
    public var name: String
    public var config: JSONValue?
    public init(name: String, config: JSONValue? = nil) {
        self.name = name
        self.config = config
    }
}
