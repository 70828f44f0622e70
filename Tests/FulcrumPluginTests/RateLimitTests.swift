import Foundation
import FulcrumPluginHost
import XCTest

/// rate-limit through its .so, on a clock the test moves (fakeClockHost).
final class RateLimitTests: XCTestCase {
    func limiter(_ config: String) throws -> FilterFactory { try filterFactory("rate-limit", config, host: fakeClockHost) }

    /// 0 when forwarded, else the Retry-After of the 429.
    func check(_ c: FilterChain, _ head: TestHead = TestHead(), _ run: FilterRun = FilterRun()) -> Int {
        switch head.run(c, run) {
        case .forward: return 0
        case .respond(let status):
            XCTAssertEqual(status, 429)
            return Int(run.responseEdits.setsForTest["retry-after"] ?? "") ?? -1
        case .forwardToPool: XCTFail(); return -1
        }
    }

    func testBucketArithmeticAtTheRateBoundaries() throws {
        fakeClockNanos = 5_000_000_000
        let c = chain(try limiter(#"{"rate": 10, "burst": 5}"#))
        for i in 0..<5 { XCTAssertEqual(check(c), 0, "burst request \(i)") }
        XCTAssertEqual(check(c), 1, "the 6th waits 100 ms: Retry-After rounds up to 1")
        fakeClockNanos += 99_999_999
        XCTAssertEqual(check(c), 1, "one nanosecond early")
        fakeClockNanos += 1
        XCTAssertEqual(check(c), 0, "exactly one interval later: one token")
        XCTAssertEqual(check(c), 1)
        // A long pause refills to the burst, never beyond.
        fakeClockNanos += 60_000_000_000
        for _ in 0..<5 { XCTAssertEqual(check(c), 0) }
        XCTAssertEqual(check(c), 1)
    }

    func testRetryAfterIsWholeSecondsAtLeastOne() throws {
        fakeClockNanos = 7_000_000_000
        let c = chain(try limiter(#"{"rate": 0.1, "burst": 1}"#))
        XCTAssertEqual(check(c), 0)
        XCTAssertEqual(check(c), 10)
        fakeClockNanos += 9_500_000_000
        XCTAssertEqual(check(c), 1, "0.5 s left: 1")
        fakeClockNanos += 500_000_000
        XCTAssertEqual(check(c), 0)
        let run = FilterRun()
        _ = TestHead().run(c, run)
        XCTAssertEqual(run.localBody, #"{"status":"error","message":"too many requests"}"#)
    }

    func testKeys() throws {
        fakeClockNanos = 9_000_000_000
        let byHeader = chain(try limiter(#"{"rate": 1, "burst": 1, "key": "header:X-User"}"#))
        XCTAssertEqual(check(byHeader, TestHead(headers: [("x-user", "ann")])), 0)
        XCTAssertEqual(check(byHeader, TestHead(headers: [("X-User", "ann")], ip: [10, 0, 0, 9])), 1, "same user, other IP")
        XCTAssertEqual(check(byHeader, TestHead(headers: [("X-User", "bob")])), 0)
        XCTAssertEqual(check(byHeader, TestHead()), 0, "no header: keyed by IP")
        XCTAssertEqual(check(byHeader, TestHead()), 1)
        XCTAssertEqual(check(byHeader, TestHead(ip: [10, 0, 0, 2])), 0)

        let byIP = chain(try limiter(#"{"rate": 1, "burst": 1}"#))
        XCTAssertEqual(check(byIP, TestHead(ip: [10, 0, 0, 1])), 0)
        XCTAssertEqual(check(byIP, TestHead(ip: [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xFF, 0xFF, 10, 0, 0, 1])), 1, "v4-mapped is the same client")

        let byRoute = chain(try limiter(#"{"rate": 1, "burst": 1, "key": "route"}"#))
        XCTAssertEqual(check(byRoute, TestHead(ip: [1, 1, 1, 1], route: "a")), 0)
        XCTAssertEqual(check(byRoute, TestHead(ip: [2, 2, 2, 2], route: "a")), 1)
        XCTAssertEqual(check(byRoute, TestHead(route: "b")), 0)
    }

    func testEachConfiguredEntryHasItsOwnBuckets() throws {
        fakeClockNanos = 11_000_000_000
        let a = chain(try limiter(#"{"rate": 1, "burst": 1}"#))
        let b = chain(try limiter(#"{"rate": 1, "burst": 1}"#))
        XCTAssertEqual(check(a), 0)
        XCTAssertEqual(check(b), 0)
    }

    func testTheLeastRecentlyUsedKeyGoesAt100000Keys() throws {
        fakeClockNanos = 13_000_000_000
        let c = chain(try limiter(#"{"rate": 1, "burst": 1, "key": "header:K"}"#))
        let run = FilterRun()
        func key(_ i: Int) -> TestHead { TestHead(headers: [("K", "key-\(i)")]) }
        for i in 0..<100_000 {
            fakeClockNanos += 1_000
            XCTAssertEqual(check(c, key(i), run), 0)
        }
        fakeClockNanos += 1_000
        XCTAssertEqual(check(c, key(0), run), 1, "key 0 is remembered (and now the most recently used)")
        fakeClockNanos += 1_000
        XCTAssertEqual(check(c, key(100_000), run), 0, "a new key: the least recently used (key 1) goes")
        fakeClockNanos += 1_000
        XCTAssertEqual(check(c, key(0), run), 1, "key 0 stays")
        XCTAssertEqual(check(c, key(99_999), run), 1, "recent keys stay")
        XCTAssertEqual(check(c, key(1), run), 0, "key 1 was forgotten: a fresh bucket")
    }

    /// The limit holds across workers: N threads, each with its own instance
    /// of one configured entry, share one bucket; the clock stands still.
    func limitAcrossThreads(_ threads: Int) throws {
        fakeClockNanos = 17_000_000_000
        let factory = try limiter(#"{"rate": 1, "burst": 1000}"#)
        let chains = (0..<threads).map { chain(factory, worker: UInt32($0)) }
        let allowed = Unchecked(UnsafeMutablePointer<Int>.allocate(capacity: threads))
        let group = DispatchGroup()
        for t in 0..<threads {
            let mine = Unchecked(chains[t])
            group.enter()
            Thread {
                let run = FilterRun()
                let head = TestHead()
                var n = 0
                for _ in 0..<1000 where head.run(mine.value, run) == .forward { n += 1 }
                allowed.value[t] = n
                group.leave()
            }.start()
        }
        XCTAssertEqual(group.wait(timeout: .now() + 120), .success)
        let total = (0..<threads).reduce(0) { $0 + allowed.value[$1] }
        XCTAssertEqual(total, 1000, "exactly the burst, process-wide, with \(threads) workers")
        allowed.value.deallocate()
    }

    func testLimitHoldsAcrossTwoWorkers() throws { try limitAcrossThreads(2) }
    func testLimitHoldsAcrossFourWorkers() throws { try limitAcrossThreads(4) }

    func testBadConfigurationIsRefused() {
        for (config, expected) in [
            (#"{"rate": 0}"#, "rate must be"), (#"{"rate": "fast"}"#, "rate must be"), ("{}", "rate must be"),
            (#"{"rate": 1, "burst": 0}"#, "burst must be"), (#"{"rate": 1, "burst": 1.5}"#, "burst must be"),
            (#"{"rate": 1, "key": "cookie"}"#, "key must be"), (#"{"rate": 1, "key": "header:"}"#, "key must be"),
            (#"{"rate": 1, "per": 2}"#, "unknown key \"per\""),
        ] {
            let reason = refusal("rate-limit", config)
            XCTAssertTrue(reason?.contains(expected) ?? false, "\(config): \(reason ?? "accepted")")
        }
    }
}
