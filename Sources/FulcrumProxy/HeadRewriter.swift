import FulcrumEventLoop
import FulcrumHTTP

/// Builds the heads the proxy forwards (CONTRACT §4): hop-by-hop fields
/// removed in both directions, X-Forwarded-* added to requests, Host and
/// every other field copied byte for byte.
enum HeadRewriter {

    /// The request head for the backend. `clientIP` is the client's address as text.
    static func writeRequest(_ parsed: ParsedHead, head: UnsafeRawBufferPointer, clientIP: String,
                             into out: inout ByteBuffer) -> Bool {
        let base = head.baseAddress!
        out.append(UnsafeRawBufferPointer(start: base, count: Int(parsed.startLineEnd)))
        let upgrading = parsed.isUpgradeRequest
        var hostRange: (Int, Int)?
        var forwardedFor: [(Int, Int)] = []
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
                hostRange = (Int(f.valueStart), Int(f.valueEnd))
            default:
                if parsed.isHopByHop(i, in: head) { continue }
            }
            out.append(UnsafeRawBufferPointer(start: base + Int(f.nameStart), count: Int(f.lineEnd - f.nameStart)))
        }
        if upgrading {
            out.append("Connection: upgrade\r\n")
        } else if parsed.version == .http10 && parsed.wantsKeepAlive {
            out.append("Connection: keep-alive\r\n")
        }
        out.append("X-Forwarded-For: ")
        for (s, e) in forwardedFor {
            out.append(UnsafeRawBufferPointer(start: base + s, count: e - s))
            out.append(", ")
        }
        out.append(clientIP)
        out.append("\r\nX-Forwarded-Proto: http\r\n")
        if let (s, e) = hostRange {
            out.append("X-Forwarded-Host: ")
            out.append(UnsafeRawBufferPointer(start: base + s, count: e - s))
            out.append("\r\n")
        }
        return out.append("\r\n")
    }

    /// The response head for the client. `close` adds "Connection: close";
    /// `keepAlive10` tells an HTTP/1.0 client the connection stays open.
    static func writeResponse(_ parsed: ParsedHead, head: UnsafeRawBufferPointer, close: Bool, keepAlive10: Bool,
                              into out: inout ByteBuffer) -> Bool {
        let base = head.baseAddress!
        out.append(UnsafeRawBufferPointer(start: base, count: Int(parsed.startLineEnd)))
        let switching = parsed.status == 101
        for i in 0..<parsed.fieldCount {
            let f = parsed.fields[i]
            if !(switching && f.kind == .upgrade) && parsed.isHopByHop(i, in: head) { continue }
            out.append(UnsafeRawBufferPointer(start: base + Int(f.nameStart), count: Int(f.lineEnd - f.nameStart)))
        }
        if switching {
            out.append("Connection: upgrade\r\n")
        } else if close {
            out.append("Connection: close\r\n")
        } else if keepAlive10 {
            out.append("Connection: keep-alive\r\n")
        }
        return out.append("\r\n")
    }
}
