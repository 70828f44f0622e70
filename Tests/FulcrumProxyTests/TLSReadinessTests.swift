@testable import FulcrumEventLoop
import XCTest

/// The crossed-readiness rules of `TLSSession`: what is registered with
/// epoll for what a handler asked, and how readiness maps back.
final class TLSReadinessTests: XCTestCase {
    let r = EventMask.readable, w = EventMask.writable, rdhup = EventMask.readHangUp

    func testNothingCrossedRegistersWhatWasAsked() {
        for interest in [0, r, w, r | w, r | rdhup] {
            XCTAssertEqual(TLSSession.adjust(interest, readWantsWrite: false, writeWantsRead: false), interest)
            XCTAssertEqual(TLSSession.translate(interest, readWantsWrite: false, writeWantsRead: false), interest)
        }
    }

    func testAReadWaitingOnAWriteWaitsForWritableNotReadable() {
        XCTAssertEqual(TLSSession.adjust(r | rdhup, readWantsWrite: true, writeWantsRead: false), w | rdhup)
        XCTAssertEqual(TLSSession.adjust(r | w, readWantsWrite: true, writeWantsRead: false), w)
        XCTAssertEqual(TLSSession.translate(w, readWantsWrite: true, writeWantsRead: false), r | w)
    }

    func testAWriteWaitingOnAReadDoesNotSpinOnWritable() {
        XCTAssertEqual(TLSSession.adjust(w, readWantsWrite: false, writeWantsRead: true), r)
        XCTAssertEqual(TLSSession.adjust(r | w, readWantsWrite: false, writeWantsRead: true), r)
        XCTAssertEqual(TLSSession.translate(r, readWantsWrite: false, writeWantsRead: true), r | w)
        XCTAssertEqual(TLSSession.adjust(0, readWantsWrite: true, writeWantsRead: true), 0, "nothing asked, nothing registered")
    }
}
