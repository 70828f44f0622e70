import Foundation
import FulcrumTestSupport
import XCTest

/// https:// backends (CONTRACT §8, "Added 2026-12-05"): a close-delimited
/// body ends only at close_notify, backends added at run time work whatever
/// the probe, and sessions to a backend are resumed.
final class TLSBackendDefectTests: XCTestCase {

    /// Sends `request` on a fresh connection to `port` and reads until the
    /// proxy closes: the bytes, and whether the end was a reset (not a FIN).
    /// `onBody` runs once, when the bytes received contain `marker`.
    func exchange(_ port: UInt16, _ request: String, marker: String, onBody: () -> Void) throws -> (text: String, reset: Bool) {
        let c = try TestHTTPConnection(port: port, timeout: 15)
        try c.send(request)
        var got: [UInt8] = []
        var signalled = false
        var chunk = [UInt8](repeating: 0, count: 65536)
        while true {
            let n = chunk.withUnsafeMutableBytes { recv(c.fd, $0.baseAddress!, $0.count, 0) }
            if n > 0 {
                got += chunk[0..<n]
                if !signalled && String(decoding: got, as: UTF8.self).contains(marker) { signalled = true; onBody() }
                continue
            }
            if n == 0 { return (String(decoding: got, as: UTF8.self), false) }
            if errno == ECONNRESET { return (String(decoding: got, as: UTF8.self), true) }
            throw HarnessError.failed("recv: \(String(cString: strerror(errno))) after \(String(decoding: got, as: UTF8.self))")
        }
    }

    /// A backend answering a head without Content-Length (body delimited by
    /// the close), part of a body, and then the close that `clean` says.
    func closeDelimitedBackend(_ f: TLSFixture, clean: Bool, clientHasBody: DispatchSemaphore) throws -> ScriptedTLSBackend {
        try ScriptedTLSBackend.answering("HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\nthe first part of the body",
                                         then: clean ? .closeNotify : .bareTCPClose, after: clientHasBody,
                                         certificate: f.cert("a.test"), key: f.key("a.test"))
    }

    func testACloseDelimitedBodyCutWithoutCloseNotifyResetsTheClient() throws {
        let f = try TLSFixture.get()
        let clientHasBody = DispatchSemaphore(value: 0)
        let backend = try closeDelimitedBackend(f, clean: false, clientHasBody: clientHasBody)
        defer { backend.stop() }
        let proxy = try FulcrumServer(["-backend-ca", f.ca, "-backend", backend.url, "-probe", "tcp"])
        defer { proxy.stop() }
        eventually(10, "backend healthy") { (try? proxy.backend(backend.url)?["healthy"] as? Bool) == true }
        for version in ["HTTP/1.1", "HTTP/1.0"] {
            let (text, reset) = try exchange(proxy.port, "GET /t \(version)\r\nHost: x\r\n\r\n", marker: "first part") { clientHasBody.signal() }
            XCTAssertTrue(text.contains("the first part of the body"), text)
            XCTAssertTrue(reset, "\(version): a truncated body must end in a reset, not a clean end: \(text)")
            XCTAssertFalse(text.hasSuffix("0\r\n\r\n"), "\(version): no last chunk for a truncated body: \(text)")
        }
        XCTAssertTrue(proxy.child.isRunning)
    }

    func testACloseDelimitedBodyEndedByCloseNotifyIsComplete() throws {
        let f = try TLSFixture.get()
        let clientHasBody = DispatchSemaphore(value: 0)
        let backend = try closeDelimitedBackend(f, clean: true, clientHasBody: clientHasBody)
        defer { backend.stop() }
        let proxy = try FulcrumServer(["-backend-ca", f.ca, "-backend", backend.url, "-probe", "tcp"])
        defer { proxy.stop() }
        eventually(10, "backend healthy") { (try? proxy.backend(backend.url)?["healthy"] as? Bool) == true }
        let (text, reset) = try exchange(proxy.port, "GET /t HTTP/1.1\r\nHost: x\r\n\r\n", marker: "first part") { clientHasBody.signal() }
        XCTAssertFalse(reset, "a body ended by close_notify is complete: \(text)")
        XCTAssertTrue(text.contains("the first part of the body"), text)
        if text.lowercased().contains("transfer-encoding: chunked") { XCTAssertTrue(text.hasSuffix("0\r\n\r\n"), text) }
    }

    /// A body framed by Content-Length is complete without close_notify (most
    /// servers close without it): no reset for a bare close after it.
    func testAContentLengthBodyFollowedByABareCloseIsComplete() throws {
        let f = try TLSFixture.get()
        let backend = try ScriptedTLSBackend.answering("HTTP/1.1 200 OK\r\nContent-Length: 5\r\nConnection: close\r\n\r\nhello",
                                                       then: .bareTCPClose, certificate: f.cert("a.test"), key: f.key("a.test"))
        defer { backend.stop() }
        let proxy = try FulcrumServer(["-backend-ca", f.ca, "-backend", backend.url, "-probe", "tcp"])
        defer { proxy.stop() }
        eventually(10, "backend healthy") { (try? proxy.backend(backend.url)?["healthy"] as? Bool) == true }
        for _ in 0..<3 {
            let c = try TestHTTPConnection(port: proxy.port)
            let r = try c.request("GET", "/", closing: false)
            XCTAssertEqual(r.status, 200)
            XCTAssertEqual(String(decoding: r.body, as: UTF8.self), "hello")
            // The client connection stays usable: the exchange ended well.
            let again = try c.request("GET", "/", closing: true)
            XCTAssertEqual(String(decoding: again.body, as: UTF8.self), "hello")
        }
    }

    /// With `-probe tcp` nothing but the proxy path needs the backends' TLS
    /// context: a backend registered through the API must still work.
    func testAnHTTPSBackendRegisteredAtRunTimeWorksWithATCPProbe() throws {
        let f = try TLSFixture.get()
        let plain = try BackendServer()
        let inner = try FulcrumServer(["-tls-listen", "127.0.0.1:0", "-tls-cert", f.cert("a.test"), "-tls-key", f.key("a.test"),
                                       "-backend", plain.url])
        defer { inner.stop() }
        let upstream = "https://127.0.0.1:\(try inner.tlsPort())"
        // The system CA store is the test CA (SSL_CERT_FILE): no TLS flag at all.
        let proxy = try FulcrumServer(["-probe", "tcp"], environment: ["SSL_CERT_FILE": f.ca])
        defer { proxy.stop() }
        let r = try proxy.admin("POST", "/register", json: "{\"address\":\"\(upstream)\"}")
        XCTAssertEqual(r.status, 200, String(decoding: r.body, as: UTF8.self))
        eventually(10, "backend healthy") { (try? proxy.backend(upstream)?["healthy"] as? Bool) == true }
        let answer = try proxy.get("/headers")
        XCTAssertEqual(answer.status, 200, String(decoding: answer.body, as: UTF8.self))
        XCTAssertTrue(String(decoding: answer.body, as: UTF8.self).contains("X-Forwarded-Proto: https"))
    }

    /// `openssl s_server -www` answers HTTP/1.0 and closes (with
    /// close_notify): every request needs a new backend connection. After
    /// the first full handshake, the others resume its session.
    func testBackendSessionsAreResumedOnNewConnections() throws {
        let f = try TLSFixture.get()
        let port = try freePort()
        let server = try ChildProcess(which("openssl") ?? "/usr/bin/openssl",
                                      ["s_server", "-accept", "127.0.0.1:\(port)", "-cert", f.cert("a.test"), "-key", f.key("a.test"), "-www"],
                                      name: "s_server")
        defer { server.stop() }
        _ = try server.waitForLine("ACCEPT")
        let upstream = "https://127.0.0.1:\(port)"
        let proxy = try FulcrumServer(["-backend-ca", f.ca, "-backend", upstream, "-probe", "tcp"])
        defer { proxy.stop() }
        eventually(10, "backend healthy") { (try? proxy.backend(upstream)?["healthy"] as? Bool) == true }
        for _ in 0..<5 {
            let r = try proxy.get("/")
            XCTAssertEqual(r.status, 200)
            XCTAssertTrue(String(decoding: r.body, as: UTF8.self).contains("s_server"), String(decoding: r.body, as: UTF8.self))
        }
        let handshakes = try proxy.metric("fulcrum_tls_handshakes_total{side=\"backend\",result=\"ok\"}")
        XCTAssertEqual(handshakes, 5, "one backend connection per request")
        XCTAssertGreaterThanOrEqual(try proxy.metric("fulcrum_tls_resumed_sessions_total{side=\"backend\"}"), 4)
    }
}
