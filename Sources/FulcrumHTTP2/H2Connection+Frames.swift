/// Per-frame rules that need connection state (RFC 9113 §5.1 stream states,
/// §6 frame semantics, §6.5 SETTINGS values, §6.9 windows).
extension H2Connection {
    mutating func handle(_ frame: Frame, _ buffer: UnsafeRawBufferPointer, now: UInt64, into actions: inout [ConnectionAction]) {
        // §6.10: a header block is contiguous; nothing may come between its frames.
        if let pending = pendingBlock {
            guard case .continuation(let s, _, _) = frame, s == pending.stream else {
                return fail(.connection(.protocolError, "frame inside a header block"), into: &actions)
            }
        }
        switch frame {
        case .headers(let s, let block, let end, let endHeaders, let priority):
            headers(s, block, buffer, endStream: end, endHeaders: endHeaders, priority: priority, now: now, into: &actions)
        case .continuation(let s, let block, let endHeaders):
            continuation(s, block, buffer, endHeaders: endHeaders, now: now, into: &actions)
        case .data(let s, let range, let end, let flow):
            data(s, range, endStream: end, flowLength: flow, now: now, into: &actions)
        case .rstStream(let s, let code):
            if isIdle(s) { return fail(.connection(.protocolError, "RST_STREAM on idle stream \(s)"), into: &actions) }
            guard let rec = streams[s] else { return }
            remove(s, weReset: false)
            actions.append(.streamReset(stream: s, H2ErrorCode(rawValue: code) ?? .internalError))
            if !rec.responseStarted && abuse.earlyReset(config: config) {
                fail(.connection(.enhanceYourCalm, "rapid reset: \(abuse.earlyResets) streams reset before their response"), into: &actions)
            }
        case .settings(let ack, let payload):
            if ack {
                settingsAcked = true
            } else {
                settings(UnsafeRawBufferPointer(rebasing: buffer[payload]), into: &actions)
            }
        case .ping(let ack, let opaque):
            if !ack {
                FrameWriter.ping(opaque, ack: true, into: &outbound)
                countGlitch(into: &actions)
            } else if opaque == Self.shutdownPing, case .draining(false, _) = phase {
                sendFinalGoaway(into: &actions)
            }
        case .goaway:
            // The peer opens nothing more; what is open finishes.
            peerSentGoaway = true
            checkDrained(into: &actions)
        case .windowUpdate(let s, let increment):
            windowUpdate(s, increment, now: now, into: &actions)
        case .priority(let s, let p):
            // Deprecated (RFC 9113 §5.3.2) and ignored, but a stream may not depend on itself.
            if p.dependency == s { return streamError(s, .protocolError, "stream depends on itself", into: &actions) }
            countGlitch(into: &actions)
        case .pushPromise:
            fail(.connection(.protocolError, "PUSH_PROMISE with push disabled"), into: &actions)
        case .unknown:
            countGlitch(into: &actions)
        }
    }

    /// Never opened by the peer: a stream id of its parity above the highest it used, or any of ours (we open none).
    func isIdle(_ s: UInt32) -> Bool {
        s & 1 != peerParity || s > highestPeerStream
    }

    mutating func data(_ s: UInt32, _ range: Range<Int>, endStream: Bool, flowLength: Int, now: UInt64, into actions: inout [ConnectionAction]) {
        guard connectionReceive.receive(flowLength) else {
            return fail(.connection(.flowControlError, "DATA beyond the connection window"), into: &actions)
        }
        guard var rec = streams[s] else {
            // Nobody takes these bytes: the connection window gets them back at once.
            creditConnection(flowLength)
            if isIdle(s) { return fail(.connection(.protocolError, "DATA on idle stream \(s)"), into: &actions) }
            if recentlyClosed.lookup(s) == true { return countGlitch(into: &actions) }  // in flight when we reset it
            return streamError(s, .streamClosed, "DATA on closed stream \(s)", into: &actions)
        }
        guard rec.recv.receive(flowLength) else {
            creditConnection(flowLength)
            return streamError(s, .flowControlError, "DATA beyond the stream window", into: &actions)
        }
        if let e = rec.state.receive(.data(endStream: endStream), id: s) {
            creditConnection(flowLength)
            return raise(e, into: &actions)
        }
        rec.received += range.count
        if let cl = rec.contentLength, rec.received > cl || (endStream && rec.received != cl) {
            // §8.1.1: DATA that does not add up to content-length is malformed.
            streams[s] = rec
            creditConnection(flowLength)
            return streamError(s, .protocolError, "DATA does not add up to content-length", into: &actions)
        }
        rec.lastPeerProgress = now
        rec.unconsumed += range.count
        let padding = flowLength - range.count
        if padding > 0 {
            creditConnection(padding)
            if rec.state.remoteOpen, let inc = rec.recv.consumed(padding) { FrameWriter.windowUpdate(stream: s, increment: inc, into: &outbound) }
        }
        settle(s, rec)
        actions.append(.requestData(stream: s, bytes: range, endStream: endStream))
        if range.isEmpty && !endStream { countGlitch(into: &actions) }
    }

    mutating func windowUpdate(_ s: UInt32, _ increment: Int, now: UInt64, into actions: inout [ConnectionAction]) {
        if s == 0 {
            guard connectionSend.increment(increment) else {
                return fail(.connection(.flowControlError, "connection window over 2^31-1"), into: &actions)
            }
        } else if var rec = streams[s] {
            guard rec.send.increment(increment) else {
                return streamError(s, .flowControlError, "stream window over 2^31-1", into: &actions)
            }
            rec.lastPeerProgress = now
            streams[s] = rec
        } else if isIdle(s) {
            return fail(.connection(.protocolError, "WINDOW_UPDATE on idle stream \(s)"), into: &actions)
        }
        if increment < 1024 { countGlitch(into: &actions) }
        wakeBlocked(into: &actions)
    }

    mutating func settings(_ payload: UnsafeRawBufferPointer, into actions: inout [ConnectionAction]) {
        peerSettingsSeen += 1
        for (id, value) in SettingsPayload(payload) {
            switch SettingID(rawValue: id) {
            case .enablePush?:
                if value > 1 { return fail(.connection(.protocolError, "ENABLE_PUSH \(value)"), into: &actions) }
            case .initialWindowSize?:
                guard value <= UInt32(H2.maxWindow) else {
                    return fail(.connection(.flowControlError, "INITIAL_WINDOW_SIZE \(value)"), into: &actions)
                }
                // §6.9.2: every stream's send window moves by the difference (possibly below zero).
                let delta = Int(value) - peerInitialWindow
                peerInitialWindow = Int(value)
                for id in streams.keys {
                    guard streams[id]!.send.adjust(by: delta) else {
                        return fail(.connection(.flowControlError, "a stream window over 2^31-1"), into: &actions)
                    }
                }
            case .maxFrameSize?:
                guard value >= UInt32(H2.minMaxFrameSize) && value <= UInt32(H2.maxMaxFrameSize) else {
                    return fail(.connection(.protocolError, "MAX_FRAME_SIZE \(value)"), into: &actions)
                }
                peerMaxFrameSize = Int(value)
            case .enableConnectProtocol?:
                if value > 1 { return fail(.connection(.protocolError, "ENABLE_CONNECT_PROTOCOL \(value)"), into: &actions) }
            case .headerTableSize?, .maxConcurrentStreams?, .maxHeaderListSize?, nil:
                // Our encoder never indexes, we open no streams, and unknown settings are ignored (§6.5.2).
                break
            }
        }
        FrameWriter.settingsAck(into: &outbound)
        if peerSettingsSeen > 1 { countGlitch(into: &actions) }
        wakeBlocked(into: &actions)
    }

    /// Raises an error the state machine found.
    mutating func raise(_ e: H2Error, into actions: inout [ConnectionAction]) {
        switch e {
        case .connection: fail(e, into: &actions)
        case .stream(let id, let code, let why): streamError(id, code, why, into: &actions)
        }
    }
}
