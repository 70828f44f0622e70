import FulcrumCore
import FulcrumEventLoop
import FulcrumHTTP2
import Glibc

/// The I/O driver of one HTTP/2 client connection (h2c prior knowledge on
/// the plain listener, ALPN `h2` on the TLS one). It feeds the socket's bytes
/// to the pure `H2Connection`, writes its `outbound`, and carries out its
/// actions; each stream is an `H2Stream`, which runs the request through the
/// same HTTP/1.1 exchange path as any other (see `H2Stream`).
final class H2ClientConnection: EventHandler {
    unowned(unsafe) let worker: ProxyWorker
    let peer: SocketAddress
    let https: Bool
    var conn: H2Connection
    /// Bytes read and not yet taken by `conn` (a partial frame at most, or
    /// frames left while `outbound` is full). Two maximum frames fit.
    let rbuf: UnsafeMutableRawPointer
    static let rcap = 2 * (16_384 + 9) + 4_096
    var rcount = 0
    var streams: [UInt32: H2Stream] = [:]
    var actions: [ConnectionAction] = []
    /// `.close` was asked: flush `outbound`, then close.
    var closing = false
    var closed = false

    init(worker: ProxyWorker, peer: SocketAddress, https: Bool) {
        self.worker = worker
        self.peer = peer
        self.https = https
        var config = ConnectionConfig()
        // The HTTP/1.1 limits, per stream and per connection.
        config.streamIdleTimeoutMs = worker.config.bodyTimeout
        config.connectionIdleTimeoutMs = worker.config.idleTimeout
        conn = H2Connection(config: config, now: worker.loop.now)
        rbuf = .allocate(byteCount: Self.rcap, alignment: 16)
    }

    deinit { rbuf.deallocate() }

    /// Takes over from the HTTP/1.1 connection that saw the preface: `initial`
    /// is everything it had read (the preface first).
    func start(initial: UnsafeRawBufferPointer) {
        // The HTTP/1.1 side may have read more than `rbuf` holds (its buffer is
        // 68 KiB: a client that sent a whole window of DATA at once): feed it
        // in pieces, never drop any (dropped bytes desynchronised the frames
        // and the stream stalled until the SETTINGS timeout).
        var offset = 0
        while offset < initial.count && !closed {
            let n = min(initial.count - offset, Self.rcap - rcount)
            guard n > 0 else { break }
            (rbuf + rcount).copyMemory(from: initial.baseAddress! + offset, byteCount: n)
            rcount += n
            offset += n
            process()
        }
        if offset < initial.count { shutdownAll(); return }
        readLoop()
        afterEvent()
    }

    override func handleEvent(_ events: UInt32) {
        guard !closed else { return }
        if events & (EventMask.error | EventMask.hangUp) != 0 && events & EventMask.readable == 0 {
            shutdownAll(); return
        }
        if events & EventMask.writable != 0 { flush() }
        if events & (EventMask.readable | EventMask.readHangUp) != 0 { readLoop() }
        afterEvent()
    }

    /// Reads while the machine wants bytes (it stops while `outbound` is full: back-pressure on the client).
    func readLoop() {
        while !closed, !closing, conn.wantsRead, rcount < Self.rcap {
            switch SocketIO.read(self, into: rbuf + rcount, count: Self.rcap - rcount) {
            case .bytes(let n):
                worker.metrics.add(.bytesFromClients, UInt64(n))
                rcount += n
                process()
            case .wouldBlock, .noRoom:
                return
            case .endOfStream, .failed:
                shutdownAll()
                return
            }
        }
    }

    /// Hands the buffered bytes to the machine and carries out what it says.
    func process() {
        actions.removeAll(keepingCapacity: true)
        let used = conn.receive(UnsafeRawBufferPointer(start: rbuf, count: rcount), now: worker.loop.now, into: &actions)
        let buffer = UnsafeRawBufferPointer(start: rbuf, count: rcount)
        let list = actions
        for a in list { handle(a, buffer) }
        if used > 0 {
            if used < rcount { memmove(rbuf, rbuf + used, rcount - used) }
            rcount -= used
        }
    }

    func handle(_ action: ConnectionAction, _ buffer: UnsafeRawBufferPointer) {
        switch action {
        case .requestHead(let id, let head):
            worker.metrics.add(.h2Streams)
            if let s = H2Stream.open(owner: self, id: id, head: head) {
                streams[id] = s
            } else {
                withConn { c, a in c.resetStream(id, code: .refusedStream, into: &a) }
            }
        case .requestData(let id, let range, let end):
            if let s = streams[id] {
                s.queueBody(UnsafeRawBufferPointer(rebasing: buffer[range]), end: end)
            } else if range.count > 0 {
                conn.consumed(stream: id, range.count)
            }
        case .requestTrailers(let id, let fields):
            streams[id]?.queueTrailers(fields)
        case .streamReset(let id, _):
            streams.removeValue(forKey: id)?.abandon()
        case .requestRefused(_, let status, _, let reason):
            if let status { worker.metrics.response(status) }
            Log.debug("client \(peer.ipString): HTTP/2 request refused: \(reason)")
        case .streamWritable(let id):
            streams[id]?.clientWindowOpened()
        case .close(let error):
            if let error { Log.debug("client \(peer.ipString): HTTP/2 connection error: \(error)") }
            closing = true
        }
    }

    /// Runs a call into the machine, then the actions it produced.
    func withConn<T>(_ body: (inout H2Connection, inout [ConnectionAction]) -> T) -> T {
        var extra: [ConnectionAction] = []
        let result = body(&conn, &extra)
        let empty = UnsafeRawBufferPointer(start: nil, count: 0)
        for a in extra { handle(a, empty) }
        return result
    }

    /// Writes `outbound` as far as the socket takes it.
    func flush() {
        while !closed, !conn.outbound.isEmpty {
            let outcome = conn.outbound.withUnsafeBytes { SocketIO.writev(self, $0.baseAddress, $0.count, nil, 0) }
            switch outcome {
            case .bytes(let n):
                worker.metrics.add(.bytesToClients, UInt64(n))
                _ = withConn { c, a in c.outboundWritten(n, into: &a) }
            case .failed:
                shutdownAll()
                return
            default:
                return
            }
        }
    }

    /// After every event: write, then close if the machine is done, else wait for the right events.
    func afterEvent() {
        guard !closed else { return }
        flush()
        guard !closed else { return }
        if closing && conn.outbound.isEmpty { shutdownAll(); return }
        // Frames left in the buffer while outbound was full: take them now that it drained.
        if rcount > 0 && conn.wantsRead && !closing {
            let before = rcount
            process()
            if rcount != before { flush() }
        }
        var interest: UInt32 = 0
        if conn.wantsRead && !closing && rcount < Self.rcap { interest |= EventMask.readable | EventMask.readHangUp }
        if !conn.outbound.isEmpty { interest |= EventMask.writable }
        worker.loop.setInterest(self, interest)
    }

    /// The timer: abuse windows, idle streams, shutdown steps.
    func tick(now: UInt64) {
        guard !closed else { return }
        _ = withConn { c, a in c.tick(now: now, into: &a) }
        afterEvent()
    }

    /// SIGTERM: GOAWAY (two steps), streams in flight finish.
    func beginShutdown() {
        guard !closed else { return }
        conn.beginShutdown(now: worker.loop.now)
        if conn.phase == .closed { closing = true }
        afterEvent()
    }

    /// A stream's exchange ended (its response went out or it was reset).
    func streamDone(_ id: UInt32) {
        streams.removeValue(forKey: id)
    }

    /// Closes the connection and every stream's exchange.
    func shutdownAll() {
        guard !closed else { return }
        closed = true
        let open = streams
        streams.removeAll()
        for (_, s) in open { s.abandon() }
        worker.closeH2(self)
    }
}
