import Foundation

/// Keep-alive clients in a bounded loop of GETs through the proxy, counting
/// every answer that is not a 200 and every connection that broke without
/// one (reset, EOF, timeout). A response carrying `Connection: close` is
/// followed by a new connection, which is not an error.
final class KeepAliveLoad: @unchecked Sendable {
    struct Tally {
        var ok = 0
        var statuses: [Int: Int] = [:]
        var broken: [String] = []
        var errors: Int { statuses.values.reduce(0, +) + broken.count }
    }

    private let lock = NSLock()
    private var tally = Tally()
    private var stopFlag = false
    private let group = DispatchGroup()

    /// Starts `clients` threads against `port`, each stopping after
    /// `maxRequests` requests or `seconds`, whichever comes first.
    init(port: UInt16, clients: Int, path: String = "/", maxRequests: Int = 20_000, seconds: Double = 10) {
        let deadline = Date().addingTimeInterval(seconds)
        for _ in 0..<clients {
            group.enter()
            Thread { [self] in
                defer { group.leave() }
                var conn: TestHTTPConnection?
                var n = 0
                while n < maxRequests && Date() < deadline && !lock.withLock({ stopFlag }) {
                    n += 1
                    do {
                        if conn == nil { conn = try TestHTTPConnection(port: port, timeout: 10) }
                        let r = try conn!.request("GET", path)
                        lock.withLock {
                            if r.status == 200 { tally.ok += 1 } else { tally.statuses[r.status, default: 0] += 1 }
                        }
                        if r.header("Connection")?.lowercased() == "close" { conn?.close(); conn = nil }
                    } catch {
                        lock.withLock { tally.broken.append("\(error)") }
                        conn?.close()
                        conn = nil
                    }
                }
                conn?.close()
            }.start()
        }
    }

    var okCount: Int { lock.withLock { tally.ok } }

    /// Waits for every client to reach its limit (bounded).
    func waitUntilDone() -> Tally {
        _ = group.wait(timeout: .now() + 60)
        return lock.withLock { tally }
    }

    /// Stops every client and waits for them (bounded).
    func finish() -> Tally {
        lock.withLock { stopFlag = true }
        _ = group.wait(timeout: .now() + 30)
        return lock.withLock { tally }
    }
}

/// An in-process keep-alive backend (a thread per connection) that can be
/// closed gracefully, as nginx on SIGQUIT: stop listening, close the idle
/// keep-alive connections, finish a response being written, then close.
/// A request that arrives on a connection at the moment it is closed is
/// not answered (what a proxy reusing a pooled connection meets).
final class GracefulBackend: @unchecked Sendable {
    let name: String
    let port: UInt16
    var url: String { "http://127.0.0.1:\(port)" }
    private let listener: Int32
    private let lock = NSLock()
    private var idle: Set<Int32> = []
    private var closing = false

    init(name: String) throws {
        self.name = name
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var one: Int32 = 1
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, socklen_t(MemoryLayout<Int32>.size))
        var addr = CuttableForwarder.loopback(0)
        var len = socklen_t(MemoryLayout<sockaddr_in>.size)
        let ok = withUnsafeMutablePointer(to: &addr) { p in
            p.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, len) == 0 && getsockname(fd, $0, &len) == 0 }
        }
        guard ok, Foundation.listen(fd, 256) == 0 else { close(fd); throw HarnessError.failed("graceful backend: cannot listen") }
        listener = fd
        port = UInt16(bigEndian: addr.sin_port)
        Thread { [self] in acceptLoop() }.start()
    }

    private func acceptLoop() {
        while true {
            let fd = accept(listener, nil, nil)
            if fd < 0 { if lock.withLock({ closing }) { return }; continue }
            lock.withLock { idle.insert(fd) }
            Thread { [self] in serve(ScriptedConnection(fd: fd)) }.start()
        }
    }

    private func serve(_ c: ScriptedConnection) {
        defer {
            lock.withLock { _ = idle.remove(c.fd) }
            c.close()
        }
        while let head = c.readHead() {
            let answer = lock.withLock { () -> Bool in
                guard !closing else { return false }
                idle.remove(c.fd)
                return true
            }
            guard answer else { return }
            let keep = !head.lowercased().contains("connection: close")
            c.send("HTTP/1.1 200 OK\r\nX-Backend: \(name)\r\nContent-Length: 2\r\n\(keep ? "" : "Connection: close\r\n")\r\nok")
            let stay = lock.withLock { () -> Bool in
                guard keep, !closing else { return false }
                idle.insert(c.fd)
                return true
            }
            guard stay else { return }
        }
    }

    /// Stops listening (new connects are refused) and closes idle connections with a FIN.
    func closeGracefully() {
        // Under the lock: a connection leaves `idle` before its descriptor is closed.
        lock.withLock {
            closing = true
            shutdown(listener, Int32(SHUT_RDWR))
            for fd in idle { shutdown(fd, Int32(SHUT_RDWR)) }
        }
        close(listener)
    }
}
