/// The lexical rules configuration names and values must follow.
enum HeaderNames {
    /// RFC 9110 §5.6.2 tchar.
    static func isTChar(_ c: UInt8) -> Bool {
        switch c {
        case 0x30...0x39, 0x41...0x5A, 0x61...0x7A: return true
        default: return "!#$%&'*+-.^_`|~".utf8.contains(c)
        }
    }

    static func isToken(_ s: String) -> Bool { !s.isEmpty && s.utf8.allSatisfy(isTChar) }

    /// A field value that can go on the wire as one line: visible ASCII,
    /// spaces and tabs inside, nothing that could end the line (RFC 9110 §5.5).
    static func isFieldValue(_ s: String) -> Bool {
        let bytes = Array(s.utf8)
        guard bytes.allSatisfy({ ($0 >= 0x20 && $0 != 0x7F) || $0 == 0x09 }) else { return false }
        return bytes.first.map { $0 != 0x20 && $0 != 0x09 } ?? true && (bytes.last.map { $0 != 0x20 && $0 != 0x09 } ?? true)
    }

    static func isPoolName(_ s: String) -> Bool {
        !s.isEmpty && s.utf8.count <= 64 && s.utf8.allSatisfy { c in
            switch c {
            case 0x30...0x39, 0x41...0x5A, 0x61...0x7A, 0x2E, 0x5F, 0x2D: return true
            default: return false
            }
        }
    }

    /// A route name is a metrics label value and appears in logs: printable, no quotes.
    static func isRouteName(_ s: String) -> Bool {
        !s.isEmpty && s.utf8.count <= 128 && s.utf8.allSatisfy { $0 >= 0x20 && $0 < 0x7F && $0 != 0x22 && $0 != 0x5C }
    }

    /// Framing and hop-by-hop fields (CONTRACT §4, §10), and the ones the
    /// proxy writes itself: a rule may neither set nor remove them.
    static let forbiddenRequest: Set<String> = [
        "content-length", "transfer-encoding", "host",
        "connection", "keep-alive", "proxy-connection", "te", "trailer", "upgrade",
        "x-forwarded-for", "x-forwarded-proto", "x-forwarded-host",
    ]
    static let forbiddenResponse: Set<String> = [
        "content-length", "transfer-encoding",
        "connection", "keep-alive", "proxy-connection", "te", "trailer", "upgrade",
    ]

    static func ruleProblem(_ name: String, request: Bool) -> String? {
        guard isToken(name) else { return "invalid header name \"\(name)\"" }
        let lower = name.lowercased()
        if (request ? forbiddenRequest : forbiddenResponse).contains(lower) {
            let kind = ["content-length", "transfer-encoding"].contains(lower) ? "a framing header"
                : lower == "host" || lower.hasPrefix("x-forwarded-") ? "written by the proxy itself" : "a hop-by-hop header"
            return "header \"\(name)\" cannot be set or removed (\(kind))"
        }
        return nil
    }

    /// Why a route's `host` cannot match, or nil. Names are lower-case
    /// letters, digits, `-` and `.` (matching ignores case, so upper case is
    /// accepted too); `*.suffix` for a wildcard, `*` alone for any host, an
    /// IPv6 literal in brackets. No port: matching ignores the port.
    static func hostProblem(_ host: String) -> String? {
        if host == "*" { return nil }
        var name = Substring(host)
        if name.hasPrefix("*.") { name = name.dropFirst(2) }
        if name.hasPrefix("[") {
            guard name.hasSuffix("]"), name.count > 2, name.dropFirst().dropLast().utf8.allSatisfy({ c in
                (0x30...0x39).contains(c) || (0x41...0x46).contains(c) || (0x61...0x66).contains(c) || c == 0x3A || c == 0x2E
            }) else { return "invalid IPv6 literal" }
            return nil
        }
        if name.contains(":") { return "must be a name without a port (the port is ignored when matching)" }
        guard !name.isEmpty, !name.hasPrefix("."), !name.hasSuffix("."), !name.contains(".."),
              name.utf8.allSatisfy({ c in
                  (0x30...0x39).contains(c) || (0x41...0x5A).contains(c) || (0x61...0x7A).contains(c) || c == 0x2D || c == 0x2E || c == 0x5F
              }) else { return "must be a host name (letters, digits, - and .), *.suffix, or *" }
        return nil
    }
}
