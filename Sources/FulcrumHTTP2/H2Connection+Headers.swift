/// HEADERS and CONTINUATION: collecting a header block (bounded in bytes and
/// frames: the CONTINUATION flood), decoding it (always, to keep HPACK in
/// step), and admitting a new stream (§5.1.1 ids, §5.1.2 concurrency, §8
/// validation) or taking trailers.
extension H2Connection {
    mutating func headers(_ s: UInt32, _ block: Range<Int>, _ buffer: UnsafeRawBufferPointer, endStream: Bool, endHeaders: Bool,
                          priority: Frame.Priority?, now: UInt64, into actions: inout [ConnectionAction]) {
        guard s & 1 == peerParity else { return fail(.connection(.protocolError, "HEADERS on stream \(s) of the wrong parity"), into: &actions) }
        let isTrailers: Bool
        if streams[s] != nil {
            isTrailers = true
        } else if s > highestPeerStream {
            // §5.1.1: the id is used now, whatever becomes of the request; lower idle ids close implicitly.
            highestPeerStream = s
            isTrailers = false
        } else if recentlyClosed.lookup(s) != nil {
            return fail(.connection(.streamClosed, "HEADERS on closed stream \(s)"), into: &actions)
        } else {
            return fail(.connection(.protocolError, "stream id \(s) not above \(highestPeerStream)"), into: &actions)
        }
        if endHeaders {
            finishBlock(s, UnsafeRawBufferPointer(rebasing: buffer[block]), isTrailers: isTrailers, endStream: endStream,
                        priority: priority, now: now, into: &actions)
        } else {
            guard block.count <= config.maxHeaderBlockBytes else {
                return fail(.connection(.enhanceYourCalm, "header block over \(config.maxHeaderBlockBytes) bytes"), into: &actions)
            }
            pendingBlock = PendingBlock(stream: s, isTrailers: isTrailers, endStream: endStream, priority: priority,
                                        bytes: Array(buffer[block]), frames: 1)
        }
    }

    mutating func continuation(_ s: UInt32, _ block: Range<Int>, _ buffer: UnsafeRawBufferPointer, endHeaders: Bool,
                               now: UInt64, into actions: inout [ConnectionAction]) {
        guard var p = pendingBlock, p.stream == s else {
            return fail(.connection(.protocolError, "CONTINUATION without a header block"), into: &actions)
        }
        pendingBlock = nil
        guard p.bytes.count + block.count <= config.maxHeaderBlockBytes, p.frames < config.maxContinuationFrames else {
            return fail(.connection(.enhanceYourCalm, "CONTINUATION flood"), into: &actions)
        }
        p.bytes += buffer[block]
        p.frames += 1
        guard endHeaders else {
            pendingBlock = p
            return
        }
        p.bytes.withUnsafeBytes {
            finishBlock(s, $0, isTrailers: p.isTrailers, endStream: p.endStream, priority: p.priority, now: now, into: &actions)
        }
    }

    mutating func finishBlock(_ s: UInt32, _ block: UnsafeRawBufferPointer, isTrailers: Bool, endStream: Bool,
                              priority: Frame.Priority?, now: UInt64, into actions: inout [ConnectionAction]) {
        let outcome = hpack.decode(block, into: &headerList)
        if case .compressionError(let why) = outcome {
            return fail(.connection(.compressionError, why), into: &actions)
        }
        if isTrailers { return trailers(s, tooLarge: outcome == .tooLarge, endStream: endStream, into: &actions) }

        // After the final GOAWAY, newer streams are ignored (§6.8); the block was decoded for HPACK's sake.
        if let last = goawayLastStream, s > last {
            recentlyClosed.add(s, weReset: true)  // its DATA in flight is ignored too
            return
        }
        if let p = priority, p.dependency == s { return refuse(s, code: .protocolError, "stream depends on itself", into: &actions) }
        if streams.count >= config.maxConcurrentStreams {
            return refuse(s, code: .refusedStream, "over \(config.maxConcurrentStreams) concurrent streams", into: &actions)
        }
        if outcome == .tooLarge {
            return respondAndClose(s, status: 431, requestEnded: endStream, "header list over \(config.maxHeaderListSize) bytes", into: &actions)
        }
        switch RequestValidator.validate(headerList, endStream: endStream) {
        case .malformed(let why):
            refuse(s, code: .protocolError, why, into: &actions)
        case .refuse(let status, let why):
            respondAndClose(s, status: status, requestEnded: endStream, why, into: &actions)
        case .accept(let head):
            var rec = StreamRecord(state: .idle, send: SendWindow(peerInitialWindow),
                                   recv: ReceiveWindow(target: config.initialStreamWindow, advertised: config.initialStreamWindow),
                                   contentLength: head.contentLength, lastPeerProgress: now)
            _ = rec.state.receive(.headers(endStream: endStream), id: s)
            streams[s] = rec
            abuse.opened += 1
            actions.append(.requestHead(stream: s, head))
            // Stream-id exhaustion: leave room for the streams in flight, then ask for a new connection.
            if s >= H2.maxStreamID - 2 * UInt32(config.maxConcurrentStreams), case .open = phase { beginShutdown(now: now) }
        }
    }

    mutating func trailers(_ s: UInt32, tooLarge: Bool, endStream: Bool, into actions: inout [ConnectionAction]) {
        guard var rec = streams[s] else { return }
        if let e = rec.state.receive(.headers(endStream: endStream), id: s) { return raise(e, into: &actions) }
        if tooLarge { return streamError(s, .protocolError, "trailers over the header list limit", into: &actions) }
        if let why = RequestValidator.validateTrailers(headerList) { return streamError(s, .protocolError, why, into: &actions) }
        if let cl = rec.contentLength, cl != rec.received {
            return streamError(s, .protocolError, "DATA does not add up to content-length", into: &actions)
        }
        settle(s, rec)
        actions.append(.requestTrailers(stream: s, headerList))
    }

    /// A request that never reaches the proxy: RST_STREAM with `code`.
    mutating func refuse(_ s: UInt32, code: H2ErrorCode, _ why: String, into actions: inout [ConnectionAction]) {
        FrameWriter.rstStream(stream: s, code: code, into: &outbound)
        recentlyClosed.add(s, weReset: true)
        actions.append(.requestRefused(stream: s, status: nil, code: code, reason: why))
        countGlitch(into: &actions)
    }

    /// A request answered by the machine itself (431, 501): HEADERS with
    /// END_STREAM, and RST_STREAM NO_ERROR when the client has a body to stop (§8.1).
    mutating func respondAndClose(_ s: UInt32, status: Int, requestEnded: Bool, _ why: String, into actions: inout [ConnectionAction]) {
        var block: [UInt8] = []
        responses.encodeHead(status: status, fields: HeaderList(), into: &block)
        FrameWriter.headers(stream: s, block: block, endStream: true, maxFrameSize: peerMaxFrameSize, into: &outbound)
        if !requestEnded { FrameWriter.rstStream(stream: s, code: .noError, into: &outbound) }
        recentlyClosed.add(s, weReset: !requestEnded)
        actions.append(.requestRefused(stream: s, status: status, code: nil, reason: why))
        countGlitch(into: &actions)
    }
}
