import Glibc

/// Character classes of RFC 9110/9112, one table lookup per byte.
enum CharClass {
    static let token: UInt8 = 1       // tchar
    static let fieldValue: UInt8 = 2  // VCHAR, obs-text, SP, HTAB
    static let target: UInt8 = 4      // visible ASCII (0x21…0x7E)
    static let host: UInt8 = 8        // reg-name, IP literal and port characters

    nonisolated(unsafe) static let table: UnsafePointer<UInt8> = {
        let t = UnsafeMutablePointer<UInt8>.allocate(capacity: 256)
        t.initialize(repeating: 0, count: 256)
        for c in 0..<256 {
            var v: UInt8 = 0
            let isAlnum = (c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x5A) || (c >= 0x61 && c <= 0x7A)
            if isAlnum || "!#$%&'*+-.^_`|~".utf8.contains(UInt8(c)) { v |= token }
            if (c >= 0x21 && c <= 0x7E) || c >= 0x80 || c == 0x20 || c == 0x09 { v |= fieldValue }
            if c >= 0x21 && c <= 0x7E { v |= target }
            if isAlnum || "-._~%!$&'()*+,;=:[]".utf8.contains(UInt8(c)) { v |= host }
            t[c] = v
        }
        return UnsafePointer(t)
    }()
}

/// Strict HTTP/1.1 head parsing (RFC 9112) into a reusable `ParsedHead`.
///
/// Refuses, rather than guesses at, everything that lets two parsers
/// disagree about where a message ends: whitespace before a colon, obs-fold,
/// bare CR or LF, control characters, Content-Length with Transfer-Encoding,
/// differing Content-Lengths, a sign or junk in Content-Length, unknown
/// transfer codings.
public enum HeadParser {

    /// Parses a request head (`head` = exactly the head, final empty line included).
    public static func parseRequest(_ head: UnsafeRawBufferPointer, into out: ParsedHead) -> HTTPParseError? {
        out.reset()
        out.length = head.count
        let table = CharClass.table
        let n = head.count
        var i = 0

        // Method: 1*tchar SP
        while i < n && table[Int(head[i])] & CharClass.token != 0 { i += 1 }
        guard i > 0, i < n, head[i] == 0x20 else { return .bad("malformed request line") }
        guard i <= 32 else { return .bad("method too long") }
        out.methodEnd = Int32(i)
        out.method = classifyMethod(head.baseAddress!, i)
        i += 1

        // Request-target: 1*visible SP
        let targetStart = i
        while i < n && table[Int(head[i])] & CharClass.target != 0 { i += 1 }
        guard i > targetStart, i < n, head[i] == 0x20 else { return .bad("malformed request line") }
        out.targetStart = Int32(targetStart)
        out.targetEnd = Int32(i)
        if i > HTTPLimits.maxRequestLine { return HTTPParseError(414, "URI too long") }
        if let problem = checkTargetForm(head, targetStart, i, method: out.method, into: out) { return problem }
        i += 1

        // HTTP-version CRLF
        guard i + 8 <= n else { return .bad("malformed request line") }
        switch versionAt(head, i) {
        case .some(.some(let v)): out.version = v
        case .some(.none): return HTTPParseError(505, "HTTP version not supported")
        case .none: return .bad("malformed request line")
        }
        i += 8
        guard i + 1 < n, head[i] == 0x0D, head[i + 1] == 0x0A else { return .bad("malformed request line") }
        i += 2
        out.startLineEnd = Int32(i)

        if let problem = parseFields(head, from: i, into: out, isRequest: true) { return problem }

        // Request semantics.
        if out.version == .http11 && out.hostIndex < 0 { return .bad("missing Host header") }
        if out.hasTransferEncoding {
            if out.version == .http10 { return .bad("Transfer-Encoding in an HTTP/1.0 request") }
            if out.contentLength >= 0 { return .bad("both Content-Length and Transfer-Encoding") }
        }
        return nil
    }

    /// Parses a response head.
    public static func parseResponse(_ head: UnsafeRawBufferPointer, into out: ParsedHead) -> HTTPParseError? {
        out.reset()
        out.length = head.count
        let n = head.count
        guard n >= 12, let v = versionAt(head, 0), let version = v else { return HTTPParseError(502, "malformed status line") }
        out.version = version
        guard head[8] == 0x20 else { return HTTPParseError(502, "malformed status line") }
        var status = 0
        for k in 9..<12 {
            let d = head[k] &- 0x30
            guard d < 10 else { return HTTPParseError(502, "malformed status code") }
            status = status * 10 + Int(d)
        }
        guard status >= 100 && status <= 599 else { return HTTPParseError(502, "status code out of range") }
        out.status = status
        var i = 12
        // Reason phrase: SP *( HTAB / SP / VCHAR / obs-text ); tolerate its absence.
        if i < n && head[i] == 0x20 {
            i += 1
            while i < n && CharClass.table[Int(head[i])] & CharClass.fieldValue != 0 { i += 1 }
        }
        guard i + 1 < n, head[i] == 0x0D, head[i + 1] == 0x0A else { return HTTPParseError(502, "malformed status line") }
        i += 2
        out.startLineEnd = Int32(i)
        if let problem = parseFields(head, from: i, into: out, isRequest: false) {
            return HTTPParseError(502, problem.reason)
        }
        if out.hasTransferEncoding && out.contentLength >= 0 {
            return HTTPParseError(502, "both Content-Length and Transfer-Encoding in response")
        }
        return nil
    }

    /// The framing of a response to a request with `method` (RFC 9112 §6.3).
    public static func responseFraming(_ head: ParsedHead, requestMethod: HTTPMethod) -> BodyFraming {
        let s = head.status
        if requestMethod == .head || (s >= 100 && s < 200) || s == 204 || s == 304 { return .none }
        if requestMethod == .connect && s >= 200 && s < 300 { return .untilClose }
        if head.hasTransferEncoding { return head.chunked ? .chunked : .untilClose }
        if head.contentLength >= 0 { return head.contentLength == 0 ? .none : .length(head.contentLength) }
        return .untilClose
    }

    // MARK: - pieces

    static func classifyMethod(_ p: UnsafeRawPointer, _ n: Int) -> HTTPMethod {
        @inline(__always) func eq(_ s: StaticString) -> Bool {
            n == s.utf8CodeUnitCount && memcmp(p, s.utf8Start, n) == 0
        }
        switch n {
        case 3: return eq("GET") ? .get : eq("PUT") ? .put : .other
        case 4: return eq("HEAD") ? .head : eq("POST") ? .post : .other
        case 5: return eq("PATCH") ? .patch : eq("TRACE") ? .trace : .other
        case 6: return eq("DELETE") ? .delete : .other
        case 7: return eq("CONNECT") ? .connect : eq("OPTIONS") ? .options : .other
        default: return .other
        }
    }

    /// "HTTP/1.1" → .http11, "HTTP/1.0" → .http10, another "HTTP/d.d" →
    /// .some(nil) (505), anything else nil (400).
    static func versionAt(_ head: UnsafeRawBufferPointer, _ i: Int) -> HTTPVersion?? {
        guard i + 8 <= head.count,
              head[i] == 0x48, head[i + 1] == 0x54, head[i + 2] == 0x54, head[i + 3] == 0x50, head[i + 4] == 0x2F,
              head[i + 6] == 0x2E else { return nil }
        let major = head[i + 5] &- 0x30, minor = head[i + 7] &- 0x30
        guard major < 10, minor < 10 else { return nil }
        if major == 1 && minor == 1 { return .some(.http11) }
        if major == 1 && minor == 0 { return .some(.http10) }
        return .some(nil)
    }

    /// origin-form ("/…"), absolute-form ("http://…"), authority-form
    /// (CONNECT only) or asterisk-form (OPTIONS only).
    static func checkTargetForm(_ head: UnsafeRawBufferPointer, _ start: Int, _ end: Int, method: HTTPMethod, into out: ParsedHead) -> HTTPParseError? {
        let first = head[start]
        if method == .connect {
            // authority-form (RFC 9112 §3.2.3): uri-host ":" port, both non-empty, the port digits.
            for k in start..<end where CharClass.table[Int(head[k])] & CharClass.host == 0 {
                return .bad("invalid CONNECT target")
            }
            var colon = end - 1
            while colon >= start && head[colon] != 0x3A { colon -= 1 }
            guard colon > start, colon < end - 1, end - colon - 1 <= 5 else { return .bad("CONNECT target is not host:port") }
            var port = 0
            for k in (colon + 1)..<end {
                guard head[k] &- 0x30 < 10 else { return .bad("CONNECT target is not host:port") }
                port = port * 10 + Int(head[k] &- 0x30)
            }
            guard port <= 65535 else { return .bad("CONNECT port out of range") }
            return nil
        }
        if first == 0x2F { return nil }  // "/"
        // asterisk-form: RFC 9112 §3.2.4 names OPTIONS; extension methods
        // such as SSDP's M-SEARCH and NOTIFY use it too. The methods RFC 9110
        // defines always name a resource, so for them "*" is refused.
        if first == 0x2A && end - start == 1 {
            return method == .options || method == .other ? nil : .bad("asterisk-form is for OPTIONS and extension methods")
        }
        // absolute-form: scheme "://" (scheme = ALPHA *( ALPHA / DIGIT / "+" / "-" / "." ))
        var k = start
        while k < end {
            let c = asciiLower(head[k])
            guard (c >= 0x61 && c <= 0x7A) || (k > start && ((c >= 0x30 && c <= 0x39) || c == 0x2B || c == 0x2D || c == 0x2E)) else { break }
            k += 1
        }
        guard k > start && k + 3 <= end && head[k] == 0x3A && head[k + 1] == 0x2F && head[k + 2] == 0x2F else {
            return .bad("invalid request target")
        }
        // The authority: up to the path, query or end. It wins over Host (RFC 9112 §3.2.2).
        let authorityStart = k + 3
        var a = authorityStart
        while a < end && head[a] != 0x2F && head[a] != 0x3F && head[a] != 0x23 {
            let c = head[a]
            if c == 0x40 { return .bad("userinfo in request target") }
            guard CharClass.table[Int(c)] & CharClass.host != 0 else { return .bad("invalid authority in request target") }
            a += 1
        }
        // RFC 9110 §4.2.1: an http(s) URI with an empty host is invalid.
        guard a > authorityStart, head[authorityStart] != 0x3A else { return .bad("empty host in request target") }
        out.authorityStart = Int32(authorityStart)
        out.authorityEnd = Int32(a)
        return nil
    }

    /// Header field lines from `start` to the final empty line.
    static func parseFields(_ head: UnsafeRawBufferPointer, from start: Int, into out: ParsedHead, isRequest: Bool) -> HTTPParseError? {
        let table = CharClass.table
        let n = head.count
        var i = start
        while true {
            guard i < n else { return .bad("truncated head") }
            // Final empty line.
            if head[i] == 0x0D {
                guard i + 1 < n, head[i + 1] == 0x0A else { return .bad("bare CR") }
                return nil
            }
            if head[i] == 0x0A { return .bad("bare LF") }
            if head[i] == 0x20 || head[i] == 0x09 { return .bad("obsolete line folding") }
            guard out.fieldCount < HTTPLimits.maxFields else { return HTTPParseError(431, "too many header fields") }

            // field-name ":"
            let nameStart = i
            while i < n && table[Int(head[i])] & CharClass.token != 0 { i += 1 }
            guard i < n else { return .bad("truncated header") }
            if head[i] != 0x3A {
                if head[i] == 0x20 || head[i] == 0x09 { return .bad("whitespace before colon") }
                return .bad("invalid header name")
            }
            guard i > nameStart else { return .bad("empty header name") }
            let nameEnd = i
            i += 1
            // OWS field-value OWS CRLF
            while i < n && (head[i] == 0x20 || head[i] == 0x09) { i += 1 }
            let valueStart = i
            var valueEnd = i
            while i < n {
                let c = head[i]
                if table[Int(c)] & CharClass.fieldValue == 0 { break }
                i += 1
                if c != 0x20 && c != 0x09 { valueEnd = i }
            }
            guard i < n else { return .bad("truncated header") }
            if head[i] == 0x0A { return .bad("bare LF") }
            guard head[i] == 0x0D else { return .bad(head[i] == 0 ? "NUL in header" : "control character in header") }
            guard i + 1 < n, head[i + 1] == 0x0A else { return .bad("bare CR") }
            i += 2

            let kind = KnownHeader.classify(head.baseAddress! + nameStart, nameEnd - nameStart)
            let index = out.fieldCount
            out.fields[index] = FieldRef(nameStart: Int32(nameStart), nameEnd: Int32(nameEnd), valueStart: Int32(valueStart),
                                         valueEnd: Int32(valueEnd), lineEnd: Int32(i), kind: kind)
            out.fieldCount += 1
            if kind != .other, let problem = noteKnownField(kind, index, head, valueStart, valueEnd, out, isRequest: isRequest) {
                return problem
            }
        }
    }

    static func noteKnownField(_ kind: KnownHeader, _ index: Int, _ head: UnsafeRawBufferPointer, _ vs: Int, _ ve: Int,
                               _ out: ParsedHead, isRequest: Bool) -> HTTPParseError? {
        switch kind {
        case .host:
            guard isRequest else { return nil }
            if out.hostIndex >= 0 { return .bad("more than one Host header") }
            for k in vs..<ve where CharClass.table[Int(head[k])] & CharClass.host == 0 { return .bad("invalid Host header") }
            out.hostIndex = index
        case .contentLength:
            // 1*DIGIT, or a list of identical values ("5, 5"); a list, or a
            // second line, is forwarded as one value (`contentLengthNeedsRewrite`).
            if out.contentLength >= 0 { out.contentLengthNeedsRewrite = true }
            var k = vs
            while k < ve {
                var value: Int64 = 0
                let digits = k
                while k < ve && head[k] &- 0x30 < 10 {
                    guard k - digits < 18 else { return .bad("Content-Length too large") }
                    value = value * 10 + Int64(head[k] &- 0x30)
                    k += 1
                }
                guard k > digits else { return .bad("invalid Content-Length") }
                if out.contentLength >= 0 && out.contentLength != value { return .bad("differing Content-Length values") }
                out.contentLength = value
                while k < ve && (head[k] == 0x20 || head[k] == 0x09) { k += 1 }
                if k < ve {
                    guard head[k] == 0x2C else { return .bad("invalid Content-Length") }
                    out.contentLengthNeedsRewrite = true
                    k += 1
                    while k < ve && (head[k] == 0x20 || head[k] == 0x09) { k += 1 }
                    guard k < ve else { return .bad("invalid Content-Length") }
                }
            }
            if vs == ve { return .bad("empty Content-Length") }
        case .transferEncoding:
            // Members are 1#token, comma-separated with optional whitespace:
            // an empty member, a parameter or a quoted string is refused
            // (CONTRACT §4), so no other parser can read "no body" or another
            // coding here. A request is accepted with exactly one coding,
            // chunked; in a response the final coding decides. Anything after
            // chunked (a second chunked included) is refused.
            out.hasTransferEncoding = true
            var problem: HTTPParseError?
            forEachMember(head, vs, ve) { s, e in
                guard problem == nil else { return }
                guard s < e else { problem = .bad("empty Transfer-Encoding member"); return }
                for k in s..<e where CharClass.table[Int(head[k])] & CharClass.token == 0 {
                    problem = .bad("invalid Transfer-Encoding member")
                    return
                }
                if out.chunked { problem = .bad("transfer coding after chunked"); return }
                if e - s == 7 && asciiCaseInsensitiveEqual(head.baseAddress! + s, chunkedBytes, 7) {
                    out.chunked = true
                } else if isRequest {
                    let known = tokenIn(head, s, e, ["gzip", "deflate", "compress", "x-gzip", "x-compress"])
                    problem = known ? HTTPParseError(501, "transfer coding not implemented") : .bad("unknown transfer coding")
                }
            }
            if let problem { return problem }
        case .connection:
            var problem: HTTPParseError?
            forEachToken(head, vs, ve) { s, e in
                guard problem == nil, s < e else { return }
                for k in s..<e where CharClass.table[Int(head[k])] & CharClass.token == 0 {
                    problem = .bad("invalid Connection header")
                    return
                }
                if tokenIn(head, s, e, ["close"]) {
                    out.connectionClose = true
                } else if tokenIn(head, s, e, ["keep-alive"]) {
                    out.connectionKeepAlive = true
                } else if tokenIn(head, s, e, ["upgrade"]) {
                    out.connectionUpgrade = true
                } else if tokenIn(head, s, e, ["content-length", "transfer-encoding", "host"]) {
                    // Hop-by-hop removal of a framing header would leave the
                    // body unframed for the next hop (CONTRACT §4).
                    problem = .bad("Connection names a framing header or Host")
                } else if out.connectionTokenCount < ParsedHead.tokenCapacity {
                    out.connectionTokens[out.connectionTokenCount] = (Int32(s), Int32(e))
                    out.connectionTokenCount += 1
                } else {
                    problem = .bad("too many Connection options")
                }
            }
            if let problem { return problem }
        case .upgrade:
            if out.upgradeIndex < 0 { out.upgradeIndex = index }
            forEachToken(head, vs, ve) { s, e in
                // A protocol may carry a version ("h2c/1"): compare the name only.
                var end = s
                while end < e && head[end] != UInt8(ascii: "/") { end += 1 }
                if tokenIn(head, s, end, ["h2c"]) { out.upgradeOffersH2C = true }
            }
        case .expect:
            if ve - vs == 12 && asciiCaseInsensitiveEqual(head.baseAddress! + vs, continueBytes, 12) { out.expectContinue = true }
        default:
            break
        }
        return nil
    }

    nonisolated(unsafe) static let chunkedBytes: UnsafeRawPointer = UnsafeRawPointer(("chunked" as StaticString).utf8Start)
    nonisolated(unsafe) static let continueBytes: UnsafeRawPointer = UnsafeRawPointer(("100-continue" as StaticString).utf8Start)

    /// Calls `body` with the bounds of each non-empty comma-separated
    /// element, whitespace and parameters (";q=…") trimmed. Empty elements
    /// ("a, , b") are skipped, as RFC 9110 §5.6.1 asks of recipients.
    @inline(__always)
    static func forEachToken(_ head: UnsafeRawBufferPointer, _ vs: Int, _ ve: Int, _ body: (Int, Int) -> Void) {
        var k = vs
        while k < ve {
            var end = k
            while end < ve && head[end] != 0x2C { end += 1 }
            var s = k
            while s < end && (head[s] == 0x20 || head[s] == 0x09) { s += 1 }
            var e = s
            while e < end && head[e] != 0x3B { e += 1 }
            while e > s && (head[e - 1] == 0x20 || head[e - 1] == 0x09) { e -= 1 }
            if e > s { body(s, e) }
            k = end + 1
        }
    }

    /// Calls `body` with the bounds of every comma-separated member,
    /// surrounding whitespace trimmed, empty ones included (s == e).
    @inline(__always)
    static func forEachMember(_ head: UnsafeRawBufferPointer, _ vs: Int, _ ve: Int, _ body: (Int, Int) -> Void) {
        var k = vs
        while true {
            var end = k
            while end < ve && head[end] != 0x2C { end += 1 }
            var s = k
            while s < end && (head[s] == 0x20 || head[s] == 0x09) { s += 1 }
            var e = end
            while e > s && (head[e - 1] == 0x20 || head[e - 1] == 0x09) { e -= 1 }
            body(s, e)
            guard end < ve else { return }
            k = end + 1
        }
    }

    static func tokenIn(_ head: UnsafeRawBufferPointer, _ s: Int, _ e: Int, _ words: [StaticString]) -> Bool {
        for w in words where w.utf8CodeUnitCount == e - s && asciiCaseInsensitiveEqual(head.baseAddress! + s, w.utf8Start, e - s) {
            return true
        }
        return false
    }
}
