import Foundation
import XCTest

/// Issue 14 §4: `GET /backends` shows the weight strategies see
/// (`effective_weight`) next to the registered one, so a slow-start ramp
/// can be watched.
final class EffectiveWeightTests: XCTestCase {
    func number(_ b: [String: Any]?, _ key: String) -> Double? { (b?[key] as? NSNumber)?.doubleValue }

    func testEffectiveWeightRampsDuringSlowStartAndEqualsTheWeightAfter() throws {
        let a = try BackendServer(name: "old"), b = try BackendServer(name: "new")
        defer { a.kill(); b.kill() }
        let f = try FulcrumServer(["-slow-start", "3", "-backend", a.url])
        defer { f.stop() }
        XCTAssertEqual(number(try f.backend(a.url), "effective_weight"), 1, "in rotation before the start: full weight")

        XCTAssertEqual(try f.register(b, weight: 5).status, 200)
        let registered = Date()
        let early = try f.backend(b.url)
        let elapsed = Date().timeIntervalSince(registered)
        XCTAssertEqual(early?["weight"] as? Int, 5)
        let ramp = try XCTUnwrap(number(early, "effective_weight"))
        XCTAssertGreaterThanOrEqual(ramp, 0.5, "at least 10% of 5")
        if elapsed < 1.5 { XCTAssertLessThan(ramp, 5, "ramping \(elapsed) s into a 3 s window") }
        eventually(8, every: 0.1, "full weight after the window") { self.number(try? f.backend(b.url), "effective_weight") == 5 }
        XCTAssertGreaterThan(Date().timeIntervalSince(registered), 2, "full weight before the window allowed it")
    }

    func testEffectiveWeightIsTheWeightWithoutSlowStartAndZeroOutOfRotation() throws {
        let a = try BackendServer(name: "a"), b = try BackendServer(name: "b")
        defer { a.kill(); b.kill() }
        let f = try FulcrumServer(["-backend", "\(a.url)=3", "-backend", b.url, "-t", "0.2", "-fall", "1"])
        defer { f.stop() }
        XCTAssertEqual(number(try f.backend(a.url), "effective_weight"), 3)
        XCTAssertEqual(number(try f.backend(b.url), "effective_weight"), 1)
        b.kill()
        eventually(10, "b out of rotation") { self.number(try? f.backend(b.url), "effective_weight") == 0 }
        XCTAssertEqual(try f.backend(b.url)?["healthy"] as? Bool, false)
    }
}
