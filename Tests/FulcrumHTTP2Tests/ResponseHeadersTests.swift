@testable import FulcrumHTTP2
import XCTest

/// HTTP/1.1 response heads → HEADERS blocks: lower-cased, hop-by-hop dropped.
final class ResponseHeadersTests: XCTestCase {
    func decoded(_ block: [UInt8]) -> [(String, String)] {
        var d = HPACKDecoder()
        var list = HeaderList()
        XCTAssertEqual(block.withUnsafeBytes { d.decode($0, into: &list) }, .complete)
        return list.pairs
    }

    func testHeadIsLowerCasedAndHopByHopDropped() {
        let fields = HeaderList([("Content-Type", "text/plain"), ("Connection", "keep-alive, X-Private"), ("Keep-Alive", "timeout=5"),
                                 ("X-Private", "secret"), ("Transfer-Encoding", "chunked"), ("Upgrade", "h2c"), ("Proxy-Connection", "x"),
                                 ("TE", "trailers"), ("Trailer", "X-Sum"), ("Set-Cookie", "a=1"), ("Set-Cookie", "b=2"), ("Content-Length", "12")])
        var block: [UInt8] = []
        ResponseHeaders().encodeHead(status: 200, fields: fields, into: &block)
        let pairs = decoded(block)
        XCTAssertEqual(HeaderList(pairs), HeaderList([(":status", "200"), ("content-type", "text/plain"), ("set-cookie", "a=1"),
                                                      ("set-cookie", "b=2"), ("content-length", "12")]))
    }

    func testInformationalAndTrailers() {
        var block: [UInt8] = []
        ResponseHeaders().encodeHead(status: 103, fields: HeaderList([("Link", "</s.css>; rel=preload")]), into: &block)
        XCTAssertEqual(HeaderList(decoded(block)), HeaderList([(":status", "103"), ("link", "</s.css>; rel=preload")]))
        block = []
        ResponseHeaders().encodeTrailers(HeaderList([("X-Checksum", "abc"), ("Connection", "close")]), into: &block)
        XCTAssertEqual(HeaderList(decoded(block)), HeaderList([("x-checksum", "abc")]))
    }
}
