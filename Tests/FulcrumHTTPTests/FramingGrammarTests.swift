import FulcrumHTTP
import XCTest

/// RFC 9112 framing rules the proxy enforces (CONTRACT §4): chunk lines,
/// trailers, Transfer-Encoding members, Connection options, Content-Length lists.
final class FramingGrammarTests: XCTestCase {
    let head = ParsedHead()

    func request(_ text: String) -> Int? {
        let bytes = Array(text.utf8)
        return bytes.withUnsafeBytes { HeadParser.parseRequest($0, into: head)?.status }
    }

    func response(_ text: String) -> Int? {
        let bytes = Array(text.utf8)
        return bytes.withUnsafeBytes { HeadParser.parseResponse($0, into: head)?.status }
    }

    /// The decoder's outcome for `body`, whole and then fed one byte at a time (they must agree).
    func chunked(_ body: String) -> ChunkedDecoder.Outcome {
        let bytes = Array(body.utf8)
        var whole = ChunkedDecoder()
        let a = bytes.withUnsafeBytes { whole.consume($0) }
        var split = ChunkedDecoder()
        var b = ChunkedDecoder.Outcome.needMore
        for (i, byte) in bytes.enumerated() {
            b = [byte].withUnsafeBytes { split.consume($0) }
            if case .done = b { b = .done(i + 1); break }
            if case .invalid = b { break }
        }
        switch (a, b) {
        case (.invalid, .invalid), (.needMore, .needMore): break
        default: XCTAssertEqual(a, b, "whole vs byte by byte: \(body.debugDescription)")
        }
        return a
    }

    func testChunkLinesInTheGrammar() {
        for good in ["5\r\nhello\r\n0\r\n\r\n", "5;a\r\nhello\r\n0\r\n\r\n", "5;a=b\r\nhello\r\n0\r\n\r\n",
                     "5;a=\"q \\\" x\"\r\nhello\r\n0\r\n\r\n", "5 ;a=b\r\nhello\r\n0\r\n\r\n", "5\t; a = b ;c\r\nhello\r\n0\r\n\r\n",
                     "5;a=\"\"\r\nhello\r\n0\r\n\r\n", "00005\r\nhello\r\n0;last\r\n\r\n", "A\r\n0123456789\r\n0\r\n\r\n",
                     "0\r\nX-Trailer: yes\r\nY: \r\n\r\n"] {
            XCTAssertEqual(chunked(good), .done(good.utf8.count), good.debugDescription)
        }
    }

    func testChunkLinesOutsideTheGrammar() {
        for bad in ["5 GET /x HTTP/1.1\r\nhello\r\n0\r\n\r\n", "5 \r\nhello\r\n", "5\t\r\nhello\r\n", "5;\r\nhello\r\n",
                    "5;=v\r\nhello\r\n", "5;a=\"b\r\nhello\r\n", "5;a=b c\r\nhello\r\n", "5;a=\r\nhello\r\n", "5;a@b\r\nhello\r\n",
                    "5;a b\r\nhello\r\n", "5;a=\"x\"y\r\nhello\r\n", "5;a=\"\u{1}\"\r\nhello\r\n", "5\nhello\r\n", "5\r\rhello\r\n",
                    "x\r\n", "\r\n", "-5\r\n", "0x5\r\n", "5\r\nhelloX\r\n", "5\r\nhello\n", "12345678901234567\r\n",
                    "0\r\nnot a field\r\n\r\n", "0\r\n: v\r\n\r\n", "0\r\nX-A : b\r\n\r\n", "0\r\nX-A: b\r\n folded\r\n\r\n",
                    "0\r\nX-A: b\u{1}\r\n\r\n", "0\r\nX-A: b\n\r\n", "0\r\n\r\r"] {
            guard case .invalid = chunked(bad) else {
                XCTFail("accepted \(bad.debugDescription)")
                continue
            }
        }
    }

    func testExtensionsAreBounded() {
        let long = "5;" + String(repeating: "a", count: ChunkedDecoder.maxExtensionBytes + 1) + "\r\nhello\r\n0\r\n\r\n"
        guard case .invalid = chunked(long) else { return XCTFail("unbounded chunk extension") }
    }

    func testDechunkingReportsOnlyPayload() {
        let body = Array("5;x=1\r\nhello\r\n6\r\n world\r\n0\r\nT: v\r\n\r\n".utf8)
        var tracker = BodyTracker(.chunked)
        var payload: [UInt8] = []
        let progress = body.withUnsafeBytes { raw in
            tracker.consume(raw) { offset, count in payload += raw[offset..<(offset + count)] }
        }
        XCTAssertEqual(progress, .complete(body.count))
        XCTAssertEqual(String(decoding: payload, as: UTF8.self), "hello world")
    }

    func testTransferEncodingMembers() {
        for te in [";chunked", ",", ", chunked", "chunked,", "chunked, ", "", " ", "chunked;x=1", "\"chunked\"", "chunked, chunked",
                   "chunk ed", "gzip, chunked"] {
            XCTAssertNotNil(request("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: \(te)\r\n\r\n"), te.debugDescription)
        }
        XCTAssertNil(request("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: Chunked\r\n\r\n"))
        XCTAssertNil(request("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding:  chunked \r\n\r\n"))
        XCTAssertEqual(response("HTTP/1.1 200 OK\r\nTransfer-Encoding: , chunked\r\n\r\n"), 502)
        XCTAssertNil(response("HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n"))
    }

    func testConnectionMayNotNameFramingHeadersOrHost() {
        for named in ["Content-Length", "TRANSFER-ENCODING", "host", "close, content-length"] {
            XCTAssertEqual(request("POST / HTTP/1.1\r\nHost: a\r\nConnection: \(named)\r\nContent-Length: 1\r\n\r\n"), 400, named)
            XCTAssertEqual(response("HTTP/1.1 200 OK\r\nConnection: \(named)\r\nContent-Length: 1\r\n\r\n"), 502, named)
        }
        XCTAssertNil(request("GET / HTTP/1.1\r\nHost: a\r\nConnection: X-Custom, keep-alive\r\n\r\n"))
    }

    func testContentLengthListsAreFlaggedForRewrite() {
        XCTAssertNil(request("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\n"))
        XCTAssertFalse(head.contentLengthNeedsRewrite)
        for list in ["Content-Length: 5, 5", "Content-Length: 5,5,5", "Content-Length: 5\r\nContent-Length: 5"] {
            XCTAssertNil(request("POST / HTTP/1.1\r\nHost: a\r\n\(list)\r\n\r\n"), list)
            XCTAssertTrue(head.contentLengthNeedsRewrite, list)
            XCTAssertEqual(head.contentLength, 5)
        }
        XCTAssertEqual(request("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5, 6\r\n\r\n"), 400)
        XCTAssertEqual(request("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5,\r\n\r\n"), 400)
    }

    func testTargetForms() {
        XCTAssertNil(request("M-SEARCH * HTTP/1.1\r\nHost: 239.255.255.250:1900\r\n\r\n"))
        XCTAssertNil(request("OPTIONS * HTTP/1.1\r\nHost: a\r\n\r\n"))
        XCTAssertEqual(request("GET * HTTP/1.1\r\nHost: a\r\n\r\n"), 400)
        XCTAssertNil(request("GET http://a.example:81/p?q HTTP/1.1\r\nHost: b\r\n\r\n"))
        XCTAssertEqual(head.authorityStart, 11)
        XCTAssertEqual(head.authorityEnd, 23)
        XCTAssertNil(request("GET http://a.example?q HTTP/1.1\r\nHost: b\r\n\r\n"))
        XCTAssertEqual(head.authorityEnd - head.authorityStart, 9)
        XCTAssertEqual(request("GET http://u@a.example/ HTTP/1.1\r\nHost: a\r\n\r\n"), 400)
        XCTAssertEqual(request("GET http:///x HTTP/1.1\r\nHost: a\r\n\r\n"), 400)
        XCTAssertNil(request("GET / HTTP/1.1\r\nHost: a\r\n\r\n"))
        XCTAssertEqual(head.authorityStart, -1)
    }
}
