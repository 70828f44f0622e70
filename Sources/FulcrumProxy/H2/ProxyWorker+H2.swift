import FulcrumCore
import FulcrumEventLoop
import Glibc

/// The worker's side of HTTP/2: switching a connection to the HTTP/2
/// driver, the internal connections of streams, the timer and the drain.
extension ProxyWorker {
    /// An HTTP/2 stream's internal HTTP/1.1 connection: an ordinary
    /// `ClientConnection` on one end of a socketpair, with the real client's
    /// address (X-Forwarded-For, hashing by IP) and scheme. It is not counted
    /// as a client connection: its HTTP/2 connection is (and the drain waits for that).
    func adoptStream(fd: Int32, peer: SocketAddress, https: Bool) -> Bool {
        let c = ClientConnection(worker: self, peer: peer)
        c.https = https
        c.viaH2 = true
        guard loop.register(c, fd: fd, events: EventMask.readable | EventMask.readHangUp) else {
            _ = Glibc.close(fd)
            return false
        }
        c.lastActivity = loop.now
        headerQueue.arm(c, now: loop.now)
        return true
    }

    /// Closes an HTTP/2 connection (its streams are already abandoned).
    func closeH2(_ h: H2ClientConnection) {
        guard h.isOpen else { return }
        h2Connections.removeValue(forKey: ObjectIdentifier(h))
        loop.close(h, reset: false)
        openClients.add(-1, ordering: .relaxed)
        metrics.add(.connectionsClosed)
        if draining && openClients.load(ordering: .relaxed) == 0 { finishDrain() }
    }

    func tickH2(now: UInt64) {
        guard !h2Connections.isEmpty else { return }
        for h in Array(h2Connections.values) { h.tick(now: now) }
    }
}

extension ClientConnection {
    /// The bytes in `inBuf` start with the HTTP/2 connection preface: this
    /// connection's socket (and TLS session) goes to an `H2ClientConnection`.
    /// Only a fresh connection switches (never after an HTTP/1.1 exchange).
    func switchToHTTP2() -> Bool {
        guard let buf = inBuf, buf.readIndex == 0, buf.readableCount >= 16 else { return false }
        let preface: StaticString = "PRI * HTTP/2.0\r\n"
        let p = UnsafeRawBufferPointer(start: preface.utf8Start, count: preface.utf8CodeUnitCount)
        for i in 0..<p.count where buf.readable[i] != p[i] { return false }
        let h = H2ClientConnection(worker: worker, peer: peer, https: https)
        guard worker.loop.transfer(from: self, to: h, events: EventMask.readable | EventMask.readHangUp) else { return false }
        // This object no longer owns the socket: the open-client count passes to `h`.
        phase = .lingering
        worker.h2Connections[ObjectIdentifier(h)] = h
        worker.metrics.add(.h2Connections)
        h.start(initial: buf.readable)
        releaseBuffers()
        return true
    }
}
