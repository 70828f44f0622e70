/// Turns a decoded request field section into a `RequestHead`, refusing
/// everything RFC 9113 §8 calls malformed and everything that would smuggle
/// through the HTTP/2 → HTTP/1.1 translation (HARDENING.md: CR/LF/NUL,
/// connection-specific fields, `te` other than `trailers`, pseudo-header
/// misuse, `:path` not starting with `/`, `:authority` vs `host`).
public enum RequestValidator {
    public enum Outcome: Equatable, Sendable {
        case accept(RequestHead)
        /// Malformed (§8.1.1): a stream error PROTOCOL_ERROR; nothing reaches a backend.
        case malformed(String)
        /// Well-formed but not served: answer with this status and end the stream.
        case refuse(status: Int, String)
    }

    public static func validate(_ list: HeaderList, endStream: Bool) -> Outcome {
        var method: ArraySlice<UInt8>?, scheme: ArraySlice<UInt8>?, path: ArraySlice<UInt8>?, authority: ArraySlice<UInt8>?
        var protocolPseudo = false
        var host: ArraySlice<UInt8>?
        var contentLength: Int?
        var fields = HeaderList()
        var cookie: [UInt8] = []
        var cookieAt: Int?
        var regularSeen = false
        for i in 0..<list.count {
            let name = list.name(i), value = list.value(i)
            if name.first == 0x3A {
                // §8.3: pseudo-headers first, once each, only the defined ones.
                guard !regularSeen else { return .malformed("pseudo-header after a regular field") }
                guard FieldRules.validValue(value) else { return .malformed("bad pseudo-header value") }
                func once(_ slot: inout ArraySlice<UInt8>?) -> Bool {
                    guard slot == nil else { return false }
                    slot = value
                    return true
                }
                let ok: Bool
                if FieldRules.equal(name, ":method") { ok = once(&method) }
                else if FieldRules.equal(name, ":scheme") { ok = once(&scheme) }
                else if FieldRules.equal(name, ":path") { ok = once(&path) }
                else if FieldRules.equal(name, ":authority") { ok = once(&authority) }
                else if FieldRules.equal(name, ":protocol") { ok = !protocolPseudo; protocolPseudo = true }
                else { return .malformed("unknown pseudo-header") }
                guard ok else { return .malformed("repeated pseudo-header") }
                continue
            }
            regularSeen = true
            guard FieldRules.validName(name) else { return .malformed("bad field name") }
            guard FieldRules.validValue(value) else { return .malformed("bad field value") }
            if FieldRules.isConnectionSpecific(name) { return .malformed("connection-specific field") }
            if FieldRules.equal(name, "te") {
                guard FieldRules.equal(value, "trailers") else { return .malformed("te other than trailers") }
            } else if FieldRules.equal(name, "host") {
                guard host == nil else { return .malformed("repeated host") }
                host = value
                continue
            } else if FieldRules.equal(name, "content-length") {
                guard let n = FieldRules.contentLength(value) else { return .malformed("bad content-length") }
                guard contentLength == nil || contentLength == n else { return .malformed("conflicting content-length") }
                if contentLength != nil { continue }
                contentLength = n
            } else if FieldRules.equal(name, "cookie") {
                // §8.2.3: crumbs are joined with "; " into one field for HTTP/1.1.
                if cookieAt == nil {
                    cookieAt = fields.count
                    fields.append(name: name, value: [])
                } else {
                    cookie += [0x3B, 0x20]
                }
                cookie += value
                continue
            }
            fields.append(name: name, value: value)
        }
        guard let m = method else { return .malformed("no :method") }
        guard !m.isEmpty, m.allSatisfy({ FieldRules.isLowerTchar($0) || ($0 >= 0x41 && $0 <= 0x5A) }) else { return .malformed("bad :method") }
        if FieldRules.equal(m, "CONNECT") || protocolPseudo {
            // Tunnels (and RFC 8441 extended CONNECT for WebSockets) are not served over HTTP/2 yet.
            guard !protocolPseudo || FieldRules.equal(m, "CONNECT") else { return .malformed(":protocol without CONNECT") }
            return .refuse(status: 501, "CONNECT over HTTP/2 is not supported")
        }
        guard let s = scheme, let p = path else { return .malformed("missing :scheme or :path") }
        guard FieldRules.equal(s, "http") || FieldRules.equal(s, "https") else { return .malformed("unsupported :scheme") }
        guard !p.isEmpty, FieldRules.visible(p) else { return .malformed("empty or bad :path") }
        let asterisk = p.count == 1 && p.first == 0x2A
        guard p.first == 0x2F || (asterisk && FieldRules.equal(m, "OPTIONS")) else { return .malformed(":path not origin-form") }
        // §8.3.1: :authority wins; a host that disagrees is refused rather than guessed at.
        guard let h = authority ?? host, !h.isEmpty else { return .malformed("no :authority or host") }
        if let a = authority, let hh = host, !FieldRules.equalIgnoringCase(a, hh) { return .malformed(":authority and host disagree") }
        // uri-host [":" port] only (no userinfo, §8.3.1): the bytes HTTP/1.1's Host may carry.
        guard h.allSatisfy(FieldRules.isHostByte) else { return .malformed("bad authority") }
        if endStream, let n = contentLength, n != 0 { return .malformed("content-length without a body") }
        if let at = cookieAt { fields.replaceValue(at, with: cookie) }
        return .accept(RequestHead(method: Array(m), target: Array(p), host: Array(h), scheme: Array(s), fields: fields,
                                   contentLength: contentLength, hasBody: !endStream))
    }

    /// A request trailer section (§8.1): no pseudo-headers, the field rules,
    /// no connection-specific fields. Returns nil when valid, else why not.
    public static func validateTrailers(_ list: HeaderList) -> String? {
        for i in 0..<list.count {
            let name = list.name(i), value = list.value(i)
            if name.first == 0x3A { return "pseudo-header in trailers" }
            guard FieldRules.validName(name), FieldRules.validValue(value) else { return "bad trailer field" }
            if FieldRules.isConnectionSpecific(name) || FieldRules.equal(name, "te") || FieldRules.equal(name, "host")
                || FieldRules.equal(name, "content-length") { return "forbidden trailer field" }
        }
        return nil
    }
}
