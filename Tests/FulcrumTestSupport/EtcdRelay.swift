import Foundation

/// A fault-injecting TCP relay between fulcrum and etcd, on 127.0.0.1 with
/// real sockets. It forwards byte for byte, but a test can at any moment:
/// reset every connection (RST both ways), refuse new ones, stall (keep TCP
/// open and swallow bytes both ways: a half-dead peer), delay every chunk,
/// or answer requests itself (an HTTP 200 whose body is an etcd error
/// object, a 429 "database space exceeded" alarm...). It reads the HTTP/1.1
/// requests going to etcd (Content-Length bodies, which is what fulcrum and
/// etcdctl's gateway calls send), so faults can target one path, e.g. only
/// the watch stream. One thread per connection, polling both sockets.
public final class EtcdRelay: @unchecked Sendable {
    /// What a new connection gets.
    public enum Mode: Sendable { case pass, refuse, stall }

    /// A canned answer: status and JSON body.
    public struct Answer: Sendable {
        public let status: Int
        public let body: String
        public init(status: Int, body: String) { self.status = status; self.body = body }

        /// What etcd's gateway sends for a gRPC error (the shape of an error
        /// object: no header, no revision), here with HTTP 200 (a proxy or a
        /// gateway bug that loses the status).
        public static func errorObject(_ message: String, status: Int = 200, code: Int = 14) -> Answer {
            Answer(status: status, body: "{\"error\":\"\(message)\",\"code\":\(code),\"message\":\"\(message)\"}")
        }

        /// etcd's NOSPACE alarm as the gateway maps it (ResourceExhausted → 429).
        public static let spaceExceeded = errorObject("etcdserver: mvcc: database space exceeded", status: 429, code: 8)
    }

    public let port: UInt16
    private let target: UInt16
    private let listener: Int32
    private let lock = NSLock()
    private var mode = Mode.pass
    private var delaySeconds = 0.0
    private var rules: [(path: String, answer: @Sendable (String) -> Answer?)] = []
    private var connections: [Connection] = []
    private var closed = false
    /// Requests seen, by path (answered here or forwarded).
    private var seen: [String: Int] = [:]

    public init(to target: UInt16) throws {
        self.target = target
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var one: Int32 = 1
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, socklen_t(MemoryLayout<Int32>.size))
        var addr = Self.loopback(0)
        var len = socklen_t(MemoryLayout<sockaddr_in>.size)
        let ok = withUnsafeMutablePointer(to: &addr) { p in
            p.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, len) == 0 && getsockname(fd, $0, &len) == 0 }
        }
        guard ok, Foundation.listen(fd, 128) == 0 else {
            close(fd)
            throw NSError(domain: "EtcdRelay", code: 1, userInfo: [NSLocalizedDescriptionKey: "relay: cannot listen"])
        }
        listener = fd
        port = UInt16(bigEndian: addr.sin_port)
        Thread { [self] in acceptLoop() }.start()
    }

    public var endpoint: String { "127.0.0.1:\(port)" }

    static func loopback(_ port: UInt16) -> sockaddr_in {
        var a = sockaddr_in()
        a.sin_family = sa_family_t(AF_INET)
        a.sin_addr.s_addr = inet_addr("127.0.0.1")
        a.sin_port = port.bigEndian
        return a
    }

    // MARK: faults

    /// New connections: forwarded, refused (accepted and reset), or stalled.
    public func set(_ m: Mode) { lock.withLock { mode = m } }
    /// Forward again (new connections; stalled ones stay stalled until reset).
    public func pass() { set(.pass) }
    /// Resets every open connection (RST to both sides); new ones follow the mode.
    public func resetAll() { for c in lock.withLock({ connections }) { c.kill() } }
    /// Cuts every connection and refuses new ones until `pass()`.
    public func down() { set(.refuse); resetAll() }
    /// Stalls every open connection (TCP stays up, bytes are swallowed both ways)
    /// and, with `newOnes`, every new one too.
    public func stallAll(newOnes: Bool = true) {
        if newOnes { set(.stall) }
        for c in lock.withLock({ connections }) { c.stall() }
    }
    /// Stalls only the open connections that carry a watch (POST /v3/watch).
    public func stallWatches() { for c in lock.withLock({ connections }) where c.isWatch { c.stall() } }
    /// Delays every forwarded chunk by `seconds` (0: none).
    public func delay(_ seconds: Double) { lock.withLock { delaySeconds = seconds } }
    /// Answers requests to `path` here instead of forwarding them, while
    /// `answer` returns one (it gets the request body); nil forwards.
    public func rewrite(_ path: String, _ answer: @escaping @Sendable (String) -> Answer?) {
        lock.withLock { rules.append((path, answer)) }
    }
    public func clearRewrites() { lock.withLock { rules.removeAll() } }
    /// How many requests to `path` were seen.
    public func count(_ path: String) -> Int { lock.withLock { seen[path] ?? 0 } }
    public var openConnections: Int { lock.withLock { connections.count } }

    // MARK: plumbing

    fileprivate var currentDelay: Double { lock.withLock { delaySeconds } }

    fileprivate func answer(path: String, body: String) -> Answer? {
        let rs = lock.withLock { () -> [@Sendable (String) -> Answer?] in
            seen[path, default: 0] += 1
            return rules.filter { $0.path == path }.map(\.answer)
        }
        for r in rs { if let a = r(body) { return a } }
        return nil
    }

    fileprivate func finished(_ c: Connection) { lock.withLock { connections.removeAll { $0 === c } } }

    private func acceptLoop() {
        while true {
            let client = accept(listener, nil, nil)
            if client < 0 {
                if lock.withLock({ closed }) { return }
                usleep(1000)
                continue
            }
            let m = lock.withLock { mode }
            if m == .refuse { Connection.abort(client); continue }
            let upstream = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
            var addr = Self.loopback(target)
            let rc = withUnsafePointer(to: &addr) { p in
                p.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(upstream, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
            }
            guard rc == 0 else { Connection.abort(client); close(upstream); continue }
            let c = Connection(relay: self, client: client, upstream: upstream, stalled: m == .stall)
            lock.withLock { connections.append(c) }
            Thread { c.run() }.start()
        }
    }

    deinit {
        lock.withLock { closed = true }
        resetAll()
        shutdown(listener, Int32(SHUT_RDWR))
        close(listener)
    }
}

/// One relayed connection, driven by its own thread.
private final class Connection: @unchecked Sendable {
    weak var relay: EtcdRelay?
    let client: Int32
    let upstream: Int32
    private let lock = NSLock()
    private var killed = false
    private var stalled: Bool
    private(set) var isWatchFlag = false
    /// Request bytes not yet parsed into a whole request.
    private var request: [UInt8] = []
    /// Once a watch was forwarded, requests are not parsed any more.
    private var raw = false
    /// Chunks waiting for their delay: (due time, to client?, bytes).
    private var delayed: [(Date, Bool, [UInt8])] = []

    init(relay: EtcdRelay, client: Int32, upstream: Int32, stalled: Bool) {
        self.relay = relay
        self.client = client
        self.upstream = upstream
        self.stalled = stalled
    }

    var isWatch: Bool { lock.withLock { isWatchFlag } }
    func kill() { lock.withLock { killed = true } }
    func stall() { lock.withLock { stalled = true } }

    /// Closes with SO_LINGER 0: the peer gets a RST, not a FIN.
    static func abort(_ fd: Int32) {
        var l = linger(l_onoff: 1, l_linger: 0)
        setsockopt(fd, SOL_SOCKET, SO_LINGER, &l, socklen_t(MemoryLayout<linger>.size))
        close(fd)
    }

    func run() {
        defer {
            Self.abort(client)
            Self.abort(upstream)
            relay?.finished(self)
        }
        var buffer = [UInt8](repeating: 0, count: 65536)
        while true {
            let (dead, isStalled) = lock.withLock { (killed, stalled) }
            if dead { return }
            if !flushDue() { return }
            var fds = [pollfd(fd: client, events: Int16(POLLIN), revents: 0), pollfd(fd: upstream, events: Int16(POLLIN), revents: 0)]
            let rc = poll(&fds, 2, 50)
            if rc <= 0 { continue }
            for (i, fd) in [client, upstream].enumerated() where fds[i].revents != 0 {
                let n = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress!, $0.count, 0) }
                if n <= 0 { return }
                if isStalled { continue }  // swallowed
                let bytes = Array(buffer[0..<n])
                if i == 0 { if !fromClient(bytes) { return } } else { if !forward(bytes, toClient: true) { return } }
            }
        }
    }

    /// Parses whole requests; answers matched ones here, forwards the rest.
    private func fromClient(_ bytes: [UInt8]) -> Bool {
        if raw { return forward(bytes, toClient: false) }
        request += bytes
        while let headEnd = find(request, [13, 10, 13, 10]) {
            let head = String(decoding: request[0..<headEnd], as: UTF8.self)
            let lines = head.split(separator: "\r\n")
            let path = lines.first?.split(separator: " ").dropFirst().first.map(String.init) ?? ""
            var length = 0
            for l in lines.dropFirst() {
                let parts = l.split(separator: ":", maxSplits: 1)
                if parts.count == 2, parts[0].lowercased() == "content-length" {
                    length = Int(parts[1].trimmingCharacters(in: .whitespaces)) ?? 0
                }
            }
            let total = headEnd + 4 + length
            guard request.count >= total else { return true }
            let whole = Array(request[0..<total])
            let body = String(decoding: request[(headEnd + 4)..<total], as: UTF8.self)
            request.removeFirst(total)
            if let a = relay?.answer(path: path, body: body) {
                let reason = a.status == 200 ? "OK" : "Error"
                let text = "HTTP/1.1 \(a.status) \(reason)\r\nContent-Type: application/json\r\nContent-Length: \(a.body.utf8.count)\r\n\r\n\(a.body)"
                if !forward(Array(text.utf8), toClient: true) { return false }
                continue
            }
            if path == "/v3/watch" {
                lock.withLock { isWatchFlag = true }
                raw = true
                let rest = request
                request = []
                return forward(whole, toClient: false) && (rest.isEmpty || forward(rest, toClient: false))
            }
            if !forward(whole, toClient: false) { return false }
        }
        return true
    }

    private func forward(_ bytes: [UInt8], toClient: Bool) -> Bool {
        let d = relay?.currentDelay ?? 0
        if d > 0 || !delayed.isEmpty {
            delayed.append((Date().addingTimeInterval(d), toClient, bytes))
            return true
        }
        return send(bytes, to: toClient ? client : upstream)
    }

    private func flushDue() -> Bool {
        let now = Date()
        while let first = delayed.first, first.0 <= now {
            delayed.removeFirst()
            if lock.withLock({ stalled }) { continue }
            if !send(first.2, to: first.1 ? client : upstream) { return false }
        }
        return true
    }

    private func send(_ bytes: [UInt8], to fd: Int32) -> Bool {
        var off = 0
        while off < bytes.count {
            let w = bytes.withUnsafeBytes { Foundation.send(fd, $0.baseAddress! + off, bytes.count - off, Int32(MSG_NOSIGNAL)) }
            if w <= 0 { return false }
            off += w
        }
        return true
    }

    private func find(_ hay: [UInt8], _ needle: [UInt8]) -> Int? {
        guard hay.count >= needle.count else { return nil }
        for i in 0...(hay.count - needle.count) where hay[i] == needle[0] && Array(hay[i..<i + needle.count]) == needle { return i }
        return nil
    }
}
