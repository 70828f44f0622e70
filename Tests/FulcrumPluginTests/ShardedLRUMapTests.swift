import FulcrumSDK
import XCTest

/// The shared map against a plain reference model: same keys kept, same
/// key evicted (exact LRU by timestamp across shards), random operations.
final class ShardedLRUMapTests: XCTestCase {
    func testMatchesAReferenceLRU() {
        var random = TestRandom(seed: 7)
        let capacity = 200
        let map = FulcrumShardedLRUMap(capacity: capacity)
        var reference: [UInt64: (value: Int, used: UInt64)] = [:]
        var now: UInt64 = 1
        for step in 0..<50_000 {
            now += 1
            let k = UInt64(random.below(600)) &* 0x9E37_79B9_7F4A_7C15  // spread over shards
            let seen = Int(map.withValue(k, ~k, now: now, initial: 0) { v in v += 1; return v })
            if var entry = reference[k] {
                entry.value += 1
                entry.used = now
                reference[k] = entry
            } else {
                if reference.count == capacity {
                    let oldest = reference.min { $0.value.used < $1.value.used }!.key
                    reference[oldest] = nil
                }
                reference[k] = (1, now)
            }
            XCTAssertEqual(seen, reference[k]!.value, "step \(step)")
            if step % 5000 == 0 {
                XCTAssertEqual(map.count, reference.count)
                for key in reference.keys { XCTAssertTrue(map.contains(key, ~key)) }
            }
        }
        XCTAssertEqual(map.count, capacity)
    }
}
