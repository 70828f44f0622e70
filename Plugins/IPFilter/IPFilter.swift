import FulcrumSDK

/// `ip-filter`: allow and deny CIDR lists (IPv4 and IPv6). Deny wins; with
/// an `allow` list, only clients in it pass (`[]` lets nobody in); without
/// one, everyone not denied passes. Refused clients get 403.
final class IPFilter: FulcrumFilter {
    static let name = "ip-filter"
    static let description = "allow/deny client CIDR lists (IPv4, IPv6); deny wins; 403"

    let allow: [FulcrumCIDR]?
    let deny: [FulcrumCIDR]

    init(setup: FulcrumFilterSetup) throws(FulcrumFilterConfigError) {
        guard let config = try? JSONValue.parse(setup.config), let members = config.objectMembers else {
            throw FulcrumFilterConfigError("configuration must be a JSON object")
        }
        for (key, _) in members where key != "allow" && key != "deny" {
            throw FulcrumFilterConfigError("unknown key \"\(key)\" (expected allow, deny)")
        }
        func list(_ key: String) throws(FulcrumFilterConfigError) -> [FulcrumCIDR]? {
            guard let value = config[key] else { return nil }
            guard let items = value.arrayValue else { throw FulcrumFilterConfigError("\(key) must be an array of CIDR strings") }
            var out: [FulcrumCIDR] = []
            for item in items {
                guard let text = item.stringValue else { throw FulcrumFilterConfigError("\(key) must be an array of CIDR strings") }
                switch FulcrumCIDR.parse(text) {
                case .success(let cidr): out.append(cidr)
                case .failure(let error): throw FulcrumFilterConfigError("\(key): \(error)")
                }
            }
            return out
        }
        allow = try list("allow")
        deny = try list("deny") ?? []
    }

    func requestHead(_ request: FulcrumFilterRequest) -> FulcrumFilterDecision {
        guard let ip = FulcrumIP(request.clientIP) else { return forbidden }
        for network in deny where network.contains(ip) { return forbidden }
        guard let allow else { return .proceed }
        for network in allow where network.contains(ip) { return .proceed }
        return forbidden
    }

    var forbidden: FulcrumFilterDecision {
        .respond(status: 403, headers: [("Content-Type", "application/json")], body: #"{"status":"error","message":"forbidden"}"#)
    }
}

@c public func fulcrum_plugin_entry() -> UnsafePointer<fulcrum_plugin> {
    fulcrumExport(name: "fulcrum-ip-filter", version: "1.0.0")
}

@c public func fulcrum_plugin_filters(_ host: UnsafePointer<fulcrum_filter_host>?) -> UnsafePointer<fulcrum_filter_list>? {
    fulcrumExportFilters([IPFilter.self])
}
