import FulcrumCore
import FulcrumEventLoop
import FulcrumHTTP
import FulcrumRegistry
import Glibc

/// The request half of an exchange: connecting to the backend, writing the
/// forwarded head and streaming the body, and carrying out retries.
extension ClientConnection {

    /// A pooled connection to the chosen backend, or a new one.
    func connectUpstream() {
        guard let backend else { return }
        if let pooled = takePooled(backend) {
            worker.metrics.add(.upstreamReuses)
            pooled.reused = true
            pooled.state = .active
            DeadlineQueue.disarm(pooled)
            attach(pooled)
            perform(exchange.attached(connected: true, reused: true))
            return
        }
        switch Socket.connect(to: backend.socketAddress) {
        case .success(let (fd, connected)):
            worker.metrics.add(.upstreamConnects)
            let conn = BackendConnection(worker: worker, backend: backend)
            conn.state = connected ? .active : .connecting
            if backend.endpoint.isTLS {
                // Verified against the CA store, SNI = host; the handshake runs inside the first write.
                guard let session = TLSSession.connecting(fd: fd, host: backend.endpoint.host, loop: worker.loop) else {
                    _ = fulcrumClose(fd)
                    upstreamFailed(nil, .localResource(EPROTO))
                    return
                }
                conn.tls = session
            }
            guard worker.loop.register(conn, fd: fd, events: connected ? EventMask.readable : EventMask.writable) else {
                _ = fulcrumClose(fd)
                perform(exchange.upstreamFailed(.localResource(ENOMEM)))
                return
            }
            attach(conn)
            perform(exchange.attached(connected: connected, reused: false, handshake: conn.tls != nil))
        case .failure(let error):
            upstreamFailed(nil, UpstreamFailure.connectFailed(error.code))
        }
    }

    /// An idle pooled connection to `backend`. A request that must not be
    /// replayed (non-idempotent) first checks that the server has not closed
    /// it: after its head is written there is no retry, and a close that
    /// arrived in this same event batch has not been processed yet.
    func takePooled(_ backend: Backend) -> BackendConnection? {
        while let pooled = worker.pools.take(backend.id) {
            if exchange.facts.idempotent || Socket.idleConnectionIsUsable(pooled.fd) { return pooled }
            worker.closeUpstream(pooled, reset: false)
        }
        return nil
    }

    /// Starts an attempt on `conn`: what was learnt about a previous
    /// attempt's connection (a retry's) is forgotten.
    func attach(_ conn: BackendConnection) {
        conn.client = self
        conn.lastActivity = worker.loop.now
        upstream = conn
        fwdWritten = 0
        upstreamWriteBlocked = false
        responseScanner.reset()
    }

    func upstreamConnected(_ conn: BackendConnection) {
        conn.lastActivity = worker.loop.now
        perform(exchange.connected())
    }

    // MARK: - request body

    /// Sorts the bytes after what is already classified: body bytes of this
    /// request (pending for the backend) or, once the body is complete, the
    /// next request. False if the body is malformed (the exchange is over).
    func classifyRequestBody() -> Bool {
        guard !exchange.requestBodyRead, let buf = inBuf else { return true }
        let start = buf.readIndex + requestBodyPending
        let fresh = UnsafeRawBufferPointer(start: buf.base + start, count: buf.writeIndex - start)
        guard fresh.count > 0 else { return true }
        switch requestBody.consume(fresh) {
        case .more:
            requestBodyPending += fresh.count
            filterBytesIn &+= UInt64(fresh.count)
        case .complete(let n):
            requestBodyPending += n
            filterBytesIn &+= UInt64(n)
            exchange.requestBodyFinishedReading()
        case .invalid(let why):
            Log.debug("client \(clientIP): bad request body: \(why)")
            perform(exchange.requestBodyInvalid())
            return false
        }
        return true
    }

    func readRequestBody() {
        switch SocketIO.read(self, into: &inBuf, pool: worker.pool) {
        case .bytes(let n):
            worker.metrics.add(.bytesFromClients, UInt64(n))
            guard classifyRequestBody() else { return }
            pumpRequest()
        case .noRoom:
            updateInterest()
        case .wouldBlock:
            break
        case .endOfStream, .failed:
            // The client left before sending its whole body.
            perform(exchange.clientFailed())
        }
    }

    /// During an exchange whose request is complete: keeps whatever the
    /// client sends next (a pipelined request) for later, and notes a
    /// half-close (the client may still read the response). Reading here
    /// rather than dropping EPOLLIN keeps the interest set unchanged for the
    /// whole exchange: no epoll_ctl per request.
    func readAhead() {
        switch SocketIO.read(self, into: &inBuf, pool: worker.pool) {
        case .bytes(let n):
            worker.metrics.add(.bytesFromClients, UInt64(n))
        case .endOfStream:
            halfClosed = true
            exchange.clientHalfClose()
        case .failed:
            perform(exchange.clientFailed())
            return
        case .noRoom, .wouldBlock:
            break
        }
        updateInterest()
    }

    /// Writes what the backend is owed: the rest of the head, then body bytes.
    func pumpRequest() {
        guard isOpen, let up = upstream, up.state == .active, let fwd = fwdBuf else { return }
        send: while true {
            let headRemaining = fwd.readableCount - fwdWritten
            let body = requestBodyPending
            if headRemaining == 0 && body == 0 { break }
            let bodyStart: UnsafeMutableRawPointer? = body > 0 ? inBuf!.base + inBuf!.readIndex : nil
            switch SocketIO.writev(up, fwd.base + fwd.readIndex + fwdWritten, headRemaining, bodyStart, body) {
            case .bytes(let n):
                let h = min(n, headRemaining)
                fwdWritten += h
                let b = n - h
                if b > 0 {
                    inBuf!.consume(b)
                    requestBodyPending -= b
                }
                exchange.wrote(requestBytes: n, bodyBytes: b)
                up.lastActivity = worker.loop.now
                upstreamWriteBlocked = n < headRemaining + body
                if upstreamWriteBlocked { break send }
            case .failed(let e):
                upstreamBroke(up, .reset(e))
                return
            default:
                upstreamWriteBlocked = true
                break send
            }
        }
        // The handshake runs inside the first writes: once through, the
        // connect limit gives way to the body inactivity limit.
        if exchange.handshaking, let tls = up.tls, tls.state != .handshaking { exchange.handshakeCompleted() }
        if !exchange.requestSent && fwdWritten == fwd.readableCount && exchange.requestBodyRead && requestBodyPending == 0 {
            exchange.requestFullySent()
        }
        syncUpstreamTimer()
        updateInterest()
    }

    // MARK: - failures and retries

    /// An attempt failed before any response byte (refused, reset, closed,
    /// connect timeout, or our own resources).
    func upstreamFailed(_ up: BackendConnection?, _ failure: UpstreamFailure) {
        noteFailure(failure)
        perform(exchange.upstreamFailed(failure))
    }

    /// The backend connection failed mid-exchange (reset, write error, bad response).
    func upstreamBroke(_ up: BackendConnection, _ failure: UpstreamFailure?) {
        noteFailure(failure)
        perform(exchange.upstreamBroke(failure))
    }

    func noteFailure(_ failure: UpstreamFailure?) {
        lastFailure = failure
        if case .localResource(let e) = failure {
            Log.error("cannot connect to a backend: \(String(cString: strerror(e))) (the proxy's own limit, not the backend's)")
        } else if let b = backend {
            worker.metrics.failure(backend: b.id)
        }
    }

    /// Carries out a retry decision: the failed connection is gone already.
    func retry(sameBackend: Bool, markDown: Bool) {
        guard let failed = backend else { return }
        worker.metrics.add(.retries)
        if sameBackend {
            // A pooled connection the server had closed: the others likely are too.
            worker.pools.flush(failed.id)
            connectUpstream()
            return
        }
        tried.insert(failed.id)
        if markDown {
            pool.registry.markDown(id: failed.id, reason: lastFailure?.detail ?? "proxied request failed")
            // This worker's strategy sees the smaller set now, not after the
            // asynchronous publish reaches its loop.
            pool.refresh(worker: worker.index)
        }
        endInFlight()
        guard let next = pickUntried() else {
            backend = nil
            perform(exchange.noOtherBackend())
            return
        }
        begin(next)
        connectUpstream()
    }

    /// A backend this request has not tried yet: the strategy's choice when
    /// it offers one within a few picks, else the first untried eligible
    /// backend (a hash strategy keeps choosing the same one).
    func pickUntried() -> Backend? {
        for _ in 0..<3 {
            guard let b = pickBackend() else { break }
            if !tried.contains(b.id) { return b }
        }
        for b in pool.snapshot.eligible where !tried.contains(b.id) { return b }
        return nil
    }

    /// Arms the backend connection's timer the state machine asks for.
    func syncUpstreamTimer() {
        guard let up = upstream else { return }
        let wanted = exchange.upstreamTimer
        guard wanted != up.armedTimer else { return }
        up.armedTimer = wanted
        let now = worker.loop.now
        switch wanted {
        case .none: DeadlineQueue.disarm(up)
        case .connect: worker.connectQueue.arm(up, now: now)
        case .responseHead: worker.responseQueue.arm(up, now: now)
        case .bodyInactivity: worker.bodyQueue.arm(up, now: now)
        }
    }

    func upstreamTimedOut(_ up: BackendConnection, now: UInt64) {
        let limit = worker.config.bodyTimeout
        let timer = exchange.upstreamTimer
        up.armedTimer = .none
        let action = exchange.upstreamTimerFired(idle: now &- up.lastActivity, bodyLimit: limit)
        switch action {
        case .rearmTimer:
            up.armedTimer = .bodyInactivity
            worker.bodyQueue.rearm(up, deadline: up.lastActivity &+ limit)
        default:
            switch timer {
            case .connect:
                worker.metrics.add(.connectTimeouts)
                Log.warn("backend \(up.backend.address): not connected within \(worker.config.connectTimeout) ms")
            case .responseHead:
                worker.metrics.add(.responseTimeouts)
                Log.warn("backend \(up.backend.address): no response within \(worker.config.responseTimeout) ms")
            case .bodyInactivity:
                worker.metrics.add(.bodyTimeouts)
                Log.debug("backend \(up.backend.address): no body progress for \(limit) ms")
            default: break
            }
            noteFailure(timer == .connect ? .connectTimeout : nil)
            perform(action)
        }
    }
}
