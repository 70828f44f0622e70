import Foundation
import XCTest

/// HTTPS on the client side (CONTRACT §8): termination, SNI, ALPN,
/// versions, resumption, and what a hostile or stalled client cannot do.
final class TLSTerminationTests: XCTestCase {

    func startProxy(_ f: TLSFixture, backend: BackendServer, extra: [String] = []) throws -> (FulcrumServer, UInt16) {
        let proxy = try FulcrumServer(["-tls-listen", "127.0.0.1:0", "-tls-cert", f.cert("a.test"), "-tls-key", f.key("a.test"),
                                       "-tls-cert", f.cert("b.test"), "-tls-key", f.key("b.test"), "-backend", backend.url, "-t", "0.2"] + extra)
        return (proxy, try proxy.tlsPort())
    }

    func testHTTPSKeepAliveForwardedProtoAndTenMiBBothWays() throws {
        let f = try TLSFixture.get()
        let backend = try BackendServer()
        let (proxy, port) = try startProxy(f, backend: backend)
        defer { proxy.stop() }
        let base = "https://localhost:\(port)"

        // Two requests on one connection; the backend sees X-Forwarded-Proto: https; ALPN http/1.1.
        // (--http1.1: the listener also offers h2 now, CONTRACT §12, which curl prefers.)
        let (status, out) = curl(["-v", "--http1.1", "--cacert", f.ca, "\(base)/headers", "\(base)/", "-w", "\nconnects=%{num_connects}\n"])
        XCTAssertEqual(status, 0, out)
        XCTAssertTrue(out.contains("X-Forwarded-Proto: https"), out)
        XCTAssertTrue(out.contains("ALPN: server accepted http/1.1"), out)
        XCTAssertTrue(out.contains("connects=1") && out.contains("connects=0"), "second request reused the connection: \(out)")
        // Plain HTTP on the plain port still says http.
        XCTAssertTrue(String(decoding: try proxy.get("/headers").body, as: UTF8.self).contains("X-Forwarded-Proto: http\r\n"))

        // 10 MiB down, compared with the same bytes fetched directly.
        let dir = try temporaryDirectory("tls-big")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let size = 10 * 1024 * 1024
        XCTAssertEqual(curl(["--cacert", f.ca, "-o", dir + "/via", "\(base)/bytes/\(size)"]).0, 0)
        XCTAssertEqual(curl(["-o", dir + "/direct", "\(backend.url)/bytes/\(size)"]).0, 0)
        let via = try Data(contentsOf: URL(fileURLWithPath: dir + "/via"))
        XCTAssertEqual(via.count, size)
        XCTAssertEqual(via, try Data(contentsOf: URL(fileURLWithPath: dir + "/direct")))

        // 10 MiB up, echoed back.
        var upload = Data(count: size)
        for i in stride(from: 0, to: size, by: 4093) { upload[i] = UInt8(truncatingIfNeeded: i / 4093) }
        try upload.write(to: URL(fileURLWithPath: dir + "/up"))
        XCTAssertEqual(curl(["--cacert", f.ca, "--data-binary", "@" + dir + "/up", "-o", dir + "/echo", "\(base)/echo"]).0, 0)
        XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: dir + "/echo")), upload)
        XCTAssertGreaterThanOrEqual(try proxy.metric("fulcrum_tls_handshakes_total{side=\"client\",result=\"ok\"}"), 3)
    }

    func testSNISelectsTheCertificateAndTheFirstIsTheDefault() throws {
        let f = try TLSFixture.get()
        let backend = try BackendServer()
        let (proxy, port) = try startProxy(f, backend: backend)
        defer { proxy.stop() }
        func subject(_ serverName: String?) -> String {
            let args = ["s_client", "-connect", "127.0.0.1:\(port)", "-CAfile", f.ca, "-ign_eof"] + (serverName.map { ["-servername", $0] } ?? ["-noservername"])
            let (_, out) = runTool("openssl", args, stdin: "GET / HTTP/1.0\r\nHost: x\r\n\r\n", timeout: 20)
            return out.split(separator: "\n").first { $0.hasPrefix("subject=") }.map(String.init) ?? out
        }
        XCTAssertTrue(subject("b.test").contains("b.test"), subject("b.test"))
        XCTAssertTrue(subject("a.test").contains("a.test"))
        XCTAssertTrue(subject("unknown.example").contains("a.test"), "an unknown name gets the default")
        XCTAssertTrue(subject(nil).contains("a.test"), "no SNI gets the default")
        let (status, out) = curl(["--cacert", f.ca, "--resolve", "b.test:\(port):127.0.0.1", "https://b.test:\(port)/"])
        XCTAssertEqual(status, 0, out)
        XCTAssertTrue(out.contains("Hello from"), out)
    }

    func testOldProtocolsPlainHTTPAndStalledHandshakesAreRefusedWithoutHarm() throws {
        let f = try TLSFixture.get()
        let backend = try BackendServer()
        let (proxy, port) = try startProxy(f, backend: backend, extra: ["-header-timeout", "1"])
        defer { proxy.stop() }

        // TLS 1.1 (offered by a client that allows it): the server says protocol_version.
        let (s11, out11) = runTool("openssl", ["s_client", "-connect", "127.0.0.1:\(port)", "-tls1_1", "-cipher", "DEFAULT@SECLEVEL=0"], timeout: 20)
        XCTAssertNotEqual(s11, 0)
        XCTAssertTrue(out11.contains("protocol version") || out11.contains("unsupported protocol"), out11)

        // Plain HTTP on the TLS port: no HTTP response, the connection is closed.
        let plain = try? TestHTTPConnection(port: port).request("GET", "/", closing: true)
        XCTAssertNil(plain.map { $0.status }, "plain HTTP on the TLS port got an HTTP answer")

        // A client that connects and stalls mid-handshake is cut off by the header timeout...
        let stalled = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(stalled) }
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_port = port.bigEndian
        addr.sin_addr.s_addr = inet_addr("127.0.0.1")
        let rc = withUnsafePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(stalled, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) } }
        XCTAssertEqual(rc, 0)
        _ = "\u{16}\u{03}\u{01}".withCString { send(stalled, $0, 3, 0) }  // the start of a ClientHello, then nothing
        // ...while everybody else is served.
        XCTAssertEqual(curl(["--cacert", f.ca, "https://localhost:\(port)/"]).0, 0)
        var tv = timeval(tv_sec: 10, tv_usec: 0)
        setsockopt(stalled, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
        var byte: UInt8 = 0
        let started = Date()
        let n = recv(stalled, &byte, 1, 0)
        XCTAssertLessThanOrEqual(n, 0, "the stalled handshake was closed")
        XCTAssertLessThan(Date().timeIntervalSince(started), 8)
        XCTAssertTrue(proxy.child.isRunning)
        XCTAssertGreaterThanOrEqual(try proxy.metric("fulcrum_tls_handshakes_total{side=\"client\",result=\"failed\"}"), 2)
    }

    func testSessionResumptionTLS12AndTLS13() throws {
        let f = try TLSFixture.get()
        let backend = try BackendServer()
        let (proxy, port) = try startProxy(f, backend: backend)
        defer { proxy.stop() }
        let dir = try temporaryDirectory("tls-sess")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        for version in ["-tls1_2", "-tls1_3"] {
            let session = dir + "/sess\(version)"
            let request = "GET / HTTP/1.0\r\nHost: x\r\n\r\n"
            let base = ["s_client", version, "-connect", "127.0.0.1:\(port)", "-servername", "a.test", "-CAfile", f.ca, "-ign_eof"]
            let (_, first) = runTool("openssl", base + ["-sess_out", session], stdin: request, timeout: 20)
            XCTAssertTrue(first.contains("New, TLSv1"), first)
            let (_, second) = runTool("openssl", base + ["-sess_in", session], stdin: request, timeout: 20)
            XCTAssertTrue(second.contains("Reused, TLSv1"), "\(version): \(second)")
            XCTAssertTrue(second.contains("Hello from"), second)
        }
        XCTAssertGreaterThanOrEqual(try proxy.metric("fulcrum_tls_resumed_sessions_total{side=\"client\"}"), 2)
        XCTAssertGreaterThanOrEqual(try proxy.metric("fulcrum_tls_handshakes_by_version_total{side=\"client\",version=\"TLSv1.2\"}"), 2)
    }

    /// Pipelined requests in one TLS write (OpenSSL reads ahead: the later
    /// requests wait as ciphertext epoll cannot see), then an idle proxy
    /// that does not spin on what it buffered.
    func testPipelinedRequestsOverTLSAndNoBusyLoopAfterwards() throws {
        let f = try TLSFixture.get()
        let backend = try BackendServer()
        let (proxy, port) = try startProxy(f, backend: backend)
        defer { proxy.stop() }
        let held = try HeldTLSConnection(port: port, serverName: "a.test", ca: f.ca)
        defer { held.close() }
        held.send((1...3).map { "GET /headers HTTP/1.1\r\nHost: pipe\($0)\r\n\r\n" }.joined())
        eventually(10, "three pipelined responses") { (1...3).allSatisfy { held.output.contains("Host: pipe\($0)") } }
        // Idle with the connection open: the proxy's CPU time stays flat.
        func ticks() -> Int {
            let stat = (try? String(contentsOfFile: "/proc/\(proxy.child.pid)/stat", encoding: .utf8)) ?? ""
            let fields = stat.split(separator: ")").last?.split(separator: " ") ?? []
            return fields.count > 13 ? (Int(fields[11]) ?? 0) + (Int(fields[12]) ?? 0) : 0
        }
        let before = ticks()
        Thread.sleep(forTimeInterval: 1.0)
        XCTAssertLessThan(ticks() - before, 20, "an idle TLS connection made the proxy spin")
    }
}
