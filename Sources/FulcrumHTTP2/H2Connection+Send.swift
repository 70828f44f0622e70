/// The proxy side's half: response heads, body, trailers and resets go out
/// through these; `consumed` reopens the windows of request bodies the proxy
/// forwarded. Flow control and back-pressure live here: `sendData` takes only
/// what the windows and the outbound limit allow, and says `streamWritable`
/// when more fits, so a stream whose client stops reading stalls alone and its
/// backend side stops being read.
extension H2Connection {
    /// A response head (final, or 1xx informational other than 101) from the
    /// backend's HTTP/1.1 head. False when the stream is gone (reset meanwhile).
    public mutating func sendHead(stream s: UInt32, status: Int, fields: HeaderList, endStream: Bool,
                                  into actions: inout [ConnectionAction]) -> Bool {
        guard phase != .closed, var rec = streams[s], rec.state.localOpen, !rec.responseStarted else { return false }
        precondition(status >= 200 || !endStream, "an informational head cannot end the stream")
        var block: [UInt8] = []
        responses.encodeHead(status: status, fields: fields, into: &block)
        FrameWriter.headers(stream: s, block: block, endStream: endStream, maxFrameSize: peerMaxFrameSize, into: &outbound)
        if status >= 200 { rec.responseStarted = true }
        rec.state.send(.headers(endStream: endStream))
        settle(s, rec)
        checkDrained(into: &actions)
        return true
    }

    /// Response body: sends as much of `bytes` as the windows and the outbound
    /// limit allow (in frames of the peer's MAX_FRAME_SIZE) and returns the
    /// count; `endStream` applies only when all of it went. Nil when the
    /// stream is gone. Less than offered: wait for `.streamWritable`.
    public mutating func sendData(stream s: UInt32, _ bytes: UnsafeRawBufferPointer, endStream: Bool,
                                  into actions: inout [ConnectionAction]) -> Int? {
        guard phase != .closed, var rec = streams[s], rec.state.localOpen, rec.responseStarted else { return nil }
        let room = max(0, config.maxOutboundBytes - outbound.count)
        let n = min(bytes.count, connectionSend.available, rec.send.available, room)
        var at = 0
        // Nothing fits: no frame at all (an empty DATA would be a glitch for the peer).
        if n > 0 || bytes.isEmpty { repeat {
            let chunk = min(n - at, peerMaxFrameSize)
            let last = at + chunk == n
            FrameWriter.data(stream: s, UnsafeRawBufferPointer(rebasing: bytes[at..<(at + chunk)]),
                             endStream: last && endStream && n == bytes.count, into: &outbound)
            at += chunk
        } while at < n }
        connectionSend.consume(n)
        rec.send.consume(n)
        if n < bytes.count {
            blocked.insert(s)
        } else {
            blocked.remove(s)
            if endStream { rec.state.send(.data(endStream: true)) }
        }
        settle(s, rec)
        checkDrained(into: &actions)
        return n
    }

    /// Response trailers: a final HEADERS frame with END_STREAM.
    public mutating func sendTrailers(stream s: UInt32, fields: HeaderList, into actions: inout [ConnectionAction]) -> Bool {
        guard phase != .closed, var rec = streams[s], rec.state.localOpen, rec.responseStarted else { return false }
        var block: [UInt8] = []
        responses.encodeTrailers(fields, into: &block)
        FrameWriter.headers(stream: s, block: block, endStream: true, maxFrameSize: peerMaxFrameSize, into: &outbound)
        rec.state.send(.headers(endStream: true))
        settle(s, rec)
        checkDrained(into: &actions)
        return true
    }

    /// The proxy gives up on a stream (backend failed mid-response, timeout):
    /// RST_STREAM with `code` (INTERNAL_ERROR, CANCEL).
    public mutating func resetStream(_ s: UInt32, code: H2ErrorCode, into actions: inout [ConnectionAction]) {
        guard phase != .closed, streams[s] != nil else { return }
        FrameWriter.rstStream(stream: s, code: code, into: &outbound)
        remove(s, weReset: true)
        checkDrained(into: &actions)
    }

    /// The driver forwarded (or dropped) `n` body bytes of stream `s`: the
    /// windows reopen and WINDOW_UPDATEs go out when due.
    public mutating func consumed(stream s: UInt32, _ n: Int) {
        guard phase != .closed, n > 0, var rec = streams[s] else { return }
        precondition(n <= rec.unconsumed, "consumed \(n) of \(rec.unconsumed) held bytes on stream \(s)")
        rec.unconsumed -= n
        creditConnection(n)
        if rec.state.remoteOpen, let inc = rec.recv.consumed(n) {
            FrameWriter.windowUpdate(stream: s, increment: inc, into: &outbound)
        }
        streams[s] = rec
    }

    /// The driver wrote the first `n` bytes of `outbound`.
    public mutating func outboundWritten(_ n: Int, into actions: inout [ConnectionAction]) {
        precondition(n >= 0 && n <= outbound.count)
        outbound.removeFirst(n)
        wakeBlocked(into: &actions)
    }

    /// Tells blocked streams that can send again.
    mutating func wakeBlocked(into actions: inout [ConnectionAction]) {
        guard !blocked.isEmpty, phase != .closed, connectionSend.available > 0, outbound.count < config.maxOutboundBytes / 2 else { return }
        for s in blocked.sorted() where (streams[s]?.send.available ?? 0) > 0 {
            blocked.remove(s)
            actions.append(.streamWritable(stream: s))
        }
    }
}
