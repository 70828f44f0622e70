import CFulcrumShim
import Foundation
import XCTest

/// An `https://` backend that does exactly what a test script says, down to
/// how the TLS connection ends: with close_notify, or with a bare TCP close
/// that a truncation attack (or a crashing server) produces. Fault
/// injection for https backends, reusable by any test.
///
/// A real TLS server: the system's OpenSSL 3, driven through the shim's
/// C API inside the test process (blocking sockets, one thread per
/// connection). The shim keeps one installed certificate set per process,
/// so one scripted TLS backend serves at a time.
final class ScriptedTLSBackend: @unchecked Sendable {
    let port: UInt16
    private let listenFD: Int32
    private let script: @Sendable (ScriptedTLSConnection) -> Void
    private let lock = NSLock()
    private var stopped = false
    private var handshakes = 0

    var url: String { "https://127.0.0.1:\(port)" }
    /// Connections whose handshake completed (probes that only connect do not count).
    var completedHandshakes: Int { lock.withLock { handshakes } }

    /// Serves `certificate`/`key`; `script` runs for every connection whose handshake completed.
    init(certificate: String, key: String, script: @escaping @Sendable (ScriptedTLSConnection) -> Void) throws {
        var err = [CChar](repeating: 0, count: 512)
        guard fulcrum_tls_load(&err, err.count) == 0 else { throw XCTSkip("no OpenSSL 3: \(cText(err))") }
        let set = certificate.withCString { c in
            key.withCString { k in
                var certs: [UnsafePointer<CChar>?] = [c]
                var keys: [UnsafePointer<CChar>?] = [k]
                return fulcrum_tls_server_set_new(&certs, &keys, 1, &err, err.count)
            }
        }
        guard let set else { throw HarnessError.failed("scripted TLS backend: \(cText(err))") }
        fulcrum_tls_server_set_install(set)
        self.script = script
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var one: Int32 = 1
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, socklen_t(MemoryLayout<Int32>.size))
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_addr.s_addr = inet_addr("127.0.0.1")
        var len = socklen_t(MemoryLayout<sockaddr_in>.size)
        let ok = withUnsafeMutablePointer(to: &addr) { p in
            p.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, len) == 0 && getsockname(fd, $0, &len) == 0 }
        }
        guard ok, listen(fd, 64) == 0 else { close(fd); throw HarnessError.failed("scripted TLS backend: bind/listen") }
        listenFD = fd
        port = UInt16(bigEndian: addr.sin_port)
        Thread { [self] in acceptLoop() }.start()
    }

    /// How a scripted answer ends.
    enum Ending: Sendable { case closeNotify, bareTCPClose }

    /// A backend that reads each request head, sends `response` (head and
    /// whatever body), waits for `gate` (at most 10 s; nil: no wait), then
    /// ends the connection as `ending` says: the truncating https backend.
    static func answering(_ response: String, then ending: Ending, after gate: DispatchSemaphore? = nil,
                          certificate: String, key: String) throws -> ScriptedTLSBackend {
        try ScriptedTLSBackend(certificate: certificate, key: key) { c in
            guard c.readHead() != nil else { return }
            c.send(response)
            if let gate { _ = gate.wait(timeout: .now() + 10) }
            switch ending {
            case .closeNotify: c.closeWithCloseNotify()
            case .bareTCPClose: c.closeWithoutCloseNotify()
            }
        }
    }

    private func acceptLoop() {
        while true {
            let fd = accept(listenFD, nil, nil)
            if fd < 0 {
                if errno == EINTR { continue }
                return  // the listener was shut down
            }
            if lock.withLock({ stopped }) { close(fd); return }
            Thread { [self] in
                guard let c = ScriptedTLSConnection(fd: fd) else { return }
                lock.withLock { handshakes += 1 }
                script(c)
                c.finish()
            }.start()
        }
    }

    func stop() {
        lock.withLock { stopped = true }
        shutdown(listenFD, Int32(SHUT_RDWR))
        close(listenFD)
    }

    deinit { stop() }
}

/// One accepted, handshaken connection of a `ScriptedTLSBackend`.
final class ScriptedTLSConnection: @unchecked Sendable {
    let fd: Int32
    private let tls: OpaquePointer
    private var received: [UInt8] = []
    private var done = false

    /// Completes the server handshake on a blocking socket; nil when it fails (e.g. a TCP probe).
    init?(fd: Int32) {
        var tv = timeval(tv_sec: 10, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
        setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
        guard let tls = fulcrum_tls_accept(fd) else { close(fd); return nil }
        var r = fulcrum_tls_handshake(tls)
        while r == FULCRUM_TLS_WANT_READ || r == FULCRUM_TLS_WANT_WRITE { r = fulcrum_tls_handshake(tls) }  // blocking: only EINTR-like retries
        guard r == 1 else { fulcrum_tls_free(tls); close(fd); return nil }
        self.fd = fd
        self.tls = tls
    }

    /// The next request head (through the empty line), or nil at EOF, error or timeout.
    func readHead() -> String? {
        let end: [UInt8] = [13, 10, 13, 10]
        while true {
            if let r = received.indices.first(where: { received.count - $0 >= 4 && Array(received[$0..<($0 + 4)]) == end }) {
                let head = String(decoding: received[..<(r + 4)], as: UTF8.self)
                received.removeFirst(r + 4)
                return head
            }
            var chunk = [UInt8](repeating: 0, count: 16384)
            let n = chunk.withUnsafeMutableBytes { fulcrum_tls_read(tls, $0.baseAddress, $0.count) }
            guard n > 0 else { return nil }
            received += chunk[0..<n]
        }
    }

    func send(_ text: String) { send(Array(text.utf8)) }

    func send(_ bytes: [UInt8]) {
        var sent = 0
        while sent < bytes.count {
            let n = bytes.withUnsafeBytes { fulcrum_tls_write(tls, $0.baseAddress! + sent, $0.count - sent) }
            guard n > 0 else { return }
            sent += n
        }
    }

    /// Ends the connection properly: close_notify, then the TCP close.
    func closeWithCloseNotify() {
        guard !done else { return }
        done = true
        fulcrum_tls_shutdown(tls)
        closeTCP()
    }

    /// Ends the TCP connection with no close_notify: what a truncation attack sends.
    func closeWithoutCloseNotify() {
        guard !done else { return }
        done = true
        closeTCP()
    }

    /// A FIN (never an RST: our side is shut down first and whatever the
    /// peer still sends is read), then the descriptor once the peer closed
    /// (or after the 10 s receive timeout).
    private func closeTCP() {
        shutdown(fd, Int32(SHUT_WR))
        var sink = [UInt8](repeating: 0, count: 4096)
        while sink.withUnsafeMutableBytes({ recv(fd, $0.baseAddress!, $0.count, 0) }) > 0 {}
        close(fd)
        fulcrum_tls_free(tls)
    }

    /// After the script: a connection it left open ends properly.
    func finish() { closeWithCloseNotify() }
}

/// A NUL-terminated C buffer as text.
func cText(_ buffer: [CChar]) -> String {
    String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
}
