import FulcrumCore
import Glibc

/// A small HTTP/1.1 backend for demos and tests: every response names the
/// server ("Hello from backend-1 at 127.0.0.1:9001"). Deliberately simple and
/// independent of the proxy's own event loop and codec (a thread per
/// connection, blocking I/O), so a proxy bug cannot hide behind shared code.
///
/// Paths:
///   /echo           the request body back (Content-Length)
///   /bytes/N        N bytes of a fixed pattern; ?chunked=1 sends them chunked
///   /eof/N          N bytes delimited by closing the connection
///   /delay/MS       waits MS milliseconds, then answers
///   /status/N       answers with status N
///   /headers        the request head as received
///   /close          answers with Connection: close and closes
///   /hop            a response carrying hop-by-hop headers (the proxy must drop them)
///   /ws             with Upgrade: 101, then echoes raw bytes both ways
///   CONNECT x       200, then echoes raw bytes both ways
///   anything else   the hello line
public final class DemoBackend: @unchecked Sendable {
    public enum Mode: String, Sendable {
        case normal
        /// Accepts connections and never answers (a hung backend).
        case hang
        /// Answers the first request of each connection as keep-alive, then
        /// closes the connection when a second request arrives: what a server
        /// that timed out an idle keep-alive connection looks like to a proxy
        /// reusing it.
        case oneshot
    }

    public let name: String
    public let mode: Mode
    public private(set) var address: SocketAddress
    private let listenFD: Int32
    private var running = true

    public init(name: String, listen: SocketAddress, mode: Mode = .normal) throws(SocketFailure) {
        self.name = name
        self.mode = mode
        let fd = socket(Int32(listen.family), Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw SocketFailure("socket: \(String(cString: strerror(errno)))") }
        var one: Int32 = 1
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, socklen_t(MemoryLayout<Int32>.size))
        var a = listen
        let rc = withUnsafePointer(to: &a.storage) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, listen.length) } }
        guard rc == 0, Glibc.listen(fd, 1024) == 0 else {
            let e = errno
            Glibc.close(fd)
            throw SocketFailure("cannot listen on \(listen): \(String(cString: strerror(e)))")
        }
        listenFD = fd
        address = SocketAddress.local(of: fd) ?? listen
    }

    /// Serves on background threads.
    public func start() {
        NamedThread.start(name: "demo-\(name)") { [self] in acceptLoop() }
    }

    /// Stops accepting (open connections finish on their own).
    public func stop() {
        running = false
        shutdown(listenFD, Int32(SHUT_RDWR))
    }

    private func acceptLoop() {
        while running {
            let c = accept(listenFD, nil, nil)
            if c < 0 {
                if errno == EINTR { continue }
                return
            }
            var one: Int32 = 1
            setsockopt(c, Int32(IPPROTO_TCP), TCP_NODELAY, &one, socklen_t(MemoryLayout<Int32>.size))
            if mode == .hang { continue }  // leak it on purpose: never answered
            NamedThread.start(name: "demo-conn", stackSize: 256 * 1024) { [self] in serve(c) }
        }
    }

    // MARK: one connection

    private func serve(_ fd: Int32) {
        defer { close(fd) }
        let conn = BlockingConnection(fd: fd)
        var served = 0
        while let request = conn.readRequest() {
            if mode == .oneshot && served == 1 { return }
            if !respond(request, conn) { return }
            served += 1
            if !request.keepAlive { return }
        }
    }

    /// Answers one request; false when the connection must end.
    private func respond(_ r: BlockingConnection.Request, _ conn: BlockingConnection) -> Bool {
        let path = r.path.split(separator: "?", maxSplits: 1).first.map(String.init) ?? r.path
        let query = r.path.contains("?") ? String(r.path.split(separator: "?", maxSplits: 1)[1]) : ""
        let parts = path.split(separator: "/").map(String.init)
        let hello = Array("Hello from \(name) at \(address)\n".utf8)
        let head = r.method == "HEAD"
        func send(_ status: Int, _ body: [UInt8], extra: String = "", close: Bool = false) -> Bool {
            var h = "HTTP/1.1 \(status) \(reason(status))\r\nX-Backend: \(name)\r\nContent-Type: text/plain\r\n"
            if status != 204 && status != 304 && !(100..<200).contains(status) { h += "Content-Length: \(body.count)\r\n" }
            h += extra
            if close || !r.keepAlive { h += "Connection: close\r\n" }
            h += "\r\n"
            var out = Array(h.utf8)
            if !head && status != 204 && status != 304 { out += body }
            return conn.write(out) && !close
        }
        if r.method == "CONNECT" {
            guard conn.write(Array("HTTP/1.1 200 Connection Established\r\nX-Backend: \(name)\r\n\r\n".utf8)) else { return false }
            conn.echoUntilClosed()
            return false
        }
        switch parts.first ?? "" {
        case "echo":
            return send(200, r.body)
        case "bytes":
            let n = Int(parts.count > 1 ? parts[1] : "0") ?? 0
            if query.contains("chunked=1") {
                var h = Array("HTTP/1.1 200 OK\r\nX-Backend: \(name)\r\nTransfer-Encoding: chunked\r\n\r\n".utf8)
                if head { return conn.write(h) }
                var sent = 0
                while sent < n {
                    let size = min(32 * 1024, n - sent)
                    h += Array(String(size, radix: 16).utf8) + [13, 10] + pattern(from: sent, count: size) + [13, 10]
                    sent += size
                    if h.count > 256 * 1024 { guard conn.write(h) else { return false }; h.removeAll(keepingCapacity: true) }
                }
                h += Array("0\r\nX-Checksum: done\r\n\r\n".utf8)
                return conn.write(h)
            }
            var h = Array("HTTP/1.1 200 OK\r\nX-Backend: \(name)\r\nContent-Length: \(n)\r\n\r\n".utf8)
            if head { return conn.write(h) }
            var sent = 0
            while sent < n {
                let size = min(256 * 1024, n - sent)
                h += pattern(from: sent, count: size)
                sent += size
                guard conn.write(h) else { return false }
                h.removeAll(keepingCapacity: true)
            }
            return conn.write(h)
        case "eof":
            let n = Int(parts.count > 1 ? parts[1] : "0") ?? 0
            _ = conn.write(Array("HTTP/1.1 200 OK\r\nX-Backend: \(name)\r\n\r\n".utf8) + pattern(from: 0, count: n))
            return false
        case "delay":
            let ms = Int(parts.count > 1 ? parts[1] : "0") ?? 0
            usleep(UInt32(max(0, min(ms, 600_000))) * 1000)
            return send(200, hello)
        case "status":
            let code = Int(parts.count > 1 ? parts[1] : "200") ?? 200
            return send(code, code == 204 || code == 304 ? [] : hello)
        case "headers":
            return send(200, Array(r.head.utf8))
        case "close":
            return send(200, hello, close: true)
        case "hop":
            return send(200, hello, extra: "Connection: X-Secret\r\nX-Secret: 1\r\nKeep-Alive: timeout=5\r\n"
                        + "Proxy-Connection: keep-alive\r\nTrailer: X-Sum\r\nUpgrade: h2c\r\nTE: trailers\r\nX-Normal: yes\r\n")
        case "ws":
            guard r.headers["upgrade"] != nil else { return send(400, Array("upgrade required\n".utf8)) }
            guard conn.write(Array("HTTP/1.1 101 Switching Protocols\r\nUpgrade: \(r.headers["upgrade"]!)\r\nConnection: Upgrade\r\nX-Backend: \(name)\r\n\r\n".utf8)) else { return false }
            conn.echoUntilClosed()
            return false
        default:
            return send(200, hello)
        }
    }

    private func reason(_ status: Int) -> String {
        switch status {
        case 200: return "OK"
        case 204: return "No Content"
        case 304: return "Not Modified"
        case 404: return "Not Found"
        case 500: return "Internal Server Error"
        case 503: return "Service Unavailable"
        default: return "Status"
        }
    }

    /// Deterministic bytes: position i holds (i * 7 + i / 251) mod 256, so
    /// tests can check any slice.
    private func pattern(from start: Int, count: Int) -> [UInt8] {
        (start..<(start + count)).map { UInt8(truncatingIfNeeded: $0 &* 7 &+ $0 / 251) }
    }
}

public struct SocketFailure: Error, CustomStringConvertible, Sendable {
    public let description: String
    public init(_ description: String) { self.description = description }
}
