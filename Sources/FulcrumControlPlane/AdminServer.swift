import FulcrumCore
import FulcrumEventLoop
import FulcrumHTTP
import Glibc

/// A request to the admin API, read whole (they are small).
public struct AdminRequest: Sendable {
    public let method: String
    /// The path without the query.
    public let path: String
    /// Decoded query parameters (the last value wins).
    public let query: [String: String]
    /// Header names lowercased; first value wins.
    public let headers: [String: String]
    public let body: [UInt8]
}

public struct AdminResponse: Sendable {
    public var status: Int
    public var contentType: String
    public var body: [UInt8]
    public var headers: [(String, String)] = []

    public init(status: Int, contentType: String, body: [UInt8], headers: [(String, String)] = []) {
        self.status = status
        self.contentType = contentType
        self.body = body
        self.headers = headers
    }
}

/// Hands each request to `handler`, which answers through `respond`, now
/// or later from any thread.
public typealias AdminHandler = @Sendable (AdminRequest, _ respond: @escaping @Sendable (AdminResponse) -> Void) -> Void

/// Limits for admin connections (CONTRACT §3: as on the proxy port).
public struct AdminLimits: Sendable {
    /// From the first byte of a request (or from accept) to its last byte: beyond it, 408.
    public var headerTimeoutMillis: UInt64 = 10_000
    /// A keep-alive connection with no request, or a response the client does not read.
    public var idleTimeoutMillis: UInt64 = 60_000
    /// Concurrent admin connections; one more is answered 503 and closed.
    /// 64 is far above what people and scripts open, and bounds memory
    /// (a busy connection holds up to one request buffer of ~1 MiB).
    public var maxConnections = 64

    public init() {}
}

/// The admin listener: its own event-loop thread, the proxy's strict HTTP/1.1
/// head parser, keep-alive and pipelining, bodies up to 1 MiB (Content-Length
/// only), the header and idle timeouts, a connection cap, and `AdminGate`
/// checked on every head before its body is read.
public final class AdminServer: @unchecked Sendable {
    public static let maxBody = 1024 * 1024
    let loop = EventLoop(name: "admin")
    let handler: AdminHandler
    let gate: AdminGate
    let limits: AdminLimits
    let head = ParsedHead()
    /// Request buffers: a whole head and body fit in one. Taken when a
    /// request starts, given back when the connection is idle.
    let inputPool = BufferPool(bufferSize: HTTPLimits.maxHead + AdminServer.maxBody, maxFree: 4)
    /// Response heads (the body is written from the response's own bytes).
    let headPool = BufferPool(bufferSize: 8 * 1024, maxFree: 16)
    /// Connections open now (loop thread only).
    var openConnections = 0
    public private(set) var address: SocketAddress
    private var listener: AdminListener?
    private var thread: NamedThread?
    var headerQueue: DeadlineQueue!
    var idleQueue: DeadlineQueue!

    public init(address: SocketAddress, gate: AdminGate, limits: AdminLimits = AdminLimits(), handler: @escaping AdminHandler) {
        self.address = address
        self.gate = gate
        self.limits = limits
        self.handler = handler
    }

    public func start() throws(SocketError) {
        let fd: Int32
        switch Socket.listen(on: address, reusePort: false, backlog: 128) {
        case .success(let f): fd = f
        case .failure(let e): throw e
        }
        if let actual = SocketAddress.local(of: fd) { address = actual }
        headerQueue = loop.makeDeadlineQueue(milliseconds: max(1, limits.headerTimeoutMillis))
        idleQueue = loop.makeDeadlineQueue(milliseconds: max(1, limits.idleTimeoutMillis))
        let l = AdminListener(server: self)
        listener = l
        loop.register(l, fd: fd, events: EventMask.readable)
        loop.everySecond = { [loop] in l.tick(now: loop.now) }
        thread = NamedThread.start(name: "fulcrum-admin") { [loop] in loop.run() }
    }

    /// Runs `body` on the admin loop about every `milliseconds` (e.g. drain sweeps).
    public func every(milliseconds: UInt64, _ body: @escaping @Sendable () -> Void) {
        let timer = RepeatingTimer(body: body)
        loop.execute { [loop] in
            let queue = loop.makeDeadlineQueue(milliseconds: milliseconds)
            timer.queue = queue
            queue.arm(timer, now: loop.now)
        }
    }
}

final class RepeatingTimer: EventHandler, @unchecked Sendable {
    let body: @Sendable () -> Void
    var queue: DeadlineQueue?
    init(body: @escaping @Sendable () -> Void) { self.body = body }
    override func timerExpired(now: UInt64) {
        body()
        queue?.arm(self, now: now)
    }
}

/// Accepts admin connections; over the cap, answers 503 and closes; out of
/// file descriptors, stops listening for a second (as the proxy's Listener)
/// rather than spin on a listening socket that stays readable.
final class AdminListener: EventHandler {
    unowned let server: AdminServer
    var pausedUntil: UInt64 = 0
    init(server: AdminServer) { self.server = server }

    static let busy: StaticString = "HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json\r\nContent-Length: 74\r\nConnection: close\r\n\r\n{\"status\":\"fail\",\"data\":{\"title\":\"too many admin connections; try again\"}}"

    override func handleEvent(_ events: UInt32) {
        var peer = SocketAddress(storage: sockaddr_storage(), length: 0)
        for _ in 0..<16 {
            let fd = Socket.accept(self.fd, peer: &peer)
            if fd < 0 {
                if errno == EMFILE || errno == ENFILE {
                    Log.error("admin accept: out of file descriptors; pausing new admin connections for a second")
                    pausedUntil = server.loop.now &+ 1000
                    server.loop.setInterest(self, 0)
                }
                return
            }
            if server.openConnections >= server.limits.maxConnections {
                // Best effort: a fresh socket's send buffer takes this at once.
                _ = Glibc.write(fd, AdminListener.busy.utf8Start, AdminListener.busy.utf8CodeUnitCount)
                SocketIO.shutdownWrite(fd)
                Glibc.close(fd)
                continue
            }
            let c = AdminConnection(server: server)
            if server.loop.register(c, fd: fd, events: EventMask.readable) {
                server.openConnections += 1
                c.opened()
            } else {
                Glibc.close(fd)
            }
        }
    }

    /// Called every second: resume after an EMFILE pause.
    func tick(now: UInt64) {
        if pausedUntil != 0 && now >= pausedUntil {
            pausedUntil = 0
            server.loop.setInterest(self, EventMask.readable)
        }
    }
}
