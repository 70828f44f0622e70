import FulcrumCore
import FulcrumEventLoop
import FulcrumHTTP
import Glibc

/// One admin connection, one request at a time: read a request whole (in as
/// many segments as it comes), hand it to the handler, write the answer,
/// then look at what the client pipelined behind it.
///
/// It reads only while it waits for a request: while the handler works or a
/// response is going out, it asks epoll for nothing but writability, so
/// unread pipelined bytes or a FIN cannot make a level-triggered loop spin.
final class AdminConnection: EventHandler, @unchecked Sendable {
    /// The head of a request whose body is still arriving: parsed once.
    struct PendingHead {
        let headLength: Int
        let bodyLength: Int
        let method: String
        let target: AdminTarget
        let headers: [String: String]
        let keepAlive: Bool
    }

    enum State {
        /// Scanning for the end of a head (nothing, or part of one, buffered).
        case awaitingHead
        /// The head is parsed; waiting for the rest of its body.
        case awaitingBody(PendingHead)
        /// The handler has the request; not reading.
        case handling(keepAlive: Bool, isHead: Bool)
        /// A response is going out; then keep-alive or close.
        case writing(keepAlive: Bool)
        /// Our FIN is sent; what the client still sends is read and dropped
        /// until its FIN (bounded by the header timeout), so closing with
        /// unread bytes does not reset the connection before the client has
        /// read our answer.
        case closing
    }

    unowned let server: AdminServer
    var state = State.awaitingHead
    var input: ByteBuffer?
    var scanner = HeadScanner()
    /// The response being written: head from the pool, body from the response.
    var outHead: ByteBuffer?
    var outBody: [UInt8] = []
    var outBodySent = 0
    /// The client sent its FIN: answer what is buffered, then close.
    var peerFinished = false
    /// The header timer runs for the request being read (armed at accept or at its first byte).
    var headerArmed = false

    init(server: AdminServer) { self.server = server }

    /// Just accepted: the first request must arrive within the header timeout.
    func opened() {
        server.headerQueue.arm(self, now: server.loop.now)
        headerArmed = true
    }

    override func handleEvent(_ events: UInt32) {
        if events & (EventMask.error | EventMask.hangUp) != 0 {
            // Reported whatever the interest: never leave it pending (it would spin).
            switch state {
            case .awaitingHead, .awaitingBody: readAvailable()
            case .handling, .writing, .closing: finish()
            }
            if isOpen, case .handling = state { finish() }
            return
        }
        if events & EventMask.writable != 0, case .writing = state { flush() }
        guard isOpen, events & (EventMask.readable | EventMask.hangUp | EventMask.error) != 0 else { return }
        switch state {
        case .awaitingHead, .awaitingBody: readAvailable()
        case .closing: discardInput()
        case .handling, .writing: break
        }
    }

    func discardInput() {
        switch SocketIO.read(fd, into: &input, pool: server.inputPool) {
        case .bytes, .noRoom: input?.clear()
        case .wouldBlock: break
        case .endOfStream, .failed: finish()
        }
    }

    func readAvailable() {
        switch SocketIO.read(fd, into: &input, pool: server.inputPool) {
        case .bytes:
            process()
        case .wouldBlock:
            releaseInputIfEmpty()
        case .noRoom:
            // Cannot happen (a whole request fits); refuse rather than spin.
            fail(413, "request larger than the admin API accepts")
        case .endOfStream:
            peerFinished = true
            finish()  // a partial request can never complete
        case .failed:
            finish()
        }
    }

    /// Takes the next complete request from `input`, if there is one.
    func process() {
        while isOpen {
            guard var buffer = input, !buffer.isEmpty else {
                releaseInputIfEmpty()
                if peerFinished { finish() } else { server.loop.setInterest(self, EventMask.readable) }
                return
            }
            switch state {
            case .awaitingHead:
                if scanner.scanned == 0 {
                    let skip = HeadScanner.leadingEmptyLines(buffer.readable)
                    if skip > 0 {
                        buffer.consume(skip)
                        input = buffer
                        continue
                    }
                }
                if !headerArmed {
                    // The first byte of a request: all of it must arrive within the header timeout.
                    server.headerQueue.arm(self, now: server.loop.now)
                    headerArmed = true
                }
                guard let headLength = scanner.scan(buffer.readable) else {
                    if buffer.readableCount >= HTTPLimits.maxHead { fail(431, "request head larger than \(HTTPLimits.maxHead) bytes") }
                    else { server.loop.setInterest(self, EventMask.readable) }
                    return
                }
                guard let pending = parseHead(buffer.readable, headLength: headLength) else { return }
                state = .awaitingBody(pending)
            case .awaitingBody(let pending):
                guard buffer.readableCount >= pending.headLength + pending.bodyLength else {
                    server.loop.setInterest(self, EventMask.readable)
                    return
                }
                let raw = buffer.readable
                let body = Array(UnsafeRawBufferPointer(rebasing: raw[pending.headLength..<(pending.headLength + pending.bodyLength)]))
                buffer.consume(pending.headLength + pending.bodyLength)
                input = buffer
                scanner.reset()
                dispatch(AdminRequest(method: pending.method, path: pending.target.path, query: pending.target.query,
                                      headers: pending.headers, body: body), keepAlive: pending.keepAlive)
                return
            case .handling, .writing, .closing:
                return
            }
        }
    }

    /// Parses the head once; answers and returns nil when it is refused.
    func parseHead(_ raw: UnsafeRawBufferPointer, headLength: Int) -> PendingHead? {
        let h = server.head
        if let error = HeadParser.parseRequest(UnsafeRawBufferPointer(rebasing: raw[0..<headLength]), into: h) {
            fail(error.status, error.reason)
            return nil
        }
        func text(_ s: Int32, _ e: Int32) -> String { String(decoding: UnsafeRawBufferPointer(rebasing: raw[Int(s)..<Int(e)]), as: UTF8.self) }
        let method = text(0, h.methodEnd)
        let target = AdminTarget.split(UnsafeRawBufferPointer(rebasing: raw[Int(h.targetStart)..<Int(h.targetEnd)]))
        var headers: [String: String] = [:]
        for i in 0..<h.fieldCount {
            let f = h.fields[i]
            let name = text(f.nameStart, f.nameEnd).lowercased()
            if headers[name] == nil { headers[name] = text(f.valueStart, f.valueEnd) }
        }
        // Who may ask, before the body is read or parsed.
        if let (status, title) = server.gate.refusal(method: method, target: target, headers: headers) {
            var response = AdminAPI.fail(status, title)
            if status == 401 { response.headers.append(("WWW-Authenticate", "Bearer realm=\"fulcrum\"")) }
            let bodyUnread = h.chunked || h.contentLength > 0
            consumeHeadOnly(headLength)
            startWriting(response, keepAlive: h.wantsKeepAlive && !bodyUnread, isHead: method == "HEAD")
            return nil
        }
        if h.chunked { fail(411, "send the body with Content-Length"); return nil }
        let bodyLength = Int(max(0, h.contentLength))
        if bodyLength > AdminServer.maxBody { fail(413, "request body larger than \(AdminServer.maxBody) bytes"); return nil }
        if h.expectContinue && bodyLength > 0 && raw.count < headLength + bodyLength {
            // Best effort (nothing else is being written now): curl waits a second for it otherwise.
            let interim: StaticString = "HTTP/1.1 100 Continue\r\n\r\n"
            _ = SocketIO.writev(fd, interim.utf8Start, interim.utf8CodeUnitCount, nil, 0)
        }
        return PendingHead(headLength: headLength, bodyLength: bodyLength, method: method, target: target,
                           headers: headers, keepAlive: h.wantsKeepAlive)
    }

    func consumeHeadOnly(_ n: Int) {
        input?.consume(n)
        scanner.reset()
    }

    func dispatch(_ request: AdminRequest, keepAlive: Bool) {
        DeadlineQueue.disarm(self)
        headerArmed = false
        state = .handling(keepAlive: keepAlive, isHead: request.method == "HEAD")
        server.loop.setInterest(self, 0)
        releaseInputIfEmpty()
        let loop = server.loop
        server.handler(request) { [self] response in
            loop.execute { [self] in respond(response) }
        }
    }

    func respond(_ response: AdminResponse) {
        guard isOpen, case .handling(let keepAlive, let isHead) = state else { return }
        startWriting(response, keepAlive: keepAlive && !peerFinished, isHead: isHead)
    }

    /// Answers and closes: the rest of the input cannot be trusted to be framed.
    func fail(_ status: Int, _ title: String) {
        input?.clear()
        startWriting(AdminAPI.fail(status, title), keepAlive: false, isHead: false)
    }

    func startWriting(_ r: AdminResponse, keepAlive: Bool, isHead: Bool) {
        var head = outHead ?? server.headPool.take()
        head.clear()
        var fits = head.append("HTTP/1.1 ") && head.appendDecimal(r.status) && head.append(" ")
            && head.append(StatusReason.phrase(r.status))
            && head.append("\r\nContent-Type: ") && head.append(r.contentType)
            && head.append("\r\nContent-Length: ") && head.appendDecimal(r.body.count)
            // No framing by other sites: a framed status page could be clicked into draining (clickjacking).
            && head.append("\r\nCache-Control: no-store\r\nX-Content-Type-Options: nosniff\r\nX-Frame-Options: DENY\r\n")
            && head.append("Content-Security-Policy: frame-ancestors 'none'\r\n")
        for (k, v) in r.headers { fits = fits && head.append(k) && head.append(": ") && head.append(v) && head.append("\r\n") }
        if !keepAlive { fits = fits && head.append("Connection: close\r\n") }
        fits = fits && head.append("\r\n")
        if !fits { Log.error("admin response head too large for status \(r.status); closing"); head.clear() }
        outHead = head
        outBody = isHead || !fits ? [] : r.body
        outBodySent = 0
        state = .writing(keepAlive: keepAlive && fits)
        headerArmed = false
        // A client that does not read its answer holds a slot only until the idle timeout.
        server.idleQueue.arm(self, now: server.loop.now)
        flush()
    }

    func flush() {
        guard case .writing(let keepAlive) = state else { return }
        while true {
            let headCount = outHead?.readableCount ?? 0
            let bodyCount = outBody.count - outBodySent
            if headCount == 0 && bodyCount == 0 { break }
            let outcome = outBody.withUnsafeBytes { body in
                SocketIO.writev(fd, outHead.map { $0.base + $0.readIndex }, headCount,
                                bodyCount > 0 ? body.baseAddress! + outBodySent : nil, bodyCount)
            }
            switch outcome {
            case .bytes(let n):
                let fromHead = min(n, headCount)
                outHead?.consume(fromHead)
                outBodySent += n - fromHead
            case .wouldBlock:
                server.loop.setInterest(self, EventMask.writable)
                return
            case .noRoom, .endOfStream, .failed:
                finish()
                return
            }
        }
        if let h = outHead { server.headPool.give(h); outHead = nil }
        outBody = []
        guard keepAlive else {
            SocketIO.shutdownWrite(fd)
            state = .closing
            input?.clear()
            server.headerQueue.arm(self, now: server.loop.now)
            server.loop.setInterest(self, EventMask.readable)
            return
        }
        state = .awaitingHead
        server.idleQueue.arm(self, now: server.loop.now)
        process()
    }

    override func timerExpired(now: UInt64) {
        switch state {
        case .awaitingHead where input?.isEmpty ?? true:
            finish()  // idle, or never sent a byte
        case .awaitingHead, .awaitingBody:
            fail(408, "request not received within the header timeout")
        case .handling:
            break
        case .writing:
            finish()  // the client does not read its answer
        case .closing:
            finish()
        }
    }

    func releaseInputIfEmpty() {
        if let b = input, b.isEmpty, case .awaitingHead = state, scanner.scanned == 0 {
            server.inputPool.give(b)
            input = nil
        }
    }

    /// Closes the socket and gives every buffer back.
    func finish() {
        guard isOpen else { return }
        server.loop.close(self)
        server.openConnections -= 1
        if let b = input { server.inputPool.give(b); input = nil }
        if let h = outHead { server.headPool.give(h); outHead = nil }
    }
}
