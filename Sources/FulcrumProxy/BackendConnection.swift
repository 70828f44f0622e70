import FulcrumEventLoop
import FulcrumRegistry
import Glibc

/// One connection to a backend: connecting, serving an exchange for a
/// client, tunnelling, or idle in its worker's pool. The exchange logic lives
/// in `ClientConnection`; this side reports its socket's events there.
final class BackendConnection: EventHandler {
    enum State { case connecting, active, tunnel, idle }

    unowned(unsafe) let worker: ProxyWorker
    let backend: Backend
    /// The client being served (nil while pooled). The client holds the
    /// strong reference; it clears this before letting go.
    unowned(unsafe) var client: ClientConnection?
    var state = State.connecting
    /// Came from the pool (a failure before any byte may just be staleness).
    var reused = false
    /// The deadline queue the exchange put this connection in.
    var armedTimer = ExchangeStateMachine.Timer.none
    var inBuf: ByteBuffer?
    var lastActivity: UInt64 = 0
    /// The backend sent EOF (an exchange still drains what it sent before).
    var readClosed = false

    init(worker: ProxyWorker, backend: Backend) {
        self.worker = worker
        self.backend = backend
    }

    override func handleEvent(_ events: UInt32) {
        switch state {
        case .idle:
            // TLS 1.3 servers may send session tickets after a response:
            // handshake messages only, no data, so the connection stays.
            if tls != nil && stillIdle() { return }
            // A pooled connection has nothing to say: data or EOF means the
            // server closed it (or misbehaves). Either way it is done.
            worker.pools.remove(self)
            worker.closeUpstream(self, reset: false)
        case .connecting:
            guard let client else { worker.closeUpstream(self, reset: true); return }
            let err = Socket.pendingError(fd)
            if err == 0 {
                state = .active
                DeadlineQueue.disarm(self)
                armedTimer = .none
                client.upstreamConnected(self)
            } else if events & (EventMask.writable | EventMask.error | EventMask.hangUp) != 0 {
                client.upstreamFailed(self, UpstreamFailure.connectFailed(err))
            }
        case .active:
            client?.upstreamEvent(self, events)
        case .tunnel:
            client?.tunnel?.upstreamEvent(events)
        }
    }

    override func timerExpired(now: UInt64) {
        switch state {
        case .idle:
            worker.pools.remove(self)
            worker.closeUpstream(self, reset: false)
        case .connecting, .active:
            client?.upstreamTimedOut(self, now: now)
        case .tunnel:
            break
        }
    }

    /// A TLS read that yields no application data leaves a pooled connection fit.
    private func stillIdle() -> Bool {
        var scratch = (UInt64(0), UInt64(0), UInt64(0), UInt64(0))
        let outcome = withUnsafeMutableBytes(of: &scratch) { SocketIO.read(self, into: $0.baseAddress!, count: $0.count) }
        return outcome == .wouldBlock
    }

    /// Returns the input buffer to the pool (the connection is closing).
    func releaseBuffer() {
        if let b = inBuf { worker.pool.give(b); inBuf = nil }
    }

    /// Returns the input buffer to the pool when empty.
    func releaseBufferIfEmpty() {
        if let b = inBuf, b.isEmpty {
            worker.pool.give(b)
            inBuf = nil
        }
    }
}

/// Per-worker pools of idle keep-alive connections, one stack per backend
/// slot: the most recently used connection is reused first (it is the least
/// likely to have been closed by the server).
final class BackendPools {
    private var stacks: [[BackendConnection]]
    let maxPerBackend: Int
    private(set) var idleCount = 0

    init(slots: Int, maxPerBackend: Int) {
        stacks = Array(repeating: [], count: slots)
        self.maxPerBackend = maxPerBackend
    }

    /// An idle connection to backend `id`, if any.
    @inline(__always)
    func take(_ id: UInt64) -> BackendConnection? {
        let slot = BackendTable.slot(of: id)
        guard slot < stacks.count else { return nil }
        while let c = stacks[slot].popLast() {
            idleCount -= 1
            if c.backend.id == id && c.isOpen { return c }
            c.worker.closeUpstream(c, reset: false)  // a removed backend's, or already closed
        }
        return nil
    }

    /// Keeps `c` for reuse; false when the backend's pool is full.
    @inline(__always)
    func put(_ c: BackendConnection) -> Bool {
        let slot = BackendTable.slot(of: c.backend.id)
        guard slot < stacks.count, stacks[slot].count < maxPerBackend else { return false }
        stacks[slot].append(c)
        idleCount += 1
        return true
    }

    func remove(_ c: BackendConnection) {
        let slot = BackendTable.slot(of: c.backend.id)
        guard slot < stacks.count, let i = stacks[slot].firstIndex(where: { $0 === c }) else { return }
        stacks[slot].remove(at: i)
        idleCount -= 1
    }

    /// Closes every idle connection to backend `id` (they are likely all stale).
    func flush(_ id: UInt64) {
        let slot = BackendTable.slot(of: id)
        guard slot < stacks.count else { return }
        let gone = stacks[slot]
        stacks[slot].removeAll()
        idleCount -= gone.count
        for c in gone { c.worker.closeUpstream(c, reset: false) }
    }

    func closeAll() {
        for slot in stacks.indices where !stacks[slot].isEmpty {
            let gone = stacks[slot]
            stacks[slot].removeAll()
            for c in gone { c.worker.closeUpstream(c, reset: false) }
        }
        idleCount = 0
    }
}
