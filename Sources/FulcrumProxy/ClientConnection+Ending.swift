import FulcrumCore
import FulcrumEventLoop
import FulcrumHTTP
import Glibc

/// Carrying out the exchange machine's actions, and every way an exchange
/// or the connection ends.
extension ClientConnection {

    /// Does what the state machine asked.
    func perform(_ action: ExchangeStateMachine.Action) {
        switch action {
        case .wait:
            updateInterest()
        case .awaitConnect:
            syncUpstreamTimer()
            updateInterest()
        case .pumpRequest:
            syncUpstreamTimer()
            pumpRequest()
        case .rearmTimer:
            syncUpstreamTimer()
        case .retry(let sameBackend, let markDown):
            if let up = upstream { detachUpstream(up, keep: false) }
            retry(sameBackend: sameBackend, markDown: markDown)
        case .respond(let status, let markDown):
            if let up = upstream { detachUpstream(up, keep: false) }
            if markDown, let b = backend { pool.registry.markDown(id: b.id, reason: lastFailure?.detail ?? "proxied request failed") }
            if status == 504 || status == 502, let f = lastFailure {
                Log.debug("giving up on \(backend?.address ?? "-"): \(f.detail)")
            }
            respondLocally(status)
        case .abort(let bodyTimeout):
            abortExchange(bodyTimeout: bodyTimeout)
        case .finish(let reuseUpstream, let keepClient):
            finishExchange(reuseUpstream: reuseUpstream, keepClient: keepClient)
        case .forwardInformational, .startStreaming, .startTunnel:
            preconditionFailure("\(action) is handled where the response head is read")
        }
    }

    /// Lets go of the backend connection: back to the pool when `keep` and
    /// it is fit, else closed.
    func detachUpstream(_ up: BackendConnection, keep: Bool) {
        up.client = nil
        if upstream === up { upstream = nil }
        DeadlineQueue.disarm(up)
        up.armedTimer = .none
        if keep, up.isOpen, !up.readClosed, up.inBuf?.isEmpty ?? true, !worker.draining {
            up.releaseBufferIfEmpty()
            up.state = .idle
            up.reused = false
            if worker.pools.put(up) {
                worker.loop.setInterest(up, EventMask.readable)
                worker.poolQueue.arm(up, now: worker.loop.now)
                return
            }
        }
        worker.closeUpstream(up, reset: !keep)
    }

    /// The response is fully written: account, then keep or close.
    func finishExchange(reuseUpstream: Bool, keepClient: Bool) {
        if let up = upstream { detachUpstream(up, keep: reuseUpstream && responseBodyPending == 0) }
        account()
        if let f = fwdBuf { worker.pool.give(f); fwdBuf = nil }
        if let o = outBuf, o.isEmpty { worker.pool.give(o); outBuf = nil }
        backend = nil
        // Body bytes the backend never took (it answered early): their end
        // is known, so they are dropped, never parsed as the next request.
        if requestBodyPending > 0 {
            inBuf?.consume(requestBodyPending)
            requestBodyPending = 0
        }
        guard keepClient else {
            if (inBuf?.isEmpty ?? true) && exchange.requestBodyRead { worker.closeClient(self) } else { lingerThenClose() }
            return
        }
        if let b = inBuf, b.isEmpty {
            worker.pool.give(b)
            inBuf = nil
        }
        if inBuf != nil {
            phase = .readingHead
            worker.headerQueue.arm(self, now: worker.loop.now)
            // Pipelined requests: the loop in processBufferedRequests starts
            // the next one when this exchange ended inside it; otherwise start it here.
            if !processingBuffered { processBufferedRequests() }
        } else {
            phase = .idle
            worker.idleQueue.arm(self, now: worker.loop.now)
            updateInterest()
        }
    }

    /// Metrics, the strategy's `complete`, and the access log, once per exchange.
    func account() {
        guard !accounted else { return }
        accounted = true
        endInFlight()
        let status = exchange.status == 0 ? 499 : exchange.status
        let micros = (Clock.monotonicNanos() &- startNanos) / 1000
        worker.metrics.response(status)
        if let b = backend {
            worker.metrics.record(backend: b.id, status: status, micros: micros)
            if strategyEpoch == pool.strategyEpoch, let strategy = pool.strategy, strategy.wantsCompletions {
                strategy.complete(backendID: b.id, status: Int32(status), durationMicros: micros)
            }
        }
        if filterRun != nil { completeFilters(status: status, micros: micros) }
        if let log = worker.accessLog {
            logMethod.withUnsafeBytes { m in
                logTarget.withUnsafeBytes { t in
                    log.append(client: clientIP, method: m, target: t, status: status, backend: backend?.address ?? "",
                               durationMicros: micros, http2: viaH2, annotations: filterRun)
                }
            }
        }
        if filterRun != nil { releaseFilters() }
    }

    /// A response the proxy makes itself, as the end of the current exchange
    /// (the machine is in `.responding`). Anything already queued for the
    /// client (a whole 1xx head) stays in front of it.
    func respondLocally(_ code: Int) {
        // The backend is done with: its in-flight count drops now, not when a
        // slow client finally reads.
        endInFlight()
        if outBuf == nil { outBuf = worker.pool.take() }
        outBuf!.compact()
        guard case .responding(_, let keep) = exchange.state, writeLocalResponse(code, keepAlive: keep) else {
            abortExchange(bodyTimeout: false)
            return
        }
        responseBodyPending = 0
        // A client that never reads this gets the body timeout, then a reset.
        worker.bodyQueue.arm(self, now: worker.loop.now)
        pumpResponse()
    }

    /// The client or backend broke off mid-exchange: nothing more can be said.
    func abortExchange(bodyTimeout: Bool) {
        if bodyTimeout { Log.debug("client \(clientIP): response body stalled; connection reset") }
        if let up = upstream { detachUpstream(up, keep: false) }
        account()
        if let f = fwdBuf { worker.pool.give(f); fwdBuf = nil }
        backend = nil
        worker.closeClient(self, reset: true)
    }

    /// Outside an exchange (a malformed request head, a head timeout): a
    /// canned response, then close.
    func respondAndClose(_ code: Int) {
        worker.metrics.response(code)
        if let log = worker.accessLog {
            log.append(client: clientIP, method: UnsafeRawBufferPointer(start: nil, count: 0),
                       target: UnsafeRawBufferPointer(start: nil, count: 0), status: code, backend: "", durationMicros: 0)
        }
        if outBuf == nil { outBuf = worker.pool.take() }
        outBuf!.clear()
        CannedResponse.write(code, keepAlive: false, into: &outBuf!)
        phase = .flushing
        worker.lingerQueue.arm(self, now: worker.loop.now)
        // Whatever else the client sent is not read: closing with unread
        // data would send an RST that can destroy the response in flight, so
        // shut down our side first and give the client a moment to read.
        flushClosing()
    }

    func flushClosing() {
        guard var out = outBuf, !out.isEmpty else { lingerThenClose(); return }
        let outcome = SocketIO.write(self, from: &out)
        outBuf = out
        switch outcome {
        case .bytes(let n):
            worker.metrics.add(.bytesToClients, UInt64(n))
            if outBuf!.isEmpty { lingerThenClose(); return }
            updateInterest()
        case .wouldBlock:
            updateInterest()
        default:
            worker.closeClient(self)
        }
    }

    /// Half-closes, then closes when the client closes or after a short
    /// grace: closing a socket with unread input sends an RST, which can
    /// destroy the response the client has not read yet.
    func lingerThenClose() {
        phase = .lingering
        SocketIO.shutdownWrite(self)
        if let o = outBuf { worker.pool.give(o); outBuf = nil }
        if let b = inBuf { worker.pool.give(b); inBuf = nil }
        worker.lingerQueue.arm(self, now: worker.loop.now)
        updateInterest()
    }
}
