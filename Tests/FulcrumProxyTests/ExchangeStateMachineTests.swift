import FulcrumEventLoop
import FulcrumHTTP
@testable import FulcrumProxy
import Glibc
import XCTest

/// Event sequences replayed through the exchange machine, without sockets.
final class ExchangeStateMachineTests: XCTestCase {
    typealias M = ExchangeStateMachine

    func facts(_ method: HTTPMethod = .get, body: BodyFraming = .none, http10: Bool = false, keepAlive: Bool = true,
               upgrade: Bool = false) -> RequestFacts {
        var f = RequestFacts()
        f.method = method
        f.framing = body
        f.http10 = http10
        f.keepAlive = keepAlive
        f.upgrade = upgrade
        return f
    }

    /// A machine whose request went out whole on a fresh connection.
    func sent(_ f: RequestFacts, eligible: Int = 3) -> M {
        var m = M(facts: f, eligible: eligible)
        XCTAssertEqual(m.attached(connected: false, reused: false), .awaitConnect, "the connect timer is armed")
        XCTAssertEqual(m.upstreamTimer, .connect)
        XCTAssertEqual(m.connected(), .pumpRequest)
        XCTAssertEqual(m.upstreamTimer, .bodyInactivity)
        m.wrote(requestBytes: 100, bodyBytes: 0)
        if f.hasBody { m.requestBodyFinishedReading() }
        m.requestFullySent()
        XCTAssertEqual(m.state, .awaitingHead)
        XCTAssertEqual(m.upstreamTimer, .responseHead)
        return m
    }

    func testKeepAliveExchange() {
        var m = sent(facts())
        m.responseBytesArrived()
        XCTAssertEqual(m.responseHead(status: 200, framing: .length(5), serverKeepsAlive: true),
                       .startStreaming(.init(close: false, keepAlive10: false, dechunk: false), dechunk: false))
        XCTAssertEqual(m.upstreamTimer, .bodyInactivity)
        XCTAssertEqual(m.clientDrained(), .wait, "body not complete yet")
        m.responseBodyComplete()
        XCTAssertEqual(m.upstreamTimer, .bodyInactivity, "until the client has it all")
        XCTAssertEqual(m.clientDrained(), .finish(reuseUpstream: true, keepClient: true))
        XCTAssertEqual(m.status, 200)
    }

    func testRetryAfterRefusedConnect() {
        var m = M(facts: facts(.post, body: .length(10)), eligible: 2)
        _ = m.attached(connected: false, reused: false)
        XCTAssertEqual(m.upstreamFailed(.refused(ECONNREFUSED)), .retry(sameBackend: false, markDown: true))
        XCTAssertEqual(m.state, .connecting)
        XCTAssertEqual(m.attached(connected: true, reused: false), .pumpRequest)
        XCTAssertEqual(m.upstreamFailed(.refused(ECONNREFUSED)), .respond(status: 502, markDown: true), "out of backends")
    }

    func testResetAfterHeadSentIdempotentVersusNot() {
        var get = sent(facts(.get))
        XCTAssertEqual(get.upstreamBroke(.reset(ECONNRESET)), .retry(sameBackend: false, markDown: true))
        var post = sent(facts(.post))
        XCTAssertEqual(post.upstreamBroke(.reset(ECONNRESET)), .respond(status: 502, markDown: true))
        var closed = sent(facts(.post))
        XCTAssertEqual(closed.upstreamClosed(untilClose: false), .respond(status: 502, markDown: true))
    }

    func testEarlyResponseWithBodyStillOnTheWire() {
        var m = M(facts: facts(.post, body: .length(1 << 20)), eligible: 1)
        _ = m.attached(connected: true, reused: false)
        m.wrote(requestBytes: 300, bodyBytes: 200)
        m.responseBytesArrived()
        XCTAssertEqual(m.responseHead(status: 401, framing: .length(0), serverKeepsAlive: true),
                       .startStreaming(.init(close: true, keepAlive10: false, dechunk: false), dechunk: false))
        m.responseBodyComplete()
        XCTAssertEqual(m.clientDrained(), .finish(reuseUpstream: false, keepClient: false))
    }

    func testEarlyResponseWithBodyReadButNotForwarded() {
        var m = M(facts: facts(.post, body: .length(10)), eligible: 1)
        _ = m.attached(connected: true, reused: false)
        m.requestBodyFinishedReading()
        m.responseBytesArrived()
        _ = m.responseHead(status: 401, framing: .none, serverKeepsAlive: true)
        // The client may stay (the driver drops the unforwarded body); the backend may not.
        XCTAssertEqual(m.clientDrained(), .finish(reuseUpstream: false, keepClient: true))
    }

    func testAbortMidBody() {
        var m = sent(facts())
        m.responseBytesArrived()
        _ = m.responseHead(status: 200, framing: .length(1000), serverKeepsAlive: true)
        XCTAssertEqual(m.upstreamClosed(untilClose: false), .abort(bodyTimeout: false))
        var broke = sent(facts())
        broke.responseBytesArrived()
        _ = broke.responseHead(status: 200, framing: .chunked, serverKeepsAlive: true)
        XCTAssertEqual(broke.upstreamBroke(nil), .abort(bodyTimeout: false))
    }

    func testInformationalThenFinal() {
        var m = sent(facts())
        m.responseBytesArrived()
        XCTAssertEqual(m.responseHead(status: 100, framing: .none, serverKeepsAlive: true), .forwardInformational(toClient: true))
        XCTAssertEqual(m.state, .awaitingHead)
        XCTAssertFalse(m.responseStarted)
        _ = m.responseHead(status: 204, framing: .none, serverKeepsAlive: true)
        XCTAssertEqual(m.clientDrained(), .finish(reuseUpstream: true, keepClient: true))
        var old = sent(facts(http10: true))
        XCTAssertEqual(old.responseHead(status: 103, framing: .none, serverKeepsAlive: true), .forwardInformational(toClient: false))
    }

    func testBodylessResponsesFinishAtOnce() {
        for status in [204, 304] {
            var m = sent(facts())
            _ = m.responseHead(status: status, framing: .none, serverKeepsAlive: true)
            XCTAssertEqual(m.clientDrained(), .finish(reuseUpstream: true, keepClient: true), "\(status)")
        }
    }

    func testUpgradeAndConnect() {
        var ws = sent(facts(upgrade: true))
        XCTAssertEqual(ws.responseHead(status: 101, framing: .none, serverKeepsAlive: true), .startTunnel)
        XCTAssertEqual(ws.state, .tunnel(status: 101))
        var unasked = sent(facts())
        XCTAssertEqual(unasked.responseHead(status: 101, framing: .none, serverKeepsAlive: true), .respond(status: 502, markDown: false))
        var connect = sent(facts(.connect))
        XCTAssertEqual(connect.responseHead(status: 200, framing: .untilClose, serverKeepsAlive: true), .startTunnel)
        var refusedConnect = sent(facts(.connect))
        _ = refusedConnect.responseHead(status: 403, framing: .length(0), serverKeepsAlive: true)
        XCTAssertEqual(refusedConnect.state, .streaming(.init(status: 403, reusable: true, closeAfter: false, bodyComplete: false)))
    }

    func testTimeoutsInEachState() {
        var connecting = M(facts: facts(), eligible: 1)
        _ = connecting.attached(connected: false, reused: false)
        XCTAssertEqual(connecting.upstreamTimerFired(idle: 3000, bodyLimit: 1000), .respond(status: 504, markDown: true))
        var head = sent(facts())
        XCTAssertEqual(head.upstreamTimerFired(idle: 10, bodyLimit: 1000), .respond(status: 504, markDown: false),
                       "the head limit is not an inactivity limit")
        var streaming = sent(facts())
        _ = streaming.responseHead(status: 200, framing: .chunked, serverKeepsAlive: true)
        XCTAssertEqual(streaming.upstreamTimerFired(idle: 400, bodyLimit: 1000), .rearmTimer)
        XCTAssertEqual(streaming.upstreamTimerFired(idle: 1000, bodyLimit: 1000), .abort(bodyTimeout: true))
        var uploading = M(facts: facts(.put, body: .chunked), eligible: 1)
        _ = uploading.attached(connected: true, reused: false)
        XCTAssertEqual(uploading.upstreamTimerFired(idle: 1500, bodyLimit: 1000), .respond(status: 504, markDown: false))
    }

    func testHTTP10ClientGetsDechunkedCloseDelimited() {
        var m = sent(facts(http10: true))
        XCTAssertEqual(m.responseHead(status: 200, framing: .chunked, serverKeepsAlive: true),
                       .startStreaming(.init(close: true, keepAlive10: false, dechunk: true), dechunk: true))
        var length = sent(facts(http10: true))
        XCTAssertEqual(length.responseHead(status: 200, framing: .length(3), serverKeepsAlive: true),
                       .startStreaming(.init(close: false, keepAlive10: true, dechunk: false), dechunk: false))
    }

    func testCloseDelimitedResponse() {
        var m = sent(facts())
        _ = m.responseHead(status: 200, framing: .untilClose, serverKeepsAlive: true)
        XCTAssertEqual(m.upstreamClosed(untilClose: true), .wait)
        XCTAssertEqual(m.clientDrained(), .finish(reuseUpstream: false, keepClient: false))
    }

    func testDrainingAndHalfClosedClientsAreNotKept() {
        var m = M(facts: facts(), eligible: 1, draining: true)
        _ = m.attached(connected: true, reused: false)
        m.requestFullySent()
        _ = m.responseHead(status: 200, framing: .none, serverKeepsAlive: true)
        XCTAssertEqual(m.clientDrained(), .finish(reuseUpstream: true, keepClient: false))
        var h = sent(facts())
        h.clientHalfClose()
        XCTAssertEqual(h.responseHead(status: 200, framing: .none, serverKeepsAlive: true),
                       .startStreaming(.init(close: true, keepAlive10: false, dechunk: false), dechunk: false))
    }

    func testLocalResponses() {
        var none = M(facts: facts(), eligible: 0)
        XCTAssertEqual(none.respondKeeping(503), .respond(status: 503, markDown: false))
        XCTAssertEqual(none.clientDrained(), .finish(reuseUpstream: false, keepClient: true))
        var bodyUnread = M(facts: facts(.post, body: .length(5)), eligible: 0)
        _ = bodyUnread.respondKeeping(503)
        XCTAssertEqual(bodyUnread.clientDrained(), .finish(reuseUpstream: false, keepClient: false))
        var bad = M(facts: facts(.post, body: .chunked), eligible: 1)
        _ = bad.attached(connected: true, reused: false)
        XCTAssertEqual(bad.requestBodyInvalid(), .respond(status: 400, markDown: false))
        XCTAssertEqual(bad.clientDrained(), .finish(reuseUpstream: false, keepClient: false))
    }

    func testStalePooledConnection() {
        var m = M(facts: facts(), eligible: 1)
        _ = m.attached(connected: true, reused: true)
        m.wrote(requestBytes: 80, bodyBytes: 0)
        m.requestFullySent()
        XCTAssertEqual(m.upstreamClosed(untilClose: false), .retry(sameBackend: true, markDown: false))
        _ = m.attached(connected: false, reused: false)
        _ = m.connected()
        XCTAssertEqual(m.upstreamFailed(.refused(ECONNREFUSED)), .respond(status: 502, markDown: true))
    }

    func testInterestFollowsBackPressure() {
        let base = ExchangeInterest.Inputs(requestBodyRead: true, clientHalfClosed: false, clientBufferFull: false,
                                           clientWriteBlocked: false, upstreamWriteBlocked: false, responsePending: 0,
                                           responseComplete: false, upstreamReadClosed: false)
        let idle = ExchangeInterest.compute(base)
        XCTAssertEqual(idle.client, EventMask.readable | EventMask.readHangUp)
        XCTAssertEqual(idle.upstream, EventMask.readable)
        var blocked = base
        blocked.clientWriteBlocked = true
        blocked.responsePending = 100
        let b = ExchangeInterest.compute(blocked)
        XCTAssertEqual(b.client & EventMask.writable, EventMask.writable)
        XCTAssertEqual(b.upstream & EventMask.readable, 0, "the backend is not read while the client cannot take more")
        var uploading = base
        uploading.requestBodyRead = false
        uploading.upstreamWriteBlocked = true
        let u = ExchangeInterest.compute(uploading)
        XCTAssertEqual(u.client & EventMask.readable, 0, "the client is not read while the backend cannot take more")
        XCTAssertEqual(u.upstream & EventMask.writable, EventMask.writable)
        var eof = base
        eof.upstreamReadClosed = true
        XCTAssertEqual(ExchangeInterest.compute(eof).upstream & EventMask.readable, 0)
    }
}
