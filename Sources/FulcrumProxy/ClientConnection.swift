import CFulcrumPlugin
import CFulcrumShim
import FulcrumCore
import FulcrumEventLoop
import FulcrumHTTP
import FulcrumRegistry
import Glibc

/// One client connection and the exchange it is in: read a request head,
/// pick a backend through the strategy plugin, forward the rewritten head and
/// stream the body, stream the response back, then keep the connection for
/// the next request (answered in order, pipelined or not) or close it.
///
/// Bytes are never copied between buffers on the way through: request body
/// bytes go from this connection's input buffer straight to the backend
/// socket, response bytes from the backend connection's input buffer straight
/// to this socket (one `writev` with the rewritten head). A side whose peer
/// cannot take more stops being read (back-pressure), so memory per
/// connection is at most its two buffers, whatever the body sizes.
final class ClientConnection: EventHandler {
    enum Phase { case awaitingHead, exchanging, tunnel, closing }

    enum Failure {
        case refused(Int32)
        case reset(Int32)
        case closedEarly
        case connectTimeout

        var detail: String {
            switch self {
            case .refused(let e): return e == ECONNREFUSED ? "connection refused" : "connect failed: \(String(cString: strerror(e)))"
            case .reset(let e): return e == ECONNRESET ? "connection reset" : String(cString: strerror(e))
            case .closedEarly: return "connection closed before any response"
            case .connectTimeout: return "connect timeout"
            }
        }
    }

    unowned(unsafe) let worker: ProxyWorker
    let peer: SocketAddress
    /// The client's IP as text (X-Forwarded-For, access log).
    let clientIP: String
    var phase = Phase.awaitingHead
    var inBuf: ByteBuffer?
    /// Bytes for the client that are not body bytes: response heads, 1xx, canned responses.
    var outBuf: ByteBuffer?
    var scanner = HeadScanner()
    /// Set while `processBufferedRequests` runs, so an exchange that ends
    /// synchronously inside it does not recurse into it.
    var processingBuffered = false
    var halfClosed = false
    var lastActivity: UInt64 = 0

    // MARK: the exchange in progress
    var upstream: BackendConnection?
    var backend: Backend?
    var method = HTTPMethod.get
    var http10 = false
    var keepAlive = true
    var upgradeRequested = false
    var inFlight = false
    var strategyEpoch: UInt64 = 0
    var startNanos: UInt64 = 0
    var attempts = 0
    var maxAttempts = 1
    var freshRetryUsed = false
    var allTimeouts = true
    // Request side.
    /// The rewritten request head, kept until the response begins so a retry can resend it.
    var fwdBuf: ByteBuffer?
    var fwdWritten = 0
    var requestBody = BodyTracker()
    var requestBodyDone = true
    /// Body bytes at the front of `inBuf` not yet written to the backend.
    var requestBodyPending = 0
    var bodyBytesSent: Int64 = 0
    var requestSent = false
    var upstreamWriteBlocked = false
    // Response side.
    var responseScanner = HeadScanner()
    var anyResponseByte = false
    var responseStarted = false
    var responseBody = BodyTracker()
    /// Body bytes at the front of the backend's `inBuf` not yet written here.
    var responseBodyPending = 0
    var responseDone = false
    var upstreamReusable = true
    var closeAfterResponse = false
    var clientWriteBlocked = false
    var status = 0
    /// Copies for the access log (only when it is on).
    var logMethod: [UInt8] = []
    var logTarget: [UInt8] = []

    init(worker: ProxyWorker, peer: SocketAddress) {
        self.worker = worker
        self.peer = peer
        clientIP = peer.ipString
    }

    // MARK: - events

    override func handleEvent(_ events: UInt32) {
        lastActivity = worker.loop.now
        switch phase {
        case .awaitingHead:
            readHead()
        case .exchanging:
            if events & EventMask.error != 0 || events & EventMask.hangUp != 0 { abortExchange(); return }
            if events & EventMask.writable != 0 { clientWriteBlocked = false; pumpResponse(); guard phase == .exchanging else { return } }
            if events & (EventMask.readable | EventMask.readHangUp) != 0 {
                if requestBodyDone { readAhead() } else { readRequestBody() }
            }
        case .tunnel:
            tunnelClientEvent(events)
        case .closing:
            if lingering {
                // Discard whatever the client still sends until it closes.
                var scratch = (UInt64(0), UInt64(0), UInt64(0), UInt64(0), UInt64(0), UInt64(0), UInt64(0), UInt64(0))
                let n = withUnsafeMutableBytes(of: &scratch) { read(fd, $0.baseAddress!, $0.count) }
                if n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR) { worker.closeClient(self) }
            } else {
                flushClosing()
            }
        }
    }

    override func timerExpired(now: UInt64) {
        switch phase {
        case .awaitingHead:
            if let b = inBuf, !b.isEmpty {
                // Started a request but did not finish its head in time.
                Log.debug("client \(clientIP): request head timeout")
                respondAndClose(408)
            } else {
                worker.closeClient(self)
            }
        case .tunnel:
            if now &- lastActivity < worker.config.idleTimeout {
                worker.idleQueue.rearm(self, deadline: lastActivity &+ worker.config.idleTimeout)
            } else {
                closeTunnel()
            }
        case .closing:
            worker.closeClient(self)
        case .exchanging:
            break
        }
    }

    // MARK: - reading a request head

    func readHead() {
        let wasEmpty = inBuf?.isEmpty ?? true
        switch worker.read(fd, into: &inBuf) {
        case .data(let n):
            // First bytes of a request: from now on the header timeout applies.
            if wasEmpty { worker.headerQueue.arm(self, now: worker.loop.now) }
            worker.metrics.add(.bytesFromClients, UInt64(n))
            processBufferedRequests()
        case .full:
            processBufferedRequests()
        case .wouldBlock:
            break
        case .endOfStream, .failed:
            worker.closeClient(self)
        }
    }

    /// Starts every complete request waiting in `inBuf`, in order: one at a
    /// time (the next waits until this exchange is done).
    func processBufferedRequests() {
        processingBuffered = true
        defer { processingBuffered = false }
        while phase == .awaitingHead, inBuf != nil, !inBuf!.isEmpty {
            if scanner.scanned == 0 {
                let skip = HeadScanner.leadingEmptyLines(inBuf!.readable)
                if skip > 0 { inBuf!.consume(skip); continue }
            }
            guard let headLength = scanner.scan(inBuf!.readable) else {
                if inBuf!.readableCount >= HTTPLimits.maxHead {
                    respondAndClose(scanner.lines == 0 ? 414 : 431)
                } else if scanner.firstLineLength > HTTPLimits.maxRequestLine {
                    respondAndClose(414)
                } else if scanner.lines > HTTPLimits.maxFields + 1 {
                    respondAndClose(431)
                } else if inBuf!.writableCount == 0 {
                    inBuf!.compact()
                }
                updateInterest()
                return
            }
            if headLength > HTTPLimits.maxHead { respondAndClose(431); return }
            startExchange(headLength: headLength)
        }
        if phase == .awaitingHead { updateInterest() }
    }

    // MARK: - starting an exchange

    func startExchange(headLength: Int) {
        let head = UnsafeRawBufferPointer(start: inBuf!.base + inBuf!.readIndex, count: headLength)
        let parsed = worker.head
        if let error = HeadParser.parseRequest(head, into: parsed) {
            Log.debug("client \(clientIP): \(error.status) \(error.reason)")
            respondAndClose(error.status)
            return
        }
        DeadlineQueue.disarm(self)
        scanner.reset()
        worker.metrics.add(.requests)
        method = parsed.method
        http10 = parsed.version == .http10
        keepAlive = parsed.wantsKeepAlive && !worker.draining
        upgradeRequested = parsed.isUpgradeRequest
        if worker.accessLog != nil {
            logMethod = Array(UnsafeRawBufferPointer(start: head.baseAddress, count: Int(parsed.methodEnd)))
            logTarget = Array(UnsafeRawBufferPointer(rebasing: head[Int(parsed.targetStart)..<Int(parsed.targetEnd)]))
        }
        startNanos = Clock.monotonicNanos()
        attempts = 0
        freshRetryUsed = false
        allTimeouts = true
        phase = .exchanging
        status = 0
        anyResponseByte = false
        responseStarted = false
        responseDone = false
        responseBodyPending = 0
        upstreamReusable = true
        closeAfterResponse = false
        requestSent = false
        bodyBytesSent = 0
        fwdWritten = 0
        upstreamWriteBlocked = false
        clientWriteBlocked = false
        responseScanner.reset()

        // The forwarded head, built once and kept for retries.
        fwdBuf = worker.pool.take()
        guard HeadRewriter.writeRequest(parsed, head: head, clientIP: clientIP, into: &fwdBuf!) else {
            inBuf!.consume(headLength)
            respondLocally(431, keepAlive: false)
            return
        }
        let framing = parsed.requestFraming
        let picked = pickBackend(parsed, head: head)
        inBuf!.consume(headLength)
        requestBody.reset(framing)
        requestBodyDone = requestBody.isComplete
        requestBodyPending = 0
        guard let picked else {
            // No eligible backend: 503, keeping the connection when no body follows.
            respondLocally(503, keepAlive: keepAlive && framing == .none)
            return
        }
        maxAttempts = max(1, worker.snapshot.eligible.count)
        if !classifyRequestBody() { return }
        begin(picked)
        connectUpstream()
    }

    /// Asks the strategy for a backend (after catching up with the registry
    /// and strategy generations).
    func pickBackend(_ parsed: ParsedHead, head: UnsafeRawBufferPointer) -> Backend? {
        worker.refreshStrategy()
        guard let strategy = worker.strategy else { return nil }
        strategyEpoch = worker.strategyEpoch
        let base = head.baseAddress!.assumingMemoryBound(to: CChar.self)
        var hostStart = base, hostLength = 0
        if parsed.hostIndex >= 0 {
            let f = parsed.fields[parsed.hostIndex]
            hostStart = base + Int(f.valueStart)
            hostLength = Int(f.valueEnd - f.valueStart)
        }
        let ipLength = peer.withIPBytes { ip -> Int in
            worker.ipScratch.update(from: ip.bindMemory(to: UInt8.self).baseAddress!, count: ip.count)
            return ip.count
        }
        var lookup = HeaderLookup(head: Unmanaged.passUnretained(parsed), base: head.baseAddress!, length: head.count)
        let index: Int? = withUnsafePointer(to: &lookup) { context in
            var request = fulcrum_request(
                client_ip: UnsafePointer(worker.ipScratch), client_ip_len: UInt32(ipLength),
                method: base, method_len: Int(parsed.methodEnd),
                path: base + Int(parsed.targetStart), path_len: Int(parsed.targetEnd - parsed.targetStart),
                host: hostStart, host_len: hostLength,
                context: UnsafeRawPointer(context), header: headerLookupFunction)
            return strategy.pick(&request)
        }
        guard let index, index < worker.snapshot.eligible.count else { return nil }
        return worker.snapshot.eligible[index]
    }

    func begin(_ picked: Backend) {
        backend = picked
        inFlight = worker.registry.table.begin(picked.id)
    }

    /// Ends the in-flight count of the current backend (once).
    func endInFlight() {
        if inFlight, let b = backend {
            worker.registry.table.end(b.id)
            inFlight = false
        }
    }

    /// A pooled connection to the chosen backend, or a new one.
    func connectUpstream() {
        guard let backend else { return }
        if let pooled = worker.pools.take(backend.id) {
            worker.metrics.add(.upstreamReuses)
            pooled.reused = true
            pooled.state = .active
            DeadlineQueue.disarm(pooled)
            attach(pooled)
            worker.responseQueue.arm(pooled, now: worker.loop.now)
            pumpRequest()
            return
        }
        switch Socket.connect(to: backend.socketAddress) {
        case .success(let (fd, connected)):
            worker.metrics.add(.upstreamConnects)
            let conn = BackendConnection(worker: worker, backend: backend)
            conn.state = connected ? .active : .connecting
            worker.loop.register(conn, fd: fd, events: connected ? EventMask.readable : EventMask.writable)
            attach(conn)
            if connected {
                worker.responseQueue.arm(conn, now: worker.loop.now)
                pumpRequest()
            } else {
                worker.connectQueue.arm(conn, now: worker.loop.now)
            }
        case .failure(let error):
            upstreamFailed(nil, .refused(error.code))
        }
    }

    /// Starts an attempt on `conn`: everything learnt about the previous
    /// attempt's connection (a retry's) is forgotten.
    func attach(_ conn: BackendConnection) {
        conn.client = self
        conn.lastActivity = worker.loop.now
        upstream = conn
        fwdWritten = 0
        requestSent = false
        upstreamWriteBlocked = false
        upstreamReusable = true
        responseScanner.reset()
    }

    func upstreamConnected(_ conn: BackendConnection) {
        // Until the request is sent this is an inactivity limit (a slow
        // upload); then it restarts as the response-head limit.
        worker.responseQueue.arm(conn, now: worker.loop.now)
        pumpRequest()
    }

    // MARK: - request body

    /// Sorts the bytes after what is already classified: body bytes of this
    /// request (pending for the backend) or, once the body is complete, the
    /// next request. False if the body is malformed (the exchange is over).
    func classifyRequestBody() -> Bool {
        guard !requestBodyDone, let buf = inBuf else { return true }
        let start = buf.readIndex + requestBodyPending
        let fresh = UnsafeRawBufferPointer(start: buf.base + start, count: buf.writeIndex - start)
        guard fresh.count > 0 else { return true }
        switch requestBody.consume(fresh) {
        case .more:
            requestBodyPending += fresh.count
        case .complete(let n):
            requestBodyPending += n
            requestBodyDone = true
        case .invalid(let why):
            Log.debug("client \(clientIP): bad request body: \(why)")
            failExchange(400)
            return false
        }
        return true
    }

    func readRequestBody() {
        switch worker.read(fd, into: &inBuf) {
        case .data(let n):
            worker.metrics.add(.bytesFromClients, UInt64(n))
            guard classifyRequestBody() else { return }
            pumpRequest()
        case .full:
            updateInterest()
        case .wouldBlock:
            break
        case .endOfStream, .failed:
            // The client left before sending its whole body.
            abortExchange()
        }
    }

    /// During an exchange whose request is complete: keeps whatever the
    /// client sends next (a pipelined request) for later, and notes a
    /// half-close (the client may still read the response). Reading here
    /// rather than dropping EPOLLIN keeps the interest set unchanged for the
    /// whole exchange: no epoll_ctl per request.
    func readAhead() {
        switch worker.read(fd, into: &inBuf) {
        case .data(let n):
            worker.metrics.add(.bytesFromClients, UInt64(n))
        case .endOfStream:
            halfClosed = true
        case .failed:
            abortExchange()
            return
        case .full, .wouldBlock:
            break
        }
        updateInterest()
    }

    /// Writes what the backend is owed: the rest of the head, then body bytes.
    func pumpRequest() {
        guard let up = upstream, up.state == .active, let fwd = fwdBuf else { return }
        while true {
            let headRemaining = fwd.readableCount - fwdWritten
            let body = requestBodyPending
            if headRemaining == 0 && body == 0 { break }
            let bodyStart: UnsafeMutableRawPointer? = body > 0 ? inBuf!.base + inBuf!.readIndex : nil
            let n = fulcrum_writev2(up.fd, fwd.base + fwd.readIndex + fwdWritten, headRemaining, bodyStart, body)
            if n > 0 {
                let h = min(n, headRemaining)
                fwdWritten += h
                let b = n - h
                if b > 0 {
                    inBuf!.consume(b)
                    requestBodyPending -= b
                    bodyBytesSent += Int64(b)
                }
                up.lastActivity = worker.loop.now
                if n < headRemaining + body { upstreamWriteBlocked = true; break }
                upstreamWriteBlocked = false
            } else if n < 0 && (errno == EAGAIN || errno == EINTR) {
                upstreamWriteBlocked = true
                break
            } else {
                upstreamError(up, errno)
                return
            }
        }
        if !requestSent && fwdWritten == fwd.readableCount && requestBodyDone && requestBodyPending == 0 {
            requestSent = true
            if !responseStarted { worker.responseQueue.arm(up, now: worker.loop.now) }
        }
        updateInterest()
    }

    // MARK: - response

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
        switch worker.read(up.fd, into: &up.inBuf) {
        case .data:
            up.lastActivity = worker.loop.now
            anyResponseByte = true
            processResponseBytes(up)
            // More of this response is coming: acknowledge what arrived at
            // once. A backend that corks its output (nginx's tcp_nopush with
            // sendfile) otherwise waits for our delayed ACK, a 40 ms stall.
            if phase == .exchanging, upstream === up, responseStarted, !responseDone { Socket.quickAck(up.fd) }
        case .full:
            updateInterest()
        case .wouldBlock:
            break
        case .endOfStream:
            upstreamEOF(up)
        case .failed(let code):
            upstreamError(up, code)
        }
    }

    func processResponseBytes(_ up: BackendConnection) {
        while !responseStarted {
            guard let headLength = responseScanner.scan(up.inBuf!.readable) else {
                if up.inBuf!.readableCount >= HTTPLimits.maxHead {
                    Log.warn("backend \(up.backend.address): response head too large")
                    failExchange(502)
                } else if up.inBuf!.writableCount == 0 {
                    up.inBuf!.compact()
                }
                return
            }
            let head = UnsafeRawBufferPointer(start: up.inBuf!.base + up.inBuf!.readIndex, count: headLength)
            let parsed = worker.head
            if let error = HeadParser.parseResponse(head, into: parsed) {
                Log.warn("backend \(up.backend.address): invalid response: \(error.reason)")
                worker.metrics.failure(backend: up.backend.id)
                failExchange(502)
                return
            }
            responseScanner.reset()
            // 101 to an Upgrade request, or 2xx to CONNECT: both sides become a raw tunnel.
            if parsed.status == 101 || (method == .connect && parsed.status >= 200 && parsed.status < 300) {
                guard upgradeRequested || method == .connect else {
                    failExchange(502)
                    return
                }
                startTunnel(up, head: head, parsed: parsed)
                return
            }
            if parsed.status < 200 {
                // 1xx: pass it on to HTTP/1.1 clients, then wait for the final response.
                if !http10 { queueForClient(head) }
                up.inBuf!.consume(headLength)
                if up.inBuf == nil || up.inBuf!.isEmpty { pumpResponse(); return }
                continue
            }
            status = parsed.status
            let framing = HeadParser.responseFraming(parsed, requestMethod: method)
            let serverKeepsAlive = !parsed.connectionClose && (parsed.version == .http11 || parsed.connectionKeepAlive)
            if !serverKeepsAlive || framing == .untilClose { upstreamReusable = false }
            if framing == .untilClose || !keepAlive || halfClosed || worker.draining || !requestBodyDone {
                closeAfterResponse = true
            }
            if outBuf == nil { outBuf = worker.pool.take() }
            guard HeadRewriter.writeResponse(parsed, head: head, close: closeAfterResponse,
                                             keepAlive10: http10 && keepAlive && !closeAfterResponse, into: &outBuf!) else {
                failExchange(502)
                return
            }
            up.inBuf!.consume(headLength)
            responseStarted = true
            let micros = (Clock.monotonicNanos() &- startNanos) / 1000
            worker.registry.table.recordLatency(up.backend.id, micros: micros)
            responseBody.reset(framing)
            responseDone = responseBody.isComplete
            // The request head is no longer needed for a retry.
            if let f = fwdBuf, requestSent { worker.pool.give(f); fwdBuf = nil }
        }
        classifyResponseBody(up)
        pumpResponse()
    }

    /// Marks the backend's new bytes as body (or, past the body's end, as an
    /// unexpected extra that makes the connection unfit for reuse).
    func classifyResponseBody(_ up: BackendConnection) {
        guard let buf = up.inBuf else { return }
        let start = buf.readIndex + responseBodyPending
        let fresh = UnsafeRawBufferPointer(start: buf.base + start, count: buf.writeIndex - start)
        guard fresh.count > 0 else { return }
        if responseDone { upstreamReusable = false; return }
        switch responseBody.consume(fresh) {
        case .more:
            responseBodyPending += fresh.count
        case .complete(let n):
            responseBodyPending += n
            responseDone = true
            if n < fresh.count { upstreamReusable = false }
        case .invalid(let why):
            Log.warn("backend \(up.backend.address): bad response body: \(why)")
            abortExchange()
        }
    }

    enum WriteOutcome { case drained, blocked, failed }

    /// Writes what the client is owed: queued head bytes (`outBuf`), then the
    /// backend's bytes at the front of its buffer (`responseBodyPending`),
    /// in one writev per round. Shared by exchanges and tunnels.
    func writeToClient(_ up: BackendConnection?) -> WriteOutcome {
        while true {
            let headCount = outBuf?.readableCount ?? 0
            let body = responseBodyPending
            if headCount == 0 && body == 0 { clientWriteBlocked = false; return .drained }
            let headStart: UnsafeMutableRawPointer? = headCount > 0 ? outBuf!.base + outBuf!.readIndex : nil
            let bodyStart: UnsafeMutableRawPointer? = body > 0 ? up!.inBuf!.base + up!.inBuf!.readIndex : nil
            let n = fulcrum_writev2(fd, headStart, headCount, bodyStart, body)
            if n > 0 {
                worker.metrics.add(.bytesToClients, UInt64(n))
                let h = min(n, headCount)
                if h > 0 { outBuf!.consume(h) }
                let b = n - h
                if b > 0 {
                    up!.inBuf!.consume(b)
                    responseBodyPending -= b
                    up!.lastActivity = worker.loop.now
                }
                if n < headCount + body { clientWriteBlocked = true; return .blocked }
            } else if n < 0 && (errno == EAGAIN || errno == EINTR) {
                clientWriteBlocked = true
                return .blocked
            } else {
                return .failed
            }
        }
    }

    /// Writes pending head and body bytes to the client; ends the exchange when the response is through.
    func pumpResponse() {
        if writeToClient(upstream) == .failed {
            // The client is gone.
            abortExchange()
            return
        }
        if responseDone && responseStarted && (outBuf?.isEmpty ?? true) && responseBodyPending == 0 {
            finishExchange()
        } else {
            updateInterest()
        }
    }

    func queueForClient(_ bytes: UnsafeRawBufferPointer) {
        if outBuf == nil { outBuf = worker.pool.take() }
        if outBuf!.writableCount < bytes.count { outBuf!.compact() }
        outBuf!.append(bytes)
    }

    func upstreamEOF(_ up: BackendConnection) {
        upstreamReusable = false
        if !anyResponseByte {
            upstreamFailed(up, .closedEarly)
        } else if responseStarted && responseBody.endsAtClose && !responseDone {
            responseDone = true
            pumpResponse()
        } else if !responseDone {
            Log.debug("backend \(up.backend.address) closed mid-response")
            worker.metrics.failure(backend: up.backend.id)
            if responseStarted { abortExchange() } else { failExchange(502) }
        } else {
            updateInterest()
        }
    }

    func upstreamError(_ up: BackendConnection, _ code: Int32) {
        upstreamReusable = false
        if !anyResponseByte {
            upstreamFailed(up, .reset(code))
        } else {
            worker.metrics.failure(backend: up.backend.id)
            if responseStarted { abortExchange() } else { failExchange(502) }
        }
    }

    func upstreamTimedOut(_ up: BackendConnection, now: UInt64) {
        let limit = worker.config.responseTimeout
        if responseStarted || !requestSent {
            // Uploading or streaming: an inactivity limit, pushed back lazily.
            if now &- up.lastActivity < limit {
                worker.responseQueue.rearm(up, deadline: up.lastActivity &+ limit)
                return
            }
            Log.debug("backend \(up.backend.address): no progress for \(limit) ms")
            worker.metrics.failure(backend: up.backend.id)
            if responseStarted { abortExchange() } else { failExchange(504) }
            return
        }
        Log.warn("backend \(up.backend.address): no response within \(limit) ms")
        worker.metrics.failure(backend: up.backend.id)
        failExchange(504)
    }

    /// A backend refused, reset or closed before any response byte, or did
    /// not accept the connection in time. Retries when that is safe
    /// (CONTRACT §4: no body, or none of it sent); otherwise answers 502/504.
    func upstreamFailed(_ up: BackendConnection?, _ failure: Failure) {
        let wasReused = up?.reused ?? false
        if let up { detachUpstream(up, keep: false) }
        guard let failed = backend else { return }
        worker.metrics.failure(backend: failed.id)
        let safe = bodyBytesSent == 0 && !anyResponseByte
        if case .connectTimeout = failure {} else { allTimeouts = false }

        // A pooled connection the server had closed: try once more on a fresh one.
        if wasReused && safe && !freshRetryUsed {
            freshRetryUsed = true
            worker.pools.flush(failed.id)
            worker.metrics.add(.retries)
            connectUpstream()
            return
        }
        if !wasReused {
            worker.registry.markDown(id: failed.id, reason: failure.detail)
        }
        attempts += 1
        guard safe && attempts < maxAttempts else {
            Log.debug("giving up on \(failed.address) after \(attempts) attempt(s): \(failure.detail)")
            failExchange(allTimeouts ? 504 : 502)
            return
        }
        // Pick again: the strategy sees the set without the backend just marked down.
        endInFlight()
        worker.metrics.add(.retries)
        guard let fwd = fwdBuf else { failExchange(502); return }
        let head = fwd.readable
        let parsed = worker.head
        guard HeadParser.parseRequest(head, into: parsed) == nil, let next = pickBackend(parsed, head: head) else {
            failExchange(502)
            return
        }
        freshRetryUsed = false
        begin(next)
        connectUpstream()
    }

    // MARK: - ending an exchange

    /// Lets go of the backend connection: back to the pool when `keep` and
    /// it is fit, else closed.
    func detachUpstream(_ up: BackendConnection, keep: Bool) {
        up.client = nil
        if upstream === up { upstream = nil }
        DeadlineQueue.disarm(up)
        if keep, up.isOpen, up.inBuf?.isEmpty ?? true, !worker.draining {
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
    func finishExchange() {
        if let up = upstream {
            let fit = upstreamReusable && responseDone && requestSent && responseBodyPending == 0
            detachUpstream(up, keep: fit)
        }
        account()
        if let f = fwdBuf { worker.pool.give(f); fwdBuf = nil }
        if let o = outBuf, o.isEmpty { worker.pool.give(o); outBuf = nil }
        backend = nil
        if closeAfterResponse || !keepAlive || halfClosed || worker.draining {
            if (inBuf?.isEmpty ?? true) && requestBodyDone { worker.closeClient(self) } else { lingerThenClose() }
            return
        }
        phase = .awaitingHead
        if let b = inBuf, b.isEmpty {
            worker.pool.give(b)
            inBuf = nil
        }
        if inBuf != nil {
            worker.headerQueue.arm(self, now: worker.loop.now)
            // Pipelined requests: the loop in processBufferedRequests starts
            // the next one when this exchange ended inside it; otherwise start it here.
            if !processingBuffered { processBufferedRequests() }
        } else {
            worker.idleQueue.arm(self, now: worker.loop.now)
            updateInterest()
        }
    }

    /// Metrics, the strategy's `complete`, and the access log, once per exchange.
    func account() {
        endInFlight()
        let micros = (Clock.monotonicNanos() &- startNanos) / 1000
        worker.metrics.response(status)
        if let b = backend {
            worker.metrics.record(backend: b.id, status: status, micros: micros)
            if strategyEpoch == worker.strategyEpoch, let strategy = worker.strategy, strategy.wantsCompletions {
                strategy.complete(backendID: b.id, status: Int32(status), durationMicros: micros)
            }
        }
        if let log = worker.accessLog {
            logMethod.withUnsafeBytes { m in
                logTarget.withUnsafeBytes { t in
                    log.append(client: clientIP, method: m, target: t, status: status, backend: backend?.address ?? "",
                               durationMicros: micros)
                }
            }
        }
    }

    /// Answers the client with a proxy-made response in the middle of an
    /// exchange (no response byte sent yet), then ends the exchange.
    func failExchange(_ code: Int) {
        if let up = upstream { detachUpstream(up, keep: false) }
        respondLocally(code, keepAlive: false)
    }

    /// A response the proxy makes itself, as the end of the current exchange.
    func respondLocally(_ code: Int, keepAlive keep: Bool) {
        status = code
        keepAlive = keep && keepAlive
        closeAfterResponse = !keepAlive
        if outBuf == nil { outBuf = worker.pool.take() }
        outBuf!.clear()
        CannedResponse.write(code, keepAlive: keepAlive, into: &outBuf!)
        responseStarted = true
        responseDone = true
        responseBodyPending = 0
        upstreamReusable = false
        if !requestBodyDone { closeAfterResponse = true }
        pumpResponse()
    }

    /// The client or backend broke off mid-exchange: nothing more can be said.
    func abortExchange() {
        if let up = upstream { detachUpstream(up, keep: false) }
        if status == 0 { status = responseStarted ? 0 : 499 }
        account()
        if let f = fwdBuf { worker.pool.give(f); fwdBuf = nil }
        backend = nil
        worker.closeClient(self, reset: true)
    }

    /// Outside an exchange (a malformed request head, a head timeout): a
    /// canned response, then close.
    func respondAndClose(_ code: Int) {
        status = code
        worker.metrics.response(code)
        if let log = worker.accessLog {
            log.append(client: clientIP, method: UnsafeRawBufferPointer(start: nil, count: 0),
                       target: UnsafeRawBufferPointer(start: nil, count: 0), status: code, backend: "", durationMicros: 0)
        }
        if outBuf == nil { outBuf = worker.pool.take() }
        outBuf!.clear()
        CannedResponse.write(code, keepAlive: false, into: &outBuf!)
        phase = .closing
        // Whatever else the client sent is not read: closing with unread
        // data would send an RST that can destroy the response in flight, so
        // shut down our side first and give the client a moment to read.
        flushClosing()
    }

    func flushClosing() {
        guard let out = outBuf, !out.isEmpty else { lingerThenClose(); return }
        let n = write(fd, out.base + out.readIndex, out.readableCount)
        if n > 0 {
            worker.metrics.add(.bytesToClients, UInt64(n))
            outBuf!.consume(n)
            if outBuf!.isEmpty { lingerThenClose(); return }
            worker.loop.setInterest(self, EventMask.writable)
        } else if n < 0 && (errno == EAGAIN || errno == EINTR) {
            worker.loop.setInterest(self, EventMask.writable)
        } else {
            worker.closeClient(self)
        }
    }

    /// Half-closes, then closes when the client closes or after a short
    /// grace: closing a socket with unread input sends an RST, which can
    /// destroy the response the client has not read yet.
    func lingerThenClose() {
        phase = .closing
        lingering = true
        shutdown(fd, Int32(SHUT_WR))
        if let o = outBuf { worker.pool.give(o); outBuf = nil }
        if let b = inBuf { worker.pool.give(b); inBuf = nil }
        worker.lingerQueue.arm(self, now: worker.loop.now)
        worker.loop.setInterest(self, EventMask.readable)
    }
    var lingering = false

    // MARK: - tunnel (after 101 Switching Protocols, or 2xx to CONNECT)

    func startTunnel(_ up: BackendConnection, head: UnsafeRawBufferPointer, parsed: ParsedHead) {
        status = parsed.status
        if outBuf == nil { outBuf = worker.pool.take() }
        _ = HeadRewriter.writeResponse(parsed, head: head, close: false, keepAlive10: false, into: &outBuf!)
        up.inBuf!.consume(head.count)
        account()
        if let f = fwdBuf { worker.pool.give(f); fwdBuf = nil }
        worker.metrics.add(.tunnels)
        phase = .tunnel
        up.state = .tunnel
        DeadlineQueue.disarm(up)
        worker.idleQueue.arm(self, now: worker.loop.now)
        // Bytes the client sent after its request head go to the backend as they are.
        requestBodyPending = inBuf?.readableCount ?? 0
        pumpTunnel()
    }

    func tunnelClientEvent(_ events: UInt32) {
        if events & EventMask.error != 0 { closeTunnel(); return }
        if events & EventMask.writable != 0 { clientWriteBlocked = false }
        if events & (EventMask.readable | EventMask.hangUp | EventMask.readHangUp) != 0 && !halfClosed && requestBodyPending == 0 {
            switch worker.read(fd, into: &inBuf) {
            case .data: requestBodyPending = inBuf!.readableCount
            case .endOfStream, .failed: halfClosed = true
            case .full, .wouldBlock: break
            }
        }
        pumpTunnel()
    }

    func tunnelUpstreamEvent(_ up: BackendConnection, _ events: UInt32) {
        if events & EventMask.error != 0 { closeTunnel(); return }
        if events & EventMask.writable != 0 { upstreamWriteBlocked = false }
        if events & (EventMask.readable | EventMask.hangUp | EventMask.readHangUp) != 0 && !up.readClosed && responseBodyPending == 0 {
            switch worker.read(up.fd, into: &up.inBuf) {
            case .data: responseBodyPending = up.inBuf!.readableCount
            case .endOfStream, .failed: up.readClosed = true
            case .full, .wouldBlock: break
            }
        }
        pumpTunnel()
    }

    /// Moves bytes both ways; half-closes a direction when its source ended.
    func pumpTunnel() {
        guard let up = upstream else { closeTunnel(); return }
        lastActivity = worker.loop.now
        // Backend → client (after any 101 head still queued).
        if up.inBuf != nil && responseBodyPending == 0 && up.inBuf!.readableCount > 0 { responseBodyPending = up.inBuf!.readableCount }
        if writeToClient(up) == .failed {
            closeTunnel()
            return
        }
        // Client → backend.
        while requestBodyPending > 0 {
            let n = write(up.fd, inBuf!.base + inBuf!.readIndex, requestBodyPending)
            if n > 0 {
                inBuf!.consume(n)
                requestBodyPending -= n
                worker.metrics.add(.bytesFromClients, UInt64(n))
            } else if n < 0 && (errno == EAGAIN || errno == EINTR) {
                upstreamWriteBlocked = true
                break
            } else {
                closeTunnel()
                return
            }
        }
        // Propagate ends once everything before them has been delivered.
        if up.readClosed && responseBodyPending == 0 && (outBuf?.isEmpty ?? true) && !tunnelClientShut {
            shutdown(fd, Int32(SHUT_WR))
            tunnelClientShut = true
        }
        if halfClosed && requestBodyPending == 0 && !up.writeClosed {
            shutdown(up.fd, Int32(SHUT_WR))
            up.writeClosed = true
        }
        if tunnelClientShut && up.writeClosed {
            closeTunnel()
            return
        }
        var clientInterest: UInt32 = 0
        if !halfClosed && requestBodyPending == 0 { clientInterest |= EventMask.readable }
        if clientWriteBlocked { clientInterest |= EventMask.writable }
        worker.loop.setInterest(self, clientInterest)
        var upInterest: UInt32 = 0
        if !up.readClosed && responseBodyPending == 0 { upInterest |= EventMask.readable }
        if upstreamWriteBlocked { upInterest |= EventMask.writable }
        worker.loop.setInterest(up, upInterest)
    }
    var tunnelClientShut = false

    func closeTunnel() {
        if let up = upstream {
            up.client = nil
            upstream = nil
            worker.closeUpstream(up, reset: false)
        }
        worker.closeClient(self)
    }

    // MARK: - interest

    /// What this connection and its backend connection wait for, derived
    /// from the exchange state (epoll is only told when it changes).
    func updateInterest() {
        guard isOpen else { return }
        var mine: UInt32 = 0
        switch phase {
        case .awaitingHead:
            mine = EventMask.readable | EventMask.readHangUp
        case .exchanging:
            // Stays readable|rdhup (what it was while awaiting the head)
            // unless back-pressure applies: the buffer is full, or body bytes
            // wait for a backend that cannot take them.
            let full = inBuf.map { $0.writableCount == 0 && $0.readIndex == 0 } ?? false
            let wantRead = requestBodyDone ? !halfClosed && !full : !upstreamWriteBlocked && !full
            if wantRead { mine |= EventMask.readable }
            if clientWriteBlocked { mine |= EventMask.writable }
            if !halfClosed { mine |= EventMask.readHangUp }
        case .closing:
            mine = lingering ? EventMask.readable : EventMask.writable
        case .tunnel:
            return
        }
        worker.loop.setInterest(self, mine)
        if let up = upstream, up.state == .active {
            var theirs: UInt32 = 0
            if upstreamWriteBlocked { theirs |= EventMask.writable }
            if !clientWriteBlocked && responseBodyPending == 0 && !responseDone { theirs |= EventMask.readable }
            if responseDone { theirs |= EventMask.readable }
            worker.loop.setInterest(up, theirs)
        }
    }
}

/// What `fulcrum_request.context` points to during a pick.
struct HeaderLookup {
    let head: Unmanaged<ParsedHead>
    let base: UnsafeRawPointer
    let length: Int
}

/// `fulcrum_request.header`: the first value of a header of the request being picked for.
let headerLookupFunction: @convention(c) (UnsafeRawPointer?, UnsafePointer<CChar>?, UnsafeMutablePointer<Int>?) -> UnsafePointer<CChar>? = {
    context, name, length in
    guard let context, let name else { return nil }
    let lookup = context.load(as: HeaderLookup.self)
    let head = UnsafeRawBufferPointer(start: lookup.base, count: lookup.length)
    let key = UnsafeRawBufferPointer(start: name, count: strlen(name))
    guard let (start, end) = lookup.head.takeUnretainedValue().firstValue(named: key, in: head) else { return nil }
    length?.pointee = end - start
    return (lookup.base + start).assumingMemoryBound(to: CChar.self)
}
