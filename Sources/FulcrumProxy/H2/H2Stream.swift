import FulcrumCore
import FulcrumEventLoop
import FulcrumHTTP
import FulcrumHTTP2
import Glibc

/// One HTTP/2 stream's exchange. First version (issue 17): the stream's
/// HTTP/1.1 request (`RequestHead.http1Head()`, body chunk-encoded when it
/// has no content-length) is written into one end of a socketpair whose
/// other end is an ordinary `ClientConnection` of the same worker; its
/// HTTP/1.1 response comes back and is turned into HEADERS and DATA. So
/// routing, filters, retries, strategy pick, the backend pool, timeouts,
/// metrics and the access log are the HTTP/1.1 code itself, unchanged.
///
/// Back-pressure is per stream: while the client's window for this stream
/// is closed, the socketpair is not read, its `ClientConnection` blocks on
/// writing, and that connection stops reading its backend; other streams
/// flow. Request body bytes are credited back (`consumed`) only once the
/// socketpair took them. A reset stream closes its socketpair, so the
/// `ClientConnection` aborts and an incomplete request never reaches a
/// backend complete; the last byte of a content-length body is held until
/// END_STREAM for the same reason (a client that sends more than announced
/// is reset before the backend has everything).
final class H2Stream: EventHandler {
    unowned(unsafe) let owner: H2ClientConnection
    let id: UInt32
    let isHead: Bool
    let contentLength: Int?
    let chunkedBody: Bool
    // Request side.
    var toProxy: [UInt8] = []
    var written = 0
    /// Body bytes in `toProxy` not yet credited to the windows.
    var uncredited = 0
    var bodyQueued = 0
    var requestEnded: Bool
    // Response side.
    var inBuf: ByteBuffer?
    var scanner = HeadScanner()
    var headDone = false
    var tracker = BodyTracker()
    var bodyDone = false
    /// De-framed response body waiting for the client's window.
    var payload: [UInt8] = []
    /// A chunked response keeps its last raw bytes for the trailers.
    var trailers: ChunkedTrailers?
    var finished = false

    init(owner: H2ClientConnection, id: UInt32, head: RequestHead) {
        self.owner = owner
        self.id = id
        isHead = head.method.elementsEqual("HEAD".utf8)
        contentLength = head.contentLength
        chunkedBody = head.chunkedBody
        requestEnded = !head.hasBody
        toProxy = head.http1Head()
    }

    /// A socketpair: our end registered here, the other adopted by the worker as an HTTP/1.1 client connection.
    static func open(owner: H2ClientConnection, id: UInt32, head: RequestHead) -> H2Stream? {
        var fds: [Int32] = [-1, -1]
        let type = Int32(SOCK_STREAM.rawValue) | Int32(SOCK_NONBLOCK.rawValue) | Int32(SOCK_CLOEXEC.rawValue)
        guard socketpair(AF_UNIX, type, 0, &fds) == 0 else {
            Log.error("HTTP/2 stream: socketpair failed: \(String(cString: strerror(errno)))")
            return nil
        }
        // Small kernel buffers: back-pressure reaches the backend after ~64 KiB, not a few hundred.
        var size: Int32 = 64 * 1024
        for fd in fds { _ = setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &size, socklen_t(MemoryLayout<Int32>.size)) }
        let s = H2Stream(owner: owner, id: id, head: head)
        let worker = owner.worker
        guard worker.loop.register(s, fd: fds[0], events: EventMask.readable | EventMask.writable) else {
            _ = Glibc.close(fds[0]); _ = Glibc.close(fds[1])
            return nil
        }
        guard worker.adoptStream(fd: fds[1], peer: owner.peer, https: owner.https) else {
            worker.loop.close(s)
            return nil
        }
        s.pumpRequest()
        return s
    }

    // MARK: - request

    func queueBody(_ bytes: UnsafeRawBufferPointer, end: Bool) {
        guard !finished else { owner.conn.consumed(stream: id, bytes.count); return }
        if bytes.count > 0 {
            if chunkedBody { appendChunkSize(bytes.count) }
            toProxy.append(contentsOf: bytes)
            if chunkedBody { toProxy += [0x0D, 0x0A] }
            uncredited += bytes.count
            bodyQueued += bytes.count
        }
        if end {
            requestEnded = true
            if chunkedBody { toProxy += Array("0\r\n\r\n".utf8) }
        }
        pumpRequest()
    }

    func queueTrailers(_ fields: HeaderList) {
        guard !finished, !requestEnded else { return }
        requestEnded = true
        if chunkedBody {
            toProxy += Array("0\r\n".utf8)
            for i in 0..<fields.count {
                toProxy += fields.name(i); toProxy += [0x3A, 0x20]; toProxy += fields.value(i); toProxy += [0x0D, 0x0A]
            }
            toProxy += [0x0D, 0x0A]
        }
        pumpRequest()
    }

    private func appendChunkSize(_ n: Int) {
        let hex = Array(String(n, radix: 16).utf8)
        toProxy += hex
        toProxy += [0x0D, 0x0A]
    }

    /// Writes what the exchange is owed, holding back the last byte of a
    /// content-length body until the stream has ended.
    func pumpRequest() {
        guard isOpen, !finished else { return }
        let hold = (contentLength != nil && !requestEnded && bodyQueued >= (contentLength ?? 0) && bodyQueued > 0) ? 1 : 0
        let want = toProxy.count - written - hold
        if want > 0 {
            let outcome = toProxy.withUnsafeBytes { SocketIO.writev(self, $0.baseAddress! + written, want, nil, 0) }
            switch outcome {
            case .bytes(let n): written += n
            case .failed: return fail()
            default: break
            }
        }
        if written == toProxy.count {
            toProxy.removeAll(keepingCapacity: true)
            written = 0
            if uncredited > 0 {
                let n = uncredited
                uncredited = 0
                owner.conn.consumed(stream: id, n)
            }
        }
        updateInterest()
    }

    // MARK: - response

    override func handleEvent(_ events: UInt32) {
        guard !finished else { return }
        if events & EventMask.writable != 0 { pumpRequest() }
        if events & (EventMask.readable | EventMask.readHangUp | EventMask.hangUp | EventMask.error) != 0 { readResponse() }
        owner.afterEvent()
    }

    func readResponse() {
        guard payload.isEmpty, !finished else { return updateInterest() }
        switch SocketIO.read(self, into: &inBuf, pool: owner.worker.pool) {
        case .bytes:
            processResponse()
        case .noRoom:
            processResponse()
        case .wouldBlock:
            updateInterest()
        case .endOfStream, .failed:
            if headDone && tracker.endsAtClose && payload.isEmpty {
                bodyDone = true
                pumpResponse()
            } else if !bodyDone {
                fail()
            }
        }
    }

    func processResponse() {
        while !headDone {
            guard let buf = inBuf, let length = scanner.scan(buf.readable) else {
                if let buf = inBuf, buf.readableCount >= HTTPLimits.maxHead { return fail() }
                if inBuf?.writableCount == 0 { inBuf!.compact() }
                return updateInterest()
            }
            let head = UnsafeRawBufferPointer(start: buf.base + buf.readIndex, count: length)
            let parsed = owner.worker.head
            guard HeadParser.parseResponse(head, into: parsed) == nil, parsed.status != 101 else { return fail() }
            scanner.reset()
            var fields = HeaderList()
            for i in 0..<parsed.fieldCount {
                let f = parsed.fields[i]
                fields.append(name: UnsafeRawBufferPointer(rebasing: head[Int(f.nameStart)..<Int(f.nameEnd)]),
                              value: UnsafeRawBufferPointer(rebasing: head[Int(f.valueStart)..<Int(f.valueEnd)]))
            }
            let status = parsed.status
            let framing = status < 200 ? BodyFraming.none : HeadParser.responseFraming(parsed, requestMethod: isHead ? .head : .get)
            inBuf!.consume(length)
            if status >= 200 {
                headDone = true
                tracker.reset(framing)
                if framing == .chunked { trailers = ChunkedTrailers() }
                bodyDone = tracker.isComplete
            }
            let sent = owner.withConn { c, a in c.sendHead(stream: id, status: status, fields: fields, endStream: status >= 200 && bodyDone, into: &a) }
            guard sent else { return finish() }
            if bodyDone { return finish() }
        }
        pumpResponse()
    }

    /// Moves body bytes to the client as far as its windows allow.
    func pumpResponse() {
        while !finished {
            if !payload.isEmpty || bodyDone {
                let fields = bodyDone ? trailers?.fields() : nil
                let withTrailers = (fields?.count ?? 0) > 0
                let end = bodyDone && !withTrailers
                if !payload.isEmpty || end {
                    let taken = owner.withConn { c, a in payload.withUnsafeBytes { c.sendData(stream: id, $0, endStream: end, into: &a) } }
                    guard let n = taken else { return finish() }
                    payload.removeFirst(n)
                    if !payload.isEmpty { return updateInterest() }  // until `clientWindowOpened`
                }
                if withTrailers { _ = owner.withConn { c, a in c.sendTrailers(stream: id, fields: fields!, into: &a) } }
                if bodyDone { return finish() }
            }
            guard let buf = inBuf, !buf.isEmpty else { break }
            let fresh = buf.readable
            let progress = tracker.consume(fresh) { off, count in
                payload.append(contentsOf: UnsafeRawBufferPointer(rebasing: fresh[off..<(off + count)]))
            }
            switch progress {
            case .more:
                trailers?.saw(fresh)
                inBuf!.consume(fresh.count)
            case .complete(let n):
                trailers?.saw(UnsafeRawBufferPointer(rebasing: fresh[0..<n]))
                inBuf!.consume(n)
                bodyDone = true
            case .invalid: return fail()
            }
        }
        if let b = inBuf, b.isEmpty { owner.worker.pool.give(b); inBuf = nil }
        updateInterest()
    }

    /// The client's window for this stream (or the connection's) opened.
    func clientWindowOpened() {
        guard !finished else { return }
        pumpResponse()
        if payload.isEmpty && !finished { readResponse() }
    }

    func updateInterest() {
        guard isOpen, !finished else { return }
        var interest: UInt32 = 0
        if payload.isEmpty { interest |= EventMask.readable | EventMask.readHangUp }
        if toProxy.count > written { interest |= EventMask.writable }
        owner.worker.loop.setInterest(self, interest)
    }

    // MARK: - ending

    /// The exchange broke (no or a malformed response): the client's stream is reset.
    func fail() {
        guard !finished else { return }
        owner.withConn { c, a in c.resetStream(id, code: .internalError, into: &a) }
        end(reset: true)
    }

    /// The response went out (or the stream is gone on the client's side).
    func finish() { end(reset: false) }

    /// The client reset the stream: the exchange is abandoned (its
    /// `ClientConnection` sees the socketpair fail and aborts).
    func abandon() { end(reset: true) }

    private func end(reset: Bool) {
        guard !finished else { return }
        finished = true
        if let b = inBuf { owner.worker.pool.give(b); inBuf = nil }
        payload = []
        toProxy = []
        owner.worker.loop.close(self, reset: reset)
        owner.streamDone(id)
    }
}
