import Foundation
import XCTest

/// Issue 7's timing, retry and resource defects, from outside.
final class ExchangeDefectTests: XCTestCase {

    /// Defect 6: `-timeout` limits the wait for the response head only; a
    /// pause between chunks longer than it is delivered. The body has its own
    /// inactivity limit (`-body-timeout`).
    func testTimeoutIsAHeadLimitAndBodyTimeoutIsItsOwn() throws {
        let slowBody = try ScriptedBackend { c, _ in
            c.send("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n5\r\nfirst\r\n")
            usleep(1_600_000)
            c.send("6\r\nsecond\r\n0\r\n\r\n")
            c.close()
        }
        defer { slowBody.stop() }
        let f = try slowBody.proxy(["-timeout", "1"])
        defer { f.stop() }
        let r = try TestHTTPConnection(port: f.port, timeout: 10).request("GET", "/")
        XCTAssertEqual(r.status, 200)
        XCTAssertEqual(r.text, "firstsecond")

        let strict = try slowBody.proxy(["-timeout", "1", "-body-timeout", "0.5"])
        defer { strict.stop() }
        let c = try TestHTTPConnection(port: strict.port, timeout: 10)
        try c.send("GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        let start = Date()
        let cut = try c.readToEnd()
        XCTAssertLessThan(Date().timeIntervalSince(start), 1.5, "cut by the body timeout")
        XCTAssertFalse(String(decoding: cut, as: UTF8.self).contains("second"))
        let metrics = try strict.admin("GET", "/metrics").text
        XCTAssertEqual(metricValue(metrics, "fulcrum_body_timeouts_total"), 1)
    }

    /// Defect 7: a body-less POST whose backend read it and reset is not replayed.
    func testNonIdempotentRequestIsNotReplayedAfterAReset() throws {
        let resetting = try (0..<2).map { _ in try ScriptedBackend { c, _ in c.reset() } }
        defer { resetting.forEach { $0.stop() } }
        let f = try FulcrumServer(resetting.flatMap { ["-backend", $0.url] } + ScriptedBackend.probeArguments)
        defer { f.stop() }
        let r = try TestHTTPConnection(port: f.port, timeout: 5).request("POST", "/order")
        XCTAssertEqual(r.status, 502)
        XCTAssertEqual(resetting.map(\.requests.count).reduce(0, +), 1, "the POST reached exactly one backend")
    }

    /// The other side of the rule: an idempotent request is retried after a reset.
    func testIdempotentRequestIsRetriedAfterAReset() throws {
        let resetting = try ScriptedBackend { c, _ in c.reset() }
        defer { resetting.stop() }
        let good = try ScriptedBackend.answeringOK()
        defer { good.stop() }
        // Round robin starts at the first backend: the resetting one.
        let f = try resetting.proxy(["-backend", good.url, "-workers", "1"])
        defer { f.stop() }
        let r = try TestHTTPConnection(port: f.port, timeout: 5).request("PUT", "/thing")
        XCTAssertEqual(r.status, 200)
        XCTAssertEqual(resetting.requests.count + good.requests.count, 2)
    }

    /// Defect 8: empty lines before a request line do not extend the header timeout.
    func testEmptyLinesDoNotExtendTheHeaderTimeout() throws {
        let backend = try BackendServer(name: "b")
        defer { backend.kill() }
        let f = try FulcrumServer(["-backend", backend.url, "-header-timeout", "0.5"])
        defer { f.stop() }
        let c = try TestHTTPConnection(port: f.port, timeout: 5)
        let start = Date()
        var cut = false
        while Date().timeIntervalSince(start) < 4 {
            if (try? c.send("\r\n")) == nil { cut = true; break }
            var p = pollfd(fd: c.fd, events: Int16(POLLIN), revents: 0)
            if poll(&p, 1, 200) > 0 { cut = true; break }
        }
        XCTAssertTrue(cut, "still open after 4 s of empty lines")
        XCTAssertLessThan(Date().timeIntervalSince(start), 2)
    }

    /// A 1xx with a large head followed by a final response with a large
    /// head: the client gets both whole (or a 502), never a head with lines missing.
    func testLargeInformationalThenLargeFinalHead() throws {
        let filler = String(repeating: "x", count: 1000)
        let links = (0..<40).map { "Link: <\($0)-\(filler)>\r\n" }.joined()
        let big = try ScriptedBackend { c, _ in
            c.send("HTTP/1.1 103 Early Hints\r\n\(links)\r\nHTTP/1.1 200 OK\r\n\(links)X-Last: 1\r\nContent-Length: 2\r\n\r\nok")
            c.close()
        }
        defer { big.stop() }
        let f = try big.proxy()
        defer { f.stop() }
        let c = try TestHTTPConnection(port: f.port, timeout: 5)
        try c.send("GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        var r = try c.readResponse()
        if r.status == 103 {
            XCTAssertEqual(r.headers("Link").count, 40)
            r = try c.readResponse()
        }
        if r.status == 200 {
            XCTAssertEqual(r.header("X-Last"), "1")
            XCTAssertEqual(r.headers("Link").count, 40)
            XCTAssertEqual(r.text, "ok")
        } else {
            XCTAssertEqual(r.status, 502)
        }
    }

    /// A backend's malformed chunk after a valid start: the client connection
    /// is cut, the proxy stays up, and the next request is served.
    func testMalformedResponseChunkCutsTheClientOnly() throws {
        let bad = try ScriptedBackend { c, _ in
            c.send("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n" + "4000\r\n" + String(repeating: "a", count: 0x4000) + "\r\nzz\r\n")
            _ = c.readUntilQuiet(2)
            c.close()
        }
        defer { bad.stop() }
        let f = try bad.proxy()
        defer { f.stop() }
        for _ in 0..<3 {
            let c = try TestHTTPConnection(port: f.port, timeout: 5)
            try c.send("GET / HTTP/1.1\r\nHost: x\r\n\r\n")
            let bytes = try c.readToEnd()
            XCTAssertFalse(String(decoding: bytes, as: UTF8.self).contains("zz"))
        }
        XCTAssertTrue(f.child.isRunning)
        XCTAssertEqual(try f.admin("GET", "/healthz").status, 200)
    }

    /// The proxy's own file-descriptor exhaustion is not blamed on a backend:
    /// the client gets a 503/502 and the backend stays in rotation.
    func testDescriptorExhaustionDoesNotMarkBackendsDown() throws {
        let backend = try BackendServer(name: "b")
        defer { backend.kill() }
        // A low descriptor limit for this fulcrum only (prlimit on the shell that execs it).
        let f = try FulcrumServer(["-backend", backend.url, "-workers", "1", "-t", "60"], limitDescriptors: 64)
        defer { f.stop() }
        let first = try TestHTTPConnection(port: f.port, timeout: 5)
        XCTAssertEqual(try first.request("GET", "/").status, 200)
        // Use up the descriptors with idle connections (the proxy pauses accepting at EMFILE).
        var idle: [TestHTTPConnection] = []
        for _ in 0..<80 { if let c = try? TestHTTPConnection(port: f.port, timeout: 2) { idle.append(c) } }
        // Slow requests at once on the accepted connections: each needs a
        // backend connection of its own, and the descriptors run out.
        let busy = Array(idle.prefix(40))
        for c in busy { try? c.send("GET /delay/300 HTTP/1.1\r\nHost: x\r\n\r\n") }
        var statuses: [Int] = []
        for c in busy { if let r = try? c.readResponse() { statuses.append(r.status) } }
        XCTAssertTrue(statuses.contains { $0 == 503 }, "descriptors did not run out: \(statuses)")
        XCTAssertTrue(statuses.allSatisfy { $0 == 200 || $0 == 503 }, "\(statuses)")
        idle.forEach { $0.close() }
        idle.removeAll()
        XCTAssertEqual(try f.backend(backend.url)?["healthy"] as? Bool, true, "fd exhaustion marked the backend down")
        XCTAssertEqual(try TestHTTPConnection(port: f.port, timeout: 5).request("GET", "/").status, 200)
    }
}
