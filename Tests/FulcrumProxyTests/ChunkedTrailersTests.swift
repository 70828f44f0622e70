@testable import FulcrumProxy
import XCTest

/// Reading a chunked body's trailers back from its last raw bytes (HTTP/2 streams send them as HEADERS).
final class ChunkedTrailersTests: XCTestCase {
    func fields(_ parts: [String]) -> [(String, String)] {
        var t = ChunkedTrailers()
        for p in parts { Array(p.utf8).withUnsafeBytes { t.saw($0) } }
        return t.fields().pairs
    }

    func testTrailersInOrderWithWhitespaceTrimmed() {
        let got = fields(["5\r\nhello\r\n0\r\nX-A: 1\r\nx-b:  two words \r\n\r\n"])
        XCTAssertEqual(got.map(\.0), ["X-A", "x-b"])
        XCTAssertEqual(got.map(\.1), ["1", "two words"])
    }

    func testSplitAcrossReadsAndLastChunkWithExtension() {
        let got = fields(["3\r\nabc\r\n00;ext=1\r", "\nk: v\r", "\n\r\n"])
        XCTAssertEqual(got.map(\.0), ["k"])
        XCTAssertEqual(got.map(\.1), ["v"])
    }

    func testNoTrailers() {
        XCTAssertTrue(fields(["5\r\nhello\r\n0\r\n\r\n"]).isEmpty)
        XCTAssertTrue(fields(["0\r\n\r\n"]).isEmpty)
    }

    func testChunkDataThatLooksLikeALastChunkIsNotConfused() {
        // The data "0\r\n" inside a chunk precedes the real last chunk.
        let got = fields(["3\r\n0\r\n\r\n0\r\nt: 1\r\n\r\n"])
        XCTAssertEqual(got.map(\.0), ["t"])
    }

    func testTailIsBounded() {
        var t = ChunkedTrailers()
        let big = [UInt8](repeating: 0x61, count: 100_000)
        big.withUnsafeBytes { t.saw($0) }
        XCTAssertLessThanOrEqual(t.tail.count, ChunkedTrailers.capacity)
    }
}
