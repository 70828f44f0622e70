/// The 9-byte header every frame starts with (RFC 9113 §4.1):
/// length (24 bits), type, flags, reserved bit + stream identifier (31 bits).
public struct FrameHeader: Equatable, Sendable {
    public var length: Int
    /// The raw type: unknown types must survive parsing to be ignored.
    public var type: UInt8
    public var flags: FrameFlags
    public var streamID: UInt32

    public init(length: Int, type: UInt8, flags: FrameFlags, streamID: UInt32) {
        self.length = length
        self.type = type
        self.flags = flags
        self.streamID = streamID
    }

    public init(length: Int, type: FrameType, flags: FrameFlags = [], streamID: UInt32) {
        self.init(length: length, type: type.rawValue, flags: flags, streamID: streamID)
    }

    public var knownType: FrameType? { FrameType(rawValue: type) }

    /// Reads a header from the first 9 bytes of `bytes` (nil when fewer). The
    /// reserved bit is ignored on receipt, as §4.1 requires.
    public static func parse(_ bytes: UnsafeRawBufferPointer) -> FrameHeader? {
        guard bytes.count >= H2.frameHeaderLength else { return nil }
        let length = Int(bytes[0]) << 16 | Int(bytes[1]) << 8 | Int(bytes[2])
        let id = (UInt32(bytes[5]) << 24 | UInt32(bytes[6]) << 16 | UInt32(bytes[7]) << 8 | UInt32(bytes[8])) & H2.maxStreamID
        return FrameHeader(length: length, type: bytes[3], flags: FrameFlags(rawValue: bytes[4]), streamID: id)
    }

    /// Appends the 9 bytes (reserved bit zero).
    public func write(into out: inout [UInt8]) {
        precondition(length >= 0 && length <= H2.maxMaxFrameSize, "frame length \(length)")
        out.append(UInt8(truncatingIfNeeded: length >> 16))
        out.append(UInt8(truncatingIfNeeded: length >> 8))
        out.append(UInt8(truncatingIfNeeded: length))
        out.append(type)
        out.append(flags.rawValue)
        appendUInt32(streamID & H2.maxStreamID, into: &out)
    }
}

@inline(__always)
func appendUInt32(_ v: UInt32, into out: inout [UInt8]) {
    out.append(UInt8(truncatingIfNeeded: v >> 24))
    out.append(UInt8(truncatingIfNeeded: v >> 16))
    out.append(UInt8(truncatingIfNeeded: v >> 8))
    out.append(UInt8(truncatingIfNeeded: v))
}

@inline(__always)
func readUInt32(_ b: UnsafeRawBufferPointer, _ at: Int) -> UInt32 {
    UInt32(b[at]) << 24 | UInt32(b[at + 1]) << 16 | UInt32(b[at + 2]) << 8 | UInt32(b[at + 3])
}
