@testable import FulcrumHTTP2
import XCTest

/// The connection machine: preface and SETTINGS, requests in, responses out,
/// stream-id rules, flow control both ways, trailers, graceful shutdown.
final class H2ConnectionTests: XCTestCase {
    typealias C = H2TestClient

    func testHandshake() {
        var c = H2TestClient(handshake: false)
        XCTAssertEqual(c.takeFrames(), [.settings(ack: false, [2: 0, 3: 100, 4: 65_536, 5: 16_384, 6: 65_536]),
                                         .windowUpdate(0, (1 << 20) - 65_535)])
        // The preface split anywhere, then SETTINGS: ACK.
        for b in H2.preface { c.feed([b]) }
        XCTAssertEqual(c.conn.phase, .firstSettings)
        c.feed(C.settings([(.initialWindowSize, 1000)]))
        XCTAssertEqual(c.takeFrames(), [.settings(ack: true, [:])])
        XCTAssertEqual(c.conn.phase, .open)
        XCTAssertTrue(c.takeActions().isEmpty)
    }

    func testBadPrefaceCloses() {
        var c = H2TestClient(handshake: false)
        _ = c.takeFrames()
        c.feed(Array("GET / HTTP/1.1\r\n".utf8))
        XCTAssertEqual(c.takeFrames(), [.goaway(last: 0, .protocolError)])
        XCTAssertEqual(c.takeActions(), [.close(error: .connection(.protocolError, "not an HTTP/2 connection preface"))])
    }

    func testFirstFrameMustBeSettings() {
        var c = H2TestClient(handshake: false)
        _ = c.takeFrames()
        c.feed(H2.preface + C.ping(1))
        XCTAssertEqual(c.takeFrames(), [.goaway(last: 0, .protocolError)])
        XCTAssertEqual(c.conn.phase, .closed)
    }

    func testGetAndResponse() {
        var c = H2TestClient()
        c.feed(C.get(1, path: "/x?y", extra: [("cookie", "a=1"), ("cookie", "b=2")]))
        guard case .requestHead(1, let head)? = c.takeActions().first else { return XCTFail() }
        XCTAssertEqual(String(decoding: head.http1Head(), as: UTF8.self), "GET /x?y HTTP/1.1\r\nhost: example.com\r\ncookie: a=1; b=2\r\n\r\n")
        var a: [ConnectionAction] = []
        XCTAssertTrue(c.conn.sendHead(stream: 1, status: 103, fields: HeaderList([("Link", "</a>")]), endStream: false, into: &a))
        XCTAssertTrue(c.conn.sendHead(stream: 1, status: 200, fields: HeaderList([("Content-Type", "text/plain"), ("Connection", "close")]), endStream: false, into: &a))
        let body = [UInt8](repeating: 0x61, count: 20_000)
        XCTAssertEqual(body.withUnsafeBytes { c.conn.sendData(stream: 1, $0, endStream: false, into: &a) }, 20_000)
        XCTAssertTrue(c.conn.sendTrailers(stream: 1, fields: HeaderList([("X-Sum", "1")]), into: &a))
        XCTAssertEqual(c.takeFrames(), [.headers(1, [":status: 103", "link: </a>"], endStream: false),
                                        .headers(1, [":status: 200", "content-type: text/plain"], endStream: false),
                                        .data(1, 16_384, endStream: false), .data(1, 3_616, endStream: false),
                                        .headers(1, ["x-sum: 1"], endStream: true)])
        XCTAssertEqual(c.conn.activeStreams, 0)
        XCTAssertFalse(c.conn.canSend(stream: 1))
    }

    func testPostBodyAtEverySplitAndWindowUpdates() {
        let bytes = C.get(1, endStream: false, extra: [("content-length", "40000")]) + C.data(1, [UInt8](repeating: 1, count: 16_000))
            + C.data(1, [UInt8](repeating: 2, count: 16_000)) + C.data(1, [UInt8](repeating: 3, count: 8_000), endStream: true)
        for step in [1, 7, 4096, bytes.count] {
            var c = H2TestClient()
            var at = 0
            while at < bytes.count {
                c.feed(Array(bytes[at..<min(at + step, bytes.count)]))
                at += step
            }
            XCTAssertEqual(c.bodies[1]?.count, 40_000, "step \(step)")
            XCTAssertEqual(c.bodies[1]?.last, 3)
            let acts = c.takeActions()
            XCTAssertEqual(acts.filter { if case .requestData(_, _, true) = $0 { return true } else { return false } }.count, 1)
            XCTAssertEqual(c.conn.heldBodyBytes, 40_000)
            c.conn.consumed(stream: 1, 40_000)
            XCTAssertEqual(c.takeFrames(), [], "under half of the 1 MiB connection window; no stream update after END_STREAM")
        }
    }

    func testStreamWindowUpdateAtHalf() {
        var c = H2TestClient()
        c.feed(C.get(1, endStream: false) + C.data(1, [UInt8](repeating: 0, count: 16_384)) + C.data(1, [UInt8](repeating: 0, count: 16_384)))
        c.conn.consumed(stream: 1, 16_384)
        XCTAssertEqual(c.takeFrames(), [])
        c.conn.consumed(stream: 1, 16_384)
        XCTAssertEqual(c.takeFrames(), [.windowUpdate(1, 32_768)])
        // The client may not pass the stream window: 64 KiB more than credited.
        c.feed(C.data(1, [UInt8](repeating: 0, count: 16_384)) + C.data(1, [UInt8](repeating: 0, count: 16_384))
               + C.data(1, [UInt8](repeating: 0, count: 16_384)) + C.data(1, [UInt8](repeating: 0, count: 16_384)) + C.data(1, [0]))
        XCTAssertEqual(c.takeFrames(), [.rst(1, .flowControlError)])
        XCTAssertTrue(c.takeActions().contains(.streamReset(stream: 1, .flowControlError)))
        XCTAssertEqual(c.conn.heldBodyBytes, 0)
    }

    func testConnectionWindowExceededIsConnectionError() {
        var cfg = ConnectionConfig()
        cfg.connectionWindow = 65_535
        cfg.initialStreamWindow = 1 << 20
        var c = H2TestClient(cfg)
        c.feed(C.get(1, endStream: false))
        for _ in 0..<4 { c.feed(C.data(1, [UInt8](repeating: 0, count: 16_384))) }
        XCTAssertEqual(c.takeFrames(), [.goaway(last: 1, .flowControlError)])
    }

    func testStreamIdRules() {
        var c = H2TestClient()
        c.feed(C.get(2))
        XCTAssertEqual(c.takeFrames(), [.goaway(last: 0, .protocolError)], "even id from a client")
        c = H2TestClient()
        c.feed(C.get(5) + C.get(3))
        XCTAssertEqual(c.takeFrames().last, .goaway(last: 5, .protocolError), "ids must grow")
        c = H2TestClient()
        c.feed(C.get(1))
        var a: [ConnectionAction] = []
        _ = c.conn.sendHead(stream: 1, status: 204, fields: HeaderList(), endStream: true, into: &a)
        c.feed(C.get(1))
        XCTAssertEqual(c.takeFrames().last, .goaway(last: 1, .streamClosed), "reuse of a closed stream")
        c = H2TestClient()
        c.feed(C.data(1, [1]))
        XCTAssertEqual(c.takeFrames(), [.goaway(last: 0, .protocolError)], "DATA on an idle stream")
        c = H2TestClient()
        c.feed(C.rst(3))
        XCTAssertEqual(c.takeFrames(), [.goaway(last: 0, .protocolError)], "RST_STREAM on an idle stream")
        c = H2TestClient()
        c.feed(C.windowUpdate(7, 1))
        XCTAssertEqual(c.takeFrames(), [.goaway(last: 0, .protocolError)], "WINDOW_UPDATE on an idle stream")
    }

    func testClosedStreamFrames() {
        var c = H2TestClient()
        c.feed(C.get(1) + C.data(1, [1]))
        XCTAssertEqual(c.takeFrames(), [.rst(1, .streamClosed)], "DATA after END_STREAM (half-closed remote)")
        c = H2TestClient()
        c.feed(C.get(1, endStream: false) + C.rst(1) + C.data(1, [1]))
        XCTAssertEqual(c.takeFrames(), [.rst(1, .streamClosed)], "DATA after the client's RST_STREAM")
        c = H2TestClient()
        c.feed(C.get(1, endStream: false))
        var a: [ConnectionAction] = []
        c.conn.resetStream(1, code: .internalError, into: &a)
        c.feed(C.data(1, [1, 2, 3]))
        XCTAssertEqual(c.takeFrames(), [.rst(1, .internalError)], "DATA in flight after our reset is ignored")
        c.feed(C.windowUpdate(1, 100) + C.rst(1))
        XCTAssertEqual(c.takeFrames(), [], "WINDOW_UPDATE and RST_STREAM on closed streams are ignored")
    }

    func testContinuationSequencing() {
        var c = H2TestClient()
        let block = C.block([(":method", "GET"), (":scheme", "https"), (":path", "/"), (":authority", "example.com")])
        c.feed(C.raw(1, 0x1, 1, Array(block[0..<3])) + C.raw(9, 0, 1, Array(block[3..<6])) + C.raw(9, 0x4, 1, Array(block[6...])))
        guard case .requestHead(1, _)? = c.takeActions().first else { return XCTFail("split block") }
        c.feed(C.raw(1, 0x1, 3, Array(block[0..<3])) + C.ping(1))
        XCTAssertEqual(c.takeFrames(), [.goaway(last: 3, .protocolError)], "a frame inside a header block")
        c = H2TestClient()
        c.feed(C.raw(9, 0x4, 1, block))
        XCTAssertEqual(c.takeFrames(), [.goaway(last: 0, .protocolError)], "CONTINUATION without HEADERS")
        c = H2TestClient()
        c.feed(C.raw(1, 0x1, 1, Array(block[0..<3])) + C.raw(9, 0x4, 3, Array(block[3...])))
        XCTAssertEqual(c.takeFrames(), [.goaway(last: 1, .protocolError)], "CONTINUATION on another stream")
    }

    func testRequestTrailersAndContentLength() {
        var c = H2TestClient()
        c.feed(C.get(1, endStream: false, extra: [("content-length", "3")]) + C.data(1, [1, 2, 3]) + C.headers(1, [("x-sum", "6")]))
        XCTAssertEqual(c.takeActions().last, .requestTrailers(stream: 1, HeaderList([("x-sum", "6")])))
        c.feed(C.get(3, endStream: false, extra: [("content-length", "3")]) + C.data(3, [1, 2], endStream: true))
        XCTAssertEqual(c.takeFrames(), [.rst(3, .protocolError)], "short body")
        XCTAssertTrue(c.takeActions().contains(.streamReset(stream: 3, .protocolError)))
        c.feed(C.get(5, endStream: false, extra: [("content-length", "1")]) + C.data(5, [1, 2]))
        XCTAssertEqual(c.takeFrames(), [.rst(5, .protocolError)], "long body")
        c.feed(C.get(7, endStream: false, extra: [("content-length", "3")]) + C.data(7, [1]) + C.headers(7, [("x", "y")]))
        XCTAssertEqual(c.takeFrames(), [.rst(7, .protocolError)], "trailers before content-length is reached")
        c.feed(C.get(9, endStream: false) + C.headers(9, [(":path", "/")]))
        XCTAssertEqual(c.takeFrames(), [.rst(9, .protocolError)], "pseudo-header in trailers")
        c.feed(C.get(11, endStream: false) + C.headers(11, [("x", "y")], endStream: false))
        XCTAssertEqual(c.takeFrames(), [.rst(11, .protocolError)], "trailers without END_STREAM")
    }

    func testRefusedRequests() {
        var c = H2TestClient()
        c.feed(C.get(1, extra: [("connection", "close")]))
        XCTAssertEqual(c.takeFrames(), [.rst(1, .protocolError)])
        XCTAssertEqual(c.takeActions(), [.requestRefused(stream: 1, status: nil, code: .protocolError, reason: "connection-specific field")])
        c.feed(C.headers(3, [(":method", "CONNECT"), (":authority", "a:443")], endStream: false))
        XCTAssertEqual(c.takeFrames(), [.headers(3, [":status: 501"], endStream: true), .rst(3, .noError)])
        c.feed(C.data(3, [1]))
        XCTAssertEqual(c.takeFrames(), [], "the refused body in flight is ignored")
        c.feed(C.raw(1, 0x25, 5, [0, 0, 0, 5, 16] + C.block([(":method", "GET")])))
        XCTAssertEqual(c.takeFrames(), [.rst(5, .protocolError)], "self-dependency")
    }

    func testHPACKBombGets431AndTheTableStaysInStep() {
        var cfg = ConnectionConfig()
        cfg.maxHeaderListSize = 8_192
        var c = H2TestClient(cfg)
        var block = C.block([(":method", "GET"), (":scheme", "https"), (":path", "/"), (":authority", "a")])
        block += [0x40, 0x01, 0x78]
        HPACKPrimitives.encodeInteger(4_000, prefixBits: 7, firstByte: 0, into: &block)
        block += [UInt8](repeating: 0x41, count: 4_000)
        block += [UInt8](repeating: 0xBE, count: 1_000)
        var frame: [UInt8] = []
        FrameWriter.headers(stream: 1, block: block, endStream: true, maxFrameSize: 16_384, into: &frame)
        c.feed(frame)
        XCTAssertEqual(c.takeFrames(), [.headers(1, [":status: 431"], endStream: true)])
        // The next request references the entry the refused block added.
        c.feed(C.raw(1, 0x5, 3, C.block([(":method", "GET"), (":scheme", "https"), (":path", "/"), (":authority", "a")]) + [0xBE]))
        guard case .requestHead(3, let head)? = c.takeActions().last else { return XCTFail() }
        XCTAssertEqual(head.fields.value(0).count, 4_000)
    }

    func testSendFlowControlNegativeWindowAndWritable() {
        var c = H2TestClient()
        c.feed(C.get(1))
        var a: [ConnectionAction] = []
        _ = c.conn.sendHead(stream: 1, status: 200, fields: HeaderList(), endStream: false, into: &a)
        let body = [UInt8](repeating: 0, count: 100_000)
        XCTAssertEqual(body.withUnsafeBytes { c.conn.sendData(stream: 1, $0, endStream: true, into: &a) }, 65_535)
        _ = c.takeFrames()
        // The client lowers its initial window: ours goes to 1000 - 65535.
        c.feed(C.settings([(.initialWindowSize, 1_000)]))
        XCTAssertEqual(c.conn.streams[1]?.send.value, 1_000 - 65_535)
        c.feed(C.windowUpdate(0, 100_000) + C.windowUpdate(1, 64_535))
        XCTAssertFalse(c.takeActions().contains(.streamWritable(stream: 1)), "still at zero")
        c.feed(C.windowUpdate(1, 50_000))
        XCTAssertEqual(c.takeActions().filter { $0 == .streamWritable(stream: 1) }.count, 1)
        XCTAssertEqual(Array(body[65_535...]).withUnsafeBytes { c.conn.sendData(stream: 1, $0, endStream: true, into: &a) }, 34_465)
        XCTAssertEqual(c.takeFrames().last, .data(1, 1_697, endStream: true))
        // Overflow: a stream error on a stream, a connection error on the connection.
        c.feed(C.get(3))
        _ = c.conn.sendHead(stream: 3, status: 200, fields: HeaderList(), endStream: false, into: &a)
        c.feed(C.windowUpdate(3, H2.maxWindow))
        XCTAssertEqual(c.takeFrames().last, .rst(3, .flowControlError))
        c.feed(C.windowUpdate(0, H2.maxWindow))
        XCTAssertEqual(c.takeFrames().last, .goaway(last: 3, .flowControlError))
    }

    func testSettingsValues() {
        for (values, code) in [([(SettingID.enablePush, UInt32(2))], H2ErrorCode.protocolError), ([(.initialWindowSize, 1 << 31)], .flowControlError),
                               ([(.maxFrameSize, 16_383)], .protocolError), ([(.maxFrameSize, 1 << 24)], .protocolError)] {
            var c = H2TestClient()
            c.feed(C.settings(values))
            XCTAssertEqual(c.takeFrames(), [.goaway(last: 0, code)], "\(values)")
        }
        var c = H2TestClient()
        c.feed(C.settings([(.maxFrameSize, 20_000)]) + C.raw(4, 0, 0, [0xFF, 0xFF, 0, 0, 0, 1]) + C.get(1))
        var a: [ConnectionAction] = []
        _ = c.conn.sendHead(stream: 1, status: 200, fields: HeaderList(), endStream: false, into: &a)
        XCTAssertEqual([UInt8](repeating: 0, count: 30_000).withUnsafeBytes { c.conn.sendData(stream: 1, $0, endStream: false, into: &a) }, 30_000)
        XCTAssertEqual(c.takeFrames().suffix(2), [.data(1, 20_000, endStream: false), .data(1, 10_000, endStream: false)])
    }

    func testGracefulShutdown() {
        var c = H2TestClient()
        c.feed(C.get(1))
        c.conn.beginShutdown(now: 0)
        XCTAssertEqual(c.takeFrames(), [.goaway(last: H2.maxStreamID, .noError), .ping(ack: false, H2Connection.shutdownPing)])
        c.feed(C.get(3))  // in flight before the client saw the GOAWAY: still served
        c.feed(C.ping(H2Connection.shutdownPing, ack: true))
        XCTAssertEqual(c.takeFrames(), [.goaway(last: 3, .noError)])
        c.feed(C.get(5))
        XCTAssertEqual(c.takeActions().filter { if case .requestHead = $0 { return true } else { return false } }.count, 2, "stream 5 ignored")
        var a: [ConnectionAction] = []
        _ = c.conn.sendHead(stream: 1, status: 204, fields: HeaderList(), endStream: true, into: &a)
        XCTAssertEqual(a, [])
        _ = c.conn.sendHead(stream: 3, status: 204, fields: HeaderList(), endStream: true, into: &a)
        XCTAssertEqual(a, [.close(error: nil)])
        // Without a PING ACK the final GOAWAY follows after the grace period.
        var d = H2TestClient()
        d.conn.beginShutdown(now: 0)
        _ = d.takeFrames()
        d.conn.tick(now: 1_000, into: &d.actions)
        XCTAssertEqual(d.takeFrames(), [.goaway(last: 0, .noError)])
        XCTAssertEqual(d.takeActions(), [.close(error: nil)])
    }

    func testOutboundBackPressureStopsReading() {
        var cfg = ConnectionConfig()
        cfg.maxOutboundBytes = 1_000
        var c = H2TestClient(cfg)
        var pings: [UInt8] = []
        for i in 0..<200 { pings += C.ping(UInt64(i)) }
        c.feed(pings)
        XCTAssertFalse(c.conn.wantsRead)
        XCTAssertLessThan(c.conn.outbound.count, 1_100)
        XCTAssertGreaterThan(c.pending.count, 0, "unread frames stay with the driver")
        _ = c.takeFrames()
        XCTAssertTrue(c.conn.wantsRead)
    }
}

extension H2ConnectionTests {
    /// After the final GOAWAY, the client ending its last stream closes the connection at once.
    func testDrainEndsWhenTheClientResetsTheLastStream() {
        var c = H2TestClient()
        c.feed(C.get(1, endStream: false))
        c.conn.beginShutdown(now: 0)
        c.feed(C.ping(H2Connection.shutdownPing, ack: true))
        _ = c.takeActions()
        c.feed(C.rst(1))
        XCTAssertEqual(c.takeActions(), [.streamReset(stream: 1, .cancel), .close(error: nil)])
    }

    /// A stream blocked only by the connection window (other streams used it) is not the client's stall.
    func testStreamBlockedByTheConnectionWindowIsNotIdle() {
        var c = H2TestClient()
        c.feed(C.get(1) + C.get(3))
        var a: [ConnectionAction] = []
        let body = [UInt8](repeating: 0, count: 70_000)
        _ = c.conn.sendHead(stream: 1, status: 200, fields: HeaderList(), endStream: false, into: &a)
        _ = c.conn.sendHead(stream: 3, status: 200, fields: HeaderList(), endStream: false, into: &a)
        XCTAssertEqual(body.withUnsafeBytes { c.conn.sendData(stream: 1, UnsafeRawBufferPointer(rebasing: $0[0..<60_000]), endStream: false, into: &a) }, 60_000)
        XCTAssertEqual(body.withUnsafeBytes { c.conn.sendData(stream: 3, $0, endStream: true, into: &a) }, 5_535)
        c.conn.tick(now: 60_000, into: &a)
        XCTAssertEqual(a, [], "stream 3 still has its own window: the connection window is shared")
    }
}
