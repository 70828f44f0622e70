import FulcrumEventLoop
import FulcrumPluginHost
@testable import FulcrumProxy
import XCTest

/// Local answers written when filters ran: the proxy frames them.
final class FilterResponseTests: XCTestCase {
    func written(_ body: (inout ByteBuffer) -> Bool) -> String? {
        let pool = BufferPool(bufferSize: 4096, maxFree: 1)
        var out = pool.take()
        defer { pool.give(out) }
        guard body(&out) else { return nil }
        return String(decoding: out.readable, as: UTF8.self)
    }

    func testAFiltersAnswerIsFramedByTheProxy() {
        let text = Array("no".utf8).withUnsafeBytes { b in
            written { FilterResponse.write(403, keepAlive: true, edits: HeaderEdits(), body: b, bodyless: false, into: &$0) }
        }
        XCTAssertEqual(text, "HTTP/1.1 403 Forbidden\r\nContent-Length: 2\r\n\r\nno")
        let closing = written { FilterResponse.write(429, keepAlive: false, edits: HeaderEdits(), body: UnsafeRawBufferPointer(start: nil, count: 0), bodyless: false, into: &$0) }
        XCTAssertEqual(closing, "HTTP/1.1 429 Too Many Requests\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
    }

    func testNoBodyFor204And304AndNoneSentForHEAD() {
        Array("ignored".utf8).withUnsafeBytes { b in
            XCTAssertEqual(written { FilterResponse.write(204, keepAlive: true, edits: HeaderEdits(), body: b, bodyless: false, into: &$0) },
                           "HTTP/1.1 204 No Content\r\n\r\n")
            XCTAssertEqual(written { FilterResponse.write(304, keepAlive: false, edits: HeaderEdits(), body: b, bodyless: false, into: &$0) },
                           "HTTP/1.1 304 Not Modified\r\nConnection: close\r\n\r\n")
            XCTAssertEqual(written { FilterResponse.write(200, keepAlive: true, edits: HeaderEdits(), body: b, bodyless: true, into: &$0) },
                           "HTTP/1.1 200 OK\r\nContent-Length: 7\r\n\r\n")
        }
    }

    func testTheProxysOwnAnswerKeepsItsJSONBody() {
        let text = written { FilterResponse.writeCanned(503, keepAlive: true, edits: HeaderEdits(), bodyless: false, into: &$0) }
        XCTAssertEqual(text, "HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json\r\nContent-Length: 50\r\n\r\n"
                       + #"{"status":"error","message":"no available server"}"#)
    }

    func testAnAnswerThatDoesNotFitLeavesNothingBehind() {
        let big = [UInt8](repeating: 0x61, count: 8192)
        let pool = BufferPool(bufferSize: 4096, maxFree: 1)
        var out = pool.take()
        defer { pool.give(out) }
        let ok = big.withUnsafeBytes { FilterResponse.write(200, keepAlive: true, edits: HeaderEdits(), body: $0, bodyless: false, into: &out) }
        XCTAssertFalse(ok)
        XCTAssertEqual(out.readableCount, 0)
    }
}
