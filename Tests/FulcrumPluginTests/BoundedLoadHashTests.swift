import FulcrumPluginHost
import FulcrumRegistry
import XCTest

/// Bounded-load consistent hashing (CONTRACT §9) through the built plugin.
final class BoundedLoadHashTests: XCTestCase {
    func bound(c: Double, total: Int, backends: Int) -> Int { Int((c * Double(total) / Double(backends)).rounded(.up)) }

    func testHotKeyNeverPushesABackendOverTheBound() throws {
        let blh = try strategy("BLH", config: #"{"c":1.25}"#)
        let n = 5
        let backends = TestBackends(count: n)
        blh.update(backends.all)
        var inFlight: [Int] = []  // backend index of each request in flight
        defer { for i in inFlight { BackendTable.shared.end(backends.ids[i]) } }
        // Arrivals only: after every pick, every backend is within ceil(c × total / n).
        for _ in 0..<300 {
            let i = try XCTUnwrap(blh.pick(clientIPv4: 0x0A00_0007))
            BackendTable.shared.begin(backends.ids[i])
            inFlight.append(i)
            let loads = backends.ids.map { Int(BackendTable.shared.active($0)) }
            let limit = bound(c: 1.25, total: inFlight.count, backends: n)
            XCTAssertLessThanOrEqual(loads.max()!, limit, "loads \(loads) with \(inFlight.count) in flight")
        }
        // Arrivals and departures mixed: the backend a request goes to is within the bound after it.
        var r = TestRandom(seed: 7)
        for _ in 0..<3000 {
            if r.below(2) == 0 && !inFlight.isEmpty {
                let k = r.below(inFlight.count)
                BackendTable.shared.end(backends.ids[inFlight.remove(at: k)])
                continue
            }
            let i = try XCTUnwrap(blh.pick(clientIPv4: 0x0A00_0007))
            BackendTable.shared.begin(backends.ids[i])
            inFlight.append(i)
            let load = Int(BackendTable.shared.active(backends.ids[i]))
            XCTAssertLessThanOrEqual(load, bound(c: 1.25, total: inFlight.count, backends: n))
        }
    }

    func testWeightsScaleTheBound() throws {
        let blh = try strategy("BLH")
        let backends = TestBackends(weights: [3, 1, 1, 1])
        blh.update(backends.all)
        var inFlight: [Int] = []
        defer { for i in inFlight { BackendTable.shared.end(backends.ids[i]) } }
        for _ in 0..<120 {
            let i = try XCTUnwrap(blh.pick(clientIPv4: 0x0A00_0009))
            BackendTable.shared.begin(backends.ids[i])
            inFlight.append(i)
        }
        // Bounds: ceil(1.25 × 120 × w / 6): 75 for weight 3, 25 for weight 1.
        let loads = backends.ids.map { Int(BackendTable.shared.active($0)) }
        for (i, w) in backends.weights.enumerated() {
            XCTAssertLessThanOrEqual(loads[i], Int((1.25 * 120 * Double(w) / 6).rounded(.up)), "\(loads)")
        }
    }

    func testUniformKeysWithoutLoadStayWherePlainConsistentHashingPutsThem() throws {
        let blh = try strategy("BLH"), sih = try strategy("SIH")
        let backends = TestBackends(count: 10)
        blh.update(backends.all)
        sih.update(backends.all)
        var r = TestRandom(seed: 11)
        for _ in 0..<10_000 {
            let ip = UInt32(truncatingIfNeeded: r.next())
            XCTAssertEqual(blh.pick(clientIPv4: ip), sih.pick(clientIPv4: ip))
        }
        // And with a key: the same as SIH keyed alike.
        let blhKey = try strategy("BLH", config: #"{"key":"header:X-User"}"#)
        let sihKey = try strategy("SIH", config: #"{"key":"header:X-User"}"#)
        blhKey.update(backends.all)
        sihKey.update(backends.all)
        for u in 0..<500 {
            let req = KeyedRequest(headers: [("X-User", "user-\(u)")])
            XCTAssertEqual(req.pick(blhKey), req.pick(sihKey))
        }
    }

    func testRefusesBadConfiguration() {
        let d = builtIns.strategy(named: "bounded-load-hash")!
        for bad in [#"{"c":0.5}"#, #"{"c":"x"}"#, #"{"key":"cookie:"}"#, "not json"] { XCTAssertNil(d.makeInstance(config: bad), bad) }
        XCTAssertNotNil(d.makeInstance(config: #"{"c":2,"key":"query:u"}"#))
    }
}
