import Glibc

/// Who may call the admin API, decided from the request head alone — before
/// the body is read or anything else is parsed (CONTRACT §3):
///
/// 1. With `-admin-token`, the bearer token (401 otherwise). The status page
///    may pass it as `GET /?token=` so a browser can open it.
/// 2. Without a token, DNS rebinding: a `Host` that is not an IP literal,
///    `localhost` or the `-admin` host is 403. A rebinding page is same-origin
///    with its own name, so only the name it used tells it apart. With a
///    token this check is off: a rebinding page cannot know the token.
/// 3. Cross-site writes: a method other than GET/HEAD that the browser marks
///    as cross-site — `Sec-Fetch-Site: cross-site`/`same-site`, or an `Origin`
///    that is not `http://` + this request's `Host` (`Origin: null`, sent by
///    sandboxed frames and file: pages, is never our own) — is 403. Without
///    `Origin` or `Sec-Fetch-Site` (curl, scripts) nothing is refused.
public struct AdminGate: Sendable {
    public let token: String?
    /// The `-admin` host, normalised (lowercase, no brackets or trailing dot).
    public let adminHost: String

    public init(token: String?, adminHost: String) {
        self.token = token
        self.adminHost = AdminGate.normalise(adminHost)
    }

    /// nil when the request may proceed, else the status and title to answer.
    public func refusal(method: String, target: AdminTarget, headers: [String: String]) -> (status: Int, title: String)? {
        if let token {
            guard AdminGate.authorized(method: method, target: target, headers: headers, token: token) else {
                return (401, "unauthorized: send Authorization: Bearer <token>")
            }
        } else if let host = headers["host"], !isOwnHost(host) {
            return (403, "Host \"\(host)\" is not an IP address, localhost or the -admin host (DNS rebinding?); use -admin-token to allow other names")
        }
        if method != "GET" && method != "HEAD" {
            if let site = headers["sec-fetch-site"]?.lowercased(), site == "cross-site" || site == "same-site" {
                return (403, "cross-site request refused (Sec-Fetch-Site: \(site))")
            }
            if let origin = headers["origin"], !AdminGate.sameOrigin(origin, host: headers["host"]) {
                return (403, "cross-site request refused (Origin: \(origin))")
            }
        }
        return nil
    }

    /// Constant-time comparison of the presented token.
    static func authorized(method: String, target: AdminTarget, headers: [String: String], token: String) -> Bool {
        var presented: String?
        if let header = headers["authorization"], header.lowercased().hasPrefix("bearer ") {
            presented = String(header.dropFirst(7).drop(while: { $0 == " " }))
        } else if method == "GET" && (target.path == "/" || target.path == "/index.html") {
            presented = target.query["token"]
        }
        guard let presented else { return false }
        let a = Array(presented.utf8), b = Array(token.utf8)
        var diff = UInt8(a.count == b.count ? 0 : 1)
        for i in 0..<b.count { diff |= (i < a.count ? a[i] : 0) ^ b[i] }
        return diff == 0
    }

    func isOwnHost(_ value: String) -> Bool {
        guard let (host, bracketed) = AdminGate.hostPart(value) else { return false }
        if bracketed { return AdminGate.isIP(host, family: AF_INET6) }
        let name = AdminGate.normalise(host)
        return name == "localhost" || name == adminHost || AdminGate.isIP(name, family: AF_INET)
    }

    /// `Origin` is `http://` + the Host the browser used (host compared case-
    /// insensitively, a trailing dot ignored, port 80 implied).
    static func sameOrigin(_ origin: String, host: String?) -> Bool {
        guard let host, origin.lowercased().hasPrefix("http://") else { return false }
        return authority(String(origin.dropFirst(7))) == authority(host) && authority(host) != nil
    }

    /// host:port normalised for comparison; nil when malformed.
    static func authority(_ value: String) -> String? {
        guard let (host, bracketed) = hostPart(value) else { return nil }
        let port = portPart(value) ?? "80"
        return (bracketed ? "[\(host.lowercased())]" : normalise(host)) + ":" + port
    }

    /// The host of `host[:port]` or `[v6][:port]`, and whether it was bracketed;
    /// nil when malformed (empty, bad port, stray characters).
    static func hostPart(_ value: String) -> (String, Bool)? {
        if value.hasPrefix("[") {
            guard let close = value.firstIndex(of: "]") else { return nil }
            let rest = value[value.index(after: close)...]
            guard rest.isEmpty || (rest.hasPrefix(":") && validPort(rest.dropFirst())) else { return nil }
            return (String(value[value.index(after: value.startIndex)..<close]), true)
        }
        var host = Substring(value)
        if let colon = value.lastIndex(of: ":") {
            guard validPort(value[value.index(after: colon)...]) else { return nil }
            host = value[..<colon]
        }
        guard !host.isEmpty, host.utf8.allSatisfy({ c in
            (0x30...0x39).contains(c) || (0x41...0x5A).contains(c) || (0x61...0x7A).contains(c) || c == 0x2D || c == 0x2E || c == 0x5F
        }) else { return nil }
        return (String(host), false)
    }

    static func portPart(_ value: String) -> String? {
        let afterHost = value.hasPrefix("[") ? value[(value.firstIndex(of: "]").map { value.index(after: $0) } ?? value.endIndex)...] : Substring(value)
        guard let colon = afterHost.lastIndex(of: ":") else { return nil }
        let digits = afterHost[afterHost.index(after: colon)...].drop(while: { $0 == "0" })
        return digits.isEmpty ? "0" : String(digits)
    }

    static func validPort(_ s: Substring) -> Bool {
        !s.isEmpty && s.count <= 5 && s.utf8.allSatisfy { (0x30...0x39).contains($0) } && (Int(s) ?? 70000) <= 65535
    }

    static func normalise(_ host: String) -> String {
        var h = host.lowercased()
        if h.hasPrefix("[") && h.hasSuffix("]") { h = String(h.dropFirst().dropLast()) }
        while h.hasSuffix(".") { h.removeLast() }
        return h
    }

    static func isIP(_ text: String, family: Int32) -> Bool {
        var storage = in6_addr()
        return text.withCString { inet_pton(family, $0, &storage) } == 1
    }
}
