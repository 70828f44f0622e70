/// Why a message was refused, as the status the client should get.
public struct HTTPParseError: Error, Equatable, CustomStringConvertible, Sendable {
    public let status: Int
    public let reason: String

    public init(_ status: Int, _ reason: String) {
        self.status = status
        self.reason = reason
    }

    public var description: String { "\(status) \(reason)" }

    static func bad(_ reason: String) -> HTTPParseError { HTTPParseError(400, reason) }
}

/// Limits on what a client may send (CONTRACT §4 and the defaults HAProxy
/// and nginx use).
public enum HTTPLimits {
    /// The whole request head: beyond it, 431.
    public static let maxHead = 64 * 1024
    /// The request line (method, target, version): beyond it, 414.
    public static let maxRequestLine = 8 * 1024
    /// Header fields in one head: beyond it, 431.
    public static let maxFields = 100
    /// Trailer section of a chunked body.
    public static let maxTrailers = 16 * 1024
}
