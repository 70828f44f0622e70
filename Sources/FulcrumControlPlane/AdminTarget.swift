/// An admin request target split into its decoded path and query.
///
/// A pure function of the target bytes, total over every input: it never
/// traps (the fuzz target calls it directly) and never fails — a malformed
/// %-escape is kept as written, an empty pair (`?&`) is skipped, a pair
/// without `=` has the value "", `?=` has the key "" (harmless: no route
/// reads it). The last value of a repeated key wins.
public struct AdminTarget: Sendable, Equatable {
    /// The path without the query, %-decoded.
    public var path: String
    /// Decoded query parameters; `+` is a space in keys and values.
    public var query: [String: String]

    public init(path: String, query: [String: String]) {
        self.path = path
        self.query = query
    }

    /// "/a/b?x=1&y=%2F" → ("/a/b", ["x": "1", "y": "/"]).
    public static func split(_ target: String) -> AdminTarget {
        split(Array(target.utf8))
    }

    public static func split<Bytes: Collection>(_ target: Bytes) -> AdminTarget where Bytes.Element == UInt8 {
        let bytes = Array(target)
        guard let q = bytes.firstIndex(of: UInt8(ascii: "?")) else {
            return AdminTarget(path: decode(bytes[...], plusIsSpace: false), query: [:])
        }
        var query: [String: String] = [:]
        for pair in bytes[(q + 1)...].split(separator: UInt8(ascii: "&"), omittingEmptySubsequences: true) {
            if let eq = pair.firstIndex(of: UInt8(ascii: "=")) {
                query[decode(pair[..<eq], plusIsSpace: true)] = decode(pair[(eq + 1)...], plusIsSpace: true)
            } else {
                query[decode(pair, plusIsSpace: true)] = ""
            }
        }
        return AdminTarget(path: decode(bytes[..<q], plusIsSpace: false), query: query)
    }

    /// Decodes %XX escapes; a malformed one (`%`, `%4`, `%zz`) is kept as
    /// written. Invalid UTF-8 after decoding becomes U+FFFD.
    static func decode(_ s: ArraySlice<UInt8>, plusIsSpace: Bool) -> String {
        var out: [UInt8] = []
        out.reserveCapacity(s.count)
        var i = s.startIndex
        while i < s.endIndex {
            let c = s[i]
            if c == UInt8(ascii: "%"), s.endIndex - i >= 3, let hi = hexDigit(s[i + 1]), let lo = hexDigit(s[i + 2]) {
                out.append(hi << 4 | lo)
                i += 3
                continue
            }
            out.append(c == UInt8(ascii: "+") && plusIsSpace ? UInt8(ascii: " ") : c)
            i += 1
        }
        return String(decoding: out, as: UTF8.self)
    }

    private static func hexDigit(_ c: UInt8) -> UInt8? {
        switch c {
        case 0x30...0x39: return c - 0x30
        case 0x41...0x46: return c - 0x37
        case 0x61...0x66: return c - 0x57
        default: return nil
        }
    }
}
