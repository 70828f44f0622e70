/// Time and the end of a connection: the two-step graceful GOAWAY (SIGTERM),
/// timeouts (SETTINGS ACK, streams stalled on the peer, idle connection) and
/// the accounting window of the abuse counters.
extension H2Connection {
    /// Starts a graceful shutdown: GOAWAY with the largest id (streams in
    /// flight are still taken) and a PING; the final GOAWAY with the real last
    /// stream id follows the PING's ACK (or `shutdownGraceMs`), then the
    /// connection closes once its streams are done.
    public mutating func beginShutdown(now: UInt64) {
        switch phase {
        case .preface:
            phase = .closed
        case .firstSettings, .open:
            FrameWriter.goaway(lastStream: H2.maxStreamID, code: .noError, into: &outbound)
            FrameWriter.ping(Self.shutdownPing, ack: false, into: &outbound)
            phase = .draining(finalSent: false, since: now)
        case .draining, .closed:
            break
        }
    }

    mutating func sendFinalGoaway(into actions: inout [ConnectionAction]) {
        guard case .draining(false, let since) = phase else { return }
        FrameWriter.goaway(lastStream: highestPeerStream, code: .noError, into: &outbound)
        goawayLastStream = highestPeerStream
        phase = .draining(finalSent: true, since: since)
        checkDrained(into: &actions)
    }

    /// Closes when nothing is left to serve after a GOAWAY either way.
    mutating func checkDrained(into actions: inout [ConnectionAction]) {
        guard streams.isEmpty, pendingBlock == nil else { return }
        if case .draining(true, _) = phase {
            phase = .closed
            actions.append(.close(error: nil))
        } else if peerSentGoaway, phase == .open {
            FrameWriter.goaway(lastStream: highestPeerStream, code: .noError, into: &outbound)
            phase = .closed
            actions.append(.close(error: nil))
        }
    }

    /// The driver's timer: call it every second or so with the current time (ms).
    public mutating func tick(now: UInt64, into actions: inout [ConnectionAction]) {
        guard phase != .closed else { return }
        if now >= abuse.windowStart + config.accountingWindowMs { abuse.restart(at: now) }
        if case .preface = phase {
            if now >= lastFrameAt + config.settingsTimeoutMs {
                phase = .closed
                actions.append(.close(error: .connection(.protocolError, "no preface")))
            }
            return
        }
        if !settingsAcked, now >= settingsSentAt + config.settingsTimeoutMs {
            return fail(.connection(.settingsTimeout, "SETTINGS not acknowledged"), into: &actions)
        }
        if case .draining(false, let since) = phase, now >= since + config.shutdownGraceMs {
            sendFinalGoaway(into: &actions)
        }
        // A stream waiting on the peer (body with an open window, or a window
        // for our DATA) that makes no progress is reset: zero-window stalls and
        // idle streams end, as -body-timeout ends them on HTTP/1.1.
        for s in streams.keys.sorted() {
            guard let rec = streams[s], now >= rec.lastPeerProgress + config.streamIdleTimeoutMs else { continue }
            let awaitingBody = rec.state.remoteOpen && rec.recv.remaining > 0
            // Blocked by its own window (the client stopped reading it), not by the connection's or ours.
            let awaitingWindow = blocked.contains(s) && rec.send.available == 0
            guard awaitingBody || awaitingWindow else { continue }
            FrameWriter.rstStream(stream: s, code: .cancel, into: &outbound)
            remove(s, weReset: true)
            actions.append(.streamReset(stream: s, .cancel))
        }
        if streams.isEmpty, phase == .open, now >= lastFrameAt + config.connectionIdleTimeoutMs {
            FrameWriter.goaway(lastStream: highestPeerStream, code: .noError, into: &outbound)
            phase = .closed
            actions.append(.close(error: nil))
            return
        }
        checkDrained(into: &actions)
    }
}
