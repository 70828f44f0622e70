import Foundation
import XCTest

/// Health checking, drain, live strategy switching, run-time plugins.
final class HealthTests: XCTestCase {
    func testKilledBackendLeavesAndReturnsWithinRiseFallBounds() throws {
        let steady = try BackendServer(name: "steady")
        let flaky = try BackendServer(name: "flaky")
        let port = flaky.port
        defer { steady.kill() }
        let period = 0.3
        let f = try FulcrumServer(["-backend", steady.url, "-backend", flaky.url, "-t", "\(period)", "-rise", "2", "-fall", "2"])
        defer { f.stop() }
        flaky.kill()
        var start = Date()
        eventually(2 * period + 1, "the killed backend leaves rotation") {
            (try? f.backend("http://127.0.0.1:\(port)")?["healthy"] as? Bool) == false
        }
        XCTAssertLessThanOrEqual(Date().timeIntervalSince(start), 2 * period + 1)
        let restarted = try BackendServer(name: "flaky", port: port)
        defer { restarted.kill() }
        start = Date()
        eventually(2 * period + 1, "the restarted backend returns") {
            (try? f.backend(restarted.url)?["healthy"] as? Bool) == true
        }
        XCTAssertLessThanOrEqual(Date().timeIntervalSince(start), 2 * period + 1)
        eventually(3, "it takes traffic again") { (try? f.answerers(4).contains("flaky")) == true }
        let metrics = try f.admin("GET", "/metrics").text
        XCTAssertGreaterThanOrEqual(metricValue(metrics, "fulcrum_health_transitions_total{to=\"down\"}"), 1)
        XCTAssertGreaterThanOrEqual(metricValue(metrics, "fulcrum_health_transitions_total{to=\"up\"}"), 1)
        XCTAssertTrue(f.child.output.contains { $0.contains("is DOWN") && $0.contains("connection refused") })
    }

    func testHungBackendDoesNotStallChecksOfOthers() throws {
        let hung = try BackendServer(name: "hung", mode: "hang")
        let victim = try BackendServer(name: "victim")
        let survivor = try BackendServer(name: "survivor")
        defer { hung.kill(); survivor.kill() }
        let period = 0.4
        let f = try FulcrumServer(["-backend", hung.url, "-backend", victim.url, "-backend", survivor.url,
                                   "-t", "\(period)", "-probe-timeout", "0.3", "-fall", "2"])
        defer { f.stop() }
        eventually(3, "the hung backend fails its probes (timeouts)") { (try? f.backend(hung.url)?["healthy"] as? Bool) == false }
        XCTAssertTrue(f.child.output.contains { $0.contains("timeout after 300 ms") }, "the probe's detail is logged")
        let victimURL = victim.url
        victim.kill()
        let start = Date()
        eventually(2 * period + 1, "a dead backend is noticed while another hangs") {
            (try? f.backend(victimURL)?["healthy"] as? Bool) == false
        }
        XCTAssertLessThanOrEqual(Date().timeIntervalSince(start), 2 * period + 1)
        XCTAssertEqual(try f.backend(survivor.url)?["healthy"] as? Bool, true)
    }

    func testKillingOneOfThreeUnderLoadCausesNoClientErrors() throws {
        let backends = try (1...3).map { try BackendServer(name: "load\($0)") }
        defer { backends.forEach { $0.kill() } }
        let f = try FulcrumServer(backends.flatMap { ["-backend", $0.url] } + ["-t", "0.5"])
        defer { f.stop() }
        final class Tally: @unchecked Sendable {
            let lock = NSLock()
            var ok = 0, failed: [String] = []
        }
        let tally = Tally()
        let stop = Date().addingTimeInterval(3)
        let port = f.port
        DispatchQueue.concurrentPerform(iterations: 5) { worker in
            if worker == 4 {
                Thread.sleep(forTimeInterval: 1)  // let load build up, then kill one
                backends[1].kill()
                return
            }
            let conn = try? TestHTTPConnection(port: port)
            var c = conn
            while Date() < stop {
                do {
                    if c == nil { c = try TestHTTPConnection(port: port) }
                    let r = try c!.request("GET", "/")
                    tally.lock.withLock { if r.status == 200 { tally.ok += 1 } else { tally.failed.append("status \(r.status)") } }
                } catch {
                    tally.lock.withLock { tally.failed.append("\(error)") }
                    c = nil
                }
            }
        }
        XCTAssertGreaterThan(tally.ok, 100)
        XCTAssertEqual(tally.failed, [], "client-visible errors while a backend died")
    }
}

final class DrainTests: XCTestCase {
    func testInFlightRequestToDrainedBackendCompletesAndNoNewOnesArrive() throws {
        let drained = try BackendServer(name: "drained")
        let other = try BackendServer(name: "other")
        defer { drained.kill(); other.kill() }
        let f = try FulcrumServer(["-backend", drained.url, "-backend", other.url, "-t", "60"])
        defer { f.stop() }
        // RR: the first request goes to the first backend, and is slow.
        let slow = try TestHTTPConnection(port: f.port)
        try slow.send("GET /delay/1500 HTTP/1.1\r\nHost: x\r\n\r\n")
        eventually(3, "the slow request is in flight") { (try? f.backend(drained.url)?["active"] as? Int) == 1 }
        let encoded = drained.url.addingPercentEncoding(withAllowedCharacters: .alphanumerics)!
        XCTAssertEqual(try f.admin("DELETE", "/backends?address=\(encoded)").status, 200)
        XCTAssertEqual(try f.backend(drained.url)?["draining"] as? Bool, true)
        // New requests never reach it.
        XCTAssertEqual(Set(try f.answerers(10)), ["other"])
        // The in-flight one completes normally.
        let r = try slow.readResponse()
        XCTAssertEqual(r.status, 200)
        XCTAssertEqual(r.header("X-Backend"), "drained")
        eventually(3, "the drained backend is gone once idle") { (try? f.backend(drained.url)) == nil }
    }
}

final class StrategySwitchTests: XCTestCase {
    func testSwitchUnderLoadDropsNothingAndNewPicksFollowTheNewStrategy() throws {
        let backends = try (1...3).map { try BackendServer(name: "s\($0)") }
        defer { backends.forEach { $0.kill() } }
        let f = try FulcrumServer(["-t", "60"] + backends.enumerated().flatMap { ["-backend", $1.url + ($0 == 0 ? "=5" : "=1")] })
        defer { f.stop() }
        final class Tally: @unchecked Sendable { let lock = NSLock(); var ok = 0; var failed: [String] = [] }
        let tally = Tally()
        let port = f.port
        DispatchQueue.concurrentPerform(iterations: 5) { worker in
            if worker == 4 {
                for name in ["LC", "PTC", "SIH", "SRR", "WRR", "RR", "LC"] {
                    XCTAssertEqual(try? f.admin("PUT", "/strategy", json: #"{"name":"\#(name)"}"#).status, 200)
                    Thread.sleep(forTimeInterval: 0.15)
                }
                return
            }
            guard let c = try? TestHTTPConnection(port: port) else { return }
            for _ in 0..<300 {
                do {
                    let r = try c.request("GET", "/")
                    tally.lock.withLock { if r.status == 200 { tally.ok += 1 } else { tally.failed.append("\(r.status)") } }
                } catch {
                    tally.lock.withLock { tally.failed.append("\(error)") }
                    return
                }
            }
        }
        XCTAssertEqual(tally.failed, [])
        XCTAssertEqual(tally.ok, 1200)
        // Now WRR with weights 5,1,1: fresh requests follow a a b a c a a.
        XCTAssertEqual(try f.admin("PUT", "/strategy", json: #"{"name":"WRR"}"#).status, 200)
        XCTAssertEqual(try f.answerers(14), ["s1", "s1", "s2", "s1", "s3", "s1", "s1", "s1", "s1", "s2", "s1", "s3", "s1", "s1"])
        // And RR: each in turn.
        XCTAssertEqual(try f.admin("PUT", "/strategy", json: #"{"name":"round-robin"}"#).status, 200)
        XCTAssertEqual(try f.answerers(6), ["s1", "s2", "s3", "s1", "s2", "s3"])
    }
}

final class RuntimePluginTests: XCTestCase {
    func testCPluginLoadedThroughAdminAndSelected() throws {
        let backends = try (1...3).map { try BackendServer(name: "p\($0)") }
        defer { backends.forEach { $0.kill() } }
        let f = try FulcrumServer(backends.flatMap { ["-backend", $0.url] } + ["-t", "60"])
        defer { f.stop() }
        let dir = try temporaryDirectory("runtime-plugin")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let so = try compileCPlugin(cStrategySource(name: "always-last", aliases: "\"LAST\""), named: "always-last", in: dir)
        let r = try f.admin("POST", "/plugins", json: #"{"path":"\#(so)"}"#)
        XCTAssertEqual(r.status, 200, r.text)
        let data = r.json?["data"] as? [String: Any]
        XCTAssertEqual(data?["strategies"] as? [String], ["always-last"])
        XCTAssertEqual(data?["abi"] as? Int, 1)
        XCTAssertEqual(data?["file"] as? String, so)
        XCTAssertEqual(try f.admin("PUT", "/strategy", json: #"{"name":"last"}"#).status, 200)
        XCTAssertEqual(Set(try f.answerers(6)), ["p3"])
        let listed = try f.admin("GET", "/plugins").json?["data"] as? [String: Any]
        XCTAssertTrue(((listed?["plugins"] as? [[String: Any]]) ?? []).contains { $0["file"] as? String == so })
        // Loading it again is refused (its names are taken).
        XCTAssertEqual(try f.admin("POST", "/plugins", json: #"{"path":"\#(so)"}"#).status, 400)
    }

    func testPluginsDirectoryFlagAndEnvironment() throws {
        let dir = try temporaryDirectory("plugins-flag")
        let envDir = try temporaryDirectory("plugins-env")
        defer { try? FileManager.default.removeItem(atPath: dir); try? FileManager.default.removeItem(atPath: envDir) }
        try compileCPlugin(cStrategySource(name: "from-flag"), named: "flag", in: dir)
        try compileCPlugin(cStrategySource(name: "from-env"), named: "env", in: envDir)
        _ = FileManager.default.createFile(atPath: dir + "/notes.so", contents: Data("hello".utf8))
        let f = try FulcrumServer(["-plugins", dir, "-algo", "from-env"], environment: ["FULCRUM_PLUGIN_PATH": envDir])
        defer { f.stop() }
        XCTAssertTrue(f.child.output.contains { $0.contains("WARN") && $0.contains("notes.so") }, "a non-plugin file is skipped with a warning")
        XCTAssertEqual(try f.admin("PUT", "/strategy", json: #"{"name":"from-flag"}"#).status, 200)
    }
}
