import Foundation
import XCTest

/// Issue 14 §1: a backend whose connect hangs (SYNs dropped) is cut at
/// `-connect-timeout`, counts as a connect failure (retried elsewhere, else
/// 504), is marked down, and holds up neither the client nor a shutdown.
final class ConnectTimeoutTests: XCTestCase {

    /// A fulcrum whose only (or first) backend is a blackhole, healthy at the
    /// start (its tcp probe's connection is what fills the accept queue).
    func proxy(_ hole: BlackholeBackend, connectTimeout: Int = 1, _ extra: [String] = []) throws -> FulcrumServer {
        let f = try FulcrumServer(["-backend", hole.url, "-probe", "tcp", "-t", "60", "-connect-timeout", "\(connectTimeout)",
                                   "-workers", "1"] + extra)
        eventually(10, "blackhole registered healthy") { (try? f.backend(hole.url)?["healthy"] as? Bool) == true }
        try hole.fill()
        return f
    }

    func testAHangingConnectIsCutAtTheConnectTimeoutWith504AndMarkedDown() throws {
        let hole = try BlackholeBackend()
        defer { hole.stop() }
        let f = try proxy(hole)
        defer { f.stop() }
        let start = Date()
        let r = try TestHTTPConnection(port: f.port, timeout: 10).request("GET", "/")
        let took = Date().timeIntervalSince(start)
        XCTAssertEqual(r.status, 504, "every try timed out connecting")
        XCTAssertGreaterThanOrEqual(took, 0.9)
        XCTAssertLessThan(took, 5, "cut at -connect-timeout 1")
        let b = try XCTUnwrap(try f.backend(hole.url))
        XCTAssertEqual(b["healthy"] as? Bool, false, "marked down")
        XCTAssertEqual(b["active"] as? Int, 0)
        XCTAssertEqual(metricValue(try f.admin("GET", "/metrics").text, "fulcrum_connect_timeouts_total"), 1)
        // Out of rotation: the next request is 503 at once, no second wait.
        let again = Date()
        XCTAssertEqual(try f.get().status, 503)
        XCTAssertLessThan(Date().timeIntervalSince(again), 0.9)
    }

    func testAHangingConnectIsRetriedOnAnotherBackend() throws {
        let hole = try BlackholeBackend()
        defer { hole.stop() }
        let good = try BackendServer(name: "good")
        defer { good.kill() }
        let f = try proxy(hole, ["-backend", good.url])
        defer { f.stop() }
        eventually(10, "good backend healthy") { (try? f.backend(good.url)?["healthy"] as? Bool) == true }
        // Round robin: one of the first two requests is sent to the blackhole first.
        for _ in 0..<2 {
            let start = Date()
            let r = try TestHTTPConnection(port: f.port, timeout: 10).request("GET", "/", closing: true)
            XCTAssertEqual(r.status, 200)
            XCTAssertEqual(r.header("X-Backend"), "good")
            XCTAssertLessThan(Date().timeIntervalSince(start), 5)
        }
        XCTAssertEqual(try f.backend(hole.url)?["healthy"] as? Bool, false)
        XCTAssertEqual(try f.backend(hole.url)?["active"] as? Int, 0)
    }

    /// SIGTERM waits for in-flight requests, and a hanging connect is one
    /// only until `-connect-timeout`, not for the whole drain timeout.
    func testShutdownDoesNotWaitForAHangingConnect() throws {
        let hole = try BlackholeBackend()
        defer { hole.stop() }
        // 3 s: time enough to see the request in flight on a loaded machine.
        let f = try proxy(hole, connectTimeout: 3, ["-drain-timeout", "30"])
        defer { f.stop() }
        let c = try TestHTTPConnection(port: f.port, timeout: 10)
        try c.send("GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        eventually(5, "the request in flight") { (try? f.backend(hole.url)?["active"] as? Int) == 1 }
        let start = Date()
        f.child.signal(SIGTERM)
        XCTAssertNotNil(f.child.waitForExit(seconds: 10), "still draining after 10 s")
        XCTAssertLessThan(Date().timeIntervalSince(start), 8, "bounded by -connect-timeout 3, not -drain-timeout 30")
        XCTAssertEqual(try c.readResponse().status, 504)
    }

    /// A backend that accepts and never answers the ClientHello: the
    /// handshake is part of connecting, bounded by `-connect-timeout`, not
    /// by `-body-timeout`.
    func testAStalledBackendTLSHandshakeIsCutAtTheConnectTimeout() throws {
        let tls = try TLSFixture.get()
        let backend = try BackendServer()
        defer { backend.kill() }
        let inner = try FulcrumServer(["-tls-listen", "127.0.0.1:0", "-tls-cert", tls.cert("a.test"), "-tls-key", tls.key("a.test"),
                                       "-backend", backend.url, "-t", "30"])
        defer { inner.stop() }
        let relay = try StallingForwarder(to: try inner.tlsPort())
        defer { relay.stop() }
        let upstream = "https://127.0.0.1:\(relay.port)"
        let f = try FulcrumServer(["-backend-ca", tls.ca, "-backend", upstream, "-t", "60", "-connect-timeout", "1",
                                   "-body-timeout", "30", "-workers", "1"])
        defer { f.stop() }
        eventually(10, "https backend healthy") { (try? f.backend(upstream)?["healthy"] as? Bool) == true }
        relay.stall()
        let start = Date()
        let r = try TestHTTPConnection(port: f.port, timeout: 10).request("GET", "/")
        XCTAssertEqual(r.status, 504)
        XCTAssertLessThan(Date().timeIntervalSince(start), 5, "cut at -connect-timeout 1, not -body-timeout 30")
        XCTAssertEqual(relay.heldCount, 1, "the handshake reached the stalled relay")
        XCTAssertEqual(try f.backend(upstream)?["healthy"] as? Bool, false)
        XCTAssertEqual(try f.backend(upstream)?["active"] as? Int, 0)
    }
}
