import FulcrumEventLoop
import FulcrumHTTP
import FulcrumPluginHost
import FulcrumRouting

/// Builds the heads the proxy forwards (CONTRACT §4): hop-by-hop fields
/// removed in both directions, X-Forwarded-* added to requests, one
/// Content-Length value, Host as the absolute-form authority when there is
/// one (RFC 9112 §3.2.2), every other field copied byte for byte.
///
/// Every append is checked: a head that does not fit whole is refused
/// (false), never forwarded with lines missing.
enum HeadRewriter {

    /// The request head for the backend. `clientIP` is the client's address
    /// as text; `https` when the client connected over TLS (X-Forwarded-Proto). Records in `facts` where method, target and host sit in `out`.
    /// A route may replace the target (`strip_prefix`) and drop and add
    /// header fields (`request_headers`; never framing or hop-by-hop ones,
    /// which validation refused).
    static func writeRequest(_ parsed: ParsedHead, head: UnsafeRawBufferPointer, clientIP: String, https: Bool = false,
                             target: UnsafeRawBufferPointer? = nil, rules: CompiledHeaderRules? = nil, edits: FilterRun? = nil,
                             into out: inout ByteBuffer, facts: inout RequestFacts) -> Bool {
        let base = head.baseAddress!
        let origin = out.writeIndex
        var ok: Bool
        facts.methodRange = 0..<Int(parsed.methodEnd)
        if let target {
            // method SP new-target SP version CRLF
            ok = out.append(UnsafeRawBufferPointer(start: base, count: Int(parsed.targetStart)))
            facts.targetRange = (out.writeIndex - origin)..<(out.writeIndex - origin + target.count)
            ok = ok && out.append(target)
                && out.append(UnsafeRawBufferPointer(start: base + Int(parsed.targetEnd), count: Int(parsed.startLineEnd - parsed.targetEnd)))
        } else {
            ok = out.append(UnsafeRawBufferPointer(start: base, count: Int(parsed.startLineEnd)))
            facts.targetRange = Int(parsed.targetStart)..<Int(parsed.targetEnd)
        }
        let dropping = rules.map { !$0.drop.isEmpty } ?? false
        // Filters' set/remove (names already checked: never framing, hop-by-hop or Host).
        let filterEdits = edits?.requestEdits
        let editing = !(filterEdits?.isEmpty ?? true)
        let upgrading = parsed.isUpgradeRequest
        // The host every hop sees: the authority of an absolute-form target wins.
        var host: (Int, Int)?
        if parsed.authorityStart >= 0 {
            host = (Int(parsed.authorityStart), Int(parsed.authorityEnd))
        } else if parsed.hostIndex >= 0 {
            let f = parsed.fields[parsed.hostIndex]
            host = (Int(f.valueStart), Int(f.valueEnd))
        }
        var forwardedFor: [(Int, Int)] = []
        var contentLengthWritten = false
        for i in 0..<parsed.fieldCount {
            let f = parsed.fields[i]
            switch f.kind {
            case .xForwardedFor:
                if f.valueEnd > f.valueStart { forwardedFor.append((Int(f.valueStart), Int(f.valueEnd))) }
                continue
            case .xForwardedProto, .xForwardedHost:
                continue  // ours replace the client's
            case .upgrade where upgrading:
                break
            case .host:
                let (s, e) = host!
                ok = ok && out.append("Host: ")
                facts.hostRange = (out.writeIndex - origin)..<(out.writeIndex - origin + e - s)
                ok = ok && out.append(UnsafeRawBufferPointer(start: base + s, count: e - s)) && out.append("\r\n")
                continue
            case .contentLength where parsed.contentLengthNeedsRewrite:
                ok = ok && appendContentLengthOnce(parsed, &contentLengthWritten, into: &out)
                continue
            default:
                if parsed.isHopByHop(i, in: head) { continue }
                if dropping && rules!.drops(base + Int(f.nameStart), Int(f.nameEnd - f.nameStart)) { continue }
                if editing && filterEdits!.touches(UnsafeRawBufferPointer(start: base + Int(f.nameStart), count: Int(f.nameEnd - f.nameStart))) {
                    continue
                }
            }
            ok = ok && out.append(UnsafeRawBufferPointer(start: base + Int(f.nameStart), count: Int(f.lineEnd - f.nameStart)))
        }
        if ok, let rules, !rules.append.isEmpty {
            ok = editing ? appendRouteLines(rules.append, except: filterEdits!, into: &out) : rules.append.withUnsafeBytes { out.append($0) }
        }
        if editing {
            // X-Forwarded-* are the proxy's (written below): a filter's are not added.
            filterEdits!.forEachSet { n, v in
                if !isForwardedField(n) { ok = ok && out.append(n) && out.append(": ") && out.append(v) && out.append("\r\n") }
            }
        }
        if upgrading {
            ok = ok && out.append("Connection: upgrade\r\n")
        } else if parsed.version == .http10 && parsed.wantsKeepAlive {
            ok = ok && out.append("Connection: keep-alive\r\n")
        }
        ok = ok && out.append("X-Forwarded-For: ")
        for (s, e) in forwardedFor {
            ok = ok && out.append(UnsafeRawBufferPointer(start: base + s, count: e - s)) && out.append(", ")
        }
        ok = ok && out.append(clientIP) && out.append(https ? "\r\nX-Forwarded-Proto: https\r\n" : "\r\nX-Forwarded-Proto: http\r\n")
        if let (s, e) = host {
            ok = ok && out.append("X-Forwarded-Host: ") && out.append(UnsafeRawBufferPointer(start: base + s, count: e - s))
                && out.append("\r\n")
        }
        return ok && out.append("\r\n")
    }

    /// How the response head is adjusted for the client.
    struct ResponseOptions: Equatable {
        /// Add "Connection: close".
        var close = false
        /// Tell an HTTP/1.0 client the connection stays open.
        var keepAlive10 = false
        /// The body is de-chunked for an HTTP/1.0 client: drop Transfer-Encoding.
        var dechunk = false
    }

    /// The response head for the client (appended after anything already in `out`).
    static func writeResponse(_ parsed: ParsedHead, head: UnsafeRawBufferPointer, _ options: ResponseOptions,
                              rules: CompiledHeaderRules? = nil, edits: FilterRun? = nil, into out: inout ByteBuffer) -> Bool {
        let dropping = rules.map { !$0.drop.isEmpty } ?? false
        let filterEdits = edits?.responseEdits
        let editing = !(filterEdits?.isEmpty ?? true)
        let base = head.baseAddress!
        let mark = out.writeIndex
        var ok = out.append(UnsafeRawBufferPointer(start: base, count: Int(parsed.startLineEnd)))
        let switching = parsed.status == 101
        var contentLengthWritten = false
        for i in 0..<parsed.fieldCount {
            let f = parsed.fields[i]
            switch f.kind {
            case .transferEncoding where options.dechunk:
                continue
            case .contentLength where parsed.contentLengthNeedsRewrite:
                ok = ok && appendContentLengthOnce(parsed, &contentLengthWritten, into: &out)
                continue
            case .upgrade where switching:
                break
            default:
                if parsed.isHopByHop(i, in: head) { continue }
                if dropping && rules!.drops(base + Int(f.nameStart), Int(f.nameEnd - f.nameStart)) { continue }
                if editing && filterEdits!.touches(UnsafeRawBufferPointer(start: base + Int(f.nameStart), count: Int(f.nameEnd - f.nameStart))) {
                    continue
                }
            }
            ok = ok && out.append(UnsafeRawBufferPointer(start: base + Int(f.nameStart), count: Int(f.lineEnd - f.nameStart)))
        }
        if ok, let rules, !rules.append.isEmpty {
            ok = editing ? appendRouteLines(rules.append, except: filterEdits!, into: &out) : rules.append.withUnsafeBytes { out.append($0) }
        }
        if editing { filterEdits!.forEachSet { n, v in ok = ok && out.append(n) && out.append(": ") && out.append(v) && out.append("\r\n") } }
        if switching {
            ok = ok && out.append("Connection: upgrade\r\n")
        } else if options.close {
            ok = ok && out.append("Connection: close\r\n")
        } else if options.keepAlive10 {
            ok = ok && out.append("Connection: keep-alive\r\n")
        }
        ok = ok && out.append("\r\n")
        if !ok { out.writeIndex = mark }  // nothing half-written stays queued
        return ok
    }

    /// A route's `set` lines (`Name: value\r\n` each), but not those of a
    /// name a filter set or removed afterwards: the filter runs later and wins.
    static func appendRouteLines(_ lines: [UInt8], except edits: HeaderEdits, into out: inout ByteBuffer) -> Bool {
        lines.withUnsafeBytes { b in
            var ok = true
            var start = 0
            while start < b.count {
                var colon = start
                while colon < b.count && b[colon] != UInt8(ascii: ":") { colon += 1 }
                var end = colon
                while end < b.count && b[end] != 0x0A { end += 1 }
                end = min(end + 1, b.count)
                if !edits.touches(UnsafeRawBufferPointer(rebasing: b[start..<colon])) {
                    ok = ok && out.append(UnsafeRawBufferPointer(rebasing: b[start..<end]))
                }
                start = end
            }
            return ok
        }
    }

    @inline(__always)
    static func asciiLower(_ b: UInt8) -> UInt8 { b &- 0x41 < 26 ? b | 0x20 : b }

    /// X-Forwarded-For, -Proto, -Host (any case).
    static func isForwardedField(_ name: UnsafeRawBufferPointer) -> Bool {
        guard name.count == 15 || name.count == 16 else { return false }
        let prefix: StaticString = "x-forwarded-"
        for i in 0..<12 where asciiLower(name[i]) != prefix.utf8Start[i] { return false }
        let rest = UnsafeRawBufferPointer(rebasing: name[12...])
        for candidate: StaticString in ["for", "proto", "host"] where candidate.utf8CodeUnitCount == rest.count {
            var same = true
            for i in 0..<rest.count where asciiLower(rest[i]) != candidate.utf8Start[i] { same = false; break }
            if same { return true }
        }
        return false
    }

    /// The one `Content-Length` line that replaces a list ("5, 5") or repeated lines.
    @inline(__always)
    static func appendContentLengthOnce(_ parsed: ParsedHead, _ written: inout Bool, into out: inout ByteBuffer) -> Bool {
        guard !written else { return true }
        written = true
        return out.append("Content-Length: ") && out.appendDecimal(Int(parsed.contentLength)) && out.append("\r\n")
    }
}
