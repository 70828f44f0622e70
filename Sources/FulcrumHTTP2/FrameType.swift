/// Frame types of RFC 9113 §6; anything else is an extension frame and is
/// ignored (§4.1, §5.5) unless it interrupts a header block.
public enum FrameType: UInt8, Sendable {
    case data = 0x0
    case headers = 0x1
    case priority = 0x2
    case rstStream = 0x3
    case settings = 0x4
    case pushPromise = 0x5
    case ping = 0x6
    case goaway = 0x7
    case windowUpdate = 0x8
    case continuation = 0x9
}

/// Frame flags; their meaning depends on the frame type, the bits do not.
public struct FrameFlags: OptionSet, Sendable, Equatable {
    public let rawValue: UInt8
    public init(rawValue: UInt8) { self.rawValue = rawValue }

    /// DATA, HEADERS: the last frame the sender sends on this stream.
    public static let endStream = FrameFlags(rawValue: 0x1)
    /// SETTINGS, PING: an acknowledgement (same bit as END_STREAM).
    public static let ack = FrameFlags(rawValue: 0x1)
    /// HEADERS, PUSH_PROMISE, CONTINUATION: the field block is complete.
    public static let endHeaders = FrameFlags(rawValue: 0x4)
    /// DATA, HEADERS, PUSH_PROMISE: a pad-length byte leads, padding trails.
    public static let padded = FrameFlags(rawValue: 0x8)
    /// HEADERS: a priority block (exclusive bit, dependency, weight) follows the pad length.
    public static let priority = FrameFlags(rawValue: 0x20)
}

/// SETTINGS parameters (RFC 9113 §6.5.2). Unknown identifiers are ignored.
public enum SettingID: UInt16, Sendable {
    case headerTableSize = 0x1
    case enablePush = 0x2
    case maxConcurrentStreams = 0x3
    case initialWindowSize = 0x4
    case maxFrameSize = 0x5
    case maxHeaderListSize = 0x6
    /// RFC 8441 (extended CONNECT): we never advertise it.
    case enableConnectProtocol = 0x8
}

/// Protocol constants.
public enum H2 {
    /// The client connection preface (RFC 9113 §3.4): exactly these 24 bytes.
    public static let preface: [UInt8] = Array("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n".utf8)
    public static let frameHeaderLength = 9
    /// SETTINGS_MAX_FRAME_SIZE's floor (and initial value) and ceiling.
    public static let minMaxFrameSize = 16_384
    public static let maxMaxFrameSize = 16_777_215
    /// The largest window and stream identifier (31 bits).
    public static let maxWindow = 2_147_483_647
    public static let maxStreamID: UInt32 = 0x7FFF_FFFF
    /// The initial window of every stream and the connection until SETTINGS say otherwise.
    public static let defaultWindow = 65_535
    public static let defaultHeaderTableSize = 4_096
}
