import Foundation
import XCTest

/// One accepted connection of a `ScriptedBackend`: blocking reads with a
/// timeout, every byte received kept for the test to inspect.
final class ScriptedConnection: @unchecked Sendable {
    let fd: Int32
    private(set) var received: [UInt8] = []
    private var consumed = 0

    init(fd: Int32) {
        self.fd = fd
        var tv = timeval(tv_sec: 10, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
        setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
    }

    /// Reads more; false at EOF, error or timeout.
    @discardableResult
    func fill() -> Bool {
        var chunk = [UInt8](repeating: 0, count: 64 * 1024)
        let n = chunk.withUnsafeMutableBytes { recv(fd, $0.baseAddress!, $0.count, 0) }
        guard n > 0 else { return false }
        received += chunk[0..<n]
        return true
    }

    /// The next request head (up to and including the empty line), or nil at EOF.
    func readHead() -> String? {
        let crlf2: [UInt8] = [13, 10, 13, 10]
        while true {
            if received.count - consumed >= 4 {
                for i in consumed...(received.count - 4) where Array(received[i..<(i + 4)]) == crlf2 {
                    let head = String(decoding: received[consumed..<(i + 4)], as: UTF8.self)
                    consumed = i + 4
                    return head
                }
            }
            guard fill() else { return nil }
        }
    }

    /// Exactly `n` more bytes (fewer at EOF).
    func read(_ n: Int) -> [UInt8] {
        while received.count - consumed < n { guard fill() else { break } }
        let end = min(received.count, consumed + n)
        defer { consumed = end }
        return Array(received[consumed..<end])
    }

    /// Everything until the peer closes or `seconds` pass without a byte.
    func readUntilQuiet(_ seconds: Int = 1) -> [UInt8] {
        var tv = timeval(tv_sec: seconds, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
        while fill() {}
        defer { consumed = received.count }
        return Array(received[consumed...])
    }

    func send(_ text: String) { send(Array(text.utf8)) }

    func send(_ bytes: [UInt8]) {
        var sent = 0
        while sent < bytes.count {
            let n = bytes.withUnsafeBytes { Glibc.send(fd, $0.baseAddress! + sent, $0.count - sent, Int32(MSG_NOSIGNAL)) }
            if n <= 0 { return }
            sent += n
        }
    }

    /// Closes with an RST (SO_LINGER 0).
    func reset() {
        guard !closed else { return }
        closed = true
        var l = linger(l_onoff: 1, l_linger: 0)
        setsockopt(fd, SOL_SOCKET, SO_LINGER, &l, socklen_t(MemoryLayout<linger>.size))
        Glibc.close(fd)
    }

    private var closed = false

    func close() {
        guard !closed else { return }
        closed = true
        Glibc.close(fd)
    }
}

/// A backend on 127.0.0.1 whose behaviour each test writes: health probes
/// (`GET /health`) are answered 200; every other request on a connection is
/// handed to `script` with the head already read. Counts the requests it sees.
final class ScriptedBackend: @unchecked Sendable {
    let listenFD: Int32
    let port: UInt16
    var url: String { "http://127.0.0.1:\(port)" }
    private let lock = NSLock()
    private var heads: [String] = []
    private var stopped = false
    let script: @Sendable (ScriptedConnection, String) -> Void

    /// Proxy arguments that make probes use `/health`.
    static let probeArguments = ["-health-path", "/health", "-t", "60"]

    /// A backend that answers every request `200 ok` and closes (the heads it saw are recorded).
    static func answeringOK() throws -> ScriptedBackend {
        try ScriptedBackend { c, _ in
            c.send("HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok")
            c.close()
        }
    }

    /// A fulcrum in front of `self` alone, probing `/health`.
    func proxy(_ extra: [String] = []) throws -> FulcrumServer {
        try FulcrumServer(["-backend", url] + ScriptedBackend.probeArguments + extra)
    }

    init(_ script: @escaping @Sendable (ScriptedConnection, _ head: String) -> Void) throws {
        self.script = script
        let listenFD = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        self.listenFD = listenFD
        var one: Int32 = 1
        setsockopt(listenFD, SOL_SOCKET, SO_REUSEADDR, &one, socklen_t(MemoryLayout<Int32>.size))
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_addr.s_addr = UInt32(0x7F00_0001).bigEndian
        let rc = withUnsafePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(listenFD, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) } }
        guard rc == 0, listen(listenFD, 128) == 0 else { throw HarnessError.failed("scripted backend: bind/listen failed") }
        var len = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(listenFD, $0, &len) } }
        port = UInt16(bigEndian: addr.sin_port)
        let t = Thread { [self] in acceptLoop() }
        t.start()
    }

    /// Request heads seen (health probes excluded).
    var requests: [String] { lock.withLock { heads } }

    private func acceptLoop() {
        while true {
            let fd = accept(listenFD, nil, nil)
            if fd < 0 {
                if lock.withLock({ stopped }) { return }
                continue
            }
            let t = Thread { [self] in serve(ScriptedConnection(fd: fd)) }
            t.start()
        }
    }

    private func serve(_ c: ScriptedConnection) {
        while let head = c.readHead() {
            if head.hasPrefix("GET /health ") {
                c.send("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
                continue
            }
            lock.withLock { heads.append(head) }
            script(c, head)
            break
        }
        c.close()
    }

    func stop() {
        lock.withLock { stopped = true }
        shutdown(listenFD, Int32(SHUT_RDWR))
        Glibc.close(listenFD)
    }
}
