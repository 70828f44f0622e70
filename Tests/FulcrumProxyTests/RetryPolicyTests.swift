import FulcrumHTTP
@testable import FulcrumProxy
import Glibc
import XCTest

/// Every row of CONTRACT §4's retry table.
final class RetryPolicyTests: XCTestCase {
    typealias P = RetryPolicy.Progress

    func progress(written: Int64 = 0, body: Int64 = 0, reused: Bool = false, freshUsed: Bool = false,
                  attempts: Int = 1, eligible: Int = 3, timeoutsOnly: Bool = false) -> P {
        P(requestBytesWritten: written, bodyBytesWritten: body, reusedConnection: reused, freshRetryUsed: freshUsed,
          attempts: attempts, eligible: eligible, allConnectTimeouts: timeoutsOnly)
    }

    func testRefusedIsRetriedForAnyMethodAndMarksDown() {
        for idempotent in [true, false] {
            XCTAssertEqual(RetryPolicy.decide(.refused(ECONNREFUSED), progress(), idempotent: idempotent),
                           .retryAnotherBackend(markDown: true))
            XCTAssertEqual(RetryPolicy.decide(.connectTimeout, progress(timeoutsOnly: true), idempotent: idempotent),
                           .retryAnotherBackend(markDown: true))
        }
    }

    func testResetBeforeAnyByteWrittenIsSafe() {
        XCTAssertEqual(RetryPolicy.decide(.reset(ECONNRESET), progress(written: 0), idempotent: false),
                       .retryAnotherBackend(markDown: true))
    }

    func testNonIdempotentIsNeverReplayedOnceItsHeadWasWritten() {
        for failure: UpstreamFailure in [.reset(ECONNRESET), .closedEarly] {
            XCTAssertEqual(RetryPolicy.decide(failure, progress(written: 120), idempotent: false),
                           .fail(status: 502, markDown: true), "\(failure)")
            // Not even on a stale pooled connection.
            XCTAssertEqual(RetryPolicy.decide(failure, progress(written: 120, reused: true), idempotent: false),
                           .fail(status: 502, markDown: false), "\(failure) reused")
        }
    }

    func testIdempotentIsReplayedOnlyWithoutBodyBytesSent() {
        XCTAssertEqual(RetryPolicy.decide(.reset(ECONNRESET), progress(written: 120), idempotent: true),
                       .retryAnotherBackend(markDown: true))
        XCTAssertEqual(RetryPolicy.decide(.reset(ECONNRESET), progress(written: 200, body: 80), idempotent: true),
                       .fail(status: 502, markDown: true))
    }

    func testStalePooledConnectionGetsOneFreshRetryOnTheSameBackend() {
        XCTAssertEqual(RetryPolicy.decide(.closedEarly, progress(written: 120, reused: true), idempotent: true),
                       .retrySameBackendFresh)
        // Used already: another backend, the stale one not marked down.
        XCTAssertEqual(RetryPolicy.decide(.closedEarly, progress(written: 120, reused: true, freshUsed: true), idempotent: true),
                       .retryAnotherBackend(markDown: false))
    }

    func testOutOfAttemptsIs502Or504() {
        XCTAssertEqual(RetryPolicy.decide(.refused(ECONNREFUSED), progress(attempts: 3, eligible: 3), idempotent: true),
                       .fail(status: 502, markDown: true))
        XCTAssertEqual(RetryPolicy.decide(.connectTimeout, progress(attempts: 1, eligible: 1, timeoutsOnly: true), idempotent: true),
                       .fail(status: 504, markDown: true))
        XCTAssertEqual(RetryPolicy.decide(.connectTimeout, progress(attempts: 2, eligible: 2, timeoutsOnly: false), idempotent: true),
                       .fail(status: 502, markDown: true))
    }

    func testOwnResourceFailuresAre503AndBlameNoBackend() {
        for e in [EMFILE, ENFILE, EADDRNOTAVAIL, ENOBUFS] {
            let failure = UpstreamFailure.connectFailed(e)
            XCTAssertEqual(failure, .localResource(e))
            XCTAssertEqual(RetryPolicy.decide(failure, progress(), idempotent: true), .fail(status: 503, markDown: false))
        }
        XCTAssertEqual(UpstreamFailure.connectFailed(ECONNREFUSED), .refused(ECONNREFUSED))
        XCTAssertEqual(UpstreamFailure.connectFailed(ENETUNREACH), .refused(ENETUNREACH))
    }
}
