/// Follows a chunked body (RFC 9112 §7.1) as it streams through, without
/// changing it: the proxy forwards chunked bytes exactly as received, and
/// this only finds where the message ends and refuses malformed framing
/// (a chunk size that is not hex, longer than 16 digits, or bare CR/LF).
public struct ChunkedDecoder: Sendable {
    public enum Outcome: Equatable, Sendable {
        /// All of the input belongs to the body; more is needed.
        case needMore
        /// The body ends after this many bytes of the input.
        case done(Int)
        case invalid(String)
    }

    enum State: Sendable {
        case size, sizeExtension, sizeLF, data, dataCR, dataLF, trailerLineStart, trailerLine, trailerLF, finalLF
    }

    var state = State.size
    var digits = 0
    var remaining: UInt64 = 0
    var trailerBytes = 0

    public init() {}

    /// Consumes `bytes`, the next part of the body.
    public mutating func consume(_ bytes: UnsafeRawBufferPointer) -> Outcome {
        var i = 0
        let n = bytes.count
        while i < n {
            switch state {
            case .size:
                let c = bytes[i]
                if let v = hexValue(c) {
                    digits += 1
                    if digits > 16 { return .invalid("chunk size too long") }
                    remaining = remaining << 4 | UInt64(v)
                    i += 1
                } else if digits == 0 {
                    return .invalid("invalid chunk size")
                } else if c == 0x3B || c == 0x20 || c == 0x09 {
                    // chunk-ext (or BWS before it)
                    state = .sizeExtension
                    i += 1
                } else if c == 0x0D {
                    state = .sizeLF
                    i += 1
                } else {
                    return .invalid("invalid chunk size")
                }
            case .sizeExtension:
                let c = bytes[i]
                if c == 0x0D { state = .sizeLF; i += 1; continue }
                guard c == 0x09 || (c >= 0x20 && c != 0x7F) else { return .invalid("invalid chunk extension") }
                i += 1
            case .sizeLF:
                guard bytes[i] == 0x0A else { return .invalid("bare CR in chunk size line") }
                i += 1
                if remaining == 0 {
                    state = .trailerLineStart
                } else {
                    if remaining > 1 << 62 { return .invalid("chunk size too large") }
                    state = .data
                }
            case .data:
                let take = Int(min(UInt64(n - i), remaining))
                remaining -= UInt64(take)
                i += take
                if remaining == 0 { state = .dataCR }
            case .dataCR:
                guard bytes[i] == 0x0D else { return .invalid("missing CRLF after chunk data") }
                state = .dataLF
                i += 1
            case .dataLF:
                guard bytes[i] == 0x0A else { return .invalid("missing CRLF after chunk data") }
                state = .size
                digits = 0
                remaining = 0
                i += 1
            case .trailerLineStart:
                if bytes[i] == 0x0D { state = .finalLF; i += 1; continue }
                state = .trailerLine
            case .trailerLine:
                let c = bytes[i]
                trailerBytes += 1
                if trailerBytes > HTTPLimits.maxTrailers { return .invalid("trailers too large") }
                if c == 0x0D { state = .trailerLF; i += 1; continue }
                guard c == 0x09 || c >= 0x20 else { return .invalid("control character in trailer") }
                i += 1
            case .trailerLF:
                guard bytes[i] == 0x0A else { return .invalid("bare CR in trailer") }
                state = .trailerLineStart
                i += 1
            case .finalLF:
                guard bytes[i] == 0x0A else { return .invalid("bare CR after last chunk") }
                return .done(i + 1)
            }
        }
        return .needMore
    }

    @inline(__always)
    func hexValue(_ c: UInt8) -> UInt8? {
        switch c {
        case 0x30...0x39: return c - 0x30
        case 0x41...0x46: return c - 0x41 + 10
        case 0x61...0x66: return c - 0x61 + 10
        default: return nil
        }
    }
}
