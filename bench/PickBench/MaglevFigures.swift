import CFulcrumPlugin
import FulcrumCore
import FulcrumPluginHost
import FulcrumRegistry

/// Maglev's balance and disruption, 10 backends and 100,000 random IPv4 keys:
/// each backend's share against its weight share (equal weights and 1…10),
/// and the keys moved when one of the 10 leaves (each in turn). Also the
/// table build time (what an `update` with a new set costs, once per process).
func maglevFigures() {
    let n = 10
    let fixture = RequestFixture(population: 0)
    var ips: [UInt32] = []
    for _ in 0..<100_000 { fixture.next(); ips.append(fixture.ip) }

    for (label, weights) in [("equal weights", { (_: Int) -> UInt32 in 1 }), ("weights 1…10", { UInt32($0 + 1) })] {
        let (array, ids) = makeBackends(n, weights: weights)
        let maglev = catalog.strategy(named: "maglev")!.makeInstance()!
        let start = Clock.monotonicNanos()
        maglev.update(array, count: n)
        let buildMillis = Double(Clock.monotonicNanos() - start) / 1e6
        var counts = Array(repeating: 0, count: n)
        var before: [UInt64] = []
        for ip in ips {
            fixture.set(ip)
            let i = maglev.pick(fixture.request)!
            counts[i] += 1
            before.append(ids[i])
        }
        let total = Double((0..<n).map { Int(weights($0)) }.reduce(0, +))
        let ratios = (0..<n).map { Double(counts[$0]) / (Double(ips.count) * Double(weights($0)) / total) }
        var worstMoved = 0.0, sumMoved = 0.0
        for removed in 0..<n {
            let reduced = UnsafeMutablePointer<fulcrum_backend>.allocate(capacity: n - 1)
            var k = 0
            for i in 0..<n where i != removed { reduced[k] = array[i]; k += 1 }
            maglev.update(reduced, count: n - 1)
            var moved = 0
            for (j, ip) in ips.enumerated() {
                fixture.set(ip)
                if reduced[maglev.pick(fixture.request)!].id != before[j] { moved += 1 }
            }
            let f = Double(moved) / Double(ips.count)
            worstMoved = max(worstMoved, f)
            sumMoved += f
            maglev.update(array, count: n)
            reduced.deallocate()
        }
        func pct(_ v: Double) -> String { String(Double(Int((v * 1000).rounded())) / 10) }
        print("maglev, 10 backends, \(label), 100,000 random IPv4 keys: share \(String(format3(ratios.min()!)))x…\(String(format3(ratios.max()!)))x"
              + " of weight share; removing one backend moved \(pct(sumMoved / Double(n)))% of keys on average, \(pct(worstMoved))% at most;"
              + " table build \(String(format3(buildMillis))) ms")
    }
}

func format3(_ v: Double) -> String { String(Double(Int((v * 1000).rounded())) / 1000) }
