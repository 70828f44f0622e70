import CFulcrumShim
import FulcrumCore
import FulcrumEventLoop
import FulcrumHTTP
import FulcrumPluginHost
import FulcrumRegistry
import FulcrumRouting
import Glibc

/// One client connection: the driver of its exchanges. It reads request
/// heads, feeds socket events to the exchange's `ExchangeStateMachine` and
/// carries out the actions that come back (I/O, buffers, timers). The
/// decisions — retry or not, keep-alive or close, which timer — are the
/// machine's; the bytes are this class's.
///
/// Bytes are never copied between buffers on the way through: request body
/// bytes go from this connection's input buffer straight to the backend
/// socket, response bytes from the backend connection's input buffer straight
/// to this socket (one `writev` with the rewritten head). A side whose peer
/// cannot take more stops being read (back-pressure), so memory per
/// connection is at most its buffers, whatever the body sizes.
final class ClientConnection: EventHandler {
    /// The connection's life: between requests, reading one, in an exchange,
    /// tunnelling, or closing (writing a last response, then lingering).
    enum Phase: Equatable {
        /// Keep-alive, nothing received (the idle timeout applies).
        case idle
        /// Bytes of a request head arrived (the header timeout applies, once).
        case readingHead
        case exchanging
        case tunnel
        /// Writing a final proxy-made response, then half-close.
        case flushing
        /// Half-closed; discarding input until the client closes or a grace period ends.
        case lingering
    }

    unowned(unsafe) let worker: ProxyWorker
    let peer: SocketAddress
    /// The client's IP as text (X-Forwarded-For, access log).
    let clientIP: String
    var phase = Phase.readingHead
    /// The client reached us over TLS (X-Forwarded-Proto); set for an HTTP/2
    /// stream's internal connection when its client did.
    var https = false
    /// The internal HTTP/1.1 side of an HTTP/2 stream (`H2Stream`): the access log says HTTP/2.0.
    var viaH2 = false
    var inBuf: ByteBuffer?
    /// Bytes for the client that are not forwarded body bytes: response heads, 1xx, canned responses, de-chunked data.
    var outBuf: ByteBuffer?
    var headReader = RequestHeadReader()
    /// Set while `processBufferedRequests` runs, so an exchange that ends
    /// synchronously inside it does not recurse into it.
    var processingBuffered = false
    /// The client closed its sending side.
    var halfClosed = false
    var lastActivity: UInt64 = 0

    // MARK: the exchange in progress
    var exchange = ExchangeStateMachine(facts: RequestFacts(), eligible: 1)
    var upstream: BackendConnection?
    var backend: Backend?
    /// The pool this exchange was routed to (kept until it ends, across reloads).
    var pool: WorkerPool
    /// The route it matched (header rules for the response), if routes are configured.
    var route: Route?
    /// Backends this request failed on: a retry picks none of them again.
    var tried = TriedBackends()
    var inFlight = false
    var accounted = true
    var strategyEpoch: UInt64 = 0
    var startNanos: UInt64 = 0
    // Request side.
    /// The rewritten request head, kept until the response begins so a retry can resend it.
    var fwdBuf: ByteBuffer?
    var fwdWritten = 0
    var requestBody = BodyTracker()
    /// Body bytes at the front of `inBuf` not yet written to the backend.
    var requestBodyPending = 0
    var upstreamWriteBlocked = false
    // Response side.
    var responseScanner = HeadScanner()
    var responseBody = BodyTracker()
    /// Body bytes at the front of the backend's `inBuf` not yet written here.
    var responseBodyPending = 0
    /// De-chunking for an HTTP/1.0 client: payload is copied to `outBuf`.
    var dechunk = false
    var clientWriteBlocked = false
    var tunnel: Tunnel?
    /// Why the last attempt failed (for logs and mark-down reasons).
    var lastFailure: UpstreamFailure?
    /// Copies for the access log (only when it is on).
    var logMethod: [UInt8] = []
    var logTarget: [UInt8] = []
    // Filters (CONTRACT §11; ClientConnection+Filters): set only for a
    // request whose route has filters, until the exchange is accounted.
    var filterChain: RouteChain?
    var filterRun: FilterRun?
    /// The local answer is a filter's (its headers and body), not the proxy's own.
    var filterAnswered = false
    /// Request bytes of this exchange (head, then body as it is classified).
    var filterBytesIn: UInt64 = 0
    /// `clientBytesOut` when the exchange began.
    var filterMarkOut: UInt64 = 0
    /// Bytes written to the client on this connection (a running total).
    var clientBytesOut: UInt64 = 0

    init(worker: ProxyWorker, peer: SocketAddress) {
        self.worker = worker
        self.peer = peer
        clientIP = peer.ipString
        pool = worker.defaultPool
    }

    // MARK: - events

    override func handleEvent(_ events: UInt32) {
        lastActivity = worker.loop.now
        switch phase {
        case .idle, .readingHead:
            readHead()
        case .exchanging:
            if events & (EventMask.error | EventMask.hangUp) != 0 { perform(exchange.clientFailed()); return }
            if events & EventMask.writable != 0 {
                clientWriteBlocked = false
                pumpResponse()
                guard phase == .exchanging else { return }
            }
            if events & (EventMask.readable | EventMask.readHangUp) != 0 {
                if exchange.requestBodyRead { readAhead() } else { readRequestBody() }
            }
        case .tunnel:
            tunnel?.clientEvent(events)
        case .flushing:
            flushClosing()
        case .lingering:
            // Discard whatever the client still sends until it closes.
            var scratch = (UInt64(0), UInt64(0), UInt64(0), UInt64(0), UInt64(0), UInt64(0), UInt64(0), UInt64(0))
            let outcome = withUnsafeMutableBytes(of: &scratch) { s -> IOOutcome in
                let n = Glibc.read(fd, s.baseAddress!, s.count)
                return n > 0 ? .bytes(n) : n == 0 ? .endOfStream : SocketIO.classify(errno)
            }
            switch outcome {
            case .endOfStream, .failed: worker.closeClient(self)
            default: break
            }
        }
    }

    override func timerExpired(now: UInt64) {
        switch phase {
        case .readingHead where !(inBuf?.isEmpty ?? true):
            // Started a request but did not finish its head in time.
            Log.debug("client \(clientIP): request head timeout")
            respondAndClose(408)
        case .idle, .readingHead:
            // Nothing but empty lines, or nothing at all: close quietly (as
            // HAProxy does for browsers' speculative connections).
            worker.closeClient(self)
        case .tunnel:
            tunnel?.timerExpired(now: now)
        case .exchanging:
            // The send deadline of a response the proxy made itself.
            Log.debug("client \(clientIP): not reading a local response")
            abortExchange(bodyTimeout: false)
        case .flushing, .lingering:
            worker.closeClient(self)
        }
    }

    // MARK: - reading a request head

    func readHead() {
        switch SocketIO.read(self, into: &inBuf, pool: worker.pool) {
        case .bytes(let n):
            worker.metrics.add(.bytesFromClients, UInt64(n))
            // First bytes after idling: the header timeout starts now and is
            // not restarted until a head is complete (empty lines included).
            if phase == .idle {
                phase = .readingHead
                worker.headerQueue.arm(self, now: worker.loop.now)
            }
            processBufferedRequests()
        case .noRoom:
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
        while phase == .readingHead || phase == .idle, inBuf != nil, !inBuf!.isEmpty {
            if phase == .idle {
                phase = .readingHead
                worker.headerQueue.arm(self, now: worker.loop.now)
            }
            switch headReader.next(inBuf!.readable) {
            case .skip(let n):
                inBuf!.consume(n)
            case .needMore:
                if inBuf!.writableCount == 0 { inBuf!.compact() }
                updateInterest()
                return
            case .refuse(let status):
                respondAndClose(status)
                return
            case .head(let length):
                startExchange(headLength: length)
            }
        }
        if phase == .readingHead || phase == .idle { updateInterest() }
    }

    // MARK: - starting an exchange

    func startExchange(headLength: Int) {
        let head = UnsafeRawBufferPointer(start: inBuf!.base + inBuf!.readIndex, count: headLength)
        let parsed = worker.head
        if let error = HeadParser.parseRequest(head, into: parsed) {
            // "PRI * HTTP/2.0": the HTTP/2 preface (h2c prior knowledge, or ALPN h2). Only on this error path: no cost per request.
            if error.status == 505, !viaH2, switchToHTTP2() { return }
            Log.debug("client \(clientIP): \(error.status) \(error.reason)")
            respondAndClose(error.status)
            return
        }
        // Which route, which pool (CONTRACT §10). Without -config there is no
        // table: the default pool, exactly as before pools existed.
        var step = RouteStep.forward
        if let table = worker.routeTable {
            step = chooseRoute(table, parsed, head)
            if step == .refuse {
                respondAndClose(400)
                return
            }
        } else {
            // Stores only when something changes: no reference counting per request.
            if route != nil { route = nil }
            if pool !== worker.defaultPool { pool = worker.defaultPool }
        }
        // Filters (CONTRACT §11): after the route and pool are chosen, before
        // the forwarded head is written (their edits go into it) and before
        // a backend is picked. 0: go on; else the status of a local answer.
        var filterStatus = (status: 0, own: false)
        if let filters = worker.filters, step == .forward {
            filterStatus = runRequestFilters(filters, parsed, head, headLength: headLength)
        }
        DeadlineQueue.disarm(self)
        worker.metrics.add(.requests)
        var facts = RequestFacts(parsed, draining: worker.draining)
        if worker.accessLog != nil {
            logMethod = Array(UnsafeRawBufferPointer(start: head.baseAddress, count: Int(parsed.methodEnd)))
            logTarget = Array(UnsafeRawBufferPointer(rebasing: head[Int(parsed.targetStart)..<Int(parsed.targetEnd)]))
        }
        startNanos = Clock.monotonicNanos()
        phase = .exchanging
        accounted = false
        fwdWritten = 0
        upstreamWriteBlocked = false
        clientWriteBlocked = false
        dechunk = false
        responseBodyPending = 0
        responseScanner.reset()
        requestBody.reset(facts.framing)
        requestBodyPending = 0
        tried.removeAll()

        // The forwarded head, built once and kept for retries.
        fwdBuf = worker.pool.take()
        let fits: Bool
        if let route {
            let target: UnsafeRawBufferPointer? = route.stripPrefix
                ? worker.routeTable!.strippedTarget(route, target: requestTarget(parsed, head), scratch: worker.routeScratch) : nil
            fits = HeadRewriter.writeRequest(parsed, head: head, clientIP: clientIP, https: https, target: target,
                                             rules: route.requestHeaders, edits: filterRun, into: &fwdBuf!, facts: &facts)
        } else {
            fits = HeadRewriter.writeRequest(parsed, head: head, clientIP: clientIP, https: https, edits: filterRun,
                                             into: &fwdBuf!, facts: &facts)
        }
        inBuf!.consume(headLength)
        exchange = ExchangeStateMachine(facts: facts, eligible: pool.snapshot.eligible.count, draining: worker.draining)
        guard fits else {
            perform(exchange.respond(431))
            return
        }
        if !classifyRequestBody() { return }
        if step == .noRoute {
            // No route and no default_pool: 404, keeping the connection when the body was read.
            perform(exchange.respondKeeping(404))
            return
        }
        if filterStatus.status != 0 {
            // A filter answered (or the chain failed): no backend sees the request.
            filterAnswered = filterStatus.own
            perform(exchange.respondKeeping(filterStatus.status))
            return
        }
        guard let picked = pickBackend() else {
            // No eligible backend: 503, keeping the connection when the body was read.
            perform(exchange.respondKeeping(503))
            return
        }
        begin(picked)
        connectUpstream()
    }

    func begin(_ picked: Backend) {
        backend = picked
        inFlight = pool.registry.table.begin(picked.id)
    }

    /// Ends the in-flight count of the current backend (once).
    func endInFlight() {
        if inFlight, let b = backend {
            pool.registry.table.end(b.id)
            inFlight = false
        }
    }

    /// Gives every buffer back to the worker's pool (the connection is closing).
    func releaseBuffers() {
        if filterRun != nil {
            // Closed mid-exchange without an account: the completion hooks still run once.
            completeFilters(status: exchange.status == 0 ? 499 : exchange.status, micros: (Clock.monotonicNanos() &- startNanos) / 1000)
            releaseFilters()
        }
        let pool = worker.pool
        if let b = inBuf { pool.give(b); inBuf = nil }
        if let b = outBuf { pool.give(b); outBuf = nil }
        if let b = fwdBuf { pool.give(b); fwdBuf = nil }
    }

    // MARK: - interest

    /// What this connection and its backend connection wait for (epoll is
    /// only told when it changes).
    func updateInterest() {
        guard isOpen else { return }
        switch phase {
        case .idle, .readingHead:
            worker.loop.setInterest(self, EventMask.readable | EventMask.readHangUp)
        case .exchanging:
            let full = inBuf.map { $0.writableCount == 0 && $0.readIndex == 0 } ?? false
            let interest = ExchangeInterest.compute(.init(
                requestBodyRead: exchange.requestBodyRead, clientHalfClosed: halfClosed, clientBufferFull: full,
                clientWriteBlocked: clientWriteBlocked, upstreamWriteBlocked: upstreamWriteBlocked,
                responsePending: responseBodyPending, responseComplete: responseComplete,
                upstreamReadClosed: upstream?.readClosed ?? false))
            worker.loop.setInterest(self, interest.client)
            if let up = upstream, up.state == .active { worker.loop.setInterest(up, interest.upstream) }
        case .flushing:
            worker.loop.setInterest(self, EventMask.writable)
        case .lingering:
            worker.loop.setInterest(self, EventMask.readable)
        case .tunnel:
            break
        }
    }

    /// The response body has been received in full.
    var responseComplete: Bool {
        if case .streaming(let s) = exchange.state { return s.bodyComplete }
        return false
    }
}
