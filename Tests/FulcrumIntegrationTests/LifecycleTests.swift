import Foundation
import XCTest

/// Persistence, signals, metrics, access log, the command line, the demo.
final class PersistenceTests: XCTestCase {
    func testRegistrationsSurviveKill9AndRestart() throws {
        let dir = try temporaryDirectory("state")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let state = dir + "/fulcrum.json"
        let a = try BackendServer(name: "a"), b = try BackendServer(name: "b"), c = try BackendServer(name: "c")
        defer { [a, b, c].forEach { $0.kill() } }
        var f = try FulcrumServer(["-state", state, "-t", "60"])
        XCTAssertEqual(try f.register(a, weight: 3).status, 200)
        XCTAssertEqual(try f.register(b, weight: 7).status, 200)
        XCTAssertEqual(try f.register(c).status, 200)
        // Drain c while a request holds it, so it is still registered (draining) at the kill.
        let hold = try TestHTTPConnection(port: f.port)
        _ = try f.admin("PUT", "/strategy", json: #"{"name":"LC"}"#)
        try hold.send("GET /delay/5000 HTTP/1.1\r\nHost: x\r\n\r\n")
        eventually(3, "a slow request in flight") { ((try? f.backends()) ?? []).contains { ($0["active"] as? Int) == 1 } }
        let busy = try XCTUnwrap(try f.backends().first { ($0["active"] as? Int) == 1 }?["address"] as? String)
        let encoded = busy.addingPercentEncoding(withAllowedCharacters: .alphanumerics)!
        XCTAssertEqual(try f.admin("DELETE", "/backends?address=\(encoded)").status, 200)
        f.child.signal(SIGKILL)
        XCTAssertNotNil(f.child.waitForExit(seconds: 5))

        let saved = try String(contentsOfFile: state, encoding: .utf8)
        XCTAssertTrue(saved.contains(a.url) && saved.contains(b.url) && saved.contains(c.url), saved)
        f = try FulcrumServer(["-state", state, "-t", "60"])
        defer { f.stop() }
        let list = try f.backends()
        let weights = Dictionary(uniqueKeysWithValues: list.map { ($0["address"] as! String, $0["weight"] as! Int) })
        if busy != a.url { XCTAssertEqual(weights[a.url], 3) }
        if busy != b.url { XCTAssertEqual(weights[b.url], 7) }
        // The backend that was draining finishes draining (nothing is in flight now): it is gone or going.
        eventually(3, "the drained backend is removed after restart") { (try? f.backend(busy)) == nil }
        XCTAssertEqual(try f.backends().count, 2)
        XCTAssertEqual(try f.get().status, 200)
    }

    func testCorruptStateFileIsAClearError() throws {
        let dir = try temporaryDirectory("corrupt")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let state = dir + "/state.json"
        try "{\"version\":1,\"backends\":[{\"address\":\"http://x".write(toFile: state, atomically: true, encoding: .utf8)
        let child = try ChildProcess(buildDirectory + "/fulcrum", ["-listen", "127.0.0.1:0", "-admin", "127.0.0.1:0", "-state", state], name: "fulcrum")
        XCTAssertEqual(child.waitForExit(seconds: 10), 1)
        let text = child.output.joined(separator: "\n")
        XCTAssertTrue(text.contains("state file \(state) is corrupt"), text)
        // The file is left as it was.
        XCTAssertEqual(try String(contentsOfFile: state, encoding: .utf8), "{\"version\":1,\"backends\":[{\"address\":\"http://x")
    }
}

final class SignalTests: XCTestCase {
    func testSIGTERMLetsInFlightRequestsFinishThenExitsZero() throws {
        let backend = try BackendServer(name: "sig")
        defer { backend.kill() }
        let f = try FulcrumServer(["-backend", backend.url, "-t", "60"])
        let c = try TestHTTPConnection(port: f.port)
        try c.send("GET /delay/1200 HTTP/1.1\r\nHost: x\r\n\r\n")
        eventually(3, "the request is in flight") { (try? f.backend(backend.url)?["active"] as? Int) == 1 }
        f.child.signal(SIGTERM)
        // No new connections are accepted once draining has begun.
        eventually(3, "the listener closes") { (try? TestHTTPConnection(port: f.port)) == nil }
        let r = try c.readResponse()
        XCTAssertEqual(r.status, 200)
        XCTAssertEqual(r.header("Connection")?.lowercased(), "close")
        XCTAssertEqual(f.child.waitForExit(seconds: 10), 0)
    }

    func testSIGINTWithNothingInFlightExitsAtOnce() throws {
        let f = try FulcrumServer()
        _ = try TestHTTPConnection(port: f.port)  // an idle keep-alive client does not hold shutdown
        f.child.signal(SIGINT)
        let start = Date()
        XCTAssertEqual(f.child.waitForExit(seconds: 10), 0)
        XCTAssertLessThan(Date().timeIntervalSince(start), 3)
    }
}

final class MetricsTests: XCTestCase {
    func testMetricsParseAsPrometheusTextAndCountersMatch() throws {
        let a = try BackendServer(name: "ma"), b = try BackendServer(name: "mb")
        defer { a.kill(); b.kill() }
        let f = try FulcrumServer(["-backend", a.url, "-backend", b.url, "-t", "60"])
        defer { f.stop() }
        let c = try TestHTTPConnection(port: f.port)
        for _ in 0..<10 { XCTAssertEqual(try c.request("GET", "/").status, 200) }
        for _ in 0..<4 { XCTAssertEqual(try c.request("GET", "/status/404").status, 404) }
        let text = try f.admin("GET", "/metrics").text
        let sample = try NSRegularExpression(pattern: #"^[a-zA-Z_:][a-zA-Z0-9_:]*(\{([a-zA-Z_][a-zA-Z0-9_]*="([^"\\]|\\.)*",?)*\})? -?[0-9.e+Inf]+$"#)
        for line in text.split(separator: "\n").map(String.init) {
            if line.hasPrefix("# HELP ") || line.hasPrefix("# TYPE ") { continue }
            XCTAssertNotNil(sample.firstMatch(in: line, range: NSRange(line.startIndex..., in: line)), "not a valid sample: \(line)")
        }
        for family in ["fulcrum_requests_total", "fulcrum_backend_up", "fulcrum_backend_active", "fulcrum_upstream_duration_seconds"] {
            XCTAssertTrue(text.contains("# TYPE \(family) "), family)
        }
        XCTAssertEqual(metricValue(text, "fulcrum_requests_total{backend=\"\(a.url)\",code=\"200\"}")
                       + metricValue(text, "fulcrum_requests_total{backend=\"\(b.url)\",code=\"200\"}"), 10)
        XCTAssertEqual(metricValue(text, "fulcrum_requests_total", sum: true), 14)
        XCTAssertEqual(metricValue(text, "fulcrum_upstream_duration_seconds_count", sum: true), 14)
        XCTAssertEqual(metricValue(text, "fulcrum_upstream_duration_seconds_bucket{backend=\"\(a.url)\",le=\"+Inf\"}"),
                       metricValue(text, "fulcrum_upstream_duration_seconds_count{backend=\"\(a.url)\"}"))
        XCTAssertEqual(metricValue(text, "fulcrum_backend_up{backend=\"\(a.url)\"}"), 1)
        XCTAssertEqual(metricValue(text, "fulcrum_responses_total{code=\"404\"}"), 4)
    }
}

final class AccessLogTests: XCTestCase {
    func testOneLinePerRequest() throws {
        let backend = try BackendServer(name: "log")
        defer { backend.kill() }
        let dir = try temporaryDirectory("access")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let path = dir + "/access.log"
        let f = try FulcrumServer(["-backend", backend.url, "-access-log", path, "-t", "60"])
        defer { f.stop() }
        XCTAssertEqual(try f.get("/hello?x=1").status, 200)
        XCTAssertEqual(try f.get("/status/503").status, 503)
        var lines: [String] = []
        eventually(3, "two access-log lines") {
            lines = ((try? String(contentsOfFile: path, encoding: .utf8)) ?? "").split(separator: "\n").map(String.init)
            return lines.count == 2
        }
        let fields = lines[0].split(separator: " ").map(String.init)
        XCTAssertEqual(fields.count, 7, lines[0])
        XCTAssertTrue(fields[0].hasSuffix("Z"))
        XCTAssertEqual(Array(fields[1...5]), ["127.0.0.1", "GET", "/hello?x=1", "200", backend.url])
        XCTAssertTrue(fields[6].hasSuffix("ms"))
        XCTAssertTrue(lines[1].contains(" GET /status/503 503 "))
    }
}

final class CommandLineTests: XCTestCase {
    func run(_ args: [String], environment: [String: String]? = nil) throws -> (Int32?, String) {
        let child = try ChildProcess(buildDirectory + "/fulcrum", args, name: "fulcrum", environment: environment)
        let status = child.waitForExit(seconds: 15)
        if status == nil { child.stop() }
        return (status, child.output.joined(separator: "\n"))
    }

    func testBadUsageExitsNonZeroWithOneClearLine() throws {
        let cases: [([String], String)] = [
            (["-bogus"], "unknown flag -bogus"),
            (["-port", "abc"], "invalid value \"abc\" for -port"),
            (["-port", "70000"], "-port"),
            (["-t", "-1"], "-t"),
            (["-workers", "0"], "-workers"),
            (["-algo", "nope"], "unknown strategy \"nope\""),
            (["-probe", "nope"], "unknown probe \"nope\""),
            (["-backend", "http://x"], "invalid -backend"),
            (["-backend", "http://127.0.0.1:9=0"], "invalid weight"),
            (["-plugins", "/no/such/dir"], "no such directory"),
            (["-port"], "needs a value"),
        ]
        for (args, expected) in cases {
            let (status, text) = try run(["-admin", "127.0.0.1:0"] + args)
            XCTAssertNotNil(status, "\(args) did not exit")
            XCTAssertNotEqual(status, 0, "\(args)")
            let errorLines = text.split(separator: "\n").filter { $0.hasPrefix("fulcrum:") }
            XCTAssertEqual(errorLines.count, 1, "\(args): \(text)")
            XCTAssertTrue(text.contains(expected), "\(args): \(text)")
        }
    }

    func testPortInUseIsAClearError() throws {
        let holder = try FulcrumServer()
        defer { holder.stop() }
        let (status, text) = try run(["-listen", "127.0.0.1:\(holder.port)", "-admin", "127.0.0.1:0"])
        XCTAssertEqual(status, 1)
        XCTAssertTrue(text.contains("address already in use"), text)
        let (adminStatus, adminText) = try run(["-listen", "127.0.0.1:0", "-admin", "127.0.0.1:\(holder.adminPort)"])
        XCTAssertEqual(adminStatus, 1)
        XCTAssertTrue(adminText.contains("address already in use") && adminText.contains("-admin"), adminText)
    }

    func testPluginWithWrongABIInAPluginDirectoryStopsStartUp() throws {
        let dir = try temporaryDirectory("abi")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try compileCPlugin(cStrategySource(name: "old", abi: "999"), named: "old-abi", in: dir)
        let (status, text) = try run(["-plugins", dir, "-listen", "127.0.0.1:0", "-admin", "127.0.0.1:0"])
        XCTAssertEqual(status, 1)
        XCTAssertTrue(text.contains("old-abi.so") && text.contains("ABI version 999"), text)
    }

    func testHelpAndVersion() throws {
        let (helpStatus, help) = try run(["-help"])
        XCTAssertEqual(helpStatus, 0)
        for flag in ["-port", "-listen", "-admin", "-algo", "-t ", "-probe", "-health-path", "-rise", "-probe-timeout",
                     "-header-timeout", "-connect-timeout", "-timeout", "-idle-timeout", "-backend", "-plugins", "-workers",
                     "-state", "-admin-token", "-access-log", "-demo"] {
            XCTAssertTrue(help.contains(flag), flag)
        }
        let (versionStatus, version) = try run(["--version"])
        XCTAssertEqual(versionStatus, 0)
        XCTAssertTrue(version.hasPrefix("fulcrum "))
    }

    func testDoubleDashAndEqualsForms() throws {
        let backend = try BackendServer(name: "dash")
        defer { backend.kill() }
        let f = try FulcrumServer(["--backend=\(backend.url)=2", "--algo", "wrr", "-t=60"])
        defer { f.stop() }
        XCTAssertEqual(try f.backend(backend.url)?["weight"] as? Int, 2)
        XCTAssertEqual((try f.admin("GET", "/backends").json?["data"] as? [String: Any])?["strategy"] as? String, "weighted-round-robin")
    }
}

final class DemoTests: XCTestCase {
    func testDemoShowsBalancingAndAStrategySwitch() throws {
        let f = try FulcrumServer(["-demo"])
        defer { f.stop() }
        _ = try f.child.waitForLine("Try it yourself", seconds: 20)
        let text = f.child.output.joined(separator: "\n")
        for i in 1...3 { XCTAssertTrue(text.contains("Hello from backend-\(i)"), text) }
        XCTAssertTrue(text.contains(#""strategy":"weighted-round-robin""#), text)
        XCTAssertEqual(try f.backends().count, 3)
    }
}
