/// The HPACK static table (RFC 7541 Appendix A), 1-based, and the encoder's
/// lookups into it.
public enum HPACKStaticTable {
    static let entries: [(name: String, value: String)] = [
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

    public static let count = 61

    /// Entry `index` (1…61) as bytes.
    static let names: [[UInt8]] = entries.map { Array($0.name.utf8) }
    static let values: [[UInt8]] = entries.map { Array($0.value.utf8) }

    /// The first index of each name.
    static let nameIndex: [[UInt8]: Int] = {
        var d: [[UInt8]: Int] = [:]
        for (i, n) in names.enumerated() where d[n] == nil { d[n] = i + 1 }
        return d
    }()

    /// Index of each full (name, value) pair whose value is not empty, keyed by name + NUL + value.
    static let pairIndex: [[UInt8]: Int] = {
        var d: [[UInt8]: Int] = [:]
        for i in 0..<count where !values[i].isEmpty { d[names[i] + [0] + values[i]] = i + 1 }
        return d
    }()

    /// The index of `name`, if the table has it.
    public static func index(name: some Collection<UInt8>) -> Int? { nameIndex[Array(name)] }

    /// The index of the exact pair, if the table has it (only non-empty values).
    public static func index(name: some Collection<UInt8>, value: some Collection<UInt8>) -> Int? {
        guard !value.isEmpty else { return nil }
        return pairIndex[Array(name) + [0] + Array(value)]
    }
}
