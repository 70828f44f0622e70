/// The HPACK Huffman code (RFC 7541 Appendix B). The code is canonical: the
/// codes follow from the bit lengths alone (shorter codes first, equal lengths
/// in symbol order), so only the 257 lengths are written here and the codes
/// are derived; `HuffmanTests` checks the derivation against codes printed in
/// the RFC, the Kraft sum (a complete code) and Appendix C's strings.
public enum Huffman {
    /// Bit length of the code of each symbol 0…255 and of EOS (256).
    static let lengths: [UInt8] = [
        13, 23, 28, 28, 28, 28, 28, 28, 28, 24, 30, 28, 28, 30, 28, 28,
        28, 28, 28, 28, 28, 28, 30, 28, 28, 28, 28, 28, 28, 28, 28, 28,
        6, 10, 10, 12, 13, 6, 8, 11, 10, 10, 8, 11, 8, 6, 6, 6,
        5, 5, 5, 6, 6, 6, 6, 6, 6, 6, 7, 8, 15, 6, 12, 10,
        13, 6, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7,
        7, 7, 7, 7, 7, 7, 7, 7, 8, 7, 8, 13, 19, 13, 14, 6,
        15, 5, 6, 5, 6, 5, 6, 6, 6, 5, 7, 7, 6, 6, 6, 5,
        6, 7, 6, 5, 5, 6, 7, 7, 7, 7, 7, 15, 11, 14, 13, 28,
        20, 22, 20, 20, 22, 22, 22, 23, 22, 23, 23, 23, 23, 23, 24, 23,
        24, 24, 22, 23, 24, 23, 23, 23, 23, 21, 22, 23, 22, 23, 23, 24,
        22, 21, 20, 22, 22, 23, 23, 21, 23, 22, 22, 24, 21, 22, 23, 23,
        21, 21, 22, 21, 23, 22, 23, 23, 20, 22, 22, 22, 23, 22, 22, 23,
        26, 26, 20, 19, 22, 23, 22, 25, 26, 26, 26, 27, 27, 26, 24, 25,
        19, 21, 26, 27, 27, 26, 27, 24, 21, 21, 26, 26, 28, 27, 27, 27,
        20, 24, 20, 21, 22, 21, 21, 23, 22, 22, 25, 25, 24, 24, 26, 23,
        26, 27, 26, 26, 27, 27, 27, 27, 27, 28, 27, 27, 27, 27, 27, 26,
        30,
    ]

    static let eos = 256

    /// Code of each symbol (right-aligned in the low `lengths[s]` bits).
    static let codes: [UInt32] = {
        let order = (0..<257).sorted { (lengths[$0], $0) < (lengths[$1], $1) }
        var codes = [UInt32](repeating: 0, count: 257)
        var code: UInt32 = 0
        var previous = lengths[order[0]]
        for (i, s) in order.enumerated() {
            if i > 0 { code = (code + 1) << UInt32(lengths[s] - previous) }
            previous = lengths[s]
            codes[s] = code
        }
        return codes
    }()

    /// The decoding tree: node n's children are `tree[2n]` (bit 0) and
    /// `tree[2n+1]` (bit 1); a value < 0 is a leaf for symbol `-value - 1`.
    static let tree: [Int16] = {
        var tree = [Int16](repeating: 0, count: 2)
        for s in 0..<257 {
            var node = 0
            let len = Int(lengths[s])
            for bit in stride(from: len - 1, through: 0, by: -1) {
                let slot = 2 * node + Int((codes[s] >> UInt32(bit)) & 1)
                if bit == 0 {
                    tree[slot] = Int16(-s - 1)
                } else {
                    if tree[slot] == 0 {
                        tree[slot] = Int16(tree.count / 2)
                        tree += [0, 0]
                    }
                    node = Int(tree[slot])
                }
            }
        }
        return tree
    }()

    /// Decodes `input` appending to `out`. Fails on the EOS symbol and on
    /// padding that is longer than 7 bits or not a prefix of EOS (all ones),
    /// as RFC 7541 §5.2 requires.
    public static func decode(_ input: UnsafeRawBufferPointer, into out: inout [UInt8]) -> Bool {
        let t = tree
        var node = 0
        var pendingBits = 0     // bits read since the last whole symbol
        var pendingAllOnes = true
        for byte in input {
            for shift in stride(from: 7, through: 0, by: -1) {
                let bit = Int(byte >> UInt8(shift)) & 1
                let next = Int(t[2 * node + bit])
                if next < 0 {
                    let sym = -next - 1
                    if sym == eos { return false }
                    out.append(UInt8(sym))
                    node = 0
                    pendingBits = 0
                    pendingAllOnes = true
                } else {
                    node = next
                    pendingBits += 1
                    if bit == 0 { pendingAllOnes = false }
                }
            }
        }
        return pendingBits <= 7 && pendingAllOnes
    }

    /// Bytes `input` takes Huffman-coded.
    public static func encodedLength(_ input: some Sequence<UInt8>) -> Int {
        var bits = 0
        for b in input { bits += Int(lengths[Int(b)]) }
        return (bits + 7) / 8
    }

    /// Encodes `input` appending to `out`, padded with the EOS prefix (ones).
    public static func encode(_ input: some Sequence<UInt8>, into out: inout [UInt8]) {
        var acc: UInt64 = 0
        var bits = 0
        for b in input {
            acc = acc << UInt64(lengths[Int(b)]) | UInt64(codes[Int(b)])
            bits += Int(lengths[Int(b)])
            while bits >= 8 {
                bits -= 8
                out.append(UInt8(truncatingIfNeeded: acc >> UInt64(bits)))
            }
        }
        if bits > 0 {
            out.append(UInt8(truncatingIfNeeded: acc << UInt64(8 - bits)) | UInt8(0xFF >> bits))
        }
    }
}
