/// RFC 9113 §7 error codes, as they travel in RST_STREAM and GOAWAY.
public enum H2ErrorCode: UInt32, Sendable, Equatable {
    case noError = 0x0
    case protocolError = 0x1
    case internalError = 0x2
    case flowControlError = 0x3
    case settingsTimeout = 0x4
    case streamClosed = 0x5
    case frameSizeError = 0x6
    case refusedStream = 0x7
    case cancel = 0x8
    case compressionError = 0x9
    case connectError = 0xA
    case enhanceYourCalm = 0xB
    case inadequateSecurity = 0xC
    case http11Required = 0xD
}

/// An error as RFC 9113 §5.4 classifies it: a connection error ends the
/// connection with GOAWAY; a stream error resets one stream with RST_STREAM and
/// the connection goes on. `reason` is for logs (never sent: GOAWAY's debug
/// data stays empty so nothing internal leaks to clients).
public enum H2Error: Error, Equatable, Sendable, CustomStringConvertible {
    case connection(H2ErrorCode, String)
    case stream(UInt32, H2ErrorCode, String)

    public var code: H2ErrorCode {
        switch self {
        case .connection(let c, _), .stream(_, let c, _): return c
        }
    }

    public var isConnectionError: Bool {
        if case .connection = self { return true }
        return false
    }

    public var description: String {
        switch self {
        case .connection(let c, let r): return "connection error \(c): \(r)"
        case .stream(let id, let c, let r): return "stream \(id) error \(c): \(r)"
        }
    }
}
