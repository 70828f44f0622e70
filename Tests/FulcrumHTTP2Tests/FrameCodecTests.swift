@testable import FulcrumHTTP2
import XCTest

/// The frame codec: every frame type, every size and stream-0 rule, with the
/// error class RFC 9113 gives it, and decoding from arbitrary splits.
final class FrameCodecTests: XCTestCase {
    /// A frame's bytes: header + payload.
    func frame(_ type: UInt8, _ flags: UInt8, _ stream: UInt32, _ payload: [UInt8]) -> [UInt8] {
        var out: [UInt8] = []
        FrameHeader(length: payload.count, type: type, flags: FrameFlags(rawValue: flags), streamID: stream).write(into: &out)
        return out + payload
    }

    func decode(_ bytes: [UInt8], max: Int = 16_384) -> FrameDecoder.Result {
        bytes.withUnsafeBytes { FrameDecoder(maxFrameSize: max).decode($0) }
    }

    func connError(_ r: FrameDecoder.Result, _ code: H2ErrorCode, file: StaticString = #filePath, line: UInt = #line) {
        guard case .connectionError(let e) = r, e.isConnectionError, e.code == code else {
            return XCTFail("expected connection error \(code), got \(r)", file: file, line: line)
        }
    }

    func streamError(_ r: FrameDecoder.Result, _ code: H2ErrorCode, file: StaticString = #filePath, line: UInt = #line) {
        guard case .streamError(let e, _) = r, !e.isConnectionError, e.code == code else {
            return XCTFail("expected stream error \(code), got \(r)", file: file, line: line)
        }
    }

    func testHeaderRoundTripIgnoresReservedBit() {
        var out: [UInt8] = []
        FrameHeader(length: 0x123456, type: 0xFE, flags: FrameFlags(rawValue: 0xA5), streamID: 0x7FFF_FFFF).write(into: &out)
        XCTAssertEqual(out, [0x12, 0x34, 0x56, 0xFE, 0xA5, 0x7F, 0xFF, 0xFF, 0xFF])
        out[5] |= 0x80
        let h = out.withUnsafeBytes { FrameHeader.parse($0) }
        XCTAssertEqual(h, FrameHeader(length: 0x123456, type: 0xFE, flags: FrameFlags(rawValue: 0xA5), streamID: 0x7FFF_FFFF))
        XCTAssertNil([UInt8](repeating: 0, count: 8).withUnsafeBytes { FrameHeader.parse($0) })
    }

    func testDataPlainAndPadded() {
        XCTAssertEqual(decode(frame(0, 1, 1, [1, 2, 3])), .frame(.data(stream: 1, data: 9..<12, endStream: true, flowLength: 3), end: 12))
        // Pad length 2, data [7], padding [0, 0]: flow control counts all 4 bytes.
        XCTAssertEqual(decode(frame(0, 0x8, 3, [2, 7, 0, 0])), .frame(.data(stream: 3, data: 10..<11, endStream: false, flowLength: 4), end: 13))
        // Padding exactly filling the rest: empty data is fine.
        XCTAssertEqual(decode(frame(0, 0x8, 3, [3, 0, 0, 0])), .frame(.data(stream: 3, data: 10..<10, endStream: false, flowLength: 4), end: 13))
        connError(decode(frame(0, 0x8, 3, [4, 0, 0, 0])), .protocolError)  // padding ≥ payload
        connError(decode(frame(0, 0x8, 3, [])), .frameSizeError)          // no room for the pad length
        connError(decode(frame(0, 0, 0, [1])), .protocolError)            // stream 0
    }

    func testHeadersWithPaddingAndPriority() {
        let p: [UInt8] = [1, 0x80, 0, 0, 5, 15, 0xAA, 0xBB, 0]  // pad 1, exclusive dep 5 weight 15, block AA BB, pad
        let r = decode(frame(1, 0x20 | 0x8 | 0x4 | 0x1, 7, p))
        XCTAssertEqual(r, .frame(.headers(stream: 7, block: 15..<17, endStream: true, endHeaders: true,
                                          priority: Frame.Priority(exclusive: true, dependency: 5, weight: 15)), end: 18))
        connError(decode(frame(1, 0x20, 7, [0, 0, 0, 1])), .frameSizeError)  // priority block cut
        connError(decode(frame(1, 0x8, 7, [5, 1, 2])), .protocolError)
        connError(decode(frame(1, 0x4, 0, [0x82])), .protocolError)
    }

    func testPriorityFixedLengthIsAStreamError() {
        XCTAssertEqual(decode(frame(2, 0, 3, [0, 0, 0, 1, 255])), .frame(.priority(stream: 3, Frame.Priority(exclusive: false, dependency: 1, weight: 255)), end: 14))
        streamError(decode(frame(2, 0, 3, [0, 0, 0, 1])), .frameSizeError)
        streamError(decode(frame(2, 0, 3, [0, 0, 0, 1, 2, 3])), .frameSizeError)
        connError(decode(frame(2, 0, 0, [0, 0, 0, 1, 2])), .protocolError)
    }

    func testRstStream() {
        XCTAssertEqual(decode(frame(3, 0, 5, [0, 0, 0, 8])), .frame(.rstStream(stream: 5, code: 8), end: 13))
        connError(decode(frame(3, 0, 5, [0, 0, 8])), .frameSizeError)
        connError(decode(frame(3, 0, 0, [0, 0, 0, 8])), .protocolError)
    }

    func testSettings() {
        let payload: [UInt8] = [0, 3, 0, 0, 0, 100, 0, 4, 0, 1, 0, 0]
        let bytes = frame(4, 0, 0, payload)
        XCTAssertEqual(decode(bytes), .frame(.settings(ack: false, payload: 9..<21), end: 21))
        let pairs = bytes.withUnsafeBytes { SettingsPayload(UnsafeRawBufferPointer(rebasing: $0[9..<21])).map { [Int($0.id), Int($0.value)] } }
        XCTAssertEqual(pairs, [[3, 100], [4, 65536]])
        XCTAssertEqual(decode(frame(4, 1, 0, [])), .frame(.settings(ack: true, payload: 9..<9), end: 9))
        connError(decode(frame(4, 1, 0, [0, 3, 0, 0, 0, 1])), .frameSizeError)  // ACK with payload
        connError(decode(frame(4, 0, 0, [0, 3, 0, 0, 0])), .frameSizeError)     // not a multiple of 6
        connError(decode(frame(4, 0, 1, [])), .protocolError)
    }

    func testPushPromiseParsesForTheConnectionToRefuse() {
        XCTAssertEqual(decode(frame(5, 4, 1, [0, 0, 0, 2, 0x82])), .frame(.pushPromise(stream: 1, promised: 2, block: 13..<14, endHeaders: true), end: 14))
        connError(decode(frame(5, 4, 1, [0, 0, 2])), .frameSizeError)
        connError(decode(frame(5, 4, 0, [0, 0, 0, 2])), .protocolError)
    }

    func testPing() {
        XCTAssertEqual(decode(frame(6, 1, 0, [1, 2, 3, 4, 5, 6, 7, 8])), .frame(.ping(ack: true, opaque: 0x0102_0304_0506_0708), end: 17))
        connError(decode(frame(6, 0, 0, [1, 2, 3, 4, 5, 6, 7])), .frameSizeError)
        connError(decode(frame(6, 0, 1, [1, 2, 3, 4, 5, 6, 7, 8])), .protocolError)
    }

    func testGoaway() {
        XCTAssertEqual(decode(frame(7, 0, 0, [0x80, 0, 0, 9, 0, 0, 0, 11, 0x41])), .frame(.goaway(lastStream: 9, code: 11, debug: 17..<18), end: 18))
        connError(decode(frame(7, 0, 0, [0, 0, 0, 9, 0, 0, 0])), .frameSizeError)
        connError(decode(frame(7, 0, 3, [0, 0, 0, 9, 0, 0, 0, 0])), .protocolError)
    }

    func testWindowUpdate() {
        XCTAssertEqual(decode(frame(8, 0, 0, [0x80, 0, 0x10, 0])), .frame(.windowUpdate(stream: 0, increment: 4096), end: 13))
        XCTAssertEqual(decode(frame(8, 0, 3, [0x7F, 0xFF, 0xFF, 0xFF])), .frame(.windowUpdate(stream: 3, increment: H2.maxWindow), end: 13))
        streamError(decode(frame(8, 0, 3, [0, 0, 0, 0])), .protocolError)
        connError(decode(frame(8, 0, 0, [0, 0, 0, 0])), .protocolError)
        connError(decode(frame(8, 0, 3, [0, 0, 1])), .frameSizeError)
        connError(decode(frame(8, 0, 3, [0, 0, 0, 1, 0])), .frameSizeError)
    }

    func testContinuationAndUnknown() {
        XCTAssertEqual(decode(frame(9, 4, 3, [1, 2])), .frame(.continuation(stream: 3, block: 9..<11, endHeaders: true), end: 11))
        connError(decode(frame(9, 4, 0, [1])), .protocolError)
        XCTAssertEqual(decode(frame(0xAB, 0xFF, 0, [1, 2, 3])), .frame(.unknown(type: 0xAB, stream: 0), end: 12))
    }

    func testMaxFrameSize() {
        let big = frame(0, 0, 1, [UInt8](repeating: 0, count: 16_385))
        connError(decode(big), .frameSizeError)
        // Detected from the header alone: no need to buffer an oversized frame.
        connError(decode(Array(big[0..<9])), .frameSizeError)
        XCTAssertEqual(decode(big, max: 16_385), .frame(.data(stream: 1, data: 9..<16_394, endStream: false, flowLength: 16_385), end: 16_394))
        XCTAssertEqual(decode(frame(0, 0, 1, [UInt8](repeating: 0, count: 16_384))),
                       .frame(.data(stream: 1, data: 9..<16_393, endStream: false, flowLength: 16_384), end: 16_393))
    }

    /// Every prefix of a frame sequence is `needMore` or a whole frame; decoding at offsets walks the sequence.
    func testIncrementalAtEverySplit() {
        let seq = frame(4, 0, 0, [0, 3, 0, 0, 0, 100]) + frame(6, 0, 0, [0, 0, 0, 0, 0, 0, 0, 1]) + frame(0, 1, 1, [9, 9])
        for cut in 0...seq.count {
            let prefix = Array(seq[0..<cut])
            var at = 0
            var frames = 0
            while true {
                let r = prefix.withUnsafeBytes { FrameDecoder().decode($0, at: at) }
                guard case .frame(_, let end) = r else { XCTAssertEqual(r, .needMore); break }
                at = end
                frames += 1
            }
            XCTAssertEqual(frames, cut >= 43 ? 3 : cut >= 32 ? 2 : cut >= 15 ? 1 : 0, "cut \(cut)")
        }
    }

    func testWriterProducesDecodableFrames() {
        var out: [UInt8] = []
        FrameWriter.settings([(.maxConcurrentStreams, 100), (.enablePush, 0)], into: &out)
        FrameWriter.settingsAck(into: &out)
        FrameWriter.ping(42, ack: true, into: &out)
        FrameWriter.goaway(lastStream: 7, code: .enhanceYourCalm, into: &out)
        FrameWriter.windowUpdate(stream: 0, increment: 1 << 20, into: &out)
        FrameWriter.rstStream(stream: 3, code: .cancel, into: &out)
        [UInt8]([1, 2]).withUnsafeBytes { FrameWriter.data(stream: 5, $0, endStream: true, into: &out) }
        let block = [UInt8](repeating: 0x41, count: 40_000)
        FrameWriter.headers(stream: 9, block: block, endStream: true, maxFrameSize: 16_384, into: &out)
        var kinds: [String] = []
        var at = 0
        var reassembled: [UInt8] = []
        out.withUnsafeBytes { b in
            while case .frame(let f, let end) = FrameDecoder().decode(b, at: at) {
                switch f {
                case .headers(9, let r, true, false, nil), .continuation(9, let r, _): reassembled += b[r]
                default: break
                }
                kinds.append("\(f)".prefix(while: { $0 != "(" }).description)
                at = end
            }
        }
        XCTAssertEqual(at, out.count)
        XCTAssertEqual(kinds, ["settings", "settings", "ping", "goaway", "windowUpdate", "rstStream", "data", "headers", "continuation", "continuation"])
        XCTAssertEqual(reassembled, block)
    }
}
