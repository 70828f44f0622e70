import FulcrumCore
import FulcrumEventLoop
import FulcrumRegistry
import Glibc

/// The data plane: N workers, each an event-loop thread with its own
/// SO_REUSEPORT listener on the same address.
public final class Proxy: @unchecked Sendable {
    public let config: ProxyConfig
    public let registry: Registry
    public let selection: Published<StrategySelection>
    public let workers: [ProxyWorker]
    /// The address actually listened on (a port of 0 becomes the one the kernel chose).
    public private(set) var boundAddress: SocketAddress
    /// The HTTPS address actually listened on, with `tlsListen`.
    public private(set) var boundTLSAddress: SocketAddress?
    private var threads: [NamedThread] = []

    public init(config: ProxyConfig, registry: Registry, selection: Published<StrategySelection>, accessLog: AccessLogFile?) {
        self.config = config
        self.registry = registry
        self.selection = selection
        boundAddress = config.listen
        workers = (0..<max(1, config.workers)).map {
            ProxyWorker(index: $0, config: config, registry: registry, selection: selection, accessLog: accessLog)
        }
        // A new registry snapshot or strategy reaches each worker as a task on
        // its loop (run before that batch's socket events), not as a check per pick.
        let notify: @Sendable () -> Void = { [workers] in
            for w in workers { w.loop.execute { w.refreshStrategy() } }
        }
        registry.published.observe(notify)
        selection.observe(notify)
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
