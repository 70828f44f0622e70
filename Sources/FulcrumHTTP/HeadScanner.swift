import Glibc

/// Finds where a message head ends, incrementally: each call looks only at
/// bytes it has not seen, so a head arriving in many small reads is scanned
/// once in total. A head ends at the first empty line — "\r\n" or a bare
/// "\n"; the parser then refuses bare line feeds with 400, which is why they
/// must end the scan rather than make the client wait for a timeout.
public struct HeadScanner: Sendable {
    /// Bytes examined so far (from the start of the head).
    public private(set) var scanned = 0
    private var lineStart = 0
    /// Complete lines seen so far.
    public private(set) var lines = 0

    public init() {}

    public mutating func reset() {
        scanned = 0
        lineStart = 0
        lines = 0
    }

    /// The length of the first line, complete or not (for the 414 check).
    public var firstLineLength: Int { lines == 0 ? scanned : -1 }

    /// Scans `bytes` (the head so far, from its first byte). Returns the head
    /// length including the final empty line once complete, else nil.
    public mutating func scan(_ bytes: UnsafeRawBufferPointer) -> Int? {
        guard let base = bytes.baseAddress else { return nil }
        let count = bytes.count
        while scanned < count {
            guard let hit = memchr(base + scanned, 0x0A, count - scanned) else {
                scanned = count
                return nil
            }
            let newline = base.distance(to: UnsafeRawPointer(hit))
            let length = newline - lineStart
            if length == 0 || (length == 1 && bytes[lineStart] == 0x0D) {
                scanned = newline + 1
                return newline + 1
            }
            lines += 1
            lineStart = newline + 1
            scanned = newline + 1
        }
        return nil
    }

    /// How many bytes of leading empty lines ("\r\n" or "\n") `bytes` starts
    /// with: a server should ignore them before a request line (RFC 9112 §2.2).
    public static func leadingEmptyLines(_ bytes: UnsafeRawBufferPointer) -> Int {
        var i = 0
        while i < bytes.count {
            if bytes[i] == 0x0A { i += 1; continue }
            if bytes[i] == 0x0D && i + 1 < bytes.count && bytes[i + 1] == 0x0A { i += 2; continue }
            break
        }
        return i
    }
}
