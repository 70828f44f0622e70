import FulcrumEventLoop
import FulcrumHTTP

/// Responses the proxy writes itself. JSON bodies in the JSend shape the
/// admin API uses; 503 is exactly CONTRACT §4's.
enum CannedResponse {
    static func message(_ status: Int) -> StaticString {
        switch status {
        case 400: return "bad request"
        case 404: return "no route"
        case 408: return "request timeout"
        case 414: return "uri too long"
        case 431: return "request header fields too large"
        case 501: return "not implemented"
        case 502: return "bad gateway"
        case 503: return "no available server"
        case 504: return "gateway timeout"
        case 505: return "http version not supported"
        default: return "error"
        }
    }

    /// Writes the whole response into `out`; false (and nothing written) if it does not fit.
    @discardableResult
    static func write(_ status: Int, keepAlive: Bool, into out: inout ByteBuffer) -> Bool {
        guard out.writableCount >= 512 else { return false }
        let m = message(status)
        // {"status":"error","message":"…"}: 29 bytes before the message, 2 after.
        let bodyLength = 31 + m.utf8CodeUnitCount
        out.append("HTTP/1.1 ")
        out.appendDecimal(status)
        out.append(" ")
        out.append(StatusReason.phrase(status))
        out.append("\r\nContent-Type: application/json\r\nContent-Length: ")
        out.appendDecimal(bodyLength)
        out.append(keepAlive ? "\r\n\r\n" : "\r\nConnection: close\r\n\r\n")
        out.append("{\"status\":\"error\",\"message\":\"")
        out.append(m)
        return out.append("\"}")
    }
}
