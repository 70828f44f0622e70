/// Splits bytes into frames and enforces the per-frame rules of RFC 9113 §4–§6
/// that need no connection state: lengths (SETTINGS_MAX_FRAME_SIZE, fixed
/// lengths, padding), stream-identifier-zero rules, zero window increments.
/// Rules that need state (stream states, header-block sequencing, SETTINGS
/// values) belong to the connection.
///
/// Incremental: `decode` looks at the bytes from `offset` and answers
/// `.needMore` until a whole frame is there; nothing is copied and the decoder
/// keeps no state besides the limit, so bytes may arrive split anywhere.
public struct FrameDecoder: Sendable {
    /// Our SETTINGS_MAX_FRAME_SIZE: a longer frame is a connection error.
    public var maxFrameSize: Int

    public init(maxFrameSize: Int = H2.minMaxFrameSize) {
        self.maxFrameSize = maxFrameSize
    }

    public enum Result: Equatable, Sendable {
        /// Fewer bytes than a whole frame (a header, or a payload within the limit).
        case needMore
        /// A frame ending at `end` (an offset into the buffer).
        case frame(Frame, end: Int)
        /// A frame that is a stream error: reset that stream, go on after `end`.
        case streamError(H2Error, end: Int)
        /// A connection error: send GOAWAY and close; nothing after it is read.
        case connectionError(H2Error)
    }

    /// Decodes the frame that starts at `offset` in `buffer`.
    public func decode(_ buffer: UnsafeRawBufferPointer, at offset: Int = 0) -> Result {
        guard offset >= 0, buffer.count - offset >= H2.frameHeaderLength,
              let h = FrameHeader.parse(UnsafeRawBufferPointer(rebasing: buffer[offset...])) else { return .needMore }
        if h.length > maxFrameSize {
            // §4.2: any frame may carry connection state we can no longer read.
            return .connectionError(.connection(.frameSizeError, "frame of \(h.length) bytes over SETTINGS_MAX_FRAME_SIZE"))
        }
        let start = offset + H2.frameHeaderLength
        guard buffer.count - start >= h.length else { return .needMore }
        let end = start + h.length
        return Self.payload(h, buffer, start, end)
    }

    static func payload(_ h: FrameHeader, _ b: UnsafeRawBufferPointer, _ start: Int, _ end: Int) -> Result {
        let id = h.streamID
        func connection(_ code: H2ErrorCode, _ why: String) -> Result { .connectionError(.connection(code, why)) }
        guard let type = h.knownType else { return .frame(.unknown(type: h.type, stream: id), end: end) }
        switch type {
        case .data:
            if id == 0 { return connection(.protocolError, "DATA on stream 0") }
            guard let body = unpad(h, b, start, end) else { return padError(h) }
            return .frame(.data(stream: id, data: body, endStream: h.flags.contains(.endStream), flowLength: h.length), end: end)
        case .headers:
            if id == 0 { return connection(.protocolError, "HEADERS on stream 0") }
            guard var body = unpad(h, b, start, end) else { return padError(h) }
            var priority: Frame.Priority?
            if h.flags.contains(.priority) {
                guard body.count >= 5 else { return connection(.frameSizeError, "HEADERS too short for its priority block") }
                priority = readPriority(b, body.lowerBound)
                body = (body.lowerBound + 5)..<body.upperBound
            }
            return .frame(.headers(stream: id, block: body, endStream: h.flags.contains(.endStream),
                                   endHeaders: h.flags.contains(.endHeaders), priority: priority), end: end)
        case .priority:
            if id == 0 { return connection(.protocolError, "PRIORITY on stream 0") }
            if h.length != 5 { return .streamError(.stream(id, .frameSizeError, "PRIORITY of \(h.length) bytes"), end: end) }
            return .frame(.priority(stream: id, readPriority(b, start)), end: end)
        case .rstStream:
            if id == 0 { return connection(.protocolError, "RST_STREAM on stream 0") }
            if h.length != 4 { return connection(.frameSizeError, "RST_STREAM of \(h.length) bytes") }
            return .frame(.rstStream(stream: id, code: readUInt32(b, start)), end: end)
        case .settings:
            if id != 0 { return connection(.protocolError, "SETTINGS on stream \(id)") }
            let ack = h.flags.contains(.ack)
            if ack && h.length != 0 { return connection(.frameSizeError, "SETTINGS ACK with a payload") }
            if h.length % 6 != 0 { return connection(.frameSizeError, "SETTINGS of \(h.length) bytes") }
            return .frame(.settings(ack: ack, payload: start..<end), end: end)
        case .pushPromise:
            // Only a server may push; the connection refuses it from clients (§8.4).
            if id == 0 { return connection(.protocolError, "PUSH_PROMISE on stream 0") }
            guard let body = unpad(h, b, start, end) else { return padError(h) }
            guard body.count >= 4 else { return connection(.frameSizeError, "PUSH_PROMISE too short") }
            return .frame(.pushPromise(stream: id, promised: readUInt32(b, body.lowerBound) & H2.maxStreamID,
                                       block: (body.lowerBound + 4)..<body.upperBound,
                                       endHeaders: h.flags.contains(.endHeaders)), end: end)
        case .ping:
            if id != 0 { return connection(.protocolError, "PING on stream \(id)") }
            if h.length != 8 { return connection(.frameSizeError, "PING of \(h.length) bytes") }
            let opaque = UInt64(readUInt32(b, start)) << 32 | UInt64(readUInt32(b, start + 4))
            return .frame(.ping(ack: h.flags.contains(.ack), opaque: opaque), end: end)
        case .goaway:
            if id != 0 { return connection(.protocolError, "GOAWAY on stream \(id)") }
            if h.length < 8 { return connection(.frameSizeError, "GOAWAY of \(h.length) bytes") }
            return .frame(.goaway(lastStream: readUInt32(b, start) & H2.maxStreamID, code: readUInt32(b, start + 4),
                                  debug: (start + 8)..<end), end: end)
        case .windowUpdate:
            if h.length != 4 { return connection(.frameSizeError, "WINDOW_UPDATE of \(h.length) bytes") }
            let increment = Int(readUInt32(b, start) & 0x7FFF_FFFF)
            if increment == 0 {
                // §6.9: a stream error on a stream, a connection error on the connection.
                if id == 0 { return connection(.protocolError, "WINDOW_UPDATE of 0 on the connection") }
                return .streamError(.stream(id, .protocolError, "WINDOW_UPDATE of 0"), end: end)
            }
            return .frame(.windowUpdate(stream: id, increment: increment), end: end)
        case .continuation:
            if id == 0 { return connection(.protocolError, "CONTINUATION on stream 0") }
            return .frame(.continuation(stream: id, block: start..<end, endHeaders: h.flags.contains(.endHeaders)), end: end)
        }
    }

    /// The payload without its padding; nil when the pad length does not fit
    /// (§6.1, §6.2: padding as long as the payload or longer is a PROTOCOL_ERROR).
    static func unpad(_ h: FrameHeader, _ b: UnsafeRawBufferPointer, _ start: Int, _ end: Int) -> Range<Int>? {
        guard h.flags.contains(.padded) else { return start..<end }
        guard h.length >= 1 else { return nil }
        let pad = Int(b[start])
        guard pad < h.length else { return nil }
        return (start + 1)..<(end - pad)
    }

    static func padError(_ h: FrameHeader) -> Result {
        if h.length == 0 { return .connectionError(.connection(.frameSizeError, "padded frame without a pad length")) }
        return .connectionError(.connection(.protocolError, "padding longer than the payload"))
    }

    static func readPriority(_ b: UnsafeRawBufferPointer, _ at: Int) -> Frame.Priority {
        let word = readUInt32(b, at)
        return Frame.Priority(exclusive: word & 0x8000_0000 != 0, dependency: word & H2.maxStreamID, weight: b[at + 4])
    }
}
