import Foundation

/// A backend address whose connects hang, as a firewalled or dead host's do:
/// a listener with a backlog of 0 that never accepts. Once its accept queue
/// holds a connection, the kernel drops every further SYN, so a connect
/// stays in SYN-SENT until the caller gives up.
final class BlackholeBackend: @unchecked Sendable {
    let listenFD: Int32
    let port: UInt16
    var url: String { "http://127.0.0.1:\(port)" }
    private var fillers: [Int32] = []

    init() throws {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var addr = CuttableForwarder.loopback(0)
        var len = socklen_t(MemoryLayout<sockaddr_in>.size)
        let ok = withUnsafeMutablePointer(to: &addr) { p in
            p.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, len) == 0 && getsockname(fd, $0, &len) == 0 }
        }
        guard ok, Foundation.listen(fd, 0) == 0 else { close(fd); throw HarnessError.failed("blackhole: cannot listen") }
        listenFD = fd
        port = UInt16(bigEndian: addr.sin_port)
    }

    /// Fills the accept queue: connects until one does not complete within
    /// 300 ms (its SYN was dropped). A tcp probe may have filled it already.
    func fill() throws {
        for _ in 0..<8 {
            let s = socket(AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_NONBLOCK.rawValue), 0)
            fillers.append(s)
            var addr = CuttableForwarder.loopback(port)
            _ = withUnsafePointer(to: &addr) { p in
                p.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(s, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
            }
            var p = pollfd(fd: s, events: Int16(POLLOUT), revents: 0)
            if poll(&p, 1, 300) == 0 { return }
        }
        throw HarnessError.failed("blackhole: connects still complete after 8 tries")
    }

    func stop() {
        for s in fillers { close(s) }
        fillers.removeAll()
        close(listenFD)
    }
}

/// A TCP forwarder to `target` that can be told to stall: from then on it
/// accepts new connections and never reads nor answers them (a backend
/// that hangs in the TLS handshake). Connections forwarded before keep going.
final class StallingForwarder: @unchecked Sendable {
    let port: UInt16
    private let target: UInt16
    private let listener: Int32
    private let lock = NSLock()
    private var stalling = false
    private var held: [Int32] = []
    private var closed = false

    init(to target: UInt16) throws {
        self.target = target
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var addr = CuttableForwarder.loopback(0)
        var len = socklen_t(MemoryLayout<sockaddr_in>.size)
        let ok = withUnsafeMutablePointer(to: &addr) { p in
            p.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, len) == 0 && getsockname(fd, $0, &len) == 0 }
        }
        guard ok, Foundation.listen(fd, 64) == 0 else { close(fd); throw HarnessError.failed("forwarder: cannot listen") }
        listener = fd
        port = UInt16(bigEndian: addr.sin_port)
        Thread { [self] in acceptLoop() }.start()
    }

    /// New connections are held, never answered.
    func stall() { lock.withLock { stalling = true } }

    /// How many connections are held unanswered.
    var heldCount: Int { lock.withLock { held.count } }

    private func acceptLoop() {
        while true {
            let client = accept(listener, nil, nil)
            if client < 0 { if lock.withLock({ closed }) { return }; continue }
            let kept = lock.withLock { () -> Bool in
                guard stalling else { return false }
                held.append(client)
                return true
            }
            if kept { continue }
            let upstream = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
            var addr = CuttableForwarder.loopback(target)
            let rc = withUnsafePointer(to: &addr) { p in
                p.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(upstream, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
            }
            guard rc == 0 else { close(client); close(upstream); continue }
            Thread { Self.pump(client, upstream) }.start()
            Thread { Self.pump(upstream, client) }.start()
        }
    }

    private static func pump(_ from: Int32, _ to: Int32) {
        var buffer = [UInt8](repeating: 0, count: 65536)
        while true {
            let n = buffer.withUnsafeMutableBytes { recv(from, $0.baseAddress!, $0.count, 0) }
            if n <= 0 { break }
            var off = 0
            while off < n {
                let w = buffer.withUnsafeBytes { send(to, $0.baseAddress! + off, n - off, Int32(MSG_NOSIGNAL)) }
                if w <= 0 { shutdown(from, Int32(SHUT_RDWR)); return }
                off += w
            }
        }
        shutdown(to, Int32(SHUT_RDWR))
    }

    func stop() {
        let fds: [Int32] = lock.withLock {
            closed = true
            defer { held.removeAll() }
            return held
        }
        for fd in fds { close(fd) }
        shutdown(listener, Int32(SHUT_RDWR))
        close(listener)
    }
}
