import FulcrumCore
import FulcrumEventLoop
import FulcrumHTTP
import Glibc

/// Bytes both ways between a client and a backend after a 101 (Upgrade) or
/// a 2xx to CONNECT. Each direction ends on its own: when its source sends
/// EOF and everything before it is delivered, the write side is shut down
/// (a half-close is passed on, not turned into a close). Both ended, or the
/// idle timeout passes with no byte either way: the tunnel closes.
///
/// The buffers are the connections' own input buffers: client bytes wait in
/// the client's `inBuf`, backend bytes in the backend connection's `inBuf`;
/// each side stops being read while its bytes wait (back-pressure).
final class Tunnel {
    unowned(unsafe) let client: ClientConnection
    unowned(unsafe) let upstream: BackendConnection

    /// Bytes at the front of the client's buffer to write to the backend.
    var toUpstream = 0
    /// Bytes at the front of the backend's buffer to write to the client.
    var toClient = 0
    var clientReadClosed = false
    var upstreamReadClosed = false
    var clientShut = false
    var upstreamShut = false
    var clientWriteBlocked = false
    var upstreamWriteBlocked = false

    init(client: ClientConnection, upstream: BackendConnection) {
        self.client = client
        self.upstream = upstream
        toUpstream = client.inBuf?.readableCount ?? 0
        toClient = upstream.inBuf?.readableCount ?? 0
        clientReadClosed = client.halfClosed
    }

    var worker: ProxyWorker { client.worker }

    func clientEvent(_ events: UInt32) {
        if events & EventMask.error != 0 { close(); return }
        if events & EventMask.writable != 0 { clientWriteBlocked = false }
        if events & (EventMask.readable | EventMask.hangUp | EventMask.readHangUp) != 0 && !clientReadClosed && toUpstream == 0 {
            switch SocketIO.read(client, into: &client.inBuf, pool: worker.pool) {
            case .bytes(let n):
                toUpstream = client.inBuf!.readableCount
                worker.metrics.add(.bytesFromClients, UInt64(n))
            case .endOfStream, .failed: clientReadClosed = true
            case .noRoom, .wouldBlock: break
            }
        }
        pump()
    }

    func upstreamEvent(_ events: UInt32) {
        if events & EventMask.error != 0 { close(); return }
        if events & EventMask.writable != 0 { upstreamWriteBlocked = false }
        if events & (EventMask.readable | EventMask.hangUp | EventMask.readHangUp) != 0 && !upstreamReadClosed && toClient == 0 {
            switch SocketIO.read(upstream, into: &upstream.inBuf, pool: worker.pool) {
            case .bytes: toClient = upstream.inBuf!.readableCount
            case .endOfStream, .failed: upstreamReadClosed = true
            case .noRoom, .wouldBlock: break
            }
        }
        pump()
    }

    func timerExpired(now: UInt64) {
        let limit = worker.config.idleTimeout
        if now &- client.lastActivity < limit {
            worker.idleQueue.rearm(client, deadline: client.lastActivity &+ limit)
        } else {
            close()
        }
    }

    /// Moves bytes both ways; half-closes a direction when its source ended.
    func pump() {
        client.lastActivity = worker.loop.now
        guard writeToClient(), writeToUpstream() else { close(); return }
        // Pass each end on once everything before it has been delivered.
        if upstreamReadClosed && toClient == 0 && (client.outBuf?.isEmpty ?? true) && !clientShut {
            SocketIO.shutdownWrite(client)
            clientShut = true
        }
        if clientReadClosed && toUpstream == 0 && !upstreamShut {
            SocketIO.shutdownWrite(upstream)
            upstreamShut = true
        }
        if clientShut && upstreamShut { close(); return }
        var clientInterest: UInt32 = 0
        if !clientReadClosed && toUpstream == 0 { clientInterest |= EventMask.readable }
        if clientWriteBlocked { clientInterest |= EventMask.writable }
        worker.loop.setInterest(client, clientInterest)
        var upstreamInterest: UInt32 = 0
        if !upstreamReadClosed && toClient == 0 { upstreamInterest |= EventMask.readable }
        if upstreamWriteBlocked { upstreamInterest |= EventMask.writable }
        worker.loop.setInterest(upstream, upstreamInterest)
    }

    /// The 101/2xx head (in the client's `outBuf`), then backend bytes. False if the client is gone.
    private func writeToClient() -> Bool {
        while true {
            let headCount = client.outBuf?.readableCount ?? 0
            if headCount == 0 && toClient == 0 { return true }
            let head: UnsafeMutableRawPointer? = headCount > 0 ? client.outBuf!.base + client.outBuf!.readIndex : nil
            let body: UnsafeMutableRawPointer? = toClient > 0 ? upstream.inBuf!.base + upstream.inBuf!.readIndex : nil
            let total = headCount + toClient
            switch SocketIO.writev(client, head, headCount, body, toClient) {
            case .bytes(let n):
                worker.metrics.add(.bytesToClients, UInt64(n))
                let h = min(n, headCount)
                if h > 0 { client.outBuf!.consume(h) }
                if n > h {
                    upstream.inBuf!.consume(n - h)
                    toClient -= n - h
                }
                if n < total { clientWriteBlocked = true; return true }
            case .failed: return false
            default: clientWriteBlocked = true; return true
            }
        }
    }

    /// Client bytes to the backend. False if the backend is gone.
    private func writeToUpstream() -> Bool {
        while toUpstream > 0 {
            switch SocketIO.writev(upstream, client.inBuf!.base + client.inBuf!.readIndex, toUpstream, nil, 0) {
            case .bytes(let n):
                client.inBuf!.consume(n)
                toUpstream -= n
            case .failed: return false
            default: upstreamWriteBlocked = true; return true
            }
        }
        return true
    }

    /// Closes both connections.
    func close() {
        client.tunnel = nil
        if client.upstream === upstream {
            upstream.client = nil
            client.upstream = nil
            worker.closeUpstream(upstream, reset: false)
        }
        worker.closeClient(client)
    }
}

extension ClientConnection {
    /// After a 101 to an Upgrade request, or a 2xx to CONNECT: the exchange
    /// is over and both connections become a raw tunnel.
    func startTunnel(_ up: BackendConnection, head: UnsafeRawBufferPointer, parsed: ParsedHead) {
        if outBuf == nil { outBuf = worker.pool.take() }
        outBuf!.compact()
        guard HeadRewriter.writeResponse(parsed, head: head, HeadRewriter.ResponseOptions(), into: &outBuf!) else {
            abortExchange(bodyTimeout: false)
            return
        }
        up.inBuf!.consume(head.count)
        // The tunnel is not this exchange's response status: record the switch.
        account()
        if let f = fwdBuf { worker.pool.give(f); fwdBuf = nil }
        worker.metrics.add(.tunnels)
        phase = .tunnel
        up.state = .tunnel
        DeadlineQueue.disarm(up)
        up.armedTimer = .none
        worker.idleQueue.arm(self, now: worker.loop.now)
        let t = Tunnel(client: self, upstream: up)
        tunnel = t
        t.pump()
    }
}
