import FulcrumHTTP
import XCTest

/// The codec against a table of valid and hostile requests.
final class RequestParserTests: XCTestCase {
    let head = ParsedHead()

    /// Scans and parses `text` as the proxy does; nil status means accepted.
    func outcome(_ text: String) -> (status: Int?, head: ParsedHead) {
        let bytes = Array(text.utf8)
        return bytes.withUnsafeBytes { raw in
            let skip = HeadScanner.leadingEmptyLines(raw)
            let rest = UnsafeRawBufferPointer(rebasing: raw[skip...])
            var scanner = HeadScanner()
            guard let length = scanner.scan(rest) else { return (-1, head) }
            let error = HeadParser.parseRequest(UnsafeRawBufferPointer(rebasing: rest[0..<length]), into: head)
            return (error?.status, head)
        }
    }

    func testAcceptedRequests() {
        let valid = [
            "GET / HTTP/1.1\r\nHost: a\r\n\r\n",
            "GET /a/b?c=d&e HTTP/1.1\r\nHost: example.com:8080\r\nAccept: */*\r\n\r\n",
            "\r\nGET / HTTP/1.1\r\nHost: a\r\n\r\n",  // a leading empty line is ignored
            "GET / HTTP/1.0\r\n\r\n",  // HTTP/1.0 needs no Host
            "POST /x HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\n",
            "POST /x HTTP/1.1\r\nHost: a\r\nContent-Length: 5, 5\r\n\r\n",
            "POST /x HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nContent-Length: 5\r\n\r\n",
            "POST /x HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n",
            "POST /x HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: Chunked \r\n\r\n",
            "OPTIONS * HTTP/1.1\r\nHost: a\r\n\r\n",
            "CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n",
            "GET http://example.com/x HTTP/1.1\r\nHost: example.com\r\n\r\n",
            "PURGE /cache HTTP/1.1\r\nHost: a\r\n\r\n",
            "GET / HTTP/1.1\r\nHost: a\r\nX-Empty:\r\nX-Tabs:\t v \t\r\n\r\n",
            "GET / HTTP/1.1\r\nHost: [::1]:80\r\nX-Obs: caf\u{E9}\r\n\r\n",
        ]
        for text in valid {
            XCTAssertNil(outcome(text).status, text.debugDescription)
        }
    }

    func testRefusedRequests() {
        let table: [(String, Int, String)] = [
            ("GET / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n", 400, "CL + TE"),
            ("GET / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n", 400, "TE + CL"),
            ("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked, identity\r\n\r\n", 400, "chunked, identity"),
            ("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n", 400, "chunked twice"),
            ("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: identity\r\n\r\n", 400, "identity"),
            ("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip, chunked\r\n\r\n", 501, "gzip"),
            ("POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n", 400, "TE in 1.0"),
            ("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: +5\r\n\r\n", 400, "CL +5"),
            ("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: -1\r\n\r\n", 400, "CL -1"),
            ("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5x\r\n\r\n", 400, "CL junk"),
            ("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 0x10\r\n\r\n", 400, "CL hex"),
            ("POST / HTTP/1.1\r\nHost: a\r\nContent-Length:\r\n\r\n", 400, "CL empty"),
            ("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n", 400, "differing CL"),
            ("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5, 6\r\n\r\n", 400, "differing CL list"),
            ("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 99999999999999999999\r\n\r\n", 400, "CL overflow"),
            ("GET / HTTP/1.1\nHost: a\n\n", 400, "bare LF"),
            ("GET / HTTP/1.1\r\nHost: a\n\r\n", 400, "bare LF in header"),
            ("GET / HTTP/1.1\r\nHost: a\rX: y\r\n\r\n", 400, "bare CR"),
            ("GET / HTTP/1.1\r\nHost: a\r\nX: a\u{0}b\r\n\r\n", 400, "NUL"),
            ("GET / HTTP/1.1\r\nHost: a\r\nX: a\u{1}b\r\n\r\n", 400, "control char"),
            ("GET / HTTP/1.1\r\nHost : a\r\n\r\n", 400, "space before colon"),
            ("GET / HTTP/1.1\r\nHost: a\r\nX-A: 1\r\n  continued\r\n\r\n", 400, "obs-fold"),
            ("GET / HTTP/1.1\r\nHo(st: a\r\n\r\n", 400, "bad name"),
            ("GET / HTTP/1.1\r\n: a\r\nHost: a\r\n\r\n", 400, "empty name"),
            ("GET / HTTP/1.1\r\n\r\n", 400, "no Host"),
            ("GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", 400, "two Hosts"),
            ("GET / HTTP/1.1\r\nHost: a/b\r\n\r\n", 400, "bad Host"),
            ("GET  / HTTP/1.1\r\nHost: a\r\n\r\n", 400, "double space"),
            ("GET /a b HTTP/1.1\r\nHost: a\r\n\r\n", 400, "space in target"),
            ("GET / HTTP/1.1 \r\nHost: a\r\n\r\n", 400, "trailing space"),
            ("GET / HTTP/2.0\r\nHost: a\r\n\r\n", 505, "HTTP/2.0"),
            ("GET / HTTP/1.2\r\nHost: a\r\n\r\n", 505, "HTTP/1.2"),
            ("GET / HTTQ/1.1\r\nHost: a\r\n\r\n", 400, "not HTTP"),
            ("GET x HTTP/1.1\r\nHost: a\r\n\r\n", 400, "bad target"),
            ("GET * HTTP/1.1\r\nHost: a\r\n\r\n", 400, "asterisk for GET"),
            ("G\u{E9}T / HTTP/1.1\r\nHost: a\r\n\r\n", 400, "non-token method"),
            ("GET /\u{7F} HTTP/1.1\r\nHost: a\r\n\r\n", 400, "DEL in target"),
            ("GET / HTTP/1.1\r\nHost: a\r\nConnection: clo se\r\n\r\n", 400, "bad Connection token"),
        ]
        for (text, status, label) in table {
            XCTAssertEqual(outcome(text).status, status, label)
        }
    }

    func testLimits() {
        let longTarget = "GET /" + String(repeating: "a", count: HTTPLimits.maxRequestLine) + " HTTP/1.1\r\nHost: a\r\n\r\n"
        XCTAssertEqual(outcome(longTarget).status, 414)
        let many = "GET / HTTP/1.1\r\nHost: a\r\n" + (0..<HTTPLimits.maxFields).map { "X-\($0): v\r\n" }.joined() + "\r\n"
        XCTAssertEqual(outcome(many).status, 431)
        let justEnough = "GET / HTTP/1.1\r\nHost: a\r\n" + (0..<(HTTPLimits.maxFields - 1)).map { "X-\($0): v\r\n" }.joined() + "\r\n"
        XCTAssertNil(outcome(justEnough).status)
    }

    func testSemantics() {
        var (status, h) = outcome("POST /p?q HTTP/1.1\r\nHost: h:1\r\nContent-Length: 12\r\nConnection: keep-alive, X-Custom\r\nX-Custom: 1\r\nExpect: 100-continue\r\n\r\n")
        XCTAssertNil(status)
        XCTAssertEqual(h.method, .post)
        XCTAssertEqual(h.requestFraming, .length(12))
        XCTAssertTrue(h.wantsKeepAlive)
        XCTAssertTrue(h.expectContinue)
        XCTAssertEqual(h.connectionTokenCount, 1)
        XCTAssertEqual(h.hostIndex, 0)

        (status, h) = outcome("GET / HTTP/1.0\r\n\r\n")
        XCTAssertFalse(h.wantsKeepAlive)
        (status, h) = outcome("GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n")
        XCTAssertTrue(h.wantsKeepAlive)
        (status, h) = outcome("GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n")
        XCTAssertFalse(h.wantsKeepAlive)
        (status, h) = outcome("GET /ws HTTP/1.1\r\nHost: a\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n")
        XCTAssertTrue(h.isUpgradeRequest)
        (status, h) = outcome("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n")
        XCTAssertEqual(h.requestFraming, .chunked)
        (status, h) = outcome("HEAD / HTTP/1.1\r\nHost: a\r\n\r\n")
        XCTAssertEqual(h.method, .head)
        XCTAssertEqual(h.requestFraming, .none)
    }

    func testHeadScannerIsIncremental() {
        let text = Array("GET / HTTP/1.1\r\nHost: a\r\nX: y\r\n\r\nNEXT".utf8)
        var scanner = HeadScanner()
        var found: Int?
        text.withUnsafeBytes { raw in
            for end in 1...raw.count where found == nil {
                found = scanner.scan(UnsafeRawBufferPointer(rebasing: raw[0..<end]))
            }
        }
        XCTAssertEqual(found, text.count - 4)
        XCTAssertEqual(scanner.lines, 3)
    }
}
