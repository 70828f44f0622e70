import FulcrumPluginHost
import FulcrumRegistry
import XCTest

/// Maglev (CONTRACT §9) through the built plugin: balance and disruption.
final class MaglevTests: XCTestCase {
    /// 100,000 random client addresses, the same every run.
    static let keys: [UInt32] = {
        var r = TestRandom(seed: 42)
        return (0..<100_000).map { _ in UInt32(truncatingIfNeeded: r.next()) }
    }()

    func shares(_ instance: StrategyInstance, backends: Int) -> [Int] {
        var counts = Array(repeating: 0, count: backends)
        for ip in Self.keys { counts[instance.pick(clientIPv4: ip)!] += 1 }
        return counts
    }

    func testBalanceWithinFivePercentOfWeightShares() throws {
        for weights: [UInt32] in [Array(repeating: 1, count: 10), Array(1...10), [5, 1, 1, 3, 3, 2, 8, 1, 1, 10]] {
            let maglev = try strategy("maglev")
            let backends = TestBackends(weights: weights)
            maglev.update(backends.all)
            let counts = shares(maglev, backends: weights.count)
            let total = Double(weights.reduce(0, +))
            for (i, w) in weights.enumerated() {
                let expected = Double(Self.keys.count) * Double(w) / total
                let ratio = Double(counts[i]) / expected
                XCTAssertLessThanOrEqual(abs(ratio - 1), 0.05, "weights \(weights): backend \(i) got \(counts[i]), expected \(Int(expected))")
            }
        }
    }

    func testRemovingOneOfTenMovesAtMostFifteenPercent() throws {
        let maglev = try strategy("maglev")
        let backends = TestBackends(count: 10)
        maglev.update(backends.all)
        let before = Self.keys.map { backends.ids[maglev.pick(clientIPv4: $0)!] }
        for removed in 0..<10 {
            let reduced = backends.removing(removed)
            maglev.update(reduced)
            var moved = 0
            for (j, ip) in Self.keys.enumerated() where reduced.id(at: maglev.pick(clientIPv4: ip)!) != before[j] { moved += 1 }
            let fraction = Double(moved) / Double(Self.keys.count)
            XCTAssertLessThanOrEqual(fraction, 0.15, "removing backend \(removed) moved \(fraction)")
            XCTAssertGreaterThanOrEqual(fraction, 0.09, "the removed backend's own keys must move")
            maglev.update(backends.all)
        }
    }

    func testSameSetSameTableAcrossInstancesAndEmptySet() throws {
        let a = try strategy("maglev"), b = try strategy("MAGLEV")
        let backends = TestBackends(count: 7)
        a.update(backends.all)
        b.update(backends.all)
        for ip in Self.keys.prefix(2000) { XCTAssertEqual(a.pick(clientIPv4: ip), b.pick(clientIPv4: ip)) }
        let none = TestBackends(count: 0)
        a.update(none.all)
        XCTAssertNil(a.pick())
        XCTAssertNil(builtIns.strategy(named: "maglev")!.makeInstance(config: #"{"key":"bogus"}"#))
    }
}
