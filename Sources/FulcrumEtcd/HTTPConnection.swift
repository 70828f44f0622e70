import CFulcrumShim
import FulcrumCore
import FulcrumEventLoop
import FulcrumHTTP
import Glibc

/// One HTTP/1.1 connection to an etcd endpoint, blocking from the caller's
/// view (the control plane runs etcd calls on their own threads) but built
/// on a non-blocking socket and poll(2), so that connect, every write and
/// every read stop at the call's deadline. Responses go through the
/// project's own codec: HeadScanner finds the head, HeadParser checks it,
/// BodyTracker frames (and de-chunks) the body. Used by one thread at a
/// time (a call owns it; the pool hands it over), hence @unchecked Sendable.
final class HTTPConnection: @unchecked Sendable {
    let fd: Int32
    let endpoint: EtcdURL.Endpoint
    /// Bytes read but not consumed yet (at most one response's worth).
    private var pending: [UInt8] = []
    private let head = ParsedHead()

    private init(fd: Int32, endpoint: EtcdURL.Endpoint) {
        self.fd = fd
        self.endpoint = endpoint
    }

    deinit { Glibc.close(fd) }

    /// Connects within `connectTimeout` seconds (and the deadline).
    static func open(_ endpoint: EtcdURL.Endpoint, connectTimeout: Double, deadline: Deadline) throws(EtcdError) -> HTTPConnection {
        let address: SocketAddress
        switch SocketAddress.resolve(host: endpoint.host, port: endpoint.port) {
        case .success(let a): address = a
        case .failure(let e): throw EtcdError(.unavailable, "etcd \(endpoint): \(e)")
        }
        let fd: Int32
        let connected: Bool
        switch Socket.connect(to: address) {
        case .success(let r): (fd, connected) = r
        case .failure(let e): throw EtcdError(.unavailable, "etcd \(endpoint): \(e)")
        }
        let connection = HTTPConnection(fd: fd, endpoint: endpoint)
        if !connected {
            try connection.wait(POLLOUT, deadline.capped(seconds: connectTimeout), doing: "connect")
            let err = Socket.pendingError(fd)
            guard err == 0 else { throw EtcdError(.unavailable, "etcd \(endpoint): connect: \(String(cString: strerror(err)))") }
        }
        return connection
    }

    /// Turns on TCP keep-alive probes (idle 5 s, every 2 s, 3 misses), so a
    /// long-lived watch on a peer that vanished without a FIN or RST (host
    /// gone, network cut) fails in about 11 s instead of hanging for hours:
    /// the silently dead watch of traefik#566.
    func enableKeepAlive() {
        let tcp = Int32(FULCRUM_IPPROTO_TCP)
        _ = fulcrum_set_int_option(fd, Int32(FULCRUM_SOL_SOCKET), 9 /* SO_KEEPALIVE */, 1)
        _ = fulcrum_set_int_option(fd, tcp, 4 /* TCP_KEEPIDLE */, 5)
        _ = fulcrum_set_int_option(fd, tcp, 5 /* TCP_KEEPINTVL */, 2)
        _ = fulcrum_set_int_option(fd, tcp, 6 /* TCP_KEEPCNT */, 3)
    }

    private func wait(_ events: Int32, _ deadline: Deadline, doing what: String) throws(EtcdError) {
        while true {
            let ms = deadline.remainingMillis
            if ms == 0 { throw EtcdError(.unavailable, "etcd \(endpoint): \(what) timed out") }
            var p = pollfd(fd: fd, events: Int16(events), revents: 0)
            let rc = poll(&p, 1, ms)
            if rc > 0 { return }
            if rc < 0 && errno != EINTR { throw EtcdError(.unavailable, "etcd \(endpoint): poll: \(String(cString: strerror(errno)))") }
        }
    }

    /// Sends a whole request: POST `path` with a JSON body.
    func send(path: String, body: String, deadline: Deadline) throws(EtcdError) {
        var bytes = Array("POST \(path) HTTP/1.1\r\nHost: \(endpoint)\r\nContent-Type: application/json\r\nContent-Length: \(body.utf8.count)\r\n\r\n".utf8)
        bytes += body.utf8
        var offset = 0
        while offset < bytes.count {
            let n = bytes.withUnsafeBytes { Glibc.send(fd, $0.baseAddress! + offset, $0.count - offset, Int32(MSG_NOSIGNAL)) }
            if n > 0 { offset += n; continue }
            if n < 0 && (errno == EAGAIN || errno == EINTR) { try wait(POLLOUT, deadline, doing: "send"); continue }
            throw EtcdError(.unavailable, "etcd \(endpoint): send: \(String(cString: strerror(errno)))")
        }
    }

    /// Reads more bytes into `pending`: true when some came, false at end
    /// of stream, nil when `deadline` passed first (with `idleOK`; else that throws).
    private func fill(_ deadline: Deadline, idleOK: Bool = false) throws(EtcdError) -> Bool? {
        var chunk = [UInt8](repeating: 0, count: 65536)
        while true {
            let n = chunk.withUnsafeMutableBytes { Glibc.recv(fd, $0.baseAddress!, $0.count, 0) }
            if n > 0 { pending += chunk[0..<n]; return true }
            if n == 0 { return false }
            guard errno == EAGAIN || errno == EINTR else {
                throw EtcdError(.unavailable, "etcd \(endpoint): read: \(String(cString: strerror(errno)))")
            }
            if idleOK && deadline.passed { return nil }
            if idleOK {
                var p = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
                let rc = poll(&p, 1, deadline.remainingMillis)
                if rc < 0 && errno != EINTR { throw EtcdError(.unavailable, "etcd \(endpoint): poll: \(String(cString: strerror(errno)))") }
                if rc == 0 { return nil }
            } else {
                try wait(POLLIN, deadline, doing: "read")
            }
        }
    }

    /// Reads a response head; the tracker then frames its body.
    func readHead(deadline: Deadline) throws(EtcdError) -> (status: Int, body: BodyTracker, reusable: Bool) {
        var scanner = HeadScanner()
        var headLength: Int?
        while true {
            headLength = pending.withUnsafeBytes { scanner.scan($0) }
            if headLength != nil { break }
            if pending.count > HTTPLimits.maxHead { throw EtcdError(.protocolError, "etcd \(endpoint): response head too large") }
            guard try fill(deadline) == true else { throw EtcdError(.unavailable, "etcd \(endpoint): connection closed before a response") }
        }
        let length = headLength!
        let problem = pending.withUnsafeBytes { HeadParser.parseResponse(UnsafeRawBufferPointer(rebasing: $0[0..<length]), into: head) }
        if let problem { throw EtcdError(.protocolError, "etcd \(endpoint): \(problem.reason)") }
        let tracker = BodyTracker(HeadParser.responseFraming(head, requestMethod: .post))
        pending.removeFirst(length)
        return (head.status, tracker, head.wantsKeepAlive && !tracker.endsAtClose)
    }

    enum BodyStep { case complete, progress, idle }

    /// Frames what is buffered, else waits (until `deadline`) for one read.
    /// Payload bytes (chunk framing removed) go to `onData`.
    func bodyStep(_ tracker: inout BodyTracker, until deadline: Deadline, idleOK: Bool,
                  onData: ([UInt8]) throws(EtcdError) -> Void) throws(EtcdError) -> BodyStep {
        if tracker.isComplete { return .complete }
        if pending.isEmpty {
            switch try fill(deadline, idleOK: idleOK) {
            case nil: return .idle
            case false?:
                if tracker.endsAtClose { return .complete }
                throw EtcdError(.unavailable, "etcd \(endpoint): connection closed mid-response")
            case true?: break
            }
        }
        var payload: [UInt8] = []
        let progress = pending.withUnsafeBytes { raw in
            tracker.consume(raw) { offset, count in payload += raw[offset..<offset + count] }
        }
        switch progress {
        case .more: pending.removeAll(keepingCapacity: true)
        case .complete(let used): pending.removeFirst(used)
        case .invalid(let why): throw EtcdError(.protocolError, "etcd \(endpoint): bad response body: \(why)")
        }
        if !payload.isEmpty { try onData(payload) }
        if case .complete = progress { return .complete }
        return .progress
    }

    /// Reads one whole response (small ones: the unary calls).
    func readResponse(deadline: Deadline) throws(EtcdError) -> (status: Int, body: [UInt8], reusable: Bool) {
        var (status, tracker, reusable) = try readHead(deadline: deadline)
        var body: [UInt8] = []
        while try bodyStep(&tracker, until: deadline, idleOK: false, onData: { body += $0 }) != .complete {
            if body.count > 64 * 1024 * 1024 { throw EtcdError(.protocolError, "etcd \(endpoint): response larger than 64 MiB") }
        }
        if tracker.endsAtClose { reusable = false }
        return (status, body, reusable)
    }
}
