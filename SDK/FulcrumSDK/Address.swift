/// A backend address of the form `http://host:port` or `https://host:port`
/// (TLS to the backend), the forms Fulcrum registers. `host` is a name, an IPv4 literal, or an IPv6 literal in
/// brackets; the port is 1…65535; nothing may follow the port but an
/// optional "/".
public struct FulcrumAddress: Equatable, Sendable, CustomStringConvertible {
    /// The host as written, without IPv6 brackets.
    public let host: String
    public let port: UInt16
    public let isIPv6Literal: Bool
    /// `https://`: the backend speaks TLS.
    public let isTLS: Bool

    public init(host: String, port: UInt16, isIPv6Literal: Bool = false, isTLS: Bool = false) {
        self.host = host
        self.port = port
        self.isIPv6Literal = isIPv6Literal
        self.isTLS = isTLS
    }

    /// The canonical text: "http://host:port" or "https://host:port" (brackets kept for IPv6).
    public var description: String { "\(isTLS ? "https" : "http")://\(hostForURL):\(port)" }
    /// host:port as a Host header value.
    public var authority: String { "\(hostForURL):\(port)" }
    var hostForURL: String { isIPv6Literal ? "[\(host)]" : host }

    /// Parses `text`, or returns a reason it is not a valid backend address.
    public static func parse(_ text: String) -> Result<FulcrumAddress, AddressError> {
        let lower = text.lowercased()
        let tls = lower.hasPrefix("https://")
        guard tls || lower.hasPrefix("http://") else {
            return .failure(AddressError("address must look like http://host:port or https://host:port"))
        }
        var rest = Substring(text.dropFirst(tls ? 8 : 7))
        if rest.hasSuffix("/") { rest = rest.dropLast() }
        guard !rest.isEmpty else { return .failure(AddressError("address has no host")) }
        var host: Substring
        var portText: Substring
        var v6 = false
        if rest.hasPrefix("[") {
            guard let close = rest.firstIndex(of: "]") else { return .failure(AddressError("unterminated IPv6 literal")) }
            host = rest[rest.index(after: rest.startIndex)..<close]
            let after = rest[rest.index(after: close)...]
            guard after.hasPrefix(":") else { return .failure(AddressError("address must include a port (http://host:port)")) }
            portText = after.dropFirst()
            v6 = true
            guard !host.isEmpty, host.allSatisfy({ $0.isHexDigit || $0 == ":" || $0 == "." }) else {
                return .failure(AddressError("invalid IPv6 literal"))
            }
        } else {
            guard let colon = rest.lastIndex(of: ":") else {
                return .failure(AddressError("address must include a port (http://host:port)"))
            }
            host = rest[..<colon]
            portText = rest[rest.index(after: colon)...]
            guard !host.isEmpty, host.count <= 253,
                  host.allSatisfy({ ($0.isASCII && ($0.isLetter || $0.isNumber)) || $0 == "-" || $0 == "." || $0 == "_" })
            else { return .failure(AddressError("invalid host name")) }
        }
        guard !portText.isEmpty, portText.count <= 5, portText.allSatisfy({ $0.isASCII && $0.isNumber }),
              let port = Int(portText), port >= 1, port <= 65535
        else { return .failure(AddressError("port must be a number from 1 to 65535")) }
        return .success(FulcrumAddress(host: String(host).lowercased(), port: UInt16(port), isIPv6Literal: v6, isTLS: tls))
    }
}

public struct AddressError: Error, CustomStringConvertible, Sendable {
    public let description: String
    public init(_ description: String) { self.description = description }
}
