import FulcrumPluginHost
import FulcrumRegistry
import XCTest

/// Each built-in strategy's promise from CONTRACT §5, checked through the
/// dlopen'd `.so` and its C function pointers.
final class StrategyPropertyTests: XCTestCase {

    func testBuiltInsAnswerToNamesAndAliasesCaseInsensitively() throws {
        let expected = [
            "round-robin": ["RR", "rr", "Round-Robin"],
            "weighted-round-robin": ["WRR", "wrr"],
            "sticky-round-robin": ["SRR", "srr"],
            "least-connections": ["LC", "lc"],
            "power-of-two-choices": ["PTC", "ptc"],
            "source-ip-hash": ["SIH", "sih"],
            "peak-ewma": ["PEWMA", "pewma"],
            "bounded-load-hash": ["BLH", "blh"],
            "maglev": ["Maglev", "MAGLEV"],
        ]
        for (canonical, names) in expected {
            for n in names + [canonical] {
                XCTAssertEqual(builtIns.strategy(named: n)?.name, canonical, n)
            }
        }
        XCTAssertNotNil(builtIns.probe(named: "http"))
        XCTAssertNotNil(builtIns.probe(named: "TCP"))
        XCTAssertNil(builtIns.strategy(named: "no-such"))
    }

    func testRoundRobinIsExactlyEvenAndInOrder() throws {
        let rr = try strategy("RR")
        let backends = TestBackends(count: 3)
        rr.update(backends.all)
        let picks = (0..<300).map { _ in rr.pick()! }
        XCTAssertEqual(Array(picks.prefix(6)), [0, 1, 2, 0, 1, 2])
        for i in 0..<3 { XCTAssertEqual(picks.filter { $0 == i }.count, 100) }
        // After a change of set, still each in turn.
        let withoutSecond = backends.removing(1)
        rr.update(withoutSecond)
        let after = (0..<10).map { _ in rr.pick()! }
        XCTAssertEqual(after, [0, 1, 0, 1, 0, 1, 0, 1, 0, 1])
    }

    func testEmptySetPicksNone() throws {
        for name in ["RR", "WRR", "SRR", "LC", "PTC", "SIH", "PEWMA", "BLH", "maglev"] {
            let s = try strategy(name)
            let none = TestBackends(count: 0)
            s.update(none.all)
            XCTAssertNil(s.pick(), name)
        }
    }

    func testWeightedRoundRobinExactCountsAndInterleaving() throws {
        let sets: [[UInt32]] = [[5, 1, 1], [1, 1, 1], [3, 2, 1], [10, 1], [2, 3, 5, 7], [4, 4, 2], [1], [1000, 1, 999]]
        for weights in sets {
            let wrr = try strategy("WRR")
            let backends = TestBackends(weights: weights)
            wrr.update(backends.all)
            let total = Int(weights.reduce(0, +))
            let picks = (0..<(3 * total)).map { _ in wrr.pick()! }
            // Exactly nginx's sequence…
            XCTAssertEqual(picks, referenceSmoothWRR(weights: weights.map(Int.init), picks: 3 * total), "\(weights)")
            // …so every window of sum(weights) picks holds each backend exactly its weight.
            for start in stride(from: 0, through: 2 * total, by: max(1, total / 7)) {
                let window = picks[start..<(start + total)]
                for (i, w) in weights.enumerated() {
                    XCTAssertEqual(window.filter { $0 == i }.count, Int(w), "\(weights) window at \(start)")
                }
            }
        }
    }

    func testWeightedRoundRobinFiveOneOneSequence() throws {
        let wrr = try strategy("WRR")
        let backends = TestBackends(weights: [5, 1, 1])
        wrr.update(backends.all)
        let letters = (0..<14).map { _ in ["a", "b", "c"][wrr.pick()!] }.joined()
        XCTAssertEqual(letters, "aabacaaaabacaa")
    }

    func testWeightedRoundRobinAfterWeightChange() throws {
        let wrr = try strategy("WRR")
        let first = TestBackends(weights: [1, 1, 1])
        wrr.update(first.all)
        _ = (0..<5).map { _ in wrr.pick() }
        let second = TestBackends(weights: [2, 5, 1])
        wrr.update(second.all)
        let picks = (0..<16).map { _ in wrr.pick()! }
        XCTAssertEqual(picks, referenceSmoothWRR(weights: [2, 5, 1], picks: 16))
    }

    func testWeightedRoundRobinFallbackMatchesSchedule() throws {
        // A schedule limit of 1 forces the per-instance O(n) algorithm.
        let wrr = try strategy("WRR", config: #"{"max_schedule": 1}"#)
        let backends = TestBackends(weights: [3, 1, 2])
        wrr.update(backends.all)
        XCTAssertEqual((0..<18).map { _ in wrr.pick()! }, referenceSmoothWRR(weights: [3, 1, 2], picks: 18))
        XCTAssertNil(builtIns.strategy(named: "WRR")!.makeInstance(config: #"{"max_schedule": "x"}"#))
    }

    func testLeastConnectionsSteersAwayFromBusyBackend() throws {
        let lc = try strategy("LC")
        let backends = TestBackends(count: 3)
        lc.update(backends.all)
        // Ties rotate: with no load every backend gets its turn.
        let idle = (0..<30).map { _ in lc.pick()! }
        for i in 0..<3 { XCTAssertEqual(idle.filter { $0 == i }.count, 10) }
        // Load backend 0 through the host's process-wide counters.
        for _ in 0..<5 { BackendTable.shared.begin(backends.ids[0]) }
        BackendTable.shared.begin(backends.ids[1])
        for _ in 0..<20 { XCTAssertEqual(lc.pick(), 2) }
        BackendTable.shared.begin(backends.ids[2])
        BackendTable.shared.begin(backends.ids[2])
        for _ in 0..<20 { XCTAssertEqual(lc.pick(), 1) }
        for _ in 0..<5 { BackendTable.shared.end(backends.ids[0]) }
        BackendTable.shared.end(backends.ids[1])
        BackendTable.shared.end(backends.ids[2])
        BackendTable.shared.end(backends.ids[2])
    }

    func testLeastConnectionsDividesByWeight() throws {
        let lc = try strategy("LC")
        let backends = TestBackends(weights: [1, 3])
        lc.update(backends.all)
        BackendTable.shared.begin(backends.ids[0])                    // 1/1
        for _ in 0..<2 { BackendTable.shared.begin(backends.ids[1]) }  // 2/3 is less
        for _ in 0..<10 { XCTAssertEqual(lc.pick(), 1) }
        BackendTable.shared.begin(backends.ids[1])                    // 3/3 == 1/1: tie, rotates
        let tied = Set((0..<10).map { _ in lc.pick()! })
        XCTAssertEqual(tied, [0, 1])
        BackendTable.shared.end(backends.ids[0])
        for _ in 0..<3 { BackendTable.shared.end(backends.ids[1]) }
    }

    func testPowerOfTwoChoicesSteersAwayFromBusyBackend() throws {
        let ptc = try strategy("PTC")
        let backends = TestBackends(count: 3)
        ptc.update(backends.all)
        for _ in 0..<10 { BackendTable.shared.begin(backends.ids[1]) }
        var counts = [0, 0, 0]
        for _ in 0..<3000 { counts[ptc.pick()!] += 1 }
        // Backend 1 loses every comparison it is drawn into.
        XCTAssertEqual(counts[1], 0)
        XCTAssertGreaterThan(counts[0], 1200)
        XCTAssertGreaterThan(counts[2], 1200)
        for _ in 0..<10 { BackendTable.shared.end(backends.ids[1]) }
        // Unloaded: all three are drawn.
        counts = [0, 0, 0]
        for _ in 0..<3000 { counts[ptc.pick()!] += 1 }
        XCTAssertTrue(counts.allSatisfy { $0 > 800 }, "\(counts)")
        // One backend: always it.
        let single = TestBackends(count: 1)
        ptc.update(single.all)
        XCTAssertEqual(ptc.pick(), 0)
    }

    func testPowerOfTwoChoicesWeighted() throws {
        let ptc = try strategy("PTC")
        let backends = TestBackends(weights: [1, 4])
        ptc.update(backends.all)
        BackendTable.shared.begin(backends.ids[0])                    // 1/1
        for _ in 0..<3 { BackendTable.shared.begin(backends.ids[1]) }  // 3/4 is less
        for _ in 0..<50 { XCTAssertEqual(ptc.pick(), 1) }
        BackendTable.shared.end(backends.ids[0])
        for _ in 0..<3 { BackendTable.shared.end(backends.ids[1]) }
    }

    func testSourceIPHashIsStableBalancedAndConsistent() throws {
        let sih = try strategy("SIH")
        let backends = TestBackends(count: 10)
        sih.update(backends.all)
        var generator = SystemRandomNumberGenerator()
        let clients = (0..<10_000).map { _ in UInt32.random(in: 0x0100_0000...0xDFFF_FFFF, using: &generator) }
        let before = clients.map { backends.ids[sih.pick(clientIPv4: $0)!] }
        // Stable: asking again gives the same answer.
        for (i, ip) in clients.prefix(500).enumerated() {
            XCTAssertEqual(backends.ids[sih.pick(clientIPv4: ip)!], before[i])
        }
        // Balanced: no backend above 1.3x its fair share.
        var share: [UInt64: Int] = [:]
        for id in before { share[id, default: 0] += 1 }
        let maxShare = Double(share.values.max()!) / 1000.0
        XCTAssertLessThanOrEqual(maxShare, 1.3, "max share \(maxShare)")
        // Consistent: removing one backend moves only its clients.
        let removed = 4
        let view = backends.removing(removed)
        sih.update(view)
        var moved = 0
        for (i, ip) in clients.enumerated() {
            let now = view.id(at: sih.pick(clientIPv4: ip)!)
            if now != before[i] {
                moved += 1
                XCTAssertEqual(before[i], backends.ids[removed], "a client not on the removed backend moved")
            }
        }
        XCTAssertLessThanOrEqual(Double(moved) / 10_000, 0.1 + 0.02)
        // And adding it back restores the original mapping.
        sih.update(backends.all)
        for (i, ip) in clients.prefix(1000).enumerated() {
            XCTAssertEqual(backends.ids[sih.pick(clientIPv4: ip)!], before[i])
        }
    }

    func testSourceIPHashSameAcrossInstances() throws {
        let a = try strategy("SIH"), b = try strategy("SIH")
        let backends = TestBackends(count: 5)
        a.update(backends.all)
        b.update(backends.all)
        for ip in stride(from: UInt32(0x0A00_0000), to: 0x0A00_0000 + 2000, by: 7) {
            XCTAssertEqual(a.pick(clientIPv4: ip), b.pick(clientIPv4: ip))
        }
    }

    func testStickyRoundRobinSticksAcrossInstances() throws {
        // Two instances = two workers.
        let w1 = try strategy("SRR"), w2 = try strategy("SRR")
        let backends = TestBackends(count: 3)
        w1.update(backends.all)
        w2.update(backends.all)
        let clientA: UInt32 = 0x0A01_0001, clientB: UInt32 = 0x0A01_0002, clientC: UInt32 = 0x0A01_0003
        let a = w1.pick(clientIPv4: clientA)!
        let b = w2.pick(clientIPv4: clientB)!
        let c = w1.pick(clientIPv4: clientC)!
        XCTAssertEqual(Set([a, b, c]), [0, 1, 2], "new clients are given backends round robin")
        for _ in 0..<20 {
            XCTAssertEqual(w2.pick(clientIPv4: clientA), a)
            XCTAssertEqual(w1.pick(clientIPv4: clientB), b)
            XCTAssertEqual(w2.pick(clientIPv4: clientC), c)
        }
        // A's backend leaves: A is re-assigned, and then sticks to the new one everywhere.
        let view = backends.removing(a)
        w1.update(view)
        w2.update(view)
        let newA = view.id(at: w2.pick(clientIPv4: clientA)!)
        XCTAssertNotEqual(newA, backends.ids[a])
        for _ in 0..<10 {
            XCTAssertEqual(view.id(at: w1.pick(clientIPv4: clientA)!), newA)
            XCTAssertEqual(view.id(at: w2.pick(clientIPv4: clientB)!), backends.ids[b] == backends.ids[a] ? newA : backends.ids[b])
        }
    }

    func testStickyRoundRobinMemoryIsBounded() throws {
        // Eight entries (the minimum): two 4-way buckets. Twenty more clients
        // certainly fill the first client's bucket and evict it, the least recently seen.
        let srr = try strategy("SRR", config: #"{"max_clients": 8}"#)
        let backends = TestBackends(count: 2)
        srr.update(backends.all)
        let first = srr.pick(clientIPv4: 0x0B00_0000)!
        XCTAssertEqual(first, 0)
        for i in 1...20 { _ = srr.pick(clientIPv4: 0x0B00_0000 + UInt32(i)) }
        // 21 picks so far: the rotation's next is 1; the first client was
        // evicted, so it is treated as new and given 1.
        XCTAssertEqual(srr.pick(clientIPv4: 0x0B00_0000), 1)
    }

    func testStickyRoundRobinForgetsIdleClients() throws {
        let srr = try strategy("SRR", config: #"{"idle_timeout": 0.05}"#)
        let backends = TestBackends(count: 2)
        srr.update(backends.all)
        XCTAssertEqual(srr.pick(clientIPv4: 0x0C00_0001), 0)
        XCTAssertEqual(srr.pick(clientIPv4: 0x0C00_0001), 0)
        // Expiry is about time itself passing: wait past the idle timeout (+ clock granularity).
        usleep(120_000)
        XCTAssertEqual(srr.pick(clientIPv4: 0x0C00_0001), 1, "an idle client is given the next backend in turn")
        XCTAssertNil(builtIns.strategy(named: "SRR")!.makeInstance(config: #"{"max_clients": 0}"#))
        XCTAssertNil(builtIns.strategy(named: "SRR")!.makeInstance(config: "not json"))
    }
}
