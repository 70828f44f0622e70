import Foundation

/// A TCP forwarder between fulcrum and etcd that a test can cut: `down()`
/// closes every forwarded connection and refuses new ones (accepts and
/// closes at once), `up()` forwards again. It forces the watch to drop
/// while etcd itself keeps running and takes changes.
final class CuttableForwarder: @unchecked Sendable {
    let port: UInt16
    private let target: UInt16
    private let listener: Int32
    private let lock = NSLock()
    private var open: [Int32] = []
    private var isUp = true
    private var closed = false

    init(to target: UInt16) throws {
        self.target = target
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var one: Int32 = 1
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, socklen_t(MemoryLayout<Int32>.size))
        var addr = Self.loopback(0)
        var len = socklen_t(MemoryLayout<sockaddr_in>.size)
        let ok = withUnsafeMutablePointer(to: &addr) { p in
            p.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, len) == 0 && getsockname(fd, $0, &len) == 0 }
        }
        guard ok, Foundation.listen(fd, 64) == 0 else { close(fd); throw HarnessError.failed("forwarder: cannot listen") }
        listener = fd
        port = UInt16(bigEndian: addr.sin_port)
        Thread { [self] in acceptLoop() }.start()
    }

    static func loopback(_ port: UInt16) -> sockaddr_in {
        var a = sockaddr_in()
        a.sin_family = sa_family_t(AF_INET)
        a.sin_addr.s_addr = inet_addr("127.0.0.1")
        a.sin_port = port.bigEndian
        return a
    }

    private func acceptLoop() {
        while true {
            let client = accept(listener, nil, nil)
            if client < 0 { if lock.withLock({ closed }) { return }; continue }
            guard lock.withLock({ isUp }) else { close(client); continue }
            let upstream = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
            var addr = Self.loopback(target)
            let rc = withUnsafePointer(to: &addr) { p in
                p.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(upstream, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
            }
            guard rc == 0 else { close(client); close(upstream); continue }
            lock.withLock { open += [client, upstream] }
            Thread { [self] in pump(client, upstream) }.start()
            Thread { [self] in pump(upstream, client) }.start()
        }
    }

    private func pump(_ from: Int32, _ to: Int32) {
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

    /// Cuts every connection (the peers see a reset/EOF) and refuses new ones.
    func down() {
        let fds: [Int32] = lock.withLock {
            isUp = false
            defer { open.removeAll() }
            return open
        }
        for fd in fds { shutdown(fd, Int32(SHUT_RDWR)) }
        // The pump threads are done with them once shut down; closing is left to process exit.
    }

    func up() { lock.withLock { isUp = true } }

    deinit {
        lock.withLock { closed = true }
        down()
        shutdown(listener, Int32(SHUT_RDWR))
        close(listener)
    }
}
