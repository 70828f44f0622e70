import CFulcrumPlugin
import FulcrumCore
import FulcrumPluginHost
import FulcrumRegistry
import FulcrumSDK
import Synchronization
import XCTest

/// The slow-start ramp (SlowStart.swift): Envoy's formula and the registry's use of it.
final class SlowStartTests: XCTestCase {
    let second: UInt64 = 1_000_000_000

    func testRampFormulaIsEnvoysWithAggressionOne() {
        let window = 10 * second
        // max(10%, max(elapsed, 1 ms) / window), and full weight from the end of the window.
        XCTAssertEqual(SlowStart.factor(elapsedNanos: 0, windowNanos: window), 0.1)
        XCTAssertEqual(SlowStart.factor(elapsedNanos: second / 2, windowNanos: window), 0.1)
        XCTAssertEqual(SlowStart.factor(elapsedNanos: second, windowNanos: window), 0.1, accuracy: 1e-12)
        XCTAssertEqual(SlowStart.factor(elapsedNanos: 3 * second, windowNanos: window), 0.3, accuracy: 1e-12)
        XCTAssertEqual(SlowStart.factor(elapsedNanos: 7_500_000_000, windowNanos: window), 0.75, accuracy: 1e-12)
        XCTAssertEqual(SlowStart.factor(elapsedNanos: window - 1, windowNanos: window), 1, accuracy: 1e-9)
        XCTAssertEqual(SlowStart.factor(elapsedNanos: window, windowNanos: window), 1)
        XCTAssertEqual(SlowStart.factor(elapsedNanos: 100 * window, windowNanos: window), 1)
        // Monotonic.
        var last = 0.0
        for step in 0...100 {
            let t = window / 100 * UInt64(step)
            let f = SlowStart.factor(elapsedNanos: t, windowNanos: window)
            XCTAssertGreaterThanOrEqual(f, last)
            last = f
        }
        // Published weights: ×10, never below 1.
        XCTAssertEqual(SlowStart.effectiveWeight(1, factor: 0.1), 1)
        XCTAssertEqual(SlowStart.effectiveWeight(1, factor: 1), 10)
        XCTAssertEqual(SlowStart.effectiveWeight(3, factor: 0.5), 15)
        XCTAssertEqual(SlowStart.effectiveWeight(1000, factor: 1), 10_000)
    }

    func testRegistryPublishesTheRampAndStopsWhenDone() throws {
        let now = Mutex<UInt64>(1_000 * second)
        let slowStart = SlowStart(windowSeconds: 10, clock: { now.withLock { $0 } })
        XCTAssertEqual(slowStart.republishMillis, 1000)
        let registry = Registry(rise: 1, fall: 1)
        registry.enableSlowStart(slowStart)
        func register(_ port: UInt16, weight: UInt32) {
            let a = FulcrumAddress(host: "127.0.0.1", port: port)
            let s = try! SocketAddress.resolve(host: "127.0.0.1", port: port).get()
            _ = registry.register(endpoint: a, socketAddress: s, weight: weight, healthy: true)
        }
        func weights() -> [UInt32] {
            let snap = registry.snapshot
            return (0..<snap.eligible.count).map { snap.cEligible[$0].weight }
        }
        register(31001, weight: 2)
        XCTAssertEqual(weights(), [20], "registered before arm: full weight")
        slowStart.arm()
        register(31002, weight: 1)
        XCTAssertEqual(weights(), [20, 1], "a newcomer starts at 10%")
        XCTAssertTrue(slowStart.needsRepublish)
        now.withLock { $0 += 5 * second }
        registry.republishIfRamping()
        XCTAssertEqual(weights(), [20, 5])
        now.withLock { $0 += 5 * second }
        registry.republishIfRamping()
        XCTAssertEqual(weights(), [20, 10])
        XCTAssertFalse(slowStart.needsRepublish)
        let generation = registry.published.generation
        registry.republishIfRamping()
        XCTAssertEqual(registry.published.generation, generation, "no re-publish once every ramp is done")

        // Leaving rotation and returning restarts the ramp.
        let id = registry.snapshot.eligible[1].id
        registry.markDown(id: id, reason: "test")
        XCTAssertEqual(weights(), [20])
        registry.recordProbe(id: id, passed: true, detail: "")
        XCTAssertEqual(weights(), [20, 1])
        for b in registry.snapshot.all { BackendTable.shared.release(b.id) }
    }
}

/// Under slow start (weights ×10, `weight_scale` 10) the hash ring at full
/// weight is the very ring without it: keys stay put when the flag is turned on.
final class SlowStartScaleTests: XCTestCase {
    func testRingStrategiesMapAlikeWithAndWithoutTheScale() throws {
        var h = HostServices.host.pointee
        h.weight_scale = 10
        let scaled = UnsafeMutablePointer<fulcrum_host>.allocate(capacity: 1)
        scaled.initialize(to: h)
        defer { scaled.deallocate() }
        let plain = TestBackends(weights: [1, 2, 1, 3])
        let tenfold = TestBackends(weights: [10, 20, 10, 30], addresses: plain.addresses)
        for name in ["SIH", "BLH"] {
            let a = try strategy(name)
            let b = try XCTUnwrap(builtIns.strategy(named: name)!.makeInstance(config: "{}", host: scaled))
            a.update(plain.all)
            b.update(tenfold.all)
            var r = TestRandom(seed: 9)
            for _ in 0..<5000 {
                let ip = UInt32(truncatingIfNeeded: r.next())
                XCTAssertEqual(a.pick(clientIPv4: ip), b.pick(clientIPv4: ip), name)
            }
        }
    }
}
