import Foundation
import XCTest

/// `-slow-start` through the real binary: a newly registered backend gets a
/// small share at first and its full share once the window has passed.
final class SlowStartIntegrationTests: XCTestCase {
    func testNewBackendRampsUpOverTheWindow() throws {
        let a = try BackendServer(name: "old"), b = try BackendServer(name: "new")
        defer { a.kill(); b.kill() }
        // WRR follows weights exactly, one worker keeps one schedule.
        let server = try FulcrumServer(["-algo", "WRR", "-workers", "1", "-slow-start", "2", "-backend", a.url])
        defer { server.stop() }
        XCTAssertEqual(try server.answerers(4), ["old", "old", "old", "old"])

        XCTAssertEqual(try server.register(b).status, 200)
        let registered = Date()
        // Early in the window: weight 10% … ~25% of old's, so well under its full half.
        let early = try server.answerers(40)
        let earlyElapsed = Date().timeIntervalSince(registered)
        let earlyNew = early.filter { $0 == "new" }.count
        XCTAssertGreaterThan(earlyNew, 0, "in rotation at once, at a low weight")
        if earlyElapsed < 0.5 {
            XCTAssertLessThanOrEqual(earlyNew, 8, "\(earlyNew) of 40 in the first \(earlyElapsed) s")
        }

        // Near the end of the window: equal weights, an exact half under WRR.
        var full = false
        eventually(8, every: 0.1, "full share") {
            let sample = (try? server.answerers(20)) ?? []
            full = sample.filter { $0 == "new" }.count == 10
            return full
        }
        XCTAssertGreaterThan(Date().timeIntervalSince(registered), 1.2, "the full share came before the ramp allowed it")
        // The ramp ends at 2 s and is published within one re-publish period (200 ms):
        // a deadline in time, not a condition to poll.
        Thread.sleep(until: registered.addingTimeInterval(2.3))
        let later = try server.answerers(40)
        XCTAssertEqual(later.filter { $0 == "new" }.count, 20, "\(later)")
    }

    func testSlowStartFlagIsValidatedAndListed() throws {
        let bad = try ChildProcess(buildDirectory + "/fulcrum", ["-slow-start", "abc"], name: "fulcrum")
        XCTAssertEqual(bad.waitForExit(seconds: 10), 2)
        XCTAssertTrue(bad.output.joined().contains("-slow-start"), "\(bad.output)")
        let help = try ChildProcess(buildDirectory + "/fulcrum", ["-help"], name: "fulcrum")
        _ = help.waitForExit(seconds: 10)
        XCTAssertTrue(help.output.contains { $0.contains("-slow-start SECONDS") })
    }
}
