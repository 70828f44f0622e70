import FulcrumCore
import FulcrumPluginHost

/// What the data plane needs to know, fixed at start.
public struct ProxyConfig: Sendable {
    public var listen: SocketAddress
    /// Also serve HTTPS here (the certificates are installed in `TLS` first).
    public var tlsListen: SocketAddress?
    public var workers: Int
    /// Client must send its request head within (ms) — 408 otherwise.
    public var headerTimeout: UInt64 = 10_000
    /// Idle keep-alive client connections are closed after (ms).
    public var idleTimeout: UInt64 = 60_000
    /// Backend connect limit (ms).
    public var connectTimeout: UInt64 = 3_000
    /// Backend response-head limit (ms) — 504.
    public var responseTimeout: UInt64 = 60_000
    /// Inactivity limit while a body streams either way (ms): no byte
    /// moved for this long cuts the exchange. nginx's proxy_read_timeout
    /// and HAProxy's `timeout server` are the same kind of limit (60 s).
    public var bodyTimeout: UInt64 = 60_000
    /// Pooled idle backend connections are closed after (ms): shorter than
    /// common server keep-alive timeouts (nginx 75 s, Apache and Node 5 s), so
    /// the backend rarely closes a connection just as it is reused.
    public var poolIdleTimeout: UInt64 = 4_000
    /// Idle connections kept per backend per worker.
    public var maxIdlePerBackend = 256
    /// Per-connection buffer: a full 64 KiB request head plus room for the
    /// headers the proxy adds.
    public var bufferSize = 68 * 1024

    public init(listen: SocketAddress, workers: Int) {
        self.listen = listen
        self.workers = workers
    }
}

/// The strategy every worker should be running; replaced as a whole by
/// `PUT /strategy` and picked up by each worker before its next pick.
public final class StrategySelection: Sendable {
    public let descriptor: StrategyDescriptor
    public let config: String

    public init(descriptor: StrategyDescriptor, config: String = "{}") {
        self.descriptor = descriptor
        self.config = config
    }
}
