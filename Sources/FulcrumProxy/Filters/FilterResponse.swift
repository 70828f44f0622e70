import FulcrumEventLoop
import FulcrumHTTP
import FulcrumPluginHost

/// Local answers when filters ran: the status line, the headers the
/// filters set (their names were checked: never framing or hop-by-hop),
/// then the framing the proxy owns (Content-Length, Connection).
enum FilterResponse {
    /// A filter's own answer (`body` from its decision). 204 and 304 carry
    /// neither body nor Content-Length (RFC 9110 §8.6, §15.3.5, §15.4.5);
    /// an answer to HEAD has the length but not the body.
    static func write(_ status: Int, keepAlive: Bool, edits: HeaderEdits, body: UnsafeRawBufferPointer, bodyless: Bool,
                      into out: inout ByteBuffer) -> Bool {
        let mark = out.writeIndex
        var ok = statusLine(status, into: &out)
        edits.forEachSet { n, v in ok = ok && line(n, v, into: &out) }
        let noContent = status == 204 || status == 304
        if !noContent { ok = ok && out.append("Content-Length: ") && out.appendDecimal(body.count) && out.append("\r\n") }
        ok = ok && out.append(keepAlive ? "\r\n" : "Connection: close\r\n\r\n")
        if !bodyless && !noContent { ok = ok && out.append(body) }
        if !ok { out.writeIndex = mark }
        return ok
    }

    /// The proxy's own answer (CannedResponse's JSON body) with the filters' headers.
    static func writeCanned(_ status: Int, keepAlive: Bool, edits: HeaderEdits, bodyless: Bool, into out: inout ByteBuffer) -> Bool {
        let mark = out.writeIndex
        let m = CannedResponse.message(status)
        var ok = statusLine(status, into: &out)
        let contentType: StaticString = "content-type"
        let typed = edits.touches(UnsafeRawBufferPointer(start: contentType.utf8Start, count: contentType.utf8CodeUnitCount))
        edits.forEachSet { n, v in ok = ok && line(n, v, into: &out) }
        if !typed { ok = ok && out.append("Content-Type: application/json\r\n") }
        ok = ok && out.append("Content-Length: ") && out.appendDecimal(31 + m.utf8CodeUnitCount)
            && out.append(keepAlive ? "\r\n\r\n" : "\r\nConnection: close\r\n\r\n")
        if !bodyless {
            ok = ok && out.append("{\"status\":\"error\",\"message\":\"") && out.append(m) && out.append("\"}")
        }
        if !ok { out.writeIndex = mark }
        return ok
    }

    static func statusLine(_ status: Int, into out: inout ByteBuffer) -> Bool {
        out.append("HTTP/1.1 ") && out.appendDecimal(status) && out.append(" ") && out.append(StatusReason.phrase(status))
            && out.append("\r\n")
    }

    @inline(__always)
    static func line(_ name: UnsafeRawBufferPointer, _ value: UnsafeRawBufferPointer, into out: inout ByteBuffer) -> Bool {
        out.append(name) && out.append(": ") && out.append(value) && out.append("\r\n")
    }
}
