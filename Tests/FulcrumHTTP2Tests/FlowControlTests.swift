@testable import FulcrumHTTP2
import XCTest

/// Flow-control arithmetic (RFC 9113 §5.2, §6.9) and our receive policy.
final class FlowControlTests: XCTestCase {
    func testSendWindowIncrementAndOverflow() {
        var w = SendWindow(65_535)
        w.consume(65_535)
        XCTAssertEqual(w.available, 0)
        XCTAssertTrue(w.increment(10))
        XCTAssertEqual(w.available, 10)
        XCTAssertTrue(w.increment(H2.maxWindow - 10))
        XCTAssertEqual(w.value, H2.maxWindow)
        XCTAssertFalse(w.increment(1), "2^31 is a FLOW_CONTROL_ERROR")
        XCTAssertEqual(w.value, H2.maxWindow, "a refused increment changes nothing")
    }

    /// §6.9.2: lowering SETTINGS_INITIAL_WINDOW_SIZE can make a window negative;
    /// sending waits until WINDOW_UPDATEs bring it back above zero.
    func testNegativeWindowAfterSettingsChange() {
        var w = SendWindow(65_535)
        w.consume(60_000)
        XCTAssertTrue(w.adjust(by: 16_384 - 65_535))
        XCTAssertEqual(w.value, 5_535 - 49_151)
        XCTAssertEqual(w.available, 0)
        XCTAssertTrue(w.increment(43_616))
        XCTAssertEqual(w.value, 0)
        XCTAssertTrue(w.increment(1))
        XCTAssertEqual(w.available, 1)
        // Raising it can overflow a window the peer had already opened.
        var big = SendWindow(H2.maxWindow - 100)
        XCTAssertFalse(big.adjust(by: 101))
        XCTAssertTrue(big.adjust(by: 100))
    }

    func testReceiveWindowRefusesExcess() {
        var r = ReceiveWindow(target: 65_536, advertised: 65_536)
        XCTAssertTrue(r.receive(65_536))
        XCTAssertFalse(r.receive(1), "beyond the window: FLOW_CONTROL_ERROR")
    }

    func testUpdateWhenHalfConsumedAndOnlyForConsumedBytes() {
        var r = ReceiveWindow(target: 65_536, advertised: 65_536)
        XCTAssertTrue(r.receive(40_000))
        XCTAssertNil(r.consumed(20_000), "under half: no update yet")
        XCTAssertEqual(r.consumed(12_768), 32_768)
        XCTAssertEqual(r.remaining, 25_536 + 32_768)
        // Held bytes are never re-advertised: the peer can have at most target in flight.
        XCTAssertTrue(r.receive(58_304))
        XCTAssertEqual(r.remaining, 0)
        XCTAssertFalse(r.receive(1))
        XCTAssertEqual(r.consumed(1_000), 1_000, "a closed window opens on any consumption")
        XCTAssertEqual(r.remaining, 1_000)
    }

    func testConnectionWindowOpensToTarget() {
        var r = ReceiveWindow(target: 1 << 20, advertised: H2.defaultWindow)
        XCTAssertEqual(r.openToTarget(), (1 << 20) - 65_535)
        XCTAssertNil(r.openToTarget())
        XCTAssertTrue(r.receive(1 << 20))
        XCTAssertEqual(r.consumed(1 << 19), 1 << 19)
    }
}
