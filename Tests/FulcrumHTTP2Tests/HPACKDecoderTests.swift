@testable import FulcrumHTTP2
import XCTest

/// The decoder's refusals (each a COMPRESSION_ERROR), its limits (HPACK bomb,
/// table size), eviction, and Huffman code properties and round trips.
final class HPACKDecoderTests: XCTestCase {
    func decode(_ bytes: [UInt8], _ d: inout HPACKDecoder) -> HPACKDecoder.Outcome {
        var list = HeaderList()
        return bytes.withUnsafeBytes { d.decode($0, into: &list) }
    }

    func isCompressionError(_ o: HPACKDecoder.Outcome) -> Bool {
        if case .compressionError = o { return true }
        return false
    }

    func testBadInputsAreCompressionErrors() {
        let bad: [(String, [UInt8])] = [
            ("index 0", [0x80]),
            ("index past the static table, empty dynamic table", [0xBE]),
            ("index far out", [0xFF, 0x80, 0x01]),
            ("literal name index out of range", [0x7F, 0x05, 0x01, 0x61]),
            ("truncated integer", [0xFF]),
            ("integer overflow", [0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x7F]),
            ("truncated name length", [0x40]),
            ("truncated name", [0x40, 0x0A, 0x63, 0x75]),
            ("missing value", [0x40, 0x01, 0x61]),
            ("value longer than the block", [0x04, 0x05, 0x2F]),
            ("Huffman padding of 8 bits", [0x04, 0x81, 0xFF]),
            ("Huffman padding not all ones", [0x04, 0x81, 0x18]),  // 'a' = 00011 then 000
            ("Huffman EOS", [0x04, 0x84, 0xFF, 0xFF, 0xFF, 0xFF]),
            ("size update after a field", [0x82, 0x20]),
            ("size update over SETTINGS_HEADER_TABLE_SIZE", [0x3F, 0xE2, 0x1F]),  // 4097
        ]
        for (why, bytes) in bad {
            var d = HPACKDecoder()
            XCTAssertTrue(isCompressionError(decode(bytes, &d)), why)
        }
        var at = 0
        XCTAssertEqual([UInt8]([0x3F, 0xE2, 0x1F]).withUnsafeBytes { HPACKPrimitives.decodeInteger($0, &at, prefixBits: 5) }, 4097)
    }

    func testSizeUpdatesAtTheStartEvict() {
        var d = HPACKDecoder()
        XCTAssertEqual(decode(hex("400a 6375 7374 6f6d 2d6b 6579 0d63 7573 746f 6d2d 6865 6164 6572"), &d), .complete)
        XCTAssertEqual(d.table.size, 55)
        // Two updates at the start (down to 0, back to 4096), then a field: the entry is gone.
        XCTAssertEqual(decode([0x20, 0x3F, 0xE1, 0x1F, 0x82], &d), .complete)
        XCTAssertEqual(d.table.count, 0)
        XCTAssertEqual(d.table.maxSize, 4096)
        XCTAssertTrue(isCompressionError(decode([0xBE], &d)))
    }

    func testEvictionOrderAndOversizedEntry() {
        var t = HPACKDynamicTable(maxSize: 100)
        t.add(name: Array("a".utf8), value: Array("1".utf8))  // 34
        t.add(name: Array("b".utf8), value: Array("2".utf8))  // 68
        t.add(name: Array("c".utf8), value: Array("3".utf8))  // 102 > 100: "a" goes
        XCTAssertEqual(t.count, 2)
        XCTAssertEqual(t.entry(0)?.name, Array("c".utf8))
        XCTAssertEqual(t.entry(1)?.name, Array("b".utf8))
        XCTAssertEqual(t.size, 68)
        t.add(name: Array("big".utf8), value: [UInt8](repeating: 0x78, count: 100))
        XCTAssertEqual(t.count, 0, "an entry larger than the table empties it")
        XCTAssertEqual(t.size, 0)
        for i in 0..<1000 { t.add(name: Array("k".utf8), value: Array(String(i % 10).utf8)) }
        XCTAssertEqual(t.count, 2)
        XCTAssertEqual(t.entry(0)?.value, Array("9".utf8))
    }

    /// A small block that references a big table entry many times decodes
    /// huge: it is refused as too large, without storing the expansion.
    func testHPACKBombIsTooLarge() {
        var d = HPACKDecoder(maxHeaderListSize: 16 * 1024)
        var block: [UInt8] = [0x40, 0x01, 0x78]
        HPACKPrimitives.encodeInteger(4000, prefixBits: 7, firstByte: 0, into: &block)
        block += [UInt8](repeating: 0x41, count: 4000)
        block += [UInt8](repeating: 0xBE, count: 10_000)  // 10,000 × 4 KB = 40 MB if expanded
        var list = HeaderList()
        XCTAssertEqual(block.withUnsafeBytes { d.decode($0, into: &list) }, .tooLarge)
        XCTAssertLessThanOrEqual(list.listSize, 16 * 1024)
        XCTAssertEqual(d.table.count, 1, "the table stays in step")
        // The next block decodes normally against the same table.
        XCTAssertEqual([UInt8]([0xBE, 0xBE, 0xBE, 0xBE, 0xBE]).withUnsafeBytes { d.decode($0, into: &list) }, .tooLarge)
        XCTAssertEqual([UInt8]([0xBE]).withUnsafeBytes { d.decode($0, into: &list) }, .complete)
        XCTAssertEqual(list.value(0).count, 4000)
    }

    func testHuffmanCodeIsTheRFCs() {
        // A sample of Appendix B's codes (hex, bit length).
        let sample: [(Int, UInt32, UInt8)] = [(0, 0x1FF8, 13), (32, 0x14, 6), (48, 0x0, 5), (97, 0x3, 5), (36, 0x1FF9, 13),
                                               (10, 0x3FFF_FFFC, 30), (127, 0xFFF_FFFC, 28), (200, 0x3FFFFE2, 26),
                                               (255, 0x3FFFFEE, 26), (256, 0x3FFF_FFFF, 30), (126, 0x1FFD, 13), (60, 0x7FFC, 15)]
        for (sym, code, len) in sample {
            XCTAssertEqual(Huffman.codes[sym], code, "symbol \(sym)")
            XCTAssertEqual(Huffman.lengths[sym], len, "symbol \(sym)")
        }
        // A complete prefix code: Σ 2^-len = 1.
        let kraft = Huffman.lengths.reduce(0) { $0 + (UInt64(1) << (30 - UInt64($1))) }
        XCTAssertEqual(kraft, UInt64(1) << 30)
        XCTAssertEqual(Huffman.tree.count, 2 * 256, "256 internal nodes for 257 leaves")
    }

    func testHuffmanRoundTrips() {
        var state: UInt64 = 0x1234_5678
        for n in 0..<2000 {
            var input: [UInt8] = n < 256 ? [UInt8(n)] : []
            for _ in 0..<(n % 64) {
                state ^= state << 13; state ^= state >> 7; state ^= state << 17
                input.append(UInt8(truncatingIfNeeded: state))
            }
            var coded: [UInt8] = []
            Huffman.encode(input, into: &coded)
            XCTAssertEqual(coded.count, Huffman.encodedLength(input))
            var back: [UInt8] = []
            XCTAssertTrue(coded.withUnsafeBytes { Huffman.decode($0, into: &back) })
            XCTAssertEqual(back, input)
        }
    }
}
