@testable import FulcrumHTTP2
import XCTest

/// RFC 9113 §8 request rules and the HTTP/1.1 head built from a valid request.
final class RequestValidatorTests: XCTestCase {
    static let base = [(":method", "GET"), (":scheme", "https"), (":path", "/a?b"), (":authority", "example.com")]

    func outcome(_ pairs: [(String, String)], endStream: Bool = true) -> RequestValidator.Outcome {
        RequestValidator.validate(HeaderList(pairs), endStream: endStream)
    }

    func head(_ pairs: [(String, String)], endStream: Bool = true, file: StaticString = #filePath, line: UInt = #line) -> RequestHead? {
        guard case .accept(let h) = outcome(pairs, endStream: endStream) else {
            XCTFail("refused: \(outcome(pairs, endStream: endStream))", file: file, line: line)
            return nil
        }
        return h
    }

    func testValidRequestBecomesHTTP11() throws {
        let h = try XCTUnwrap(head(Self.base + [("accept", "*/*"), ("cookie", "a=1"), ("user-agent", "t"), ("cookie", "b=2"), ("te", "trailers")]))
        XCTAssertEqual(String(decoding: h.http1Head(), as: UTF8.self),
                       "GET /a?b HTTP/1.1\r\nhost: example.com\r\naccept: */*\r\ncookie: a=1; b=2\r\nuser-agent: t\r\nte: trailers\r\n\r\n")
        XCTAssertFalse(h.hasBody)
    }

    func testBodyFraming() throws {
        let post = [(":method", "POST"), (":scheme", "http"), (":path", "/u"), (":authority", "a:8080")]
        let withLength = try XCTUnwrap(head(post + [("content-length", "5")], endStream: false))
        XCTAssertEqual(withLength.contentLength, 5)
        XCTAssertEqual(String(decoding: withLength.http1Head(), as: UTF8.self), "POST /u HTTP/1.1\r\nhost: a:8080\r\ncontent-length: 5\r\n\r\n")
        let chunked = try XCTUnwrap(head(post, endStream: false))
        XCTAssertTrue(chunked.chunkedBody)
        XCTAssertEqual(String(decoding: chunked.http1Head(), as: UTF8.self), "POST /u HTTP/1.1\r\nhost: a:8080\r\ntransfer-encoding: chunked\r\n\r\n")
        // Repeated equal content-length collapses to one.
        XCTAssertEqual(head(post + [("content-length", "5"), ("content-length", "5")], endStream: false)?.fields.count, 1)
    }

    func testHostFallbackAndAgreement() {
        let noAuthority = [(":method", "GET"), (":scheme", "https"), (":path", "/")]
        XCTAssertEqual(head(noAuthority + [("host", "h.example")])?.host, Array("h.example".utf8))
        XCTAssertNotNil(head(Self.base + [("host", "EXAMPLE.com")]), "case-insensitive agreement")
        XCTAssertEqual(outcome(Self.base + [("host", "other.example")]), .malformed(":authority and host disagree"))
        XCTAssertEqual(outcome(noAuthority), .malformed("no :authority or host"))
    }

    func testOptionsAsterisk() {
        XCTAssertNotNil(head([(":method", "OPTIONS"), (":scheme", "https"), (":path", "*"), (":authority", "a")]))
        XCTAssertEqual(outcome([(":method", "GET"), (":scheme", "https"), (":path", "*"), (":authority", "a")]), .malformed(":path not origin-form"))
    }

    func testConnectIsRefusedClearly() {
        XCTAssertEqual(outcome([(":method", "CONNECT"), (":authority", "a:443")], endStream: false), .refuse(status: 501, "CONNECT over HTTP/2 is not supported"))
        XCTAssertEqual(outcome([(":method", "CONNECT"), (":protocol", "websocket"), (":scheme", "https"), (":path", "/chat"), (":authority", "a")], endStream: false),
                       .refuse(status: 501, "CONNECT over HTTP/2 is not supported"))
    }

    func testMalformedRequests() {
        let cases: [(String, [(String, String)], Bool)] = [
            ("no :method", [(":scheme", "https"), (":path", "/"), (":authority", "a")], true),
            ("no :path", [(":method", "GET"), (":scheme", "https"), (":authority", "a")], true),
            ("no :scheme", [(":method", "GET"), (":path", "/"), (":authority", "a")], true),
            ("empty :path", [(":method", "GET"), (":scheme", "https"), (":path", ""), (":authority", "a")], true),
            ("relative :path", [(":method", "GET"), (":scheme", "https"), (":path", "a/b"), (":authority", "a")], true),
            ("absolute :path", [(":method", "GET"), (":scheme", "https"), (":path", "http://x/"), (":authority", "a")], true),
            ("space in :path", [(":method", "GET"), (":scheme", "https"), (":path", "/a HTTP/1.1"), (":authority", "a")], true),
            ("bad scheme", [(":method", "GET"), (":scheme", "ftp"), (":path", "/"), (":authority", "a")], true),
            ("duplicate :path", Self.base + [(":path", "/x")], true),
            ("duplicate :method", [(":method", "GET")] + Self.base, true),
            ("unknown pseudo", Self.base + [(":foo", "x")], true),
            ("response pseudo", Self.base + [(":status", "200")], true),
            ("pseudo after regular", [(":method", "GET"), ("accept", "x"), (":scheme", "https"), (":path", "/"), (":authority", "a")], true),
            ("uppercase name", Self.base + [("Accept", "x")], true),
            ("space in name", Self.base + [("a b", "x")], true),
            ("empty name", Self.base + [("", "x")], true),
            ("connection", Self.base + [("connection", "close")], true),
            ("keep-alive", Self.base + [("keep-alive", "5")], true),
            ("proxy-connection", Self.base + [("proxy-connection", "x")], true),
            ("transfer-encoding", Self.base + [("transfer-encoding", "chunked")], false),
            ("upgrade", Self.base + [("upgrade", "h2c")], true),
            ("te gzip", Self.base + [("te", "gzip")], true),
            ("te trailers, gzip", Self.base + [("te", "trailers, gzip")], true),
            ("CR in value", Self.base + [("x", "a\rb")], true),
            ("LF in value", Self.base + [("x", "a\nb: c")], true),
            ("NUL in value", Self.base + [("x", "a\u{0}b")], true),
            ("leading space", Self.base + [("x", " a")], true),
            ("trailing tab", Self.base + [("x", "a\t")], true),
            ("CR in :authority", [(":method", "GET"), (":scheme", "https"), (":path", "/"), (":authority", "a\r\nx: y")], true),
            ("userinfo", [(":method", "GET"), (":scheme", "https"), (":path", "/"), (":authority", "u@a")], true),
            ("bad method", [(":method", "G T"), (":scheme", "https"), (":path", "/"), (":authority", "a")], true),
            ("content-length list", Self.base + [("content-length", "1, 1")], false),
            ("content-length sign", Self.base + [("content-length", "+1")], false),
            ("content-length conflict", Self.base + [("content-length", "1"), ("content-length", "2")], false),
            ("content-length with END_STREAM", Self.base + [("content-length", "3")], true),
            ("two hosts", Self.base + [("host", "example.com"), ("host", "example.com")], true),
        ]
        for (why, pairs, end) in cases {
            guard case .malformed = outcome(pairs, endStream: end) else { XCTFail("\(why): \(outcome(pairs, endStream: end))"); continue }
        }
    }

    /// Found by the h2-connection fuzz target: an `:authority` the proxy's own
    /// HTTP/1.1 parser refuses as a Host (characters outside RFC 3986's
    /// reg-name, IP literal and port) must be refused here too.
    func testAuthorityIsHostCharactersOnly() {
        for bad in ["a\"b", "a<b", "a>b", "a{b}", "a|b", "a^b", "a`b", "\u{7F}", "é.example"] {
            guard case .malformed = outcome([(":method", "GET"), (":scheme", "https"), (":path", "/"), (":authority", bad)]) else {
                XCTFail("accepted :authority \(bad)"); continue
            }
        }
        for good in ["a.example:8443", "[::1]:80", "xn--bcher-kva.example", "a_b-c~d%41!$&'()*+,;="] {
            XCTAssertNotNil(head([(":method", "GET"), (":scheme", "https"), (":path", "/"), (":authority", good)]), good)
        }
    }

    func testTrailers() {
        XCTAssertNil(RequestValidator.validateTrailers(HeaderList([("x-sum", "abc")])))
        XCTAssertNotNil(RequestValidator.validateTrailers(HeaderList([(":path", "/")])))
        XCTAssertNotNil(RequestValidator.validateTrailers(HeaderList([("X-Sum", "abc")])))
        XCTAssertNotNil(RequestValidator.validateTrailers(HeaderList([("transfer-encoding", "chunked")])))
        XCTAssertNotNil(RequestValidator.validateTrailers(HeaderList([("content-length", "1")])))
        XCTAssertNotNil(RequestValidator.validateTrailers(HeaderList([("x", "a\r\nb")])))
    }
}
