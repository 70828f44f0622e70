import Foundation
import XCTest

/// Issue 8 (5): time and count limits on admin connections.
final class AdminConnectionLimitTests: XCTestCase {
    func testStalledHeadIsClosedAfterTheHeaderTimeout() throws {
        let f = try FulcrumServer(["-t", "60", "-header-timeout", "0.5", "-idle-timeout", "30"])
        defer { f.stop() }
        // A connection that never sends a byte must send its head within the header timeout too.
        let silent = try TestHTTPConnection(port: f.adminPort, timeout: 6)
        let stalled = try (0..<20).map { _ in try TestHTTPConnection(port: f.adminPort, timeout: 6) }
        for c in stalled { try c.send("PUT /strategy HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-") }
        let started = Date()
        for c in stalled {
            let rest = String(decoding: try c.readToEnd(), as: UTF8.self)
            XCTAssertTrue(rest.hasPrefix("HTTP/1.1 408 "), rest)
            XCTAssertTrue(c.closedByPeer)
        }
        XCTAssertEqual(try silent.readToEnd(), [], "closed without a response")
        XCTAssertLessThan(Date().timeIntervalSince(started), 5)
        // A body that never completes is a stalled request too.
        let c = try TestHTTPConnection(port: f.adminPort, timeout: 6)
        try c.send(requestBytes("PUT", "/strategy", body: #"{"name":"LC"}"#).dropLast(3).map { $0 })
        XCTAssertTrue(String(decoding: try c.readToEnd(), as: UTF8.self).hasPrefix("HTTP/1.1 408 "))
        XCTAssertEqual(try f.admin("GET", "/healthz").status, 200)
    }

    func testIdleKeepAliveConnectionIsClosed() throws {
        let f = try FulcrumServer(["-t", "60", "-header-timeout", "30", "-idle-timeout", "0.5"])
        defer { f.stop() }
        let c = try TestHTTPConnection(port: f.adminPort, timeout: 6)
        XCTAssertEqual(try c.request("GET", "/healthz").status, 200)
        let started = Date()
        XCTAssertEqual(try c.readToEnd(), [], "closed without a response")
        XCTAssertTrue(c.closedByPeer)
        XCTAssertLessThan(Date().timeIntervalSince(started), 5)
    }

    func testConcurrentConnectionsAreCapped() throws {
        let f = try FulcrumServer(["-t", "60"])
        defer { f.stop() }
        var open = try (0..<64).map { _ in try TestHTTPConnection(port: f.adminPort, timeout: 5) }
        // Each of the 64 is served (and stays open, keep-alive).
        for c in open.prefix(2) { XCTAssertEqual(try c.request("GET", "/healthz").status, 200) }
        let extra = try TestHTTPConnection(port: f.adminPort, timeout: 5)
        let refused = String(decoding: try extra.readToEnd(), as: UTF8.self)
        XCTAssertTrue(refused.hasPrefix("HTTP/1.1 503 "), refused)
        open.suffix(4).forEach { $0.close() }
        open.removeLast(4)
        eventually(5, "a slot is free again") {
            (try? TestHTTPConnection(port: f.adminPort, timeout: 5).request("GET", "/healthz", closing: true).status) == 200
        }
        XCTAssertEqual(try open[0].request("GET", "/healthz").status, 200)
    }

    /// While a slow answer is pending, a FIN or pipelined bytes must not make the loop spin.
    func testNoSpinWhileAResponseIsPending() throws {
        // A backend that accepts and never answers: the registration probe waits its full timeout.
        let silent = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { Glibc.close(silent) }
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_addr.s_addr = UInt32(0x7F00_0001).bigEndian
        var len = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(silent, $0, len) } }
        listen(silent, 16)
        _ = withUnsafeMutablePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(silent, $0, &len) } }
        let port = UInt16(bigEndian: addr.sin_port)

        let f = try FulcrumServer(["-t", "60", "-probe-timeout", "1.5"])
        defer { f.stop() }
        let finned = try TestHTTPConnection(port: f.adminPort, timeout: 8)
        try finned.send(requestBytes("POST", "/register", body: #"{"address":"http://127.0.0.1:\#(port)"}"#))
        shutdown(finned.fd, Int32(SHUT_WR))
        let pipelined = try TestHTTPConnection(port: f.adminPort, timeout: 8)
        try pipelined.send(requestBytes("POST", "/register", body: #"{"address":"http://127.0.0.1:\#(port)"}"#) + requestBytes("GET", "/healthz"))
        let before = cpuSeconds(of: f.child.pid)
        let started = Date()
        XCTAssertEqual(try finned.readResponse().status, 422)
        XCTAssertEqual(try pipelined.readResponse().status, 422)
        XCTAssertEqual(try pipelined.readResponse().status, 200)
        let elapsed = Date().timeIntervalSince(started)
        let used = cpuSeconds(of: f.child.pid) - before
        XCTAssertGreaterThan(elapsed, 1)
        XCTAssertLessThan(used, elapsed * 0.3, "fulcrum used \(used) s of CPU in \(elapsed) s: spinning")
    }

    /// Out of file descriptors: accept pauses (no spin) and resumes once some are free.
    func testAcceptPausesOnEMFILE() throws {
        guard FileManager.default.isExecutableFile(atPath: "/usr/bin/prlimit") else { throw XCTSkip("no prlimit (util-linux)") }
        let f = try FulcrumServer(["-t", "60", "-workers", "1", "-header-timeout", "30", "-idle-timeout", "30"])
        defer { f.stop() }
        // Lower the running process's descriptor limit to just above what it uses now.
        let used = (try FileManager.default.contentsOfDirectory(atPath: "/proc/\(f.child.pid)/fd")).count
        try runCommand("/usr/bin/prlimit", ["--pid", "\(f.child.pid)", "--nofile=\(used + 8):\(used + 8)"])
        var clients: [TestHTTPConnection] = []
        for _ in 0..<24 { clients.append(try TestHTTPConnection(port: f.adminPort, timeout: 5)) }
        let before = cpuSeconds(of: f.child.pid)
        let started = Date()
        Thread.sleep(forTimeInterval: 1.5)  // measuring CPU over a stretch of time: nothing to await
        let cpu = cpuSeconds(of: f.child.pid) - before
        XCTAssertLessThan(cpu, Date().timeIntervalSince(started) * 0.3, "spinning on EMFILE: \(cpu) s of CPU")
        clients.forEach { $0.close() }
        clients.removeAll()
        eventually(10, "accepting again") {
            (try? TestHTTPConnection(port: f.adminPort, timeout: 3).request("GET", "/healthz", closing: true).status) == 200
        }
    }
}
