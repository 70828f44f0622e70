/// Serialises the frames we send, appending to an output buffer the caller
/// owns (the connection's outbound bytes). Sizes are the caller's business:
/// `headers` splits a block into HEADERS + CONTINUATION by the peer's
/// SETTINGS_MAX_FRAME_SIZE; `data` takes at most one frame's worth.
public enum FrameWriter {
    public static func data(stream: UInt32, _ payload: UnsafeRawBufferPointer, endStream: Bool, into out: inout [UInt8]) {
        FrameHeader(length: payload.count, type: .data, flags: endStream ? .endStream : [], streamID: stream).write(into: &out)
        out.append(contentsOf: payload)
    }

    /// A field block as one HEADERS frame and as many CONTINUATION frames as
    /// `maxFrameSize` requires (§4.3: contiguous, nothing in between).
    public static func headers(stream: UInt32, block: [UInt8], endStream: Bool, maxFrameSize: Int, into out: inout [UInt8]) {
        precondition(maxFrameSize >= H2.minMaxFrameSize)
        var at = 0
        var first = true
        repeat {
            let n = min(maxFrameSize, block.count - at)
            let last = at + n == block.count
            var flags: FrameFlags = last ? .endHeaders : []
            if first && endStream { flags.insert(.endStream) }
            FrameHeader(length: n, type: first ? .headers : .continuation, flags: flags, streamID: stream).write(into: &out)
            out.append(contentsOf: block[at..<(at + n)])
            at += n
            first = false
        } while at < block.count
    }

    public static func rstStream(stream: UInt32, code: H2ErrorCode, into out: inout [UInt8]) {
        FrameHeader(length: 4, type: .rstStream, streamID: stream).write(into: &out)
        appendUInt32(code.rawValue, into: &out)
    }

    public static func settings(_ values: [(SettingID, UInt32)], into out: inout [UInt8]) {
        FrameHeader(length: 6 * values.count, type: .settings, streamID: 0).write(into: &out)
        for (id, v) in values {
            out.append(UInt8(truncatingIfNeeded: id.rawValue >> 8))
            out.append(UInt8(truncatingIfNeeded: id.rawValue))
            appendUInt32(v, into: &out)
        }
    }

    public static func settingsAck(into out: inout [UInt8]) {
        FrameHeader(length: 0, type: .settings, flags: .ack, streamID: 0).write(into: &out)
    }

    public static func ping(_ opaque: UInt64, ack: Bool, into out: inout [UInt8]) {
        FrameHeader(length: 8, type: .ping, flags: ack ? .ack : [], streamID: 0).write(into: &out)
        appendUInt32(UInt32(truncatingIfNeeded: opaque >> 32), into: &out)
        appendUInt32(UInt32(truncatingIfNeeded: opaque), into: &out)
    }

    public static func goaway(lastStream: UInt32, code: H2ErrorCode, into out: inout [UInt8]) {
        FrameHeader(length: 8, type: .goaway, streamID: 0).write(into: &out)
        appendUInt32(lastStream & H2.maxStreamID, into: &out)
        appendUInt32(code.rawValue, into: &out)
    }

    public static func windowUpdate(stream: UInt32, increment: Int, into out: inout [UInt8]) {
        precondition(increment > 0 && increment <= H2.maxWindow)
        FrameHeader(length: 4, type: .windowUpdate, streamID: stream).write(into: &out)
        appendUInt32(UInt32(increment), into: &out)
    }
}
