@testable import FulcrumEtcd
import XCTest

/// The socket-free parts of the etcd client: base64, the -registry URL,
/// prefix ranges and the watch stream's line splitting.
final class EtcdCodecTests: XCTestCase {
    func testBase64RoundTripsEveryLength() {
        XCTAssertEqual(Base64.encode(""), "")
        XCTAssertEqual(Base64.encode("f"), "Zg==")
        XCTAssertEqual(Base64.encode("fo"), "Zm8=")
        XCTAssertEqual(Base64.encode("foo"), "Zm9v")
        XCTAssertEqual(Base64.encode("/fulcrum/backends/http://127.0.0.1:80"), "L2Z1bGNydW0vYmFja2VuZHMvaHR0cDovLzEyNy4wLjAuMTo4MA==")
        for n in 0..<70 {
            let bytes = (0..<n).map { UInt8(($0 * 37 + n) & 0xFF) }
            XCTAssertEqual(Base64.decode(Base64.encode(bytes)), bytes, "length \(n)")
        }
    }

    func testBase64RefusesNonAlphabetAndDataAfterPadding() {
        XCTAssertNil(Base64.decode("Zm9v!"))
        XCTAssertNil(Base64.decode("Zg==Zg"))
        XCTAssertEqual(Base64.decode("Zg"), [0x66])
    }

    func testRegistryURL() throws {
        let one = try EtcdURL.parse("etcd://127.0.0.1:2379").get()
        XCTAssertEqual(one.prefix, "/fulcrum")
        XCTAssertEqual(one.endpoints, [.init(host: "127.0.0.1", port: 2379)])
        let many = try EtcdURL.parse("etcd://a:1,b:2,[::1]:3/lb/prod/").get()
        XCTAssertEqual(many.endpoints.map(\.description), ["a:1", "b:2", "[::1]:3"])
        XCTAssertEqual(many.prefix, "/lb/prod")
        XCTAssertEqual(many.description, "etcd://a:1,b:2,[::1]:3/lb/prod")
        for bad in ["http://a:1", "etcd://", "etcd://a", "etcd://a:0", "etcd://a:1,,b:2", "etcd://:1"] {
            if case .success = EtcdURL.parse(bad) { XCTFail("accepted \(bad)") }
        }
    }

    func testPrefixRangeEnd() {
        XCTAssertEqual(prefixRangeEnd("/a/"), Array("/a0".utf8))
        XCTAssertEqual(prefixRangeEnd("ab"), Array("ac".utf8))
        XCTAssertEqual(prefixRangeEnd(""), [0])
    }

    /// A chunk is not a message: lines split anywhere come out whole.
    func testWatchLinesReassembleAcrossChunks() {
        let text = Array("{\"a\":1}\n{\"b\":2}\r\n\n{\"c\":3}\n".utf8)
        for cut in 0...text.count {
            var lines = WatchLines()
            let out = (lines.feed(Array(text[..<cut])) ?? []) + (lines.feed(Array(text[cut...])) ?? [])
            XCTAssertEqual(out.map { String(decoding: $0, as: UTF8.self) }, ["{\"a\":1}", "{\"b\":2}", "{\"c\":3}"], "cut at \(cut)")
        }
        var byteAtATime = WatchLines()
        var out: [[UInt8]] = []
        for b in text { out += byteAtATime.feed([b]) ?? [] }
        XCTAssertEqual(out.count, 3)
    }

    func testInt64FieldsAreStrings() {
        XCTAssertEqual(int64(.string("9223372036854775807")), Int64.max)
        XCTAssertEqual(int64(nil), 0)
        XCTAssertEqual(int64(.integer(5)), 5)
    }
}
