/// `-registry etcd://HOST:PORT[,HOST:PORT…][/PREFIX]`: the endpoints to try,
/// in order, and the key prefix every instance of one cluster shares.
public struct EtcdURL: Sendable, Equatable, CustomStringConvertible {
    public struct Endpoint: Sendable, Equatable, CustomStringConvertible {
        public let host: String
        public let port: UInt16
        public var description: String { host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)" }
    }

    public static let defaultPrefix = "/fulcrum"

    public let endpoints: [Endpoint]
    /// Without a trailing slash, e.g. "/fulcrum".
    public let prefix: String

    public var description: String {
        "etcd://" + endpoints.map(\.description).joined(separator: ",") + prefix
    }

    /// Parses the flag's value; the error says what is wrong.
    public static func parse(_ text: String) -> Result<EtcdURL, EtcdError> {
        func bad(_ why: String) -> Result<EtcdURL, EtcdError> {
            .failure(EtcdError(.usage, "invalid -registry \(text): \(why) (expected etcd://HOST:PORT[,HOST:PORT…][/PREFIX])"))
        }
        guard text.hasPrefix("etcd://") else { return bad("must start with etcd://") }
        let rest = text.dropFirst("etcd://".count)
        let hostsPart: Substring
        var prefix = defaultPrefix
        if let slash = rest.firstIndex(of: "/") {
            hostsPart = rest[..<slash]
            var p = String(rest[slash...])
            while p.count > 1 && p.hasSuffix("/") { p.removeLast() }
            if p != "/" { prefix = p }
            guard p.utf8.allSatisfy({ $0 > 0x20 && $0 < 0x7F }) else { return bad("the prefix must be printable ASCII") }
        } else {
            hostsPart = rest
        }
        var endpoints: [Endpoint] = []
        for item in hostsPart.split(separator: ",", omittingEmptySubsequences: false) {
            var host: Substring
            var portText: Substring
            if item.hasPrefix("["), let close = item.firstIndex(of: "]") {
                host = item[item.index(after: item.startIndex)..<close]
                let after = item[item.index(after: close)...]
                guard after.hasPrefix(":") else { return bad("endpoint \(item) needs :PORT") }
                portText = after.dropFirst()
            } else {
                guard let colon = item.lastIndex(of: ":") else { return bad("endpoint \"\(item)\" needs :PORT") }
                host = item[..<colon]
                portText = item[item.index(after: colon)...]
            }
            guard !host.isEmpty else { return bad("endpoint \"\(item)\" has no host") }
            guard let port = UInt16(portText), port > 0 else { return bad("endpoint \"\(item)\" has no valid port") }
            endpoints.append(Endpoint(host: String(host), port: port))
        }
        guard !endpoints.isEmpty else { return bad("no endpoint") }
        return .success(EtcdURL(endpoints: endpoints, prefix: prefix))
    }
}
