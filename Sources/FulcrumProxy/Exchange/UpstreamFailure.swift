import Glibc

/// How an attempt on a backend ended before any response byte arrived.
enum UpstreamFailure: Equatable, Sendable {
    /// connect() failed or was refused: nothing reached the backend.
    case refused(Int32)
    /// The connection did not complete within `-connect-timeout`.
    case connectTimeout
    /// Reset or failed after it was established.
    case reset(Int32)
    /// Closed (EOF) before any response byte.
    case closedEarly
    /// The proxy's own resources ran out (descriptors, local ports, kernel
    /// memory): never the backend's fault (CONTRACT §4).
    case localResource(Int32)

    /// Sorts a failed `socket()`/`connect()` errno: EMFILE, ENFILE,
    /// EADDRNOTAVAIL (no local port), ENOBUFS, ENOMEM and EAGAIN are ours.
    static func connectFailed(_ e: Int32) -> UpstreamFailure {
        switch e {
        case EMFILE, ENFILE, EADDRNOTAVAIL, ENOBUFS, ENOMEM, EAGAIN: return .localResource(e)
        default: return .refused(e)
        }
    }

    var detail: String {
        switch self {
        case .refused(let e): return e == ECONNREFUSED ? "connection refused" : "connect failed: \(String(cString: strerror(e)))"
        case .connectTimeout: return "connect timeout"
        case .reset(let e): return e == ECONNRESET ? "connection reset" : String(cString: strerror(e))
        case .closedEarly: return "connection closed before any response"
        case .localResource(let e): return "proxy out of resources: \(String(cString: strerror(e)))"
        }
    }

    /// Whether the backend could have received nothing at all.
    var nothingSent: Bool {
        switch self {
        case .refused, .connectTimeout, .localResource: return true
        case .reset, .closedEarly: return false
        }
    }
}
