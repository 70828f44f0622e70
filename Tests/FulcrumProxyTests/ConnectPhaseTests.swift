import FulcrumHTTP
@testable import FulcrumProxy
import Glibc
import XCTest

/// Issue 14 §1/§1b in the pure parts: the connect phase (TCP connect and a
/// backend TLS handshake) is bounded by the connect timer, and a retry that
/// finds no untried backend answers as the retry rule says.
final class ConnectPhaseTests: XCTestCase {
    typealias M = ExchangeStateMachine

    func testAConnectInProgressAsksForTheConnectTimer() {
        var m = M(facts: RequestFacts(), eligible: 1)
        XCTAssertEqual(m.attached(connected: false, reused: false), .awaitConnect)
        XCTAssertEqual(m.upstreamTimer, .connect)
        XCTAssertEqual(m.upstreamTimerFired(idle: 0, bodyLimit: 60_000), .respond(status: 504, markDown: true))
    }

    func testATLSHandshakeIsBoundedByTheConnectTimer() {
        var m = M(facts: RequestFacts(), eligible: 2)
        XCTAssertEqual(m.attached(connected: false, reused: false, handshake: true), .awaitConnect)
        XCTAssertEqual(m.connected(), .pumpRequest)
        XCTAssertEqual(m.state, .sending)
        XCTAssertEqual(m.upstreamTimer, .connect, "handshaking: still connecting")
        // A stalled handshake is a connect timeout: retried elsewhere, the backend marked down.
        XCTAssertEqual(m.upstreamTimerFired(idle: 0, bodyLimit: 60_000), .retry(sameBackend: false, markDown: true))
        XCTAssertEqual(m.attached(connected: true, reused: false, handshake: true), .pumpRequest)
        XCTAssertEqual(m.upstreamTimer, .connect)
        m.handshakeCompleted()
        XCTAssertEqual(m.upstreamTimer, .bodyInactivity)
        m.wrote(requestBytes: 50, bodyBytes: 0)
        m.requestFullySent()
        XCTAssertEqual(m.upstreamTimer, .responseHead)
    }

    func testAPooledTLSConnectionHasNoHandshakePhase() {
        var m = M(facts: RequestFacts(), eligible: 1)
        XCTAssertEqual(m.attached(connected: true, reused: true), .pumpRequest)
        XCTAssertEqual(m.upstreamTimer, .bodyInactivity)
    }

    func testNoUntriedBackendIs504WhenEveryTryTimedOutElse502() {
        var timedOut = M(facts: RequestFacts(), eligible: 3)
        _ = timedOut.attached(connected: false, reused: false)
        XCTAssertEqual(timedOut.upstreamFailed(.connectTimeout), .retry(sameBackend: false, markDown: true))
        XCTAssertEqual(timedOut.noOtherBackend(), .respond(status: 504, markDown: false))

        var refused = M(facts: RequestFacts(), eligible: 3)
        _ = refused.attached(connected: false, reused: false)
        XCTAssertEqual(refused.upstreamFailed(.refused(ECONNREFUSED)), .retry(sameBackend: false, markDown: true))
        XCTAssertEqual(refused.noOtherBackend(), .respond(status: 502, markDown: false))
    }

    func testTriedBackendsRemembersWithoutDuplicatesAndStaysBounded() {
        var t = TriedBackends()
        XCTAssertFalse(t.contains(7))
        t.insert(7)
        t.insert(7)
        XCTAssertEqual(t.count, 1)
        XCTAssertTrue(t.contains(7))
        for id in 100..<120 { t.insert(UInt64(id)) }
        XCTAssertEqual(t.count, TriedBackends.capacity)
        XCTAssertTrue(t.contains(7))
        XCTAssertTrue(t.contains(106))
        XCTAssertFalse(t.contains(119), "past capacity, not kept")
        t.removeAll()
        XCTAssertFalse(t.contains(7))
        XCTAssertEqual(MemoryLayout<TriedBackends>.size, 8 * 8 + 8, "inline: no allocation per request")
    }
}
