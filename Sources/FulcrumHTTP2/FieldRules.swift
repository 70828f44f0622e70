/// Byte-level rules for HTTP/2 field names and values (RFC 9113 §8.2.1),
/// tightened to what an HTTP/1.1 head may carry: whatever passes here can be
/// written into the request the backend reads without changing its framing.
enum FieldRules {
    /// A regular field name: non-empty, token characters, no upper case.
    static func validName(_ n: ArraySlice<UInt8>) -> Bool {
        guard !n.isEmpty else { return false }
        for b in n where !isLowerTchar(b) { return false }
        return true
    }

    /// tchar (RFC 9110 §5.6.2) minus upper-case letters.
    static func isLowerTchar(_ b: UInt8) -> Bool {
        switch b {
        case 0x61...0x7A, 0x30...0x39: return true
        case 0x21, 0x23, 0x24, 0x25, 0x26, 0x27, 0x2A, 0x2B, 0x2D, 0x2E, 0x5E, 0x5F, 0x60, 0x7C, 0x7E: return true
        default: return false
        }
    }

    /// A value: no NUL, CR, LF or other control byte (HTAB allowed inside), no
    /// leading or trailing whitespace.
    static func validValue(_ v: ArraySlice<UInt8>) -> Bool {
        if let f = v.first, f == 0x20 || f == 0x09 { return false }
        if let l = v.last, l == 0x20 || l == 0x09 { return false }
        for b in v where (b < 0x20 && b != 0x09) || b == 0x7F { return false }
        return true
    }

    /// Visible ASCII only (request target, authority): nothing that could end
    /// or split an HTTP/1.1 request line.
    static func visible(_ v: ArraySlice<UInt8>) -> Bool {
        for b in v where b < 0x21 || b > 0x7E { return false }
        return true
    }

    /// RFC 3986 reg-name, IP-literal and port characters: unreserved, pct-encoded,
    /// sub-delims, ":", "[" and "]" (the set FulcrumHTTP accepts in Host).
    static func isHostByte(_ b: UInt8) -> Bool {
        switch b {
        case 0x30...0x39, 0x41...0x5A, 0x61...0x7A: return true
        case 0x2D, 0x2E, 0x5F, 0x7E, 0x25, 0x21, 0x24, 0x26, 0x27, 0x28, 0x29, 0x2A, 0x2B, 0x2C, 0x3B, 0x3D, 0x3A, 0x5B, 0x5D: return true
        default: return false
        }
    }

    static func equal(_ a: ArraySlice<UInt8>, _ s: StaticString) -> Bool {
        guard a.count == s.utf8CodeUnitCount else { return false }
        let p = s.utf8Start
        var i = 0
        for b in a {
            if b != p[i] { return false }
            i += 1
        }
        return true
    }

    static func equalIgnoringCase(_ a: ArraySlice<UInt8>, _ b: ArraySlice<UInt8>) -> Bool {
        guard a.count == b.count else { return false }
        return zip(a, b).allSatisfy { lower($0) == lower($1) }
    }

    @inline(__always) static func lower(_ b: UInt8) -> UInt8 { b >= 0x41 && b <= 0x5A ? b | 0x20 : b }

    /// Connection-specific fields (§8.2.2): never in HTTP/2.
    static func isConnectionSpecific(_ n: ArraySlice<UInt8>) -> Bool {
        equal(n, "connection") || equal(n, "keep-alive") || equal(n, "proxy-connection")
            || equal(n, "transfer-encoding") || equal(n, "upgrade")
    }

    /// A decimal Content-Length value (no sign, no list), bounded.
    static func contentLength(_ v: ArraySlice<UInt8>) -> Int? {
        guard !v.isEmpty, v.count <= 18 else { return nil }
        var n = 0
        for b in v {
            guard b >= 0x30 && b <= 0x39 else { return nil }
            n = n * 10 + Int(b - 0x30)
        }
        return n
    }
}
