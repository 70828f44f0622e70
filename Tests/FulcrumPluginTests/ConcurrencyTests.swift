import Foundation
import FulcrumPluginHost
import FulcrumRegistry
import XCTest

/// One instance per thread, as the host runs them, while another thread
/// moves the process-wide in-flight counts.
final class ConcurrencyTests: XCTestCase {
    func testFourWorkersHundredThousandPicksEach() throws {
        let threads = 4, picksPerThread = 100_000
        let backends = TestBackends(weights: [2, 1, 1, 4])
        for name in ["RR", "WRR", "SRR", "LC", "PTC", "SIH", "PEWMA", "BLH", "maglev"] {
            let instances = Unchecked(try (0..<threads).map { _ in try strategy(name) })
            instances.value.forEach { $0.update(backends.all) }
            let ids = backends.ids
            final class Counts: @unchecked Sendable { var perThread: [[Int]] = [] }
            let counts = Counts()
            counts.perThread = Array(repeating: [0, 0, 0, 0], count: threads)
            let stop = NSCondition()
            nonisolated(unsafe) var running = true
            let churnDone = DispatchSemaphore(value: 0)
            let churn = Thread {
                defer { churnDone.signal() }
                var i = 0
                while stop.withLock({ running }) {
                    let id = ids[i % 4]
                    BackendTable.shared.begin(id)
                    BackendTable.shared.end(id)
                    i += 1
                }
            }
            churn.start()
            DispatchQueue.concurrentPerform(iterations: threads) { t in
                let instance = instances.value[t]
                var local = [0, 0, 0, 0]
                for n in 0..<picksPerThread {
                    guard let index = instance.pick(clientIPv4: 0x0A00_0000 + UInt32(n % 1000)) else { continue }
                    local[index] += 1
                }
                counts.perThread[t] = local
            }
            stop.withLock { running = false }
            XCTAssertEqual(churnDone.wait(timeout: .now() + 10), .success)
            let totals = (0..<4).map { i in counts.perThread.reduce(0) { $0 + $1[i] } }
            XCTAssertEqual(totals.reduce(0, +), threads * picksPerThread, name)
            switch name {
            case "RR":
                // One rotation for the whole process: exactly even over all workers.
                XCTAssertEqual(totals, [100_000, 100_000, 100_000, 100_000], name)
            case "WRR":
                // Weights 2,1,1,4 over 400,000 picks: exactly 100k, 50k, 50k, 200k.
                XCTAssertEqual(totals, [100_000, 50_000, 50_000, 200_000], name)
            default:
                XCTAssertTrue(totals.allSatisfy { $0 > 0 }, "\(name) \(totals)")
            }
        }
        // Every begin was matched by an end.
        for id in backends.ids { XCTAssertEqual(BackendTable.shared.active(id), 0) }
    }

    func testStickyClientsAgreeAcrossConcurrentWorkers() throws {
        let backends = TestBackends(count: 5)
        let instances = Unchecked(try (0..<4).map { _ in try strategy("SRR") })
        instances.value.forEach { $0.update(backends.all) }
        final class Seen: @unchecked Sendable { var answers = [[Int]](repeating: [], count: 4) }
        let seen = Seen()
        DispatchQueue.concurrentPerform(iterations: 4) { t in
            seen.answers[t] = (0..<2000).map { instances.value[t].pick(clientIPv4: 0x0D00_0000 + UInt32($0 % 200))! }
        }
        // Each client IP got one backend, whichever worker asked.
        var byClient: [Int: Set<Int>] = [:]
        for t in 0..<4 { for (n, b) in seen.answers[t].enumerated() { byClient[n % 200, default: []].insert(b) } }
        XCTAssertTrue(byClient.values.allSatisfy { $0.count == 1 }, "a client saw two backends")
    }
}
