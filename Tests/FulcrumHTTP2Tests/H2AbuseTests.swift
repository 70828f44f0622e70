@testable import FulcrumHTTP2
import XCTest

/// The flood defences (HARDENING.md, HTTP/2): each ends in GOAWAY
/// ENHANCE_YOUR_CALM or a bounded refusal, never in unbounded state.
final class H2AbuseTests: XCTestCase {
    typealias C = H2TestClient

    func lastGoaway(_ c: inout H2TestClient) -> H2TestClient.Out? {
        c.takeFrames().last { if case .goaway = $0 { return true } else { return false } }
    }

    /// CVE-2023-44487: open and reset at once, over and over.
    func testRapidResetEndsTheConnection() {
        var c = H2TestClient()
        var id: UInt32 = 1
        var rounds = 0
        while c.conn.phase != .closed && rounds < 10_000 {
            c.feed(C.get(id, endStream: false) + C.rst(id))
            id += 2
            rounds += 1
        }
        XCTAssertEqual(rounds, ConnectionConfig().rapidResetMinimum)
        XCTAssertEqual(lastGoaway(&c), .goaway(last: id - 2, .enhanceYourCalm))
    }

    /// A client that cancels now and then (a browser navigating away) is fine.
    func testOccasionalCancellationIsNotAnAttack() {
        var c = H2TestClient()
        var a: [ConnectionAction] = []
        var id: UInt32 = 1
        for i in 0..<1_000 {
            c.feed(C.get(id))
            if i % 3 == 0 {
                c.feed(C.rst(id))
            } else {
                _ = c.conn.sendHead(stream: id, status: 204, fields: HeaderList(), endStream: true, into: &a)
            }
            id += 2
            if i % 100 == 99 { c.now += 10_000; c.conn.tick(now: c.now, into: &a) }
        }
        XCTAssertNotEqual(c.conn.phase, .closed)
    }

    func testPingFloodAndWindowReset() {
        var c = H2TestClient()
        for i in 0..<999 { c.feed(C.ping(UInt64(i))); _ = c.takeFrames() }
        XCTAssertNotEqual(c.conn.phase, .closed)
        // A new accounting window forgives the past.
        c.now = 10_000
        c.conn.tick(now: c.now, into: &c.actions)
        for i in 0..<1_001 { c.feed(C.ping(UInt64(i))) }
        XCTAssertEqual(lastGoaway(&c), .goaway(last: 0, .enhanceYourCalm))
    }

    func testSettingsEmptyDataPriorityAndWindowUpdateFloods() {
        let floods: [(String, (UInt32) -> [UInt8])] = [
            ("SETTINGS", { _ in C.settings([]) }),
            ("empty DATA", { _ in C.data(1, []) }),
            ("PRIORITY", { _ in C.raw(2, 0, 3, [0, 0, 0, 1, 16]) }),
            ("tiny WINDOW_UPDATE", { _ in C.windowUpdate(0, 1) }),
            ("unknown frames", { _ in C.raw(0xEE, 0, 0, []) }),
        ]
        for (what, frame) in floods {
            var c = H2TestClient()
            c.feed(C.get(1, endStream: false))
            var n = 0
            while c.conn.phase != .closed && n < 5_000 { c.feed(frame(1)); n += 1; _ = c.conn.outbound.isEmpty ? () : { _ = c.takeFrames() }() }
            XCTAssertEqual(n, 1_001, what)
        }
    }

    func testContinuationFloodBytesAndFrames() {
        var c = H2TestClient()
        c.feed(C.raw(1, 0, 1, [0x82]))
        for _ in 0..<5 { c.feed(C.raw(9, 0, 1, [UInt8](repeating: 0x40, count: 16_384))) }
        XCTAssertEqual(lastGoaway(&c), .goaway(last: 1, .enhanceYourCalm), "bytes before END_HEADERS")
        c = H2TestClient()
        c.feed(C.raw(1, 0, 1, [0x82]))
        for _ in 0..<100 { c.feed(C.raw(9, 0, 1, [])) }
        XCTAssertEqual(lastGoaway(&c), .goaway(last: 1, .enhanceYourCalm), "empty CONTINUATION frames")
    }

    func testConcurrencyLimitRefusesStreams() {
        var c = H2TestClient()
        for i in 0..<101 { c.feed(C.get(UInt32(2 * i + 1), endStream: false)) }
        XCTAssertEqual(c.conn.activeStreams, 100)
        XCTAssertEqual(c.takeFrames(), [.rst(201, .refusedStream)])
        XCTAssertEqual(c.takeActions().last, .requestRefused(stream: 201, status: nil, code: .refusedStream, reason: "over 100 concurrent streams"))
    }

    func testIdleAndStalledStreamsAreReset() {
        var c = H2TestClient()
        c.feed(C.get(1, endStream: false) + C.get(3))
        var a: [ConnectionAction] = []
        _ = c.conn.sendHead(stream: 3, status: 200, fields: HeaderList(), endStream: false, into: &a)
        // Stream 3's client never opens its window: a zero-window stall.
        _ = [UInt8](repeating: 0, count: 70_000).withUnsafeBytes { c.conn.sendData(stream: 3, $0, endStream: true, into: &a) }
        c.conn.tick(now: 59_999, into: &a)
        XCTAssertEqual(a, [])
        c.conn.tick(now: 60_000, into: &a)
        XCTAssertEqual(a, [.streamReset(stream: 1, .cancel), .streamReset(stream: 3, .cancel)])
        XCTAssertEqual(c.conn.activeStreams, 0)
        // And then the idle connection is closed.
        a = []
        c.conn.tick(now: 120_000, into: &a)
        XCTAssertEqual(a, [.close(error: nil)])
    }

    func testStreamWaitingOnItsBackendIsNotIdle() {
        var c = H2TestClient()
        c.feed(C.get(1, endStream: false) + C.data(1, [UInt8](repeating: 0, count: 16_384)) + C.data(1, [UInt8](repeating: 0, count: 16_384))
               + C.data(1, [UInt8](repeating: 0, count: 16_384)) + C.data(1, [UInt8](repeating: 0, count: 16_384)))
        var a: [ConnectionAction] = []
        c.conn.tick(now: 100_000, into: &a)
        XCTAssertEqual(a, [], "the window is closed because the driver holds the bytes, not the client's fault")
    }

    func testSettingsTimeout() {
        var c = H2TestClient(handshake: false)
        c.feed(H2.preface + C.settings([]))
        var a: [ConnectionAction] = []
        c.conn.tick(now: 9_999, into: &a)
        XCTAssertEqual(a, [])
        c.conn.tick(now: 10_000, into: &a)
        XCTAssertEqual(a, [.close(error: .connection(.settingsTimeout, "SETTINGS not acknowledged"))])
        c = H2TestClient()  // acknowledged in the handshake
        a = []
        c.conn.tick(now: 10_000, into: &a)
        XCTAssertEqual(a, [])
        XCTAssertNotEqual(c.conn.phase, .closed)
    }

    func testStreamIdExhaustionStartsAGracefulShutdown() {
        var c = H2TestClient()
        c.feed(C.get(H2.maxStreamID - 100))
        XCTAssertEqual(c.takeFrames(), [.goaway(last: H2.maxStreamID, .noError), .ping(ack: false, H2Connection.shutdownPing)])
    }

    func testPushPromiseFromAClient() {
        var c = H2TestClient()
        c.feed(C.raw(5, 4, 1, [0, 0, 0, 2, 0x82]))
        XCTAssertEqual(c.takeFrames(), [.goaway(last: 0, .protocolError)])
    }
}

extension H2AbuseTests {
    /// A stream with no window left gets no empty DATA frame, and is told when it may go on.
    func testNoEmptyDataWhenTheWindowIsShut() {
        var c = H2TestClient()
        c.feed(C.settings([(.initialWindowSize, 0)]) + C.get(1))
        var a: [ConnectionAction] = []
        _ = c.conn.sendHead(stream: 1, status: 200, fields: HeaderList(), endStream: false, into: &a)
        _ = c.takeFrames()
        _ = c.takeActions()
        XCTAssertEqual([UInt8]([1, 2, 3]).withUnsafeBytes { c.conn.sendData(stream: 1, $0, endStream: true, into: &a) }, 0)
        XCTAssertEqual(c.takeFrames(), [])
        c.feed(C.windowUpdate(1, 3))
        XCTAssertEqual(c.takeActions(), [.streamWritable(stream: 1)])
    }

    /// A connection that never sends its preface is closed by the timer.
    func testNoPrefaceTimesOut() {
        var c = H2TestClient(handshake: false)
        c.feed(Array(H2.preface[0..<5]))
        var a: [ConnectionAction] = []
        c.conn.tick(now: 10_000, into: &a)
        XCTAssertEqual(a, [.close(error: .connection(.protocolError, "no preface"))])
    }
}

extension H2AbuseTests {
    /// "MadeYouReset" (CVE-2025-8671): the client makes *us* reset each stream
    /// (here by overflowing its window) right after opening it; that must
    /// count like a rapid reset, not escape a count of client resets.
    func testMadeYouResetCountsAsRapidReset() {
        var c = H2TestClient()
        var id: UInt32 = 1
        var rounds = 0
        while c.conn.phase != .closed && rounds < 10_000 {
            c.feed(C.get(id, endStream: false) + C.windowUpdate(id, H2.maxWindow))
            _ = c.takeFrames()
            id += 2
            rounds += 1
        }
        XCTAssertLessThanOrEqual(rounds, ConnectionConfig().rapidResetMinimum)
        XCTAssertEqual(c.conn.phase, .closed)
    }
}
