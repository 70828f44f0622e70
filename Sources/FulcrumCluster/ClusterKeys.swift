import FulcrumSDK

/// The shared registry's layout in etcd (docs/cluster.md). Under PREFIX:
///
///     PREFIX/backends/<address>  {"address","weight","draining"}   one per backend
///     PREFIX/strategy            {"name","config"}                 the strategy selection
///     PREFIX/instances/<id>      {"id","proxy","admin","since"}    leased, one per running instance
///     PREFIX/known/<address>     "1"                               this address was once registered
///
/// Values are JSON so that `etcdctl get --prefix /fulcrum` is readable and
/// an operator can write them by hand.
struct ClusterKeys: Sendable {
    let prefix: String

    /// Everything this cluster owns: watched and listed as one range.
    var root: String { prefix + "/" }
    var backendsPrefix: String { prefix + "/backends/" }
    var instancesPrefix: String { prefix + "/instances/" }
    var strategy: String { prefix + "/strategy" }
    /// `PREFIX/known/<address>`: written with every backend write through the
    /// API or a seed and never deleted, so that a restart's -backend seed can
    /// tell "never written" (seed it) from "removed since" (leave it removed).
    var knownPrefix: String { prefix + "/known/" }
    func known(_ address: String) -> String { knownPrefix + address }

    func backend(_ address: String) -> String { backendsPrefix + address }
    func instance(_ id: String) -> String { instancesPrefix + id }

    enum Entry: Sendable {
        case backend(address: String)
        case strategy
        case instance(id: String)
        case other
    }

    func classify(_ key: String) -> Entry {
        if key.hasPrefix(backendsPrefix) { return .backend(address: String(key.dropFirst(backendsPrefix.count))) }
        if key.hasPrefix(instancesPrefix) { return .instance(id: String(key.dropFirst(instancesPrefix.count))) }
        if key == strategy { return .strategy }
        return .other
    }
}

/// One backend's shared record.
public struct SharedBackend: Sendable, Equatable {
    public let address: String
    public let weight: UInt32
    public let draining: Bool

    var json: String {
        JSONValue.object([("address", .string(address)), ("weight", .integer(Int(weight))), ("draining", .bool(draining))]).serialized
    }

    /// Nil for a value that is not a valid record (the caller treats the key
    /// as absent). The address in the key and in the value may be written in
    /// any form FulcrumAddress accepts (`HTTP://h:09001/`); both must name the
    /// same backend, and the record carries the canonical form.
    init?(json text: String, key address: String) {
        guard let canonical = Self.canonical(address), let v = try? JSONValue.parse(text),
              let a = v["address"]?.stringValue, Self.canonical(a) == canonical,
              let w = v["weight"]?.intValue, w >= 1, w <= 1000 else { return nil }
        self.address = canonical
        weight = UInt32(w)
        draining = v["draining"]?.boolValue ?? false
    }

    /// The canonical text of an address as read from a key or a value, nil if invalid.
    public static func canonical(_ address: String) -> String? {
        guard case .success(let a) = FulcrumAddress.parse(address) else { return nil }
        return a.description
    }

    public init(address: String, weight: UInt32, draining: Bool) {
        self.address = address
        self.weight = weight
        self.draining = draining
    }
}

/// The shared strategy selection.
public struct SharedStrategy: Sendable, Equatable {
    public let name: String
    /// A JSON object, serialised.
    public let config: String

    var json: String {
        let c = (try? JSONValue.parse(config)) ?? .object([])
        return JSONValue.object([("name", .string(name)), ("config", c)]).serialized
    }

    init?(json text: String) {
        guard let v = try? JSONValue.parse(text), let n = v["name"]?.stringValue, !n.isEmpty else { return nil }
        name = n
        let c = v["config"] ?? .object([])
        guard c.objectMembers != nil else { return nil }
        config = c.serialized
    }

    public init(name: String, config: String) {
        self.name = name
        self.config = config
    }
}

/// A running instance, as GET /cluster lists it.
public struct InstanceInfo: Sendable, Equatable {
    public let id: String
    public let proxy: String
    public let admin: String
    public let since: String

    public var json: JSONValue {
        .object([("id", .string(id)), ("proxy", .string(proxy)), ("admin", .string(admin)), ("since", .string(since))])
    }

    public init(id: String, proxy: String, admin: String, since: String) {
        self.id = id
        self.proxy = proxy
        self.admin = admin
        self.since = since
    }

    init?(json text: String) {
        guard let v = try? JSONValue.parse(text), let id = v["id"]?.stringValue else { return nil }
        self.id = id
        proxy = v["proxy"]?.stringValue ?? ""
        admin = v["admin"]?.stringValue ?? ""
        since = v["since"]?.stringValue ?? ""
    }
}
