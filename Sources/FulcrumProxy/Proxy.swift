import FulcrumCore
import FulcrumEventLoop
import FulcrumRegistry
import Glibc
import Synchronization

/// The data plane: N workers, each an event-loop thread with its own
/// SO_REUSEPORT listener on the same address.
public final class Proxy: @unchecked Sendable {
    public let config: ProxyConfig
    /// The pools and routes in force (a reload publishes a new value).
    public let routing: Published<Routing>
    public let workers: [ProxyWorker]
    /// The address actually listened on (a port of 0 becomes the one the kernel chose).
    public private(set) var boundAddress: SocketAddress
    /// The HTTPS address actually listened on, with `tlsListen`.
    public private(set) var boundTLSAddress: SocketAddress?
    private var threads: [NamedThread] = []

    /// Pools already observed (kept, so a new pool never reuses an old one's identity).
    private let observed = Mutex<[ProxyPool]>([])
    private let notify: @Sendable () -> Void

    public init(config: ProxyConfig, routing: Published<Routing>, accessLog: AccessLogFile?) {
        self.config = config
        self.routing = routing
        boundAddress = config.listen
        let workers = (0..<max(1, config.workers)).map {
            ProxyWorker(index: $0, config: config, routing: routing, accessLog: accessLog)
        }
        self.workers = workers
        // A new registry snapshot, strategy or routing reaches each worker as a
        // task on its loop (run before that batch's socket events), not as a check per pick.
        notify = { for w in workers { w.loop.execute { w.refreshStrategy() } } }
        observePools(routing.value)
        routing.observe { [unowned(unsafe) self] in
            self.observePools(self.routing.value)
            self.notify()
        }
    }

    /// Workers hear of every change to a pool's backends or strategy
    /// (pools a reload adds are observed from then on).
    private func observePools(_ r: Routing) {
        for pool in r.pools {
            let fresh = observed.withLock { list in
                if list.contains(where: { $0 === pool }) { return false }
                list.append(pool)
                return true
            }
            guard fresh else { continue }
            pool.registry.published.observe(notify)
            pool.selection.observe(notify)
        }
    }

    /// Binds every worker's listener (all or none), then starts the threads.
    public func start() throws(SocketError) {
        let (fds, address) = try bindAll(config.listen)
        var tlsFDs: [Int32] = []
        if let tlsListen = config.tlsListen {
            do {
                let (t, a) = try bindAll(tlsListen)
                tlsFDs = t
                boundTLSAddress = a
            } catch {
                for fd in fds { _ = fulcrumClose(fd) }
                throw error
            }
        }
        boundAddress = address
        for (i, (worker, fd)) in zip(workers, fds).enumerated() {
            worker.attachListener(fd)
            if i < tlsFDs.count { worker.attachTLSListener(tlsFDs[i]) }
            worker.loop.execute { worker.refreshStrategy() }
            threads.append(NamedThread.start(name: "fulcrum-w\(worker.index)") { worker.loop.run() })
        }
    }

    /// One SO_REUSEPORT listening socket per worker on `listen` (all or none).
    private func bindAll(_ listen: SocketAddress) throws(SocketError) -> ([Int32], SocketAddress) {
        // SO_REUSEPORT would let us share a port another process (of the same
        // user) already listens on, silently splitting its traffic. An
        // exclusive bind first turns that into the "address already in use" it is.
        if listen.port != 0 {
            switch Socket.listen(on: listen, reusePort: false, backlog: 1) {
            case .success(let probe): _ = fulcrumClose(probe)
            case .failure(let error): throw error
            }
        }
        var fds: [Int32] = []
        var address = listen
        for _ in workers {
            switch Socket.listen(on: address, reusePort: true) {
            case .success(let fd):
                Socket.setNoDelay(fd)  // accepted sockets inherit it
                if fds.isEmpty, let actual = SocketAddress.local(of: fd) {
                    address = actual  // the others join the port the first one got
                }
                fds.append(fd)
            case .failure(let error):
                for fd in fds { _ = fulcrumClose(fd) }
                throw error
            }
        }
        return (fds, address)
    }

    /// Open client connections across workers.
    public var openConnections: Int { workers.reduce(0) { $0 + $1.openClients.load(ordering: .relaxed) } }

    /// Stops accepting; idle connections close now, busy ones after their exchange.
    public func beginShutdown() {
        for w in workers { w.loop.execute { w.beginDrain() } }
    }

    /// Waits until every worker has drained, or `seconds` pass. True when drained.
    public func waitForDrain(seconds: Double) -> Bool {
        let deadline = Clock.monotonicNanos() + UInt64(seconds * 1e9)
        while Clock.monotonicNanos() < deadline {
            if openConnections == 0 { return true }
            usleepMillis(20)
        }
        return openConnections == 0
    }
}

func usleepMillis(_ ms: UInt32) { usleep(ms * 1000) }
