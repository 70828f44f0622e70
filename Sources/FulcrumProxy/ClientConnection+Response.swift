import FulcrumCore
import FulcrumEventLoop
import FulcrumHTTP
import Glibc

/// The response half of an exchange: reading the backend's head and body,
/// framing them for the client, and writing them with back-pressure.
extension ClientConnection {

    func upstreamEvent(_ up: BackendConnection, _ events: UInt32) {
        if events & EventMask.writable != 0 {
            upstreamWriteBlocked = false
            pumpRequest()
            guard phase == .exchanging, upstream === up else { return }
        }
        if events & (EventMask.readable | EventMask.hangUp | EventMask.error | EventMask.readHangUp) != 0 {
            readResponse(up)
        }
    }

    func readResponse(_ up: BackendConnection) {
        switch SocketIO.read(up, into: &up.inBuf, pool: worker.pool) {
        case .bytes:
            up.lastActivity = worker.loop.now
            exchange.responseBytesArrived()
            processResponseBytes(up)
            // More of this response is coming: acknowledge what arrived at
            // once. A backend that corks its output (nginx's tcp_nopush with
            // sendfile) otherwise waits for our delayed ACK, a 40 ms stall.
            if phase == .exchanging, upstream === up, exchange.responseStarted, !responseComplete { Socket.quickAck(up.fd) }
        case .noRoom:
            updateInterest()
        case .wouldBlock:
            break
        case .endOfStream:
            up.readClosed = true
            // De-chunked bytes still waiting for room in outBuf come first.
            if dechunk && !responseComplete && !(up.inBuf?.isEmpty ?? true) { updateInterest(); return }
            // Over TLS, only close_notify ends a close-delimited body; a bare
            // TCP close is a truncation and cuts the client (RFC 9112 §9.8).
            let truncated = up.tls?.endedWithoutCloseNotify ?? false
            if truncated && exchange.responseStarted && responseBody.endsAtClose && !responseComplete {
                Log.warn("backend \(up.backend.address): TLS closed without close_notify; truncated response, client reset")
            }
            let closeEndsBody = responseBody.endsAtClose && !truncated
            perform(exchange.upstreamClosed(untilClose: closeEndsBody))
            if phase == .exchanging { pumpResponse() }
        case .failed(let code):
            upstreamBroke(up, .reset(code))
        }
    }

    func processResponseBytes(_ up: BackendConnection) {
        while !exchange.responseStarted {
            guard let headLength = responseScanner.scan(up.inBuf!.readable) else {
                if up.inBuf!.readableCount >= HTTPLimits.maxHead {
                    Log.warn("backend \(up.backend.address): response head too large")
                    upstreamBroke(up, nil)
                    return
                }
                if up.inBuf!.writableCount == 0 { up.inBuf!.compact() }
                // A 1xx already queued goes out now, not after the next head.
                if !(outBuf?.isEmpty ?? true) { pumpResponse() }
                return
            }
            let head = UnsafeRawBufferPointer(start: up.inBuf!.base + up.inBuf!.readIndex, count: headLength)
            let parsed = worker.head
            if let error = HeadParser.parseResponse(head, into: parsed) {
                Log.warn("backend \(up.backend.address): invalid response: \(error.reason)")
                upstreamBroke(up, nil)
                return
            }
            responseScanner.reset()
            let framing = HeadParser.responseFraming(parsed, requestMethod: exchange.facts.method)
            let keepsAlive = !parsed.connectionClose && (parsed.version == .http11 || parsed.connectionKeepAlive)
            exchange.draining = worker.draining
            switch exchange.responseHead(status: parsed.status, framing: framing, serverKeepsAlive: keepsAlive) {
            case .forwardInformational(let toClient):
                if toClient && !queueForClient(head) {
                    upstreamBroke(up, nil)
                    return
                }
                up.inBuf!.consume(headLength)
                if up.inBuf!.isEmpty { pumpResponse(); return }
            case .startTunnel:
                startTunnel(up, head: head, parsed: parsed)
                return
            case .startStreaming(let options, let dechunkBody):
                if outBuf == nil { outBuf = worker.pool.take() }
                outBuf!.compact()
                if filterRun != nil { runResponseFilters(parsed, head) }
                guard HeadRewriter.writeResponse(parsed, head: head, options, rules: route?.responseHeaders, edits: filterRun,
                                                 into: &outBuf!) else {
                    Log.warn("backend \(up.backend.address): response head does not fit")
                    abortExchange(bodyTimeout: false)
                    return
                }
                up.inBuf!.consume(headLength)
                let micros = (Clock.monotonicNanos() &- startNanos) / 1000
                pool.registry.table.recordLatency(up.backend.id, micros: micros)
                responseBody.reset(framing)
                dechunk = dechunkBody
                // The request head is no longer needed for a retry.
                if let f = fwdBuf, exchange.requestSent { worker.pool.give(f); fwdBuf = nil }
                syncUpstreamTimer()
            case let other:
                perform(other)
                return
            }
        }
        guard classifyResponseBody(up) else { return }
        pumpResponse()
    }

    /// Marks the backend's new bytes as body (or, past the body's end, as an
    /// unexpected extra that makes the connection unfit for reuse). When
    /// de-chunking, copies the payload to `outBuf` as far as it has room.
    /// False when the exchange ended (a malformed body).
    func classifyResponseBody(_ up: BackendConnection) -> Bool {
        guard let buf = up.inBuf else { return true }
        let start = buf.readIndex + responseBodyPending
        var fresh = UnsafeRawBufferPointer(start: buf.base + start, count: buf.writeIndex - start)
        guard fresh.count > 0 else { return true }
        if responseComplete { exchange.responseExtraBytes(); return true }
        let progress: BodyTracker.Progress
        if dechunk {
            if outBuf!.writableCount < fresh.count { outBuf!.compact() }
            fresh = UnsafeRawBufferPointer(rebasing: fresh[0..<min(fresh.count, outBuf!.writableCount)])
            guard fresh.count > 0 else { return true }
            progress = responseBody.consume(fresh) { offset, count in
                outBuf!.append(UnsafeRawBufferPointer(rebasing: fresh[offset..<(offset + count)]))
            }
        } else {
            progress = responseBody.consume(fresh)
        }
        switch progress {
        case .more:
            if dechunk { up.inBuf!.consume(fresh.count) } else { responseBodyPending += fresh.count }
        case .complete(let n):
            if dechunk { up.inBuf!.consume(n) } else { responseBodyPending += n }
            exchange.responseBodyComplete()
            if up.inBuf!.readableCount > responseBodyPending { exchange.responseExtraBytes() }
        case .invalid(let why):
            Log.warn("backend \(up.backend.address): bad response body: \(why)")
            upstreamBroke(up, nil)
            return false
        }
        return true
    }

    enum WriteOutcome { case drained, blocked, failed }

    /// Writes what the client is owed: queued bytes (`outBuf`), then the
    /// backend's bytes at the front of its buffer (`responseBodyPending`),
    /// in one writev per round. Shared by exchanges and tunnels.
    func writeToClient(_ up: BackendConnection?) -> WriteOutcome {
        while true {
            let headCount = outBuf?.readableCount ?? 0
            let body = responseBodyPending
            if headCount == 0 && body == 0 { clientWriteBlocked = false; return .drained }
            let headStart: UnsafeMutableRawPointer? = headCount > 0 ? outBuf!.base + outBuf!.readIndex : nil
            let bodyStart: UnsafeMutableRawPointer? = body > 0 ? up!.inBuf!.base + up!.inBuf!.readIndex : nil
            switch SocketIO.writev(self, headStart, headCount, bodyStart, body) {
            case .bytes(let n):
                worker.metrics.add(.bytesToClients, UInt64(n))
                clientBytesOut &+= UInt64(n)
                let h = min(n, headCount)
                if h > 0 { outBuf!.consume(h) }
                let b = n - h
                if b > 0 {
                    up!.inBuf!.consume(b)
                    responseBodyPending -= b
                }
                up?.lastActivity = worker.loop.now
                if n < headCount + body { clientWriteBlocked = true; return .blocked }
            case .failed:
                return .failed
            default:
                clientWriteBlocked = true
                return .blocked
            }
        }
    }

    /// Writes pending bytes to the client; ends the exchange when the response is through.
    func pumpResponse() {
        guard isOpen else { return }  // an abort earlier in this event closed the connection
        while true {
            switch writeToClient(upstream) {
            case .failed:
                perform(exchange.clientFailed())  // the client is gone
                return
            case .blocked:
                updateInterest()
                return
            case .drained:
                // De-chunking stops at outBuf's room: more may wait in the backend's buffer.
                if dechunk, let up = upstream, !responseComplete, let b = up.inBuf, !b.isEmpty {
                    guard classifyResponseBody(up) else { return }
                    if !(outBuf?.isEmpty ?? true) { continue }
                }
                if dechunk, let up = upstream, up.readClosed, !responseComplete, up.inBuf?.isEmpty ?? true {
                    perform(exchange.upstreamClosed(untilClose: false))
                    return
                }
            }
            break
        }
        let action = exchange.clientDrained()
        if action == .wait { updateInterest() } else { perform(action) }
    }

    /// Queues a whole head for the client; false when it does not fit.
    func queueForClient(_ bytes: UnsafeRawBufferPointer) -> Bool {
        if outBuf == nil { outBuf = worker.pool.take() }
        if outBuf!.writableCount < bytes.count { outBuf!.compact() }
        return outBuf!.append(bytes)
    }
}
