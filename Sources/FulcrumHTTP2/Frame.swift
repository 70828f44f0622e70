/// A decoded frame. Payload parts are byte ranges into the buffer the decoder
/// read (no copy): they are valid until the caller changes that buffer.
public enum Frame: Equatable, Sendable {
    /// `data` is the payload without padding; `flowLength` is the whole frame
    /// payload (padding included), which is what flow control counts (§6.1).
    case data(stream: UInt32, data: Range<Int>, endStream: Bool, flowLength: Int)
    case headers(stream: UInt32, block: Range<Int>, endStream: Bool, endHeaders: Bool, priority: Priority?)
    case priority(stream: UInt32, Priority)
    case rstStream(stream: UInt32, code: UInt32)
    /// The (id, value) pairs are read with `SettingsPayload`.
    case settings(ack: Bool, payload: Range<Int>)
    case pushPromise(stream: UInt32, promised: UInt32, block: Range<Int>, endHeaders: Bool)
    case ping(ack: Bool, opaque: UInt64)
    case goaway(lastStream: UInt32, code: UInt32, debug: Range<Int>)
    case windowUpdate(stream: UInt32, increment: Int)
    case continuation(stream: UInt32, block: Range<Int>, endHeaders: Bool)
    /// An extension frame: ignored, except that it may not interrupt a header block.
    case unknown(type: UInt8, stream: UInt32)

    /// The priority block of HEADERS and PRIORITY (deprecated by RFC 9113 but
    /// still parsed: a stream may not depend on itself).
    public struct Priority: Equatable, Sendable {
        public var exclusive: Bool
        public var dependency: UInt32
        public var weight: UInt8
    }

    public var streamID: UInt32 {
        switch self {
        case .data(let s, _, _, _), .headers(let s, _, _, _, _), .priority(let s, _), .rstStream(let s, _),
             .pushPromise(let s, _, _, _), .windowUpdate(let s, _), .continuation(let s, _, _), .unknown(_, let s):
            return s
        case .settings, .ping, .goaway:
            return 0
        }
    }
}

/// Reads the (identifier, value) pairs of a SETTINGS payload.
public struct SettingsPayload: Sequence {
    let bytes: UnsafeRawBufferPointer

    /// `bytes` is the payload (a multiple of 6 bytes: the decoder checked).
    public init(_ bytes: UnsafeRawBufferPointer) { self.bytes = bytes }

    public func makeIterator() -> AnyIterator<(id: UInt16, value: UInt32)> {
        var at = 0
        let b = bytes
        return AnyIterator {
            guard at + 6 <= b.count else { return nil }
            defer { at += 6 }
            return (UInt16(b[at]) << 8 | UInt16(b[at + 1]), readUInt32(b, at + 2))
        }
    }
}
