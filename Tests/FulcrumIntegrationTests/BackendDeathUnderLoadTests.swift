import Foundation
import XCTest

/// Issue 14 §1b: one of three backends dies under keep-alive load; two
/// healthy ones remain, so every GET is answered 200 (CONTRACT §4: a request
/// safe to retry is retried while another eligible backend exists) and no
/// client connection breaks.
final class BackendDeathUnderLoadTests: XCTestCase {
    static let clients = 24

    /// Load for 3.5 s (bounded in count too) with `kill` after ~1 s; the tally of client errors.
    func run(_ f: FulcrumServer, kill: () -> Void) -> KeepAliveLoad.Tally {
        let start = Date()
        let load = KeepAliveLoad(port: f.port, clients: Self.clients, maxRequests: 5_000, seconds: 3.5)
        eventually(5, "traffic flowing") { load.okCount >= 300 }
        // Pooled connections to every backend are in use by now; the load
        // itself is what this waits for, so a sleep is the point here.
        let warm = 1.0 - Date().timeIntervalSince(start)
        if warm > 0 { Thread.sleep(forTimeInterval: warm) }
        kill()
        let at = load.okCount
        let tally = load.waitUntilDone()
        XCTAssertGreaterThan(tally.ok - at, 500, "traffic went on after the death")
        print("backend death under load: \(tally.ok) ok, statuses \(tally.statuses), \(tally.broken.count) broken \(tally.broken.prefix(3))")
        return tally
    }

    func testKill9OfOneBackendOfThreeCostsNoRequest() throws {
        let backends = try (1...3).map { try BackendServer(name: "b\($0)") }
        defer { backends.forEach { $0.kill() } }
        let f = try FulcrumServer(backends.flatMap { ["-backend", $0.url] } + ["-t", "0.5"])
        defer { f.stop() }
        for b in backends { eventually(10, "\(b.name) healthy") { (try? f.backend(b.url)?["healthy"] as? Bool) == true } }
        let tally = run(f) { backends[1].kill() }
        XCTAssertEqual(tally.errors, 0, "statuses \(tally.statuses), broken \(tally.broken.prefix(5))")
        XCTAssertEqual(try f.backend(backends[1].url)?["healthy"] as? Bool, false)
    }

    func testGracefulCloseOfOneBackendOfThreeCostsNoRequest() throws {
        let backends = try (1...3).map { try GracefulBackend(name: "g\($0)") }
        defer { backends.forEach { $0.closeGracefully() } }
        let f = try FulcrumServer(backends.flatMap { ["-backend", $0.url] } + ["-t", "0.5"])
        defer { f.stop() }
        for b in backends { eventually(10, "\(b.name) healthy") { (try? f.backend(b.url)?["healthy"] as? Bool) == true } }
        let tally = run(f) { backends[1].closeGracefully() }
        XCTAssertEqual(tally.errors, 0, "statuses \(tally.statuses), broken \(tally.broken.prefix(5))")
        XCTAssertEqual(try f.backend(backends[1].url)?["healthy"] as? Bool, false)
    }
}
