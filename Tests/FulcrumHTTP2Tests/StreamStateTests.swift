@testable import FulcrumHTTP2
import XCTest

/// RFC 9113 §5.1 transitions, events in → state or error out.
final class StreamStateTests: XCTestCase {
    func testRequestResponseLifecycle() {
        var s = StreamState.idle
        XCTAssertNil(s.receive(.headers(endStream: false), id: 1))
        XCTAssertEqual(s, .open)
        XCTAssertNil(s.receive(.data(endStream: false), id: 1))
        XCTAssertNil(s.receive(.data(endStream: true), id: 1))
        XCTAssertEqual(s, .halfClosedRemote)
        XCTAssertTrue(s.localOpen)
        s.send(.headers(endStream: false))
        s.send(.data(endStream: true))
        XCTAssertEqual(s, .closed)
    }

    func testResponseBeforeRequestEnds() {
        var s = StreamState.idle
        XCTAssertNil(s.receive(.headers(endStream: false), id: 3))
        s.send(.headers(endStream: true))
        XCTAssertEqual(s, .halfClosedLocal)
        XCTAssertTrue(s.remoteOpen)
        XCTAssertNil(s.receive(.headers(endStream: true), id: 3))  // trailers end it
        XCTAssertEqual(s, .closed)
    }

    func testViolations() {
        var s = StreamState.idle
        XCTAssertEqual(s.receive(.data(endStream: false), id: 1), .connection(.protocolError, "DATA on idle stream 1"))
        s = .open
        XCTAssertEqual(s.receive(.headers(endStream: false), id: 1), .stream(1, .protocolError, "trailers without END_STREAM"))
        s = .halfClosedRemote
        XCTAssertEqual(s.receive(.data(endStream: false), id: 1)?.code, .streamClosed)
        XCTAssertEqual(s.receive(.headers(endStream: true), id: 1)?.code, .streamClosed)
        XCTAssertFalse(s.receive(.data(endStream: false), id: 1)!.isConnectionError)
        s = .closed
        XCTAssertEqual(s.receive(.data(endStream: true), id: 1)?.code, .streamClosed)
    }

    func testResetFromEitherSideCloses() {
        for start in [StreamState.open, .halfClosedLocal, .halfClosedRemote] {
            var a = start, b = start
            XCTAssertNil(a.receive(.rstStream, id: 1))
            b.send(.rstStream)
            XCTAssertEqual(a, .closed)
            XCTAssertEqual(b, .closed)
        }
    }
}
