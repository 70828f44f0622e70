import FulcrumCore
import FulcrumEventLoop
import FulcrumHTTP
import FulcrumPluginHost
import FulcrumRegistry
import FulcrumRouting
import Glibc
import Synchronization

/// One event-loop thread of the proxy and everything it owns outright: its
/// listener, its connections and backend pools, its buffers, its instance
/// of each pool's strategy, its counters. Nothing here is touched by another thread
/// except through `loop.execute` and the read-only metrics.
public final class ProxyWorker: @unchecked Sendable {
    public let index: Int
    public let loop: EventLoop
    public let metrics = WorkerMetrics()
    let config: ProxyConfig
    let published: Published<Routing>
    let pool: BufferPool
    /// Scratch for parsing: every head is parsed and used within one event.
    let head = ParsedHead()
    /// Scratch for `fulcrum_request.client_ip`.
    let ipScratch = UnsafeMutablePointer<UInt8>.allocate(capacity: 16)
    var accessLog: AccessLogBuffer?
    let pools: BackendPools

    let headerQueue: DeadlineQueue
    let idleQueue: DeadlineQueue
    let connectQueue: DeadlineQueue
    let responseQueue: DeadlineQueue
    let bodyQueue: DeadlineQueue
    let poolQueue: DeadlineQueue
    let lingerQueue: DeadlineQueue

    var listener: Listener?
    var tlsListener: Listener?
    var listenFD: Int32 = -1

    // The routing in force: pools (each with this worker's strategy instance) and routes.
    var routing: Routing
    var routingGeneration: UInt64 = 0
    /// `routing.pools` as this worker runs them, in the same order.
    var workerPools: [WorkerPool]
    /// `workerPools[routing.defaultPool]`: every request without -config.
    var defaultPool: WorkerPool
    /// `routing.table`, read per request (nil without -config: one test, nothing retained).
    var routeTable: RouteTable?
    /// This worker's filter instances and chains (nil: the file has no filters).
    var filters: WorkerFilters?
    /// Scratch for normalising paths and stripping prefixes (routes only).
    let routeScratch = RouteScratch(capacity: HTTPLimits.maxHead)

    var draining = false
    /// HTTP/2 client connections (ticked every second, told of SIGTERM).
    var h2Connections: [ObjectIdentifier: H2ClientConnection] = [:]
    /// Open client connections, readable from other threads (shutdown waits on it).
    let openClients = Atomic<Int>(0)

    init(index: Int, config: ProxyConfig, routing: Published<Routing>, accessLog: AccessLogFile?) {
        self.index = index
        self.config = config
        self.published = routing
        let (current, generation) = routing.read()
        self.routing = current
        routingGeneration = generation
        workerPools = current.pools.map(WorkerPool.init)
        defaultPool = workerPools[current.defaultPool]
        routeTable = current.table
        filters = WorkerFilters(current.filters, labels: current.table?.routes.map(\.label) ?? [], worker: index)
        loop = EventLoop(name: "worker-\(index)")
        pool = BufferPool(bufferSize: config.bufferSize, maxFree: 512)
        pools = BackendPools(slots: BackendTable.shared.capacity, maxPerBackend: config.maxIdlePerBackend)
        headerQueue = loop.makeDeadlineQueue(milliseconds: config.headerTimeout)
        idleQueue = loop.makeDeadlineQueue(milliseconds: config.idleTimeout)
        connectQueue = loop.makeDeadlineQueue(milliseconds: config.connectTimeout)
        responseQueue = loop.makeDeadlineQueue(milliseconds: config.responseTimeout)
        bodyQueue = loop.makeDeadlineQueue(milliseconds: config.bodyTimeout)
        poolQueue = loop.makeDeadlineQueue(milliseconds: config.poolIdleTimeout)
        lingerQueue = loop.makeDeadlineQueue(milliseconds: 2_000)
        if let accessLog { self.accessLog = AccessLogBuffer(file: accessLog) }
        loop.afterBatch = { [unowned self] in self.accessLog?.flush() }
        loop.everySecond = { [unowned self] in
            self.listener?.tick(now: self.loop.now)
            self.tlsListener?.tick(now: self.loop.now)
            self.tickH2(now: self.loop.now)
        }
    }

    /// Starts serving `fd` (bound and listening) on this worker's loop.
    func attachListener(_ fd: Int32) {
        listenFD = fd
        let l = Listener(worker: self)
        listener = l
        loop.register(l, fd: fd, events: EventMask.readable)
    }

    /// Starts serving HTTPS on `fd` (bound and listening) on this worker's loop.
    func attachTLSListener(_ fd: Int32) {
        let l = Listener(worker: self, tls: true)
        tlsListener = l
        loop.register(l, fd: fd, events: EventMask.readable)
    }

    /// A freshly accepted client connection.
    func adopt(fd: Int32, peer: SocketAddress, tls: Bool = false) {
        let c = ClientConnection(worker: self, peer: peer)
        if tls {
            // The handshake runs inside the first reads, bounded by the header timeout.
            guard let session = TLSSession.accepting(fd: fd, loop: loop) else {
                _ = fulcrumClose(fd)
                return
            }
            c.tls = session
            c.https = true
        }
        guard loop.register(c, fd: fd, events: EventMask.readable | EventMask.readHangUp) else {
            _ = fulcrumClose(fd)
            return
        }
        openClients.add(1, ordering: .relaxed)
        metrics.add(.connectionsAccepted)
        c.lastActivity = loop.now
        headerQueue.arm(c, now: loop.now)
    }

    /// Closes a client connection and lets go of everything it holds.
    func closeClient(_ c: ClientConnection, reset: Bool = false) {
        guard c.isOpen else { return }
        if let up = c.upstream {
            up.client = nil
            c.upstream = nil
            closeUpstream(up, reset: true)
        }
        c.tunnel = nil
        c.endInFlight()
        c.releaseBuffers()
        loop.close(c, reset: reset)
        // An HTTP/2 stream's internal connection is neither accepted nor open as far as clients go.
        guard !c.viaH2 else { return }
        openClients.add(-1, ordering: .relaxed)
        metrics.add(.connectionsClosed)
        if draining && openClients.load(ordering: .relaxed) == 0 { finishDrain() }
    }

    func closeUpstream(_ up: BackendConnection, reset: Bool) {
        guard up.isOpen else { return }
        up.releaseBuffer()
        loop.close(up, reset: reset)
    }

    /// Catches up with a reload, `PUT /strategy` and registry changes: run
    /// on this worker's loop when any is published. Pools are matched by
    /// identity, so a pool that survives a reload keeps this worker's
    /// strategy instance.
    func refreshStrategy() {
        if published.generation != routingGeneration {
            let (current, generation) = published.read()
            routingGeneration = generation
            if current !== routing {
                var kept: [ObjectIdentifier: WorkerPool] = [:]
                for w in workerPools { kept[ObjectIdentifier(w.pool)] = w }
                routing = current
                workerPools = current.pools.map { kept[ObjectIdentifier($0)] ?? WorkerPool($0) }
                defaultPool = workerPools[current.defaultPool]
                routeTable = current.table
                filters = WorkerFilters(current.filters, labels: current.table?.routes.map(\.label) ?? [], worker: index)
            }
        }
        for w in workerPools { w.refresh(worker: index) }
    }

    // MARK: shutdown

    /// Stops accepting and closes idle connections; busy ones close when their exchange ends.
    func beginDrain() {
        draining = true
        if let l = listener {
            loop.close(l)
            listener = nil
        }
        if let l = tlsListener {
            loop.close(l)
            tlsListener = nil
        }
        pools.closeAll()
        var idle: [ClientConnection] = []
        // An HTTP/2 stream's internal connection ends with its stream, not here.
        idleQueue.forEach { if let c = $0 as? ClientConnection, !c.viaH2 { idle.append(c) } }
        headerQueue.forEach { if let c = $0 as? ClientConnection, !c.viaH2, c.inBuf?.isEmpty ?? true { idle.append(c) } }
        for c in idle { closeClient(c) }
        for h in Array(h2Connections.values) { h.beginShutdown() }
        if openClients.load(ordering: .relaxed) == 0 { finishDrain() }
    }

    func finishDrain() {
        accessLog?.flush()
        loop.stop()
    }
}

@inline(__always) func fulcrumClose(_ fd: Int32) -> Int32 { Glibc.close(fd) }
