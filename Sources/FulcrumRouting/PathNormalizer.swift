/// Request paths as routes see them (CONTRACT §10, RFC 3986 §6.2.2): a
/// route guarding `/admin/` must also meet `/%61dmin/`, `//admin/` and
/// `/x/../admin/` — Envoy and nginx both had advisories of that shape.
///
/// - percent-encoded unreserved characters (ALPHA DIGIT - . _ ~) are decoded;
///   every other escape is kept, its hex digits upper-cased (`%2f` → `%2F`:
///   an encoded slash is data, never a separator);
/// - dot segments are removed after decoding (so `%2e%2e` is `..`);
/// - repeated slashes are merged.
///
/// Refused (the proxy answers 400): a path that climbs above the root
/// (RFC 3986 would clamp it; a request that tries is hostile or broken),
/// `%00`, and a malformed escape (`%zz`, `%4` — RFC 3986 §2.1 has no
/// reading for them, and guessing one is how two parsers disagree).
public enum PathNormalization: Equatable, Sendable {
    case ok
    case climbsAboveRoot
    case nul
    case badEscape
}

public enum PathNormalizer {
    /// Whether `path` (no query) may need rewriting: a `%`, a `//` or a `/.`.
    /// Most paths need none, and are then matched where they lie.
    @inline(__always)
    public static func needsWork(_ path: UnsafeRawBufferPointer) -> Bool {
        var previousSlash = false
        for b in path {
            if b == 0x25 { return true }
            if previousSlash && (b == 0x2F || b == 0x2E) { return true }
            previousSlash = b == 0x2F
        }
        return false
    }

    /// Writes the normal form of `path` (which starts with `/` and holds no
    /// query) to `out`, which has room for `path.count + 1` bytes (the normal
    /// form is never longer than the path with a leading `/`). Returns the outcome and the length written.
    public static func normalize(_ path: UnsafeRawBufferPointer, into out: UnsafeMutablePointer<UInt8>) -> (PathNormalization, Int) {
        let n = path.count
        var o = 0
        var i = 0
        // The input's leading "/" (or its absence, handled the same way).
        out[0] = 0x2F
        o = 1
        if n > 0 && path[0] == 0x2F { i = 1 }
        var segmentStart = o
        // A segment is decoded into `out` as it is read, then judged at its end.
        while true {
            let atEnd = i >= n
            let b: UInt8 = atEnd ? 0x2F : path[i]
            if b == 0x2F {
                let length = o - segmentStart
                if length == 1 && out[segmentStart] == 0x2E {
                    o = segmentStart  // "." — the slash before it stays
                } else if length == 2 && out[segmentStart] == 0x2E && out[segmentStart + 1] == 0x2E {
                    // ".." — drop it and the segment before it.
                    if segmentStart <= 1 { return (.climbsAboveRoot, 0) }
                    var p = segmentStart - 2
                    while p > 0 && out[p] != 0x2F { p -= 1 }
                    o = p + 1
                } else if length > 0 && !atEnd {
                    out[o] = 0x2F
                    o += 1
                }
                // length 0: a repeated slash, merged.
                if atEnd { return (.ok, o) }
                i += 1
                segmentStart = o
                continue
            }
            if b == 0x25 {
                guard i + 2 < n else { return (.badEscape, 0) }
                guard let hi = hexValue(path[i + 1]), let lo = hexValue(path[i + 2]) else { return (.badEscape, 0) }
                let v = hi << 4 | lo
                if v == 0 { return (.nul, 0) }
                if isUnreserved(v) {
                    out[o] = v
                    o += 1
                } else {
                    out[o] = 0x25
                    out[o + 1] = upperHex(hi)
                    out[o + 2] = upperHex(lo)
                    o += 3
                }
                i += 3
                continue
            }
            out[o] = b
            o += 1
            i += 1
        }
    }

    /// A `String` convenience for tests and the configuration checks.
    public static func normalize(_ path: String) -> (PathNormalization, String) {
        let bytes = Array(path.utf8)
        let out = UnsafeMutablePointer<UInt8>.allocate(capacity: max(1, bytes.count + 1))
        defer { out.deallocate() }
        let (outcome, length) = bytes.withUnsafeBytes { normalize($0, into: out) }
        guard outcome == .ok else { return (outcome, "") }
        return (outcome, String(decoding: UnsafeBufferPointer(start: out, count: length), as: UTF8.self))
    }

    @inline(__always)
    static func hexValue(_ c: UInt8) -> UInt8? {
        switch c {
        case 0x30...0x39: return c - 0x30
        case 0x41...0x46: return c - 0x41 + 10
        case 0x61...0x66: return c - 0x61 + 10
        default: return nil
        }
    }

    @inline(__always)
    static func upperHex(_ v: UInt8) -> UInt8 { v < 10 ? 0x30 + v : 0x41 + v - 10 }

    /// RFC 3986 §2.3: ALPHA / DIGIT / "-" / "." / "_" / "~".
    @inline(__always)
    static func isUnreserved(_ c: UInt8) -> Bool {
        switch c {
        case 0x41...0x5A, 0x61...0x7A, 0x30...0x39, 0x2D, 0x2E, 0x5F, 0x7E: return true
        default: return false
        }
    }
}
