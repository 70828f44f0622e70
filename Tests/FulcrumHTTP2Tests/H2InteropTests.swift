@testable import FulcrumHTTP2
import XCTest

/// A byte stream written by another implementation (Python's `h2` 4 client:
/// its preface, SETTINGS with ENABLE_CONNECT_PROTOCOL, Huffman-coded HPACK with
/// its dynamic table, padded DATA, trailers, PING), read whole and one byte
/// at a time. (The reverse, our frames read by Python's `h2` client, was
/// checked by hand during development: settings, window updates, responses
/// with hop-by-hop fields dropped, DATA, trailers and the PING ACK all parse;
/// see docs/http2.md for its GOAWAY limitation.)
final class H2InteropTests: XCTestCase {
    static let pythonClient = hex(
        "505249202a20485454502f322e300d0a0d0a534d0d0a0d0a00002a040000000000000100001000000200000001000400" +
        "00ffff00050000400000080000000000030000006400060001000000002e0105000000018287448c60d5485f2bce9a68" +
        "ff3b401f41882f91d35d055c87a77a87afd2673d4b4e2f1f11821c011f11838e017f00000e0104000000038387448562" +
        "dae838e4c05c82083f00000500000000000368656c6c6f000005000100000003776f726c640000210104000000058387" +
        "4484626b2b27c24082497f864d833505b11f5f8b1d75d0620d263d4c4d65640000080008000000050461626300000000" +
        "00000e01050000000540899acac8b24d494f6a7f820eef0000080600000000003132333435363738"    )

    func run(step: Int) -> (H2TestClient, [ConnectionAction]) {
        var c = H2TestClient(handshake: false)
        _ = c.takeFrames()
        var at = 0
        while at < Self.pythonClient.count {
            c.feed(Array(Self.pythonClient[at..<min(at + step, Self.pythonClient.count)]))
            at += step
        }
        return (c, c.takeActions())
    }

    func testPythonH2ClientRequests() {
        for step in [1, 5, Self.pythonClient.count] {
            var (c, actions) = run(step: step)
            let heads = actions.compactMap { a -> String? in
                if case .requestHead(_, let h) = a { return String(decoding: h.http1Head(), as: UTF8.self) }
                return nil
            }
            XCTAssertEqual(heads, [
                "GET /index.html?q=1 HTTP/1.1\r\nhost: example.com\r\nuser-agent: python-h2\r\ncookie: a=1; b=2\r\n\r\n",
                "POST /upload HTTP/1.1\r\nhost: example.com\r\ncontent-length: 10\r\n\r\n",
                "POST /grpc HTTP/1.1\r\nhost: example.com\r\nte: trailers\r\ncontent-type: application/grpc\r\ntransfer-encoding: chunked\r\n\r\n",
            ], "step \(step)")
            XCTAssertEqual(c.bodies[3], Array("helloworld".utf8))
            XCTAssertEqual(c.bodies[5], Array("abc".utf8), "padding removed")
            XCTAssertEqual(actions.last, .requestTrailers(stream: 5, HeaderList([("grpc-timeout", "1S")])))
            XCTAssertEqual(c.takeFrames().last, .ping(ack: true, 0x3132_3334_3536_3738))
            XCTAssertEqual(c.conn.phase, .open)
        }
    }
}
