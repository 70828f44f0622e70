import FulcrumHTTP
import XCTest

final class ResponseAndChunkedTests: XCTestCase {
    let head = ParsedHead()

    func parseResponse(_ text: String) -> Int? {
        let bytes = Array(text.utf8)
        return bytes.withUnsafeBytes { HeadParser.parseResponse($0, into: head)?.status }
    }

    func testResponseFraming() {
        XCTAssertNil(parseResponse("HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n"))
        XCTAssertEqual(HeadParser.responseFraming(head, requestMethod: .get), .length(10))
        XCTAssertEqual(HeadParser.responseFraming(head, requestMethod: .head), .none)
        XCTAssertNil(parseResponse("HTTP/1.1 204 No Content\r\n\r\n"))
        XCTAssertEqual(HeadParser.responseFraming(head, requestMethod: .get), .none)
        XCTAssertNil(parseResponse("HTTP/1.1 304 Not Modified\r\nContent-Length: 99\r\n\r\n"))
        XCTAssertEqual(HeadParser.responseFraming(head, requestMethod: .get), .none)
        XCTAssertNil(parseResponse("HTTP/1.1 100 Continue\r\n\r\n"))
        XCTAssertEqual(HeadParser.responseFraming(head, requestMethod: .post), .none)
        XCTAssertNil(parseResponse("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"))
        XCTAssertEqual(HeadParser.responseFraming(head, requestMethod: .get), .chunked)
        XCTAssertNil(parseResponse("HTTP/1.0 200 OK\r\n\r\n"))
        XCTAssertEqual(HeadParser.responseFraming(head, requestMethod: .get), .untilClose)
        XCTAssertNil(parseResponse("HTTP/1.1 200\r\nContent-Length: 0\r\n\r\n"))
        XCTAssertEqual(HeadParser.responseFraming(head, requestMethod: .get), .none)
        XCTAssertNil(parseResponse("HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\n"))
        XCTAssertEqual(HeadParser.responseFraming(head, requestMethod: .get), .untilClose)
    }

    func testBadResponsesAre502() {
        for bad in ["HTTP/1.1 2000 OK\r\n\r\n", "HTTP/1.1 099 X\r\n\r\n", "HTTX/1.1 200 OK\r\n\r\n",
                    "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n",
                    "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 7\r\n\r\n",
                    "HTTP/1.1 200 OK\r\nX: a\u{0}\r\n\r\n"] {
            XCTAssertEqual(parseResponse(bad), 502, bad.debugDescription)
        }
    }

    func run(_ body: String, in pieces: Int = 1) -> ChunkedDecoder.Outcome {
        var d = ChunkedDecoder()
        let bytes = Array(body.utf8)
        let size = max(1, (bytes.count + pieces - 1) / pieces)
        var offset = 0
        while offset < bytes.count {
            let end = min(bytes.count, offset + size)
            let r = bytes[offset..<end].withUnsafeBytes { d.consume($0) }
            switch r {
            case .needMore: offset = end
            case .done(let n): return .done(offset + n)
            case .invalid: return r
            }
        }
        return .needMore
    }

    func testChunkedBodies() {
        let body = "5\r\nhello\r\n6;ext=1\r\n world\r\n0\r\n\r\n"
        for pieces in [1, 2, 3, 7, body.utf8.count] {
            XCTAssertEqual(run(body + "GET /next", in: pieces), .done(body.utf8.count), "pieces \(pieces)")
        }
        XCTAssertEqual(run("0\r\nX-Trailer: 1\r\nY: 2\r\n\r\n"), .done(25))
        XCTAssertEqual(run("A\r\n0123456789\r\n0\r\n\r\n"), .done(20))
        XCTAssertEqual(run("5\r\nhel"), .needMore)
    }

    func testBadChunkFraming() {
        for bad in ["x\r\n", "\r\n", "5\nhello\r\n", "5\r\nhello\n0\r\n\r\n", "5\r\nhelloX\r\n",
                    "11111111111111111\r\n", "-5\r\n", "5\r\nhello\r\n0\r\nbad\u{1}trailer\r\n\r\n", "0\r\n\n"] {
            if case .invalid = run(bad) { continue }
            XCTFail("accepted \(bad.debugDescription)")
        }
        // 16 hex digits are accepted as a length (and then capped).
        if case .invalid = run("0000000000000005\r\nhello\r\n0\r\n\r\n") { XCTFail("16 digits refused") }
    }

    func testBodyTracker() {
        var t = BodyTracker(.length(10))
        XCTAssertEqual(Array("12345".utf8).withUnsafeBytes { t.consume($0) }, .more)
        XCTAssertEqual(Array("67890NEXT".utf8).withUnsafeBytes { t.consume($0) }, .complete(5))
        XCTAssertTrue(t.isComplete)
        t.reset(.untilClose)
        XCTAssertTrue(t.endsAtClose)
        XCTAssertEqual(Array("abc".utf8).withUnsafeBytes { t.consume($0) }, .more)
    }
}
