/// The header fields the proxy acts on; everything else is `.other` and is
/// forwarded byte for byte.
public enum KnownHeader: UInt8, Sendable {
    case other
    case host, contentLength, transferEncoding, connection, keepAlive, proxyConnection, te, trailer, upgrade,
         expect, xForwardedFor, xForwardedProto, xForwardedHost
    /// HTTP/1.1's h2c upgrade settings (RFC 7540 §3.2.1): never forwarded.
    case http2Settings

    /// Classifies a field name (case-insensitively) by its bytes.
    @inline(__always)
    static func classify(_ p: UnsafeRawPointer, _ n: Int) -> KnownHeader {
        @inline(__always) func eq(_ lower: StaticString) -> Bool {
            let l = lower.utf8Start
            for i in 0..<n where p.load(fromByteOffset: i, as: UInt8.self) | 0x20 != l[i] { return false }
            return true
        }
        switch n {
        case 2: return eq("te") ? .te : .other
        case 4: return eq("host") ? .host : .other
        case 6: return eq("expect") ? .expect : .other
        case 7:
            if eq("upgrade") { return .upgrade }
            if eq("trailer") { return .trailer }
            return .other
        case 10:
            if eq("connection") { return .connection }
            if eq("keep-alive") { return .keepAlive }
            return .other
        case 14:
            if eq("content-length") { return .contentLength }
            if eq("http2-settings") { return .http2Settings }
            return .other
        case 15: return eq("x-forwarded-for") ? .xForwardedFor : .other
        case 16:
            if eq("proxy-connection") { return .proxyConnection }
            if eq("x-forwarded-host") { return .xForwardedHost }
            return .other
        case 17:
            if eq("transfer-encoding") { return .transferEncoding }
            if eq("x-forwarded-proto") { return .xForwardedProto }
            return .other
        default: return .other
        }
    }
}

/// Where one header field sits in the head: offsets from the head's first byte.
public struct FieldRef: Sendable {
    /// Start of the name (and of the line).
    public var nameStart: Int32
    public var nameEnd: Int32
    /// The value without surrounding whitespace.
    public var valueStart: Int32
    public var valueEnd: Int32
    /// Just past the line's CRLF.
    public var lineEnd: Int32
    public var kind: KnownHeader
}

public enum HTTPVersion: Sendable { case http10, http11 }

/// Methods the proxy treats specially; the rest are `.other` and forwarded as written.
public enum HTTPMethod: Sendable {
    case get, head, post, put, delete, connect, options, trace, patch, other

    /// RFC 9110 §9.2.2.
    public var isIdempotent: Bool {
        switch self {
        case .get, .head, .put, .delete, .options, .trace: return true
        default: return false
        }
    }
}

/// How a message body is delimited.
public enum BodyFraming: Equatable, Sendable {
    case none
    case length(Int64)
    case chunked
    /// Response only: the body ends when the backend closes.
    case untilClose
}

/// A parsed message head, as offsets into the caller's bytes. One instance
/// per worker is reused for every message, so parsing allocates nothing;
/// the fields are valid until the next parse.
public final class ParsedHead: @unchecked Sendable {
    public static let fieldCapacity = HTTPLimits.maxFields + 1
    public static let tokenCapacity = 16

    public let fields: UnsafeMutablePointer<FieldRef>
    public internal(set) var fieldCount = 0
    /// Names listed in Connection (other than close/keep-alive/upgrade): hop-by-hop.
    public let connectionTokens: UnsafeMutablePointer<(Int32, Int32)>
    public internal(set) var connectionTokenCount = 0

    // Start line.
    public internal(set) var version = HTTPVersion.http11
    public internal(set) var method = HTTPMethod.other
    public internal(set) var methodEnd: Int32 = 0
    public internal(set) var targetStart: Int32 = 0
    public internal(set) var targetEnd: Int32 = 0
    /// Just past the start line's CRLF.
    public internal(set) var startLineEnd: Int32 = 0
    public internal(set) var status = 0

    // Semantics.
    public internal(set) var contentLength: Int64 = -1
    /// Content-Length came as a list ("5, 5") or on several lines: forward one value.
    public internal(set) var contentLengthNeedsRewrite = false
    /// Absolute-form target: its authority (which wins over Host), else -1.
    public internal(set) var authorityStart: Int32 = -1
    public internal(set) var authorityEnd: Int32 = -1
    public internal(set) var hasTransferEncoding = false
    /// Transfer-Encoding ends in chunked.
    public internal(set) var chunked = false
    public internal(set) var connectionClose = false
    public internal(set) var connectionKeepAlive = false
    public internal(set) var connectionUpgrade = false
    public internal(set) var expectContinue = false
    public internal(set) var hostIndex = -1
    public internal(set) var upgradeIndex = -1
    /// An Upgrade field offers `h2c`: the request is served as plain
    /// HTTP/1.1, never tunnelled (h2c smuggling past routes and filters).
    public internal(set) var upgradeOffersH2C = false
    /// Total length of the head, final empty line included.
    public internal(set) var length = 0

    public init() {
        fields = .allocate(capacity: Self.fieldCapacity)
        connectionTokens = .allocate(capacity: Self.tokenCapacity)
    }

    deinit {
        fields.deallocate()
        connectionTokens.deallocate()
    }

    func reset() {
        fieldCount = 0
        connectionTokenCount = 0
        version = .http11
        method = .other
        methodEnd = 0
        targetStart = 0
        targetEnd = 0
        startLineEnd = 0
        status = 0
        contentLength = -1
        contentLengthNeedsRewrite = false
        authorityStart = -1
        authorityEnd = -1
        hasTransferEncoding = false
        chunked = false
        connectionClose = false
        connectionKeepAlive = false
        connectionUpgrade = false
        expectContinue = false
        hostIndex = -1
        upgradeIndex = -1
        upgradeOffersH2C = false
        length = 0
    }

    /// Whether the client asked to keep the connection open after this request.
    public var wantsKeepAlive: Bool {
        version == .http11 ? !connectionClose : (connectionKeepAlive && !connectionClose)
    }

    /// A request that asks to switch protocols (Connection: upgrade + Upgrade).
    /// An `Upgrade: h2c` never is one: a backend that speaks h2c would
    /// otherwise become a tunnel past every route and filter (CONTRACT §12).
    public var isUpgradeRequest: Bool { connectionUpgrade && upgradeIndex >= 0 && version == .http11 && !upgradeOffersH2C }

    /// The request's body framing (requests are never close-delimited).
    public var requestFraming: BodyFraming {
        if chunked { return .chunked }
        if contentLength > 0 { return .length(contentLength) }
        return .none
    }

    /// Whether the field at `index` is hop-by-hop: removed when forwarding.
    public func isHopByHop(_ index: Int, in head: UnsafeRawBufferPointer) -> Bool {
        let f = fields[index]
        switch f.kind {
        case .connection, .keepAlive, .proxyConnection, .te, .trailer, .upgrade, .http2Settings: return true
        default: break
        }
        guard connectionTokenCount > 0 else { return false }
        let n = Int(f.nameEnd - f.nameStart)
        for t in 0..<connectionTokenCount {
            let (s, e) = connectionTokens[t]
            if Int(e - s) == n && asciiCaseInsensitiveEqual(head.baseAddress! + Int(f.nameStart), head.baseAddress! + Int(s), n) {
                return true
            }
        }
        return false
    }

    /// The first value of the field named `name` (case-insensitive), as offsets.
    public func firstValue(named name: UnsafeRawBufferPointer, in head: UnsafeRawBufferPointer) -> (Int, Int)? {
        for i in 0..<fieldCount {
            let f = fields[i]
            let n = Int(f.nameEnd - f.nameStart)
            if n == name.count && asciiCaseInsensitiveEqual(head.baseAddress! + Int(f.nameStart), name.baseAddress!, n) {
                return (Int(f.valueStart), Int(f.valueEnd))
            }
        }
        return nil
    }
}

@inline(__always)
func asciiLower(_ b: UInt8) -> UInt8 { b &- 0x41 < 26 ? b | 0x20 : b }

@inline(__always)
public func asciiCaseInsensitiveEqual(_ a: UnsafeRawPointer, _ b: UnsafeRawPointer, _ n: Int) -> Bool {
    for i in 0..<n where asciiLower(a.load(fromByteOffset: i, as: UInt8.self)) != asciiLower(b.load(fromByteOffset: i, as: UInt8.self)) {
        return false
    }
    return true
}
