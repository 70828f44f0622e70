import Foundation
import XCTest

/// CONTRACT §4 against the real binary and real backend processes.
final class ProxyBehaviourTests: XCTestCase {
    var backends: [BackendServer] = []
    var fulcrum: FulcrumServer!

    override func setUpWithError() throws {
        backends = try (1...3).map { try BackendServer(name: "b\($0)") }
        fulcrum = try FulcrumServer(backends.flatMap { ["-backend", $0.url] })
    }

    override func tearDown() {
        fulcrum?.stop()
        backends.forEach { $0.kill() }
    }

    func testEveryMethodIsForwarded() throws {
        let c = try TestHTTPConnection(port: fulcrum.port)
        for method in ["GET", "POST", "PUT", "DELETE", "PATCH", "OPTIONS", "PURGE", "PROPFIND"] {
            let r = try c.request(method, "/headers?m=\(method)", body: method == "GET" ? nil : Array("x".utf8))
            XCTAssertEqual(r.status, 200, method)
            XCTAssertTrue(r.text.hasPrefix("\(method) /headers?m=\(method) HTTP/1.1\r\n"), r.text)
        }
        let head = try c.request("HEAD", "/bytes/1234")
        XCTAssertEqual(head.status, 200)
        XCTAssertEqual(head.header("Content-Length"), "1234")
        XCTAssertTrue(head.body.isEmpty)
        // The connection is still in step after HEAD (no body was expected).
        XCTAssertEqual(try c.request("GET", "/bytes/10").body, backendPattern(10))
    }

    func testTenMiBBodiesBothWaysIntact() throws {
        let size = 10 * 1024 * 1024
        var upload = [UInt8](repeating: 0, count: size)
        for i in upload.indices { upload[i] = UInt8(truncatingIfNeeded: i &* 31 &+ i >> 13) }
        let c = try TestHTTPConnection(port: fulcrum.port)
        XCTAssertEqual(try c.request("POST", "/echo", body: upload).body == upload, true, "Content-Length upload")
        XCTAssertEqual(try c.request("POST", "/echo", body: upload, chunked: true).body == upload, true, "chunked upload")
        let expected = backendPattern(size)
        let cl = try c.request("GET", "/bytes/\(size)")
        XCTAssertEqual(cl.header("Content-Length"), String(size))
        XCTAssertTrue(cl.body == expected, "Content-Length download")
        let chunked = try c.request("GET", "/bytes/\(size)?chunked=1")
        XCTAssertEqual(chunked.header("Transfer-Encoding"), "chunked")
        XCTAssertTrue(chunked.body == expected, "chunked download")
        let untilClose = try TestHTTPConnection(port: fulcrum.port).request("GET", "/eof/\(size)")
        XCTAssertTrue(untilClose.body == expected, "close-delimited download")
    }

    func testHTTP10() throws {
        let c = try TestHTTPConnection(port: fulcrum.port)
        let r = try c.request("GET", "/headers", version: "HTTP/1.0")
        XCTAssertEqual(r.status, 200)
        XCTAssertTrue(r.text.hasPrefix("GET /headers HTTP/1.0\r\n"))
        _ = try? c.fill()
        XCTAssertTrue(c.closedByPeer, "an HTTP/1.0 connection without keep-alive is closed")
        let k = try TestHTTPConnection(port: fulcrum.port)
        let first = try k.request("GET", "/", headers: [("Connection", "keep-alive")], version: "HTTP/1.0")
        XCTAssertEqual(first.header("Connection")?.lowercased(), "keep-alive")
        XCTAssertEqual(try k.request("GET", "/", headers: [("Connection", "keep-alive")], version: "HTTP/1.0").status, 200)
    }

    func testHundredRequestsOnOneConnection() throws {
        let c = try TestHTTPConnection(port: fulcrum.port)
        var seen: [String: Int] = [:]
        for i in 0..<100 {
            let r = try c.request("GET", "/echo?\(i)", body: Array("request \(i)".utf8))
            XCTAssertEqual(r.text, "request \(i)")
            seen[r.header("X-Backend") ?? "?", default: 0] += 1
        }
        XCTAssertEqual(seen.count, 3, "round robin continues on one client connection: \(seen)")
        let metrics = try fulcrum.admin("GET", "/metrics").text
        let reused = metricValue(metrics, "fulcrum_upstream_connections_total{kind=\"reused\"}")
        let fresh = metricValue(metrics, "fulcrum_upstream_connections_total{kind=\"new\"}")
        XCTAssertGreaterThan(reused, fresh, "backend connections are pooled and reused")
    }

    func testPipelinedRequestsAnsweredInOrder() throws {
        let c = try TestHTTPConnection(port: fulcrum.port)
        var batch = ""
        for i in 0..<8 { batch += "GET /headers?n=\(i) HTTP/1.1\r\nHost: p\r\n\r\n" }
        batch += "POST /echo HTTP/1.1\r\nHost: p\r\nContent-Length: 5\r\n\r\nhello"
        batch += "GET /bytes/3?chunked=1 HTTP/1.1\r\nHost: p\r\n\r\n"
        try c.send(batch)
        for i in 0..<8 {
            let r = try c.readResponse()
            XCTAssertTrue(r.text.hasPrefix("GET /headers?n=\(i) "), "response \(i) out of order: \(r.text.prefix(30))")
        }
        XCTAssertEqual(try c.readResponse().text, "hello")
        XCTAssertEqual(try c.readResponse().body, backendPattern(3))
    }

    func testExpect100Continue() throws {
        let c = try TestHTTPConnection(port: fulcrum.port)
        try c.send("POST /echo HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 11\r\n\r\n")
        let interim = try c.readResponse()
        XCTAssertEqual(interim.status, 100, "the backend's 100 Continue reaches the client before it sends the body")
        try c.send("hello world")
        let r = try c.readResponse()
        XCTAssertEqual(r.status, 200)
        XCTAssertEqual(r.text, "hello world")
    }

    func testBodilessResponsesKeepTheConnectionInStep() throws {
        let c = try TestHTTPConnection(port: fulcrum.port)
        XCTAssertEqual(try c.request("GET", "/status/204").status, 204)
        XCTAssertEqual(try c.request("GET", "/status/304").status, 304)
        XCTAssertEqual(try c.request("HEAD", "/").status, 200)
        let after = try c.request("GET", "/bytes/5")
        XCTAssertEqual(after.body, backendPattern(5))
    }

    func testForwardedAndHopByHopHeaders() throws {
        let c = try TestHTTPConnection(port: fulcrum.port)
        let r = try c.request("GET", "/headers", headers: [
            ("Host", "shop.example:8443"), ("X-Forwarded-For", "10.1.2.3"), ("X-Forwarded-Proto", "https"),
            ("Connection", "keep-alive, X-Private"), ("X-Private", "secret"), ("Keep-Alive", "timeout=5"),
            ("Proxy-Connection", "keep-alive"), ("TE", "trailers"), ("Trailer", "X-Sum"), ("Upgrade", "h2c"),
            ("X-Kept", "yes"),
        ])
        let seen = r.text.lowercased()
        XCTAssertTrue(seen.contains("host: shop.example:8443\r\n"), "Host unchanged")
        XCTAssertTrue(seen.contains("x-forwarded-for: 10.1.2.3, 127.0.0.1\r\n"), "client address appended: \(r.text)")
        XCTAssertTrue(seen.contains("x-forwarded-proto: http\r\n"))
        XCTAssertFalse(seen.contains("x-forwarded-proto: https"))
        XCTAssertTrue(seen.contains("x-forwarded-host: shop.example:8443\r\n"))
        XCTAssertTrue(seen.contains("x-kept: yes\r\n"))
        for gone in ["connection:", "x-private", "keep-alive:", "proxy-connection", "\r\nte:", "trailer:", "upgrade:"] {
            XCTAssertFalse(seen.contains(gone), "\(gone) reached the backend:\n\(r.text)")
        }
        // And from the backend's response.
        let back = try c.request("GET", "/hop")
        XCTAssertEqual(back.header("X-Normal"), "yes")
        for gone in ["X-Secret", "Keep-Alive", "Proxy-Connection", "Trailer", "Upgrade", "TE", "Connection"] {
            XCTAssertNil(back.header(gone), "\(gone) reached the client")
        }
    }

    func testUpgradeTunnelEchoesBothWays() throws {
        let c = try TestHTTPConnection(port: fulcrum.port)
        try c.send("GET /ws HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n")
        let r = try c.readResponse()
        XCTAssertEqual(r.status, 101)
        XCTAssertEqual(r.header("Upgrade"), "websocket")
        XCTAssertEqual(r.header("Connection")?.lowercased(), "upgrade")
        for round in 0..<20 {
            let message = Array("frame \(round) ".utf8) + [UInt8](repeating: UInt8(round), count: round * 1000)
            try c.send(message)
            XCTAssertEqual(try c.readExactly(message.count), message)
        }
        // Closing our side ends the tunnel: the backend's EOF comes back.
        shutdown(c.fd, Int32(SHUT_WR))
        XCTAssertEqual(try c.readToEnd(), [])
    }

    func testConnectTunnelsAfterA2xx() throws {
        let c = try TestHTTPConnection(port: fulcrum.port)
        try c.send("CONNECT example.test:443 HTTP/1.1\r\nHost: example.test:443\r\n\r\n")
        let r = try c.readResponse(requestMethod: "CONNECT")
        XCTAssertEqual(r.status, 200)
        let payload = Array("opaque bytes \u{1}\u{2}".utf8)
        try c.send(payload)
        XCTAssertEqual(try c.readExactly(payload.count), payload)
    }

    func testBackendKilledMidStream() throws {
        let victim = try BackendServer(name: "victim")
        let solo = try FulcrumServer(["-backend", victim.url])
        defer { solo.stop() }
        let c = try TestHTTPConnection(port: solo.port, timeout: 10)
        try c.send("GET /bytes/500000000 HTTP/1.1\r\nHost: x\r\n\r\n")
        _ = try c.readLine()
        while c.bufferedCount < 1_000_000 { try c.fill() }  // the body is streaming
        victim.kill()
        // The client sees the connection end (not a hang, not a fake success).
        let start = Date()
        _ = try? c.readToEnd()
        XCTAssertTrue(c.closedByPeer)
        XCTAssertLessThan(Date().timeIntervalSince(start), 8)
        // The proxy lives on.
        XCTAssertTrue(solo.child.isRunning)
        let another = try BackendServer(name: "another")
        XCTAssertEqual(try solo.register(another).status, 200)
        eventually(5, "the new backend serves") { (try? solo.get().header("X-Backend")) == "another" }
    }

    func testTwoThousandIdleClientConnections() throws {
        var idle: [TestHTTPConnection] = []
        for _ in 0..<2000 { idle.append(try TestHTTPConnection(port: fulcrum.port)) }
        for i in 0..<20 { XCTAssertEqual(try fulcrum.get("/?\(i)").status, 200) }
        // Idle connections are still usable.
        for c in [idle[0], idle[999], idle[1999]] { XCTAssertEqual(try c.request("GET", "/").status, 200) }
        let metrics = try fulcrum.admin("GET", "/metrics").text
        XCTAssertGreaterThanOrEqual(metricValue(metrics, "fulcrum_client_connections"), 2000)
    }

    func testSlowClientReadingBigResponseKeepsMemoryBounded() throws {
        let before = residentKiB(fulcrum.child.pid)
        let c = try TestHTTPConnection(port: fulcrum.port, timeout: 30)
        var size: Int32 = 4096
        setsockopt(c.fd, SOL_SOCKET, SO_RCVBUF, &size, socklen_t(MemoryLayout<Int32>.size))
        try c.send("GET /bytes/1000000000 HTTP/1.1\r\nHost: x\r\n\r\n")
        // Read a little, then stall while the backend could push a gigabyte.
        _ = try c.readLine()
        var got = 0
        for _ in 0..<3 { try c.fill(); got += 1 }
        var peak = before
        for _ in 0..<20 {
            Thread.sleep(forTimeInterval: 0.1)  // sampling memory over time, not waiting for a condition
            peak = max(peak, residentKiB(fulcrum.child.pid))
        }
        XCTAssertLessThan(peak - before, 16 * 1024, "RSS grew by \(peak - before) KiB while a client stalled")
        c.close()
    }

    func testNoEligibleBackendIs503JSON() throws {
        let empty = try FulcrumServer()
        defer { empty.stop() }
        let r = try empty.get()
        XCTAssertEqual(r.status, 503)
        XCTAssertEqual(r.header("Content-Type"), "application/json")
        XCTAssertEqual(r.text, #"{"status":"error","message":"no available server"}"#)
    }

    func testBackendResponseTimeoutIs504() throws {
        let slow = try FulcrumServer(["-backend", backends[0].url, "-timeout", "0.5"])
        defer { slow.stop() }
        let start = Date()
        XCTAssertEqual(try slow.get("/delay/3000").status, 504)
        XCTAssertLessThan(Date().timeIntervalSince(start), 2.5)
    }

    func testRefusedBackendIsRetriedAndMarkedDown() throws {
        let dead = try BackendServer(name: "dead")
        let deadURL = dead.url
        dead.kill()
        let f = try FulcrumServer(["-backend", backends[0].url, "-backend", deadURL, "-t", "60"])
        defer { f.stop() }
        // Registered at start even though dead: it is out of rotation already, or
        // leaves at the first refused connection. Either way no client sees an error.
        for _ in 0..<10 { XCTAssertEqual(try f.get().status, 200) }
        XCTAssertEqual(try f.backend(deadURL)?["healthy"] as? Bool, false)
    }

    func testStalePooledConnectionIsRetriedOnAFreshOne() throws {
        let oneshot = try BackendServer(name: "oneshot", mode: "oneshot")
        defer { oneshot.kill() }
        let f = try FulcrumServer(["-backend", oneshot.url, "-workers", "1", "-t", "60"])
        defer { f.stop() }
        let c = try TestHTTPConnection(port: f.port)
        for i in 0..<10 {
            XCTAssertEqual(try c.request("GET", "/?\(i)").status, 200, "request \(i)")
        }
        let metrics = try f.admin("GET", "/metrics").text
        XCTAssertGreaterThanOrEqual(metricValue(metrics, "fulcrum_retries_total"), 9, "every reuse met a closed connection and was retried")
        XCTAssertEqual(try f.backend(oneshot.url)?["healthy"] as? Bool, true, "a stale pooled connection does not mark the backend down")
    }

    func testIdleKeepAliveConnectionIsClosedAfterIdleTimeout() throws {
        let f = try FulcrumServer(["-backend", backends[0].url, "-idle-timeout", "0.3"])
        defer { f.stop() }
        let c = try TestHTTPConnection(port: f.port, timeout: 5)
        XCTAssertEqual(try c.request("GET", "/").status, 200)
        let start = Date()
        XCTAssertEqual(try c.readToEnd(), [])
        XCTAssertTrue(c.closedByPeer)
        let idle = Date().timeIntervalSince(start)
        XCTAssertGreaterThan(idle, 0.25)
        XCTAssertLessThan(idle, 2.5)
    }

    func testHeaderTimeoutIs408() throws {
        let f = try FulcrumServer(["-backend", backends[0].url, "-header-timeout", "0.4"])
        defer { f.stop() }
        let c = try TestHTTPConnection(port: f.port, timeout: 5)
        try c.send("GET / HTTP/1.1\r\nHost: x\r\n")  // never finished
        let start = Date()
        let r = try c.readResponse()
        XCTAssertEqual(r.status, 408)
        XCTAssertLessThan(Date().timeIntervalSince(start), 3)
        _ = try? c.readToEnd()
        XCTAssertTrue(c.closedByPeer)
    }

    func testSmugglingShapesNeverReachABackend() throws {
        let shapes = [
            "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
            "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked, identity\r\n\r\n0\r\n\r\n",
            "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: +5\r\n\r\nhello",
            "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello!",
            "GET / HTTP/1.1\nHost: x\n\n",
            "GET / HTTP/1.1\r\nHost: x\r\nX-A: a\u{0}b\r\n\r\n",
            "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n12345678901234567\r\nx\r\n0\r\n\r\n",
            "GET / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding : chunked\r\n\r\n",
        ]
        let before = metricValue(try fulcrum.admin("GET", "/metrics").text, "fulcrum_upstream_duration_seconds_count", sum: true)
        for shape in shapes {
            let c = try TestHTTPConnection(port: fulcrum.port)
            try c.send(shape)
            let r = try c.readResponse()
            XCTAssertEqual(r.status, 400, shape.debugDescription)
            _ = try? c.readToEnd()
            XCTAssertTrue(c.closedByPeer, "connection closed after \(shape.debugDescription)")
        }
        let after = metricValue(try fulcrum.admin("GET", "/metrics").text, "fulcrum_upstream_duration_seconds_count", sum: true)
        XCTAssertEqual(before, after, "a refused request reached a backend")
    }

    func testRandomAndMutatedRequestsNeverCrashTheProxy() throws {
        var rng = SystemRandomNumberGenerator()
        let seeds = [
            "GET / HTTP/1.1\r\nHost: x\r\n\r\n",
            "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello",
            "POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n",
            "GET /ws HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n",
        ].map { Array($0.utf8) }
        let deadline = Date().addingTimeInterval(45)
        for i in 0..<500 where Date() < deadline {
            var bytes: [UInt8]
            if i % 5 == 0 {
                bytes = (0..<Int.random(in: 1...300, using: &rng)).map { _ in UInt8.random(in: 0...255, using: &rng) }
            } else {
                bytes = seeds[i % seeds.count]
                for _ in 0..<Int.random(in: 1...6, using: &rng) {
                    let at = Int.random(in: 0..<bytes.count, using: &rng)
                    switch Int.random(in: 0..<4, using: &rng) {
                    case 0: bytes[at] = UInt8.random(in: 0...255, using: &rng)
                    case 1: bytes.insert(UInt8.random(in: 0...255, using: &rng), at: at)
                    case 2: if bytes.count > 1 { bytes.remove(at: at) }
                    default: bytes.insert(contentsOf: bytes[at..<min(bytes.count, at + 20)], at: at)
                    }
                }
            }
            guard let c = try? TestHTTPConnection(port: fulcrum.port, timeout: 0.3) else { continue }
            try? c.send(bytes)
            if i % 3 != 0 { shutdown(c.fd, Int32(SHUT_WR)) }  // else: leave it open and hanging
            _ = try? c.readResponse()
        }
        XCTAssertTrue(fulcrum.child.isRunning, "the proxy crashed:\n" + fulcrum.child.output.suffix(20).joined(separator: "\n"))
        XCTAssertEqual(try fulcrum.get().status, 200)
    }
}

/// A sample's value in Prometheus text (`name{labels}` exactly, or summed over all label sets with `sum`).
func metricValue(_ text: String, _ series: String, sum: Bool = false) -> Double {
    var total = 0.0
    for line in text.split(separator: "\n") where !line.hasPrefix("#") {
        let parts = line.split(separator: " ")
        guard parts.count == 2, let v = Double(parts[1]) else { continue }
        let name = String(parts[0])
        if name == series { return v }
        if sum && (name.hasPrefix(series + "{") || name == series) { total += v }
    }
    return total
}

/// Resident memory of a process in KiB.
func residentKiB(_ pid: Int32) -> Int {
    guard let status = try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8) else { return 0 }
    for line in status.split(separator: "\n") where line.hasPrefix("VmRSS:") {
        return Int(line.split(separator: " ").dropFirst().first ?? "0") ?? 0
    }
    return 0
}
