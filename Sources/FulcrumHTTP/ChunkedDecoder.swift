/// Follows a chunked body (RFC 9112 §7.1) as it streams through, without
/// changing it: the proxy forwards chunked bytes exactly as received, and
/// this finds where the message ends and refuses, byte by byte, every line
/// outside the grammar, so that no next hop can read the framing differently
/// ("funky chunks", TERM.EXT/EXT.TERM):
///
///     chunk      = 1*HEXDIG *( BWS ";" BWS ext-name [ BWS "=" BWS ext-val ] ) CRLF data CRLF
///     ext-val    = token / quoted-string
///     trailers   = *( field-name ":" OWS field-value OWS CRLF ) CRLF
///
/// Whitespace after the size is accepted only before a ";" (CONTRACT §4);
/// a bare CR or LF anywhere is an error, not a line end.
public struct ChunkedDecoder: Sendable {
    public enum Outcome: Equatable, Sendable {
        /// All of the input belongs to the body; more is needed.
        case needMore
        /// The body ends after this many bytes of the input.
        case done(Int)
        case invalid(String)
    }

    enum State: UInt8, Sendable {
        case size, sizeWhitespace, extStart, extName, extNameWhitespace, extValueStart, extToken, extAfterValue,
             quoted, quotedPair, extAfterQuoted, sizeLF, data, dataCR, dataLF,
             trailerLineStart, trailerName, trailerValue, trailerLF, finalLF
    }

    /// Bytes of extensions allowed on one chunk line (nginx and HAProxy set no
    /// limit; without one a peer can stream an endless line).
    public static let maxExtensionBytes = 4096

    var state = State.size
    var digits = 0
    var remaining: UInt64 = 0
    var lineBytes = 0
    var trailerBytes = 0

    public init() {}

    /// Consumes `bytes`, the next part of the body.
    public mutating func consume(_ bytes: UnsafeRawBufferPointer) -> Outcome {
        consume(bytes) { _, _ in }
    }

    /// Consumes `bytes`, calling `data(offset, count)` for each run of chunk
    /// data (for de-chunking towards an HTTP/1.0 client).
    @inline(__always)
    public mutating func consume(_ bytes: UnsafeRawBufferPointer, data: (Int, Int) -> Void) -> Outcome {
        let table = CharClass.table
        var i = 0
        let n = bytes.count
        while i < n {
            let c = bytes[i]
            let isToken = table[Int(c)] & CharClass.token != 0
            let isBlank = c == 0x20 || c == 0x09
            if state.rawValue >= State.extStart.rawValue && state.rawValue <= State.extAfterQuoted.rawValue {
                lineBytes += 1
                if lineBytes > Self.maxExtensionBytes { return .invalid("chunk extensions too long") }
            }
            switch state {
            case .size:
                if let v = hexValue(c) {
                    digits += 1
                    if digits > 16 { return .invalid("chunk size too long") }
                    remaining = remaining << 4 | UInt64(v)
                } else if digits == 0 {
                    return .invalid("invalid chunk size")
                } else if c == 0x0D {
                    state = .sizeLF
                } else if c == 0x3B {
                    state = .extStart
                } else if isBlank {
                    state = .sizeWhitespace
                } else {
                    return .invalid("invalid chunk size")
                }
            case .sizeWhitespace:
                if c == 0x3B { state = .extStart } else if !isBlank { return .invalid("whitespace after chunk size") }
            case .extStart:
                if isToken { state = .extName } else if !isBlank { return .invalid("invalid chunk extension name") }
            case .extName:
                if isToken { break }
                switch c {
                case 0x3D: state = .extValueStart
                case 0x3B: state = .extStart
                case 0x0D: state = .sizeLF
                default:
                    guard isBlank else { return .invalid("invalid chunk extension name") }
                    state = .extNameWhitespace
                }
            case .extNameWhitespace:
                switch c {
                case 0x3D: state = .extValueStart
                case 0x3B: state = .extStart
                default: guard isBlank else { return .invalid("invalid chunk extension") }
                }
            case .extValueStart:
                if c == 0x22 { state = .quoted } else if isToken { state = .extToken } else if !isBlank {
                    return .invalid("invalid chunk extension value")
                }
            case .extToken:
                if isToken { break }
                switch c {
                case 0x3B: state = .extStart
                case 0x0D: state = .sizeLF
                default:
                    guard isBlank else { return .invalid("invalid chunk extension value") }
                    state = .extAfterValue
                }
            case .extAfterValue:
                if c == 0x3B { state = .extStart } else if !isBlank { return .invalid("invalid chunk extension") }
            case .quoted:
                if c == 0x22 {
                    state = .extAfterQuoted
                } else if c == 0x5C {
                    state = .quotedPair
                } else if !(isBlank || c == 0x21 || (c >= 0x23 && c != 0x7F)) {
                    return .invalid("invalid quoted chunk extension value")
                }
            case .quotedPair:
                guard isBlank || (c >= 0x21 && c != 0x7F) else { return .invalid("invalid quoted pair in chunk extension") }
                state = .quoted
            case .extAfterQuoted:
                switch c {
                case 0x3B: state = .extStart
                case 0x0D: state = .sizeLF
                default:
                    guard isBlank else { return .invalid("invalid chunk extension") }
                    state = .extAfterValue
                }
            case .sizeLF:
                guard c == 0x0A else { return .invalid("bare CR in chunk size line") }
                lineBytes = 0
                if remaining == 0 {
                    state = .trailerLineStart
                } else {
                    if remaining > 1 << 62 { return .invalid("chunk size too large") }
                    state = .data
                }
            case .data:
                let take = Int(min(UInt64(n - i), remaining))
                data(i, take)
                remaining -= UInt64(take)
                i += take
                if remaining == 0 { state = .dataCR }
                continue
            case .dataCR:
                guard c == 0x0D else { return .invalid("missing CRLF after chunk data") }
                state = .dataLF
            case .dataLF:
                guard c == 0x0A else { return .invalid("missing CRLF after chunk data") }
                state = .size
                digits = 0
                remaining = 0
            case .trailerLineStart, .trailerName, .trailerValue, .trailerLF:
                trailerBytes += 1
                if trailerBytes > HTTPLimits.maxTrailers { return .invalid("trailers too large") }
                switch state {
                case .trailerLineStart:
                    if c == 0x0D { state = .finalLF } else if isToken { state = .trailerName } else {
                        return .invalid(isBlank ? "obsolete line folding in trailer" : "invalid trailer field name")
                    }
                case .trailerName:
                    if c == 0x3A { state = .trailerValue } else if !isToken { return .invalid("invalid trailer field name") }
                case .trailerValue:
                    if c == 0x0D { state = .trailerLF } else if table[Int(c)] & CharClass.fieldValue == 0 {
                        return .invalid("control character in trailer")
                    }
                default:
                    guard c == 0x0A else { return .invalid("bare CR in trailer") }
                    state = .trailerLineStart
                }
            case .finalLF:
                guard c == 0x0A else { return .invalid("bare CR after last chunk") }
                return .done(i + 1)
            }
            i += 1
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
