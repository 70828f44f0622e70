/// HPACK's integer and string representations (RFC 7541 §5), bounds- and
/// overflow-checked: every failure is a COMPRESSION_ERROR for the caller.
enum HPACKPrimitives {
    /// Integers beyond this are refused: no legitimate index, length or table
    /// size comes near it, and it keeps arithmetic far from overflow.
    static let maxInteger = 1 << 30

    /// Reads an integer with an N-bit prefix at `at`, moving `at` past it.
    static func decodeInteger(_ b: UnsafeRawBufferPointer, _ at: inout Int, prefixBits: Int) -> Int? {
        guard at < b.count else { return nil }
        let mask = (1 << prefixBits) - 1
        var value = Int(b[at]) & mask
        at += 1
        guard value == mask else { return value }
        var shift = 0
        while true {
            guard at < b.count else { return nil }
            let byte = Int(b[at])
            at += 1
            // At most 5 continuation bytes: 7 × 5 = 35 bits covers maxInteger.
            guard shift <= 28 else { return nil }
            value += (byte & 0x7F) << shift
            guard value <= maxInteger else { return nil }
            if byte & 0x80 == 0 { return value }
            shift += 7
        }
    }

    /// Appends `value` with an N-bit prefix; `firstByte` carries the bits above the prefix.
    static func encodeInteger(_ value: Int, prefixBits: Int, firstByte: UInt8, into out: inout [UInt8]) {
        precondition(value >= 0)
        let mask = (1 << prefixBits) - 1
        if value < mask {
            out.append(firstByte | UInt8(value))
            return
        }
        out.append(firstByte | UInt8(mask))
        var rest = value - mask
        while rest >= 128 {
            out.append(UInt8(rest & 0x7F) | 0x80)
            rest >>= 7
        }
        out.append(UInt8(rest))
    }

    /// Reads a string literal (H bit, 7-bit prefix length, raw or Huffman
    /// bytes) appending it to `out`. Nil on truncation or bad Huffman.
    static func decodeString(_ b: UnsafeRawBufferPointer, _ at: inout Int, into out: inout [UInt8]) -> Bool {
        guard at < b.count else { return false }
        let huffman = b[at] & 0x80 != 0
        guard let length = decodeInteger(b, &at, prefixBits: 7), length <= b.count - at else { return false }
        let raw = UnsafeRawBufferPointer(rebasing: b[at..<(at + length)])
        at += length
        if huffman { return Huffman.decode(raw, into: &out) }
        out.append(contentsOf: raw)
        return true
    }

    /// Appends a string literal, raw or Huffman-coded.
    static func encodeString(_ s: some Collection<UInt8>, huffman: Bool, into out: inout [UInt8]) {
        if huffman {
            encodeInteger(Huffman.encodedLength(s), prefixBits: 7, firstByte: 0x80, into: &out)
            Huffman.encode(s, into: &out)
        } else {
            encodeInteger(s.count, prefixBits: 7, firstByte: 0, into: &out)
            out.append(contentsOf: s)
        }
    }
}
