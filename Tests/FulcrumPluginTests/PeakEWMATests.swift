import FulcrumPluginHost
import FulcrumRegistry
import XCTest

/// Peak-EWMA (CONTRACT §9) through the built plugin, under a simulated steady
/// concurrent load: a discrete-event loop with the host's clock replaced by
/// one the test moves (`fakeClockHost`), latencies fed through `complete()`,
/// in-flight counts through the real process-wide table. No real sleeping.
final class PeakEWMATests: XCTestCase {
    struct Outstanding { let finish: UInt64; let start: UInt64; let backend: Int }

    /// Runs `events` completions with `concurrency` requests always in flight;
    /// returns how many picks each backend got in the last `counted` events.
    func simulate(_ instance: StrategyInstance, _ backends: TestBackends, latencyMillis: [Double],
                  events: Int, counted: Int, concurrency: Int, random: inout TestRandom,
                  outstanding: inout [Outstanding]) -> [Int] {
        var picks = Array(repeating: 0, count: backends.ids.count)
        func issue(_ k: Int) {
            let i = instance.pick()!
            BackendTable.shared.begin(backends.ids[i])
            let jitter = 0.9 + 0.2 * random.unit()
            let finish = fakeClockNanos + UInt64(latencyMillis[i] * jitter * 1_000_000)
            outstanding.append(Outstanding(finish: finish, start: fakeClockNanos, backend: i))
            if k >= events - counted { picks[i] += 1 }
        }
        while outstanding.count < concurrency { issue(0) }
        for k in 0..<events {
            let next = outstanding.indices.min { outstanding[$0].finish < outstanding[$1].finish }!
            let done = outstanding.remove(at: next)
            fakeClockNanos = max(fakeClockNanos, done.finish)
            BackendTable.shared.end(backends.ids[done.backend])
            instance.complete(backendID: backends.ids[done.backend], status: 200, durationMicros: (done.finish - done.start) / 1000)
            issue(k)
        }
        return picks
    }

    func testSlowBackendGetsUnderTenPercentAndItsShareReturnsAfterRecovery() throws {
        let descriptor = try XCTUnwrap(builtIns.strategy(named: "PEWMA"))
        let pewma = try XCTUnwrap(descriptor.makeInstance(config: "{}", host: fakeClockHost))
        let backends = TestBackends(count: 3)
        pewma.update(backends.all)
        var random = TestRandom(seed: 3)
        var outstanding: [Outstanding] = []
        defer { for o in outstanding { BackendTable.shared.end(backends.ids[o.backend]) } }

        // Backend 2 answers 50 ms slower: 20 requests always in flight, 10 s simulated.
        let slow = simulate(pewma, backends, latencyMillis: [10, 10, 60], events: 30_000, counted: 15_000,
                            concurrency: 20, random: &random, outstanding: &outstanding)
        let slowShare = Double(slow[2]) / Double(slow.reduce(0, +))
        XCTAssertLessThan(slowShare, 0.10, "picks \(slow)")

        // It recovers: within about two decay periods (τ = 10 s) its share is back near a third.
        let recovered = simulate(pewma, backends, latencyMillis: [10, 10, 10], events: 90_000, counted: 15_000,
                                 concurrency: 20, random: &random, outstanding: &outstanding)
        let recoveredShare = Double(recovered[2]) / Double(recovered.reduce(0, +))
        XCTAssertGreaterThan(recoveredShare, 0.25, "picks \(recovered)")
    }

    func testColdBackendCostsTheMedianNotZero() throws {
        let pewma = try XCTUnwrap(builtIns.strategy(named: "peak-ewma")!.makeInstance(config: #"{"decay_ms":10000}"#, host: fakeClockHost))
        let backends = TestBackends(count: 3)
        // Only backends 0 and 1 first; both answer in 10 ms.
        let firstTwo = backends.removing(2)
        pewma.update(firstTwo)
        for _ in 0..<50 {
            fakeClockNanos += 1_000_000
            pewma.complete(backendID: backends.ids[0], status: 200, durationMicros: 10_000)
            pewma.complete(backendID: backends.ids[1], status: 200, durationMicros: 10_000)
        }
        // Backend 2 joins with no sample. If it cost 0 it would win every pair it is in,
        // however loaded; at the median it loses once it has more in flight than the other.
        pewma.update(backends.all)
        for _ in 0..<3 { BackendTable.shared.begin(backends.ids[2]) }
        defer { for _ in 0..<3 { BackendTable.shared.end(backends.ids[2]) } }
        var toCold = 0
        for _ in 0..<300 where pewma.pick() == 2 { toCold += 1 }
        XCTAssertEqual(toCold, 0, "a cold backend with 3 in flight must lose to idle backends of median cost")
        // Idle, it wins its fair share of pairs again (costs equal, first drawn wins the tie).
        for _ in 0..<3 { BackendTable.shared.end(backends.ids[2]) }
        defer { for _ in 0..<3 { BackendTable.shared.begin(backends.ids[2]) } }
        var idleCold = 0
        for _ in 0..<3000 where pewma.pick() == 2 { idleCold += 1 }
        XCTAssertGreaterThan(idleCold, 600)
        XCTAssertLessThan(idleCold, 1400)
    }

    func testRefusesBadDecay() {
        let d = builtIns.strategy(named: "peak-ewma")!
        for bad in [#"{"decay_ms":0}"#, #"{"decay_ms":-5}"#, #"{"decay_ms":"x"}"#] { XCTAssertNil(d.makeInstance(config: bad), bad) }
        XCTAssertNotNil(d.makeInstance(config: #"{"decay_ms":500}"#))
    }
}
