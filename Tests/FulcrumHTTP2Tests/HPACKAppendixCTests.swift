@testable import FulcrumHTTP2
import XCTest

/// Hex as the RFC prints it ("8286 8441 ..."), spaces and newlines ignored.
func hex(_ s: String) -> [UInt8] {
    let digits = s.filter { $0.isHexDigit }
    var out: [UInt8] = []
    var i = digits.startIndex
    while i < digits.endIndex {
        let j = digits.index(i, offsetBy: 2)
        out.append(UInt8(digits[i..<j], radix: 16)!)
        i = j
    }
    return out
}

/// Every example of RFC 7541 Appendix C: C.1 (integers), C.2 (each
/// representation), C.3/C.4 (requests, raw and Huffman), C.5/C.6 (responses
/// with a 256-byte table, evictions, raw and Huffman), checking the decoded
/// lists, the dynamic table's entries and its size after each block.
final class HPACKAppendixCTests: XCTestCase {
    typealias Step = (block: String, list: [(String, String)], table: [(String, String)], size: Int)

    func run(_ steps: [Step], tableSize: Int = 4096, file: StaticString = #filePath, line: UInt = #line) {
        var d = HPACKDecoder(maxTableSize: tableSize)
        var list = HeaderList()
        for (n, step) in steps.enumerated() {
            let outcome = hex(step.block).withUnsafeBytes { d.decode($0, into: &list) }
            XCTAssertEqual(outcome, .complete, "step \(n)", file: file, line: line)
            XCTAssertEqual(list, HeaderList(step.list), "step \(n): \(list.pairs)", file: file, line: line)
            let table = (0..<d.table.count).map { (String(decoding: d.table.entry($0)!.name, as: UTF8.self), String(decoding: d.table.entry($0)!.value, as: UTF8.self)) }
            XCTAssertEqual(HeaderList(table), HeaderList(step.table), "step \(n) table \(table)", file: file, line: line)
            XCTAssertEqual(d.table.size, step.size, "step \(n) size", file: file, line: line)
        }
    }

    func testC1Integers() {
        var out: [UInt8] = []
        HPACKPrimitives.encodeInteger(10, prefixBits: 5, firstByte: 0, into: &out)
        XCTAssertEqual(out, [0x0A])
        out = []
        HPACKPrimitives.encodeInteger(1337, prefixBits: 5, firstByte: 0, into: &out)
        XCTAssertEqual(out, [0x1F, 0x9A, 0x0A])
        out = []
        HPACKPrimitives.encodeInteger(42, prefixBits: 8, firstByte: 0, into: &out)
        XCTAssertEqual(out, [0x2A])
        for (bytes, prefix, value) in [([0x0A], 5, 10), ([0x1F, 0x9A, 0x0A], 5, 1337), ([0x2A], 8, 42), ([0xEA], 5, 10)] as [([UInt8], Int, Int)] {
            var at = 0
            XCTAssertEqual(bytes.withUnsafeBytes { HPACKPrimitives.decodeInteger($0, &at, prefixBits: prefix) }, value)
            XCTAssertEqual(at, bytes.count)
        }
    }

    func testC2Representations() {
        run([("400a 6375 7374 6f6d 2d6b 6579 0d63 7573 746f 6d2d 6865 6164 6572",
              [("custom-key", "custom-header")], [("custom-key", "custom-header")], 55)])
        run([("040c 2f73 616d 706c 652f 7061 7468", [(":path", "/sample/path")], [], 0)])
        run([("1008 7061 7373 776f 7264 0673 6563 7265 74", [("password", "secret")], [], 0)])
        run([("82", [(":method", "GET")], [], 0)])
    }

    static let request1 = [(":method", "GET"), (":scheme", "http"), (":path", "/"), (":authority", "www.example.com")]
    static let request2 = request1 + [("cache-control", "no-cache")]
    static let request3 = [(":method", "GET"), (":scheme", "https"), (":path", "/index.html"), (":authority", "www.example.com"), ("custom-key", "custom-value")]

    func testC3RequestsWithoutHuffman() {
        run([("8286 8441 0f77 7777 2e65 7861 6d70 6c65 2e63 6f6d", Self.request1, [(":authority", "www.example.com")], 57),
             ("8286 84be 5808 6e6f 2d63 6163 6865", Self.request2, [("cache-control", "no-cache"), (":authority", "www.example.com")], 110),
             ("8287 85bf 400a 6375 7374 6f6d 2d6b 6579 0c63 7573 746f 6d2d 7661 6c75 65", Self.request3,
              [("custom-key", "custom-value"), ("cache-control", "no-cache"), (":authority", "www.example.com")], 164)])
    }

    func testC4RequestsWithHuffman() {
        run([("8286 8441 8cf1 e3c2 e5f2 3a6b a0ab 90f4 ff", Self.request1, [(":authority", "www.example.com")], 57),
             ("8286 84be 5886 a8eb 1064 9cbf", Self.request2, [("cache-control", "no-cache"), (":authority", "www.example.com")], 110),
             ("8287 85bf 4088 25a8 49e9 5ba9 7d7f 8925 a849 e95b b8e8 b4bf", Self.request3,
              [("custom-key", "custom-value"), ("cache-control", "no-cache"), (":authority", "www.example.com")], 164)])
    }

    static let date1 = "Mon, 21 Oct 2013 20:13:21 GMT", date2 = "Mon, 21 Oct 2013 20:13:22 GMT"
    static let cookie = "foo=ASDJKHQKBZXOQWEOPIUAXQWEOIU; max-age=3600; version=1"
    static let response1 = [(":status", "302"), ("cache-control", "private"), ("date", date1), ("location", "https://www.example.com")]
    static let response2 = [(":status", "307"), ("cache-control", "private"), ("date", date1), ("location", "https://www.example.com")]
    static let response3 = [(":status", "200"), ("cache-control", "private"), ("date", date2), ("location", "https://www.example.com"),
                            ("content-encoding", "gzip"), ("set-cookie", cookie)]
    static let table1 = [("location", "https://www.example.com"), ("date", date1), ("cache-control", "private"), (":status", "302")]
    static let table2 = [(":status", "307"), ("location", "https://www.example.com"), ("date", date1), ("cache-control", "private")]
    static let table3 = [("set-cookie", cookie), ("content-encoding", "gzip"), ("date", date2)]

    func testC5ResponsesWithoutHuffmanAndEvictions() {
        run([("""
              4803 3330 3258 0770 7269 7661 7465 611d 4d6f 6e2c 2032 3120 4f63 7420 3230 3133
              2032 303a 3133 3a32 3120 474d 546e 1768 7474 7073 3a2f 2f77 7777 2e65 7861 6d70 6c65 2e63 6f6d
              """, Self.response1, Self.table1, 222),
             ("4803 3330 37c1 c0bf", Self.response2, Self.table2, 222),
             ("""
              88c1 611d 4d6f 6e2c 2032 3120 4f63 7420 3230 3133 2032 303a 3133 3a32 3220 474d
              54c0 5a04 677a 6970 7738 666f 6f3d 4153 444a 4b48 514b 425a 584f 5157 454f 5049
              5541 5851 5745 4f49 553b 206d 6178 2d61 6765 3d33 3630 303b 2076 6572 7369 6f6e 3d31
              """, Self.response3, Self.table3, 215)], tableSize: 256)
    }

    func testC6ResponsesWithHuffmanAndEvictions() {
        run([("""
              4882 6402 5885 aec3 771a 4b61 96d0 7abe 9410 54d4 44a8 2005 9504 0b81 66e0 82a6
              2d1b ff6e 919d 29ad 1718 63c7 8f0b 97c8 e9ae 82ae 43d3
              """, Self.response1, Self.table1, 222),
             ("4883 640e ffc1 c0bf", Self.response2, Self.table2, 222),
             ("""
              88c1 6196 d07a be94 1054 d444 a820 0595 040b 8166 e084 a62d 1bff c05a 839b d9ab
              77ad 94e7 821d d7f2 e6c7 b335 dfdf cd5b 3960 d5af 2708 7f36 72c1 ab27 0fb5 291f
              9587 3160 65c0 03ed 4ee5 b106 3d50 07
              """, Self.response3, Self.table3, 215)], tableSize: 256)
    }

    /// The Huffman strings of C.4 and C.6, both ways.
    func testAppendixCHuffmanStrings() {
        let pairs = [("www.example.com", "f1e3 c2e5 f23a 6ba0 ab90 f4ff"), ("no-cache", "a8eb 1064 9cbf"),
                     ("custom-key", "25a8 49e9 5ba9 7d7f"), ("custom-value", "25a8 49e9 5bb8 e8b4 bf"), ("302", "6402"),
                     ("307", "640e ff"), ("private", "aec3 771a 4b"),
                     (Self.date1, "d07a be94 1054 d444 a820 0595 040b 8166 e082 a62d 1bff"),
                     (Self.date2, "d07a be94 1054 d444 a820 0595 040b 8166 e084 a62d 1bff"),
                     ("https://www.example.com", "9d29 ad17 1863 c78f 0b97 c8e9 ae82 ae43 d3"), ("gzip", "9bd9 ab"),
                     (Self.cookie, "94e7 821d d7f2 e6c7 b335 dfdf cd5b 3960 d5af 2708 7f36 72c1 ab27 0fb5 291f 9587 3160 65c0 03ed 4ee5 b106 3d50 07")]
        for (text, code) in pairs {
            var out: [UInt8] = []
            Huffman.encode(Array(text.utf8), into: &out)
            XCTAssertEqual(out, hex(code), text)
            XCTAssertEqual(Huffman.encodedLength(Array(text.utf8)), out.count)
            var back: [UInt8] = []
            XCTAssertTrue(hex(code).withUnsafeBytes { Huffman.decode($0, into: &back) })
            XCTAssertEqual(String(decoding: back, as: UTF8.self), text)
        }
    }

    /// Our encoder's literal without indexing for a static name is C.2.2's exact bytes.
    func testEncoderMatchesC22AndDecodesBack() {
        var out: [UInt8] = []
        HPACKEncoder().encode(name: Array(":path".utf8), value: Array("/sample/path".utf8), into: &out)
        XCTAssertEqual(out, hex("040c 2f73 616d 706c 652f 7061 7468"))
        out = []
        let e = HPACKEncoder()
        e.encodeStatus(200, into: &out)
        XCTAssertEqual(out, [0x88])
        e.encodeStatus(302, into: &out)
        let list = HeaderList(Self.response3.dropFirst() + [("x-custom", "v"), ("cookie", ""), ("content-length", "12")])
        e.encode(list, into: &out)
        var h = HPACKEncoder(huffman: true)
        h.encode(list, into: &out)
        h.huffman = false
        var d = HPACKDecoder()
        var decoded = HeaderList()
        XCTAssertEqual(out.withUnsafeBytes { d.decode($0, into: &decoded) }, .complete)
        XCTAssertEqual(decoded, HeaderList([(":status", "200"), (":status", "302")] + list.pairs + list.pairs))
        XCTAssertEqual(d.table.count, 0, "the encoder never indexes")
    }
}
