/// What route matching reads of a request: the facts the proxy captured
/// when it parsed the head, as byte ranges (nothing is copied or re-parsed).
public struct RouteRequest {
    /// The method token as sent (methods are case-sensitive, RFC 9110 §9.1).
    public var method: UnsafeRawBufferPointer
    /// The request target as sent: origin-form, absolute-form, `*` or authority-form.
    public var target: UnsafeRawBufferPointer
    /// The Host value (or the absolute-form authority), port included; may be empty.
    public var host: UnsafeRawBufferPointer

    public init(method: UnsafeRawBufferPointer, target: UnsafeRawBufferPointer, host: UnsafeRawBufferPointer) {
        self.method = method
        self.target = target
        self.host = host
    }

    /// The path of `target` (no query) and where the query starts (its `?`),
    /// as offsets into `target`. The asterisk and authority forms have no
    /// path (empty): only routes without path conditions meet them.
    @inline(__always)
    public static func pathRange(of target: UnsafeRawBufferPointer) -> (start: Int, end: Int) {
        let n = target.count
        var start = 0
        if n == 0 || target[0] != 0x2F {
            // absolute-form: scheme "://" authority path-abempty [ "?" query ]
            var i = 0
            while i + 2 < n && !(target[i] == 0x3A && target[i + 1] == 0x2F && target[i + 2] == 0x2F) { i += 1 }
            guard i + 2 < n else { return (0, 0) }
            i += 3
            while i < n && target[i] != 0x2F && target[i] != 0x3F { i += 1 }
            start = i
        }
        var end = start
        while end < n && target[end] != 0x3F { end += 1 }
        return (start, end)
    }

    /// The host name without port or a final dot, as offsets into `host`
    /// (`[::1]:80` → `[::1]`, `Example.COM.:8080` → `Example.COM`).
    @inline(__always)
    public static func hostName(of host: UnsafeRawBufferPointer) -> Int {
        var n = host.count
        if n > 0 && host[0] == 0x5B {  // IPv6 literal: up to the bracket
            var i = 0
            while i < n && host[i] != 0x5D { i += 1 }
            return min(n, i + 1)
        }
        var i = 0
        while i < n && host[i] != 0x3A { i += 1 }
        n = i
        if n > 1 && host[n - 1] == 0x2E { n -= 1 }
        return n
    }
}
