// An independent reading of HTTP/2 for the h2 fuzz oracles: a frame splitter
// and an HPACK decoder written from RFC 9113 §4.1 and RFC 7541 with no code
// shared with Sources/FulcrumHTTP2 except the Huffman code *table*
// (`Huffman.codes`/`lengths`, checked against the RFC by unit tests); the
// Huffman *decoding* here matches accumulated bits against the code table, not the tree walk.

/// One frame as the reference sees it.
struct RefFrame {
    var type: UInt8
    var flags: UInt8
    var stream: UInt32
    var payload: [UInt8]
}

/// Splits whole frames off `bytes` (no rules: lengths only).
func refSplitFrames(_ bytes: [UInt8]) -> [RefFrame] {
    var out: [RefFrame] = []
    var at = 0
    while bytes.count - at >= 9 {
        let len = Int(bytes[at]) << 16 | Int(bytes[at + 1]) << 8 | Int(bytes[at + 2])
        guard bytes.count - at - 9 >= len else { break }
        let id = (UInt32(bytes[at + 5]) << 24 | UInt32(bytes[at + 6]) << 16 | UInt32(bytes[at + 7]) << 8 | UInt32(bytes[at + 8])) & 0x7FFF_FFFF
        out.append(RefFrame(type: bytes[at + 3], flags: bytes[at + 4], stream: id, payload: Array(bytes[(at + 9)..<(at + 9 + len)])))
        at += 9 + len
    }
    return out
}

/// (length << 32 | code) → symbol, from the RFC's table.
let refHuffmanCodes: [UInt64: Int] = {
    var d: [UInt64: Int] = [:]
    for s in 0..<257 { d[UInt64(Huffman.lengths[s]) << 32 | UInt64(Huffman.codes[s])] = s }
    return d
}()

/// A reference HPACK decoder: the table as an array of (name, value), newest
/// first; returns nil on any error.
struct RefHPACK {
    var table: [([UInt8], [UInt8])] = []
    var maxSize: Int
    let settingsMax: Int

    init(max: Int) { maxSize = max; settingsMax = max }

    var size: Int { table.reduce(0) { $0 + $1.0.count + $1.1.count + 32 } }

    static let staticTable: [(String, String)] = [
        (":authority", ""), (":method", "GET"), (":method", "POST"), (":path", "/"), (":path", "/index.html"),
        (":scheme", "http"), (":scheme", "https"), (":status", "200"), (":status", "204"), (":status", "206"),
        (":status", "304"), (":status", "400"), (":status", "404"), (":status", "500"), ("accept-charset", ""),
        ("accept-encoding", "gzip, deflate"), ("accept-language", ""), ("accept-ranges", ""), ("accept", ""),
        ("access-control-allow-origin", ""), ("age", ""), ("allow", ""), ("authorization", ""), ("cache-control", ""),
        ("content-disposition", ""), ("content-encoding", ""), ("content-language", ""), ("content-length", ""),
        ("content-location", ""), ("content-range", ""), ("content-type", ""), ("cookie", ""), ("date", ""),
        ("etag", ""), ("expect", ""), ("expires", ""), ("from", ""), ("host", ""), ("if-match", ""),
        ("if-modified-since", ""), ("if-none-match", ""), ("if-range", ""), ("if-unmodified-since", ""),
        ("last-modified", ""), ("link", ""), ("location", ""), ("max-forwards", ""), ("proxy-authenticate", ""),
        ("proxy-authorization", ""), ("range", ""), ("referer", ""), ("refresh", ""), ("retry-after", ""),
        ("server", ""), ("set-cookie", ""), ("strict-transport-security", ""), ("transfer-encoding", ""),
        ("user-agent", ""), ("vary", ""), ("via", ""), ("www-authenticate", ""),
    ]

    func entry(_ i: Int) -> ([UInt8], [UInt8])? {
        if i >= 1 && i <= 61 { return (Array(Self.staticTable[i - 1].0.utf8), Array(Self.staticTable[i - 1].1.utf8)) }
        let d = i - 62
        return d >= 0 && d < table.count ? table[d] : nil
    }

    mutating func evict() {
        while size > maxSize { table.removeLast() }
    }

    static func int(_ b: [UInt8], _ at: inout Int, _ n: Int) -> Int? {
        guard at < b.count else { return nil }
        let mask = (1 << n) - 1
        var v = Int(b[at]) & mask
        at += 1
        if v < mask { return v }
        var m = 0
        while at < b.count {
            let x = Int(b[at]); at += 1
            if m > 28 { return nil }
            v += (x & 0x7F) << m
            if v > 1 << 30 { return nil }
            if x & 0x80 == 0 { return v }
            m += 7
        }
        return nil
    }

    /// Naive Huffman: accumulate bits until they are some symbol's code (length and value).
    static func huffman(_ b: ArraySlice<UInt8>) -> [UInt8]? {
        var out: [UInt8] = []
        var acc: UInt64 = 0
        var bits = 0
        for byte in b {
            for k in stride(from: 7, through: 0, by: -1) {
                acc = acc << 1 | UInt64((byte >> UInt8(k)) & 1)
                bits += 1
                if bits > 30 { return nil }
                if let s = refHuffmanCodes[UInt64(bits) << 32 | acc] {
                    if s == 256 { return nil }
                    out.append(UInt8(s)); acc = 0; bits = 0
                }
            }
        }
        // Padding: fewer than 8 bits, all ones.
        if bits >= 8 || acc != (UInt64(1) << UInt64(bits)) - 1 { return nil }
        return out
    }

    static func string(_ b: [UInt8], _ at: inout Int) -> [UInt8]? {
        guard at < b.count else { return nil }
        let h = b[at] & 0x80 != 0
        guard let len = int(b, &at, 7), len <= b.count - at else { return nil }
        let raw = b[at..<(at + len)]
        at += len
        return h ? huffman(raw) : Array(raw)
    }

    /// Decodes a block; nil on a compression error. Returns every field (no size limit).
    mutating func decode(_ b: [UInt8]) -> [([UInt8], [UInt8])]? {
        var out: [([UInt8], [UInt8])] = []
        var at = 0
        while at < b.count {
            let x = b[at]
            if x & 0x80 != 0 {
                guard let i = Self.int(b, &at, 7), i > 0, let e = entry(i) else { return nil }
                out.append(e)
            } else if x & 0xE0 == 0x20 {
                guard out.isEmpty, let n = Self.int(b, &at, 5), n <= settingsMax else { return nil }
                maxSize = n
                evict()
            } else {
                let indexed = x & 0xC0 == 0x40
                guard let i = Self.int(b, &at, indexed ? 6 : 4) else { return nil }
                let name: [UInt8]
                if i == 0 { guard let n = Self.string(b, &at) else { return nil }; name = n }
                else { guard let e = entry(i) else { return nil }; name = e.0 }
                guard let value = Self.string(b, &at) else { return nil }
                out.append((name, value))
                if indexed {
                    table.insert((name, value), at: 0)
                    evict()
                }
            }
        }
        return out
    }
}
