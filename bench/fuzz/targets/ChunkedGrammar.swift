// A strict reference check of RFC 9112 §7.1 chunked framing, written from the
// grammar (not from ChunkedDecoder): used by the `chunked` target to ask
// whether a body the decoder accepted is grammatical (finding F6, behind
// FUZZ_KNOWN_BUGS). Returns nil when `b` is exactly one valid chunked body,
// else what is wrong.
//
//   chunked-body = *chunk last-chunk trailer-section CRLF
//   chunk        = chunk-size [ chunk-ext ] CRLF chunk-data CRLF
//   chunk-ext    = *( BWS ";" BWS chunk-ext-name [ BWS "=" BWS chunk-ext-val ] )
//   chunk-ext-val = token / quoted-string
//   trailer-section = *( field-line CRLF ), field-line = field-name ":" OWS field-value OWS
func chunkedGrammarProblem(_ b: UnsafeRawBufferPointer) -> String? {
    let n = b.count
    var i = 0
    func isWS(_ c: UInt8) -> Bool { c == 0x20 || c == 0x09 }
    func skipWS() { while i < n && isWS(b[i]) { i += 1 } }
    func token() -> Bool { let s = i; while i < n && isTchar(b[i]) { i += 1 }; return i > s }
    func crlf() -> Bool { guard i + 1 < n, b[i] == 0x0D, b[i + 1] == 0x0A else { return false }; i += 2; return true }
    func quoted() -> Bool {
        guard i < n, b[i] == 0x22 else { return false }
        i += 1
        while i < n {
            let c = b[i]
            if c == 0x22 { i += 1; return true }
            if c == 0x5C {
                guard i + 1 < n, b[i + 1] == 0x09 || b[i + 1] >= 0x20, b[i + 1] != 0x7F else { return false }
                i += 2; continue
            }
            guard c == 0x09 || c >= 0x20, c != 0x7F else { return false }
            i += 1
        }
        return false
    }
    while true {
        var size: UInt64 = 0, digits = 0
        while i < n, let v = hexDigitValue(b[i]) { size = size << 4 | UInt64(v); digits += 1; i += 1 }
        guard digits > 0 else { return "chunk size is not hex" }
        // chunk-ext
        while true {
            let mark = i
            skipWS()
            guard i < n, b[i] == 0x3B else { i = mark; break }
            i += 1
            skipWS()
            guard token() else { return "chunk extension without a name" }
            let afterName = i
            skipWS()
            if i < n && b[i] == 0x3D {
                i += 1
                skipWS()
                guard token() || quoted() else { return "chunk extension value is neither token nor quoted-string" }
            } else {
                i = afterName
            }
        }
        guard crlf() else { return "chunk size line has something other than an extension before CRLF" }
        if size == 0 { break }
        guard UInt64(n - i) >= size + 2 else { return "truncated chunk" }
        i += Int(size)
        guard crlf() else { return "no CRLF after chunk data" }
    }
    // trailer-section
    while true {
        if crlf() { return i == n ? nil : "bytes after the body" }
        guard token() else { return "trailer line is not a field (no name)" }
        guard i < n, b[i] == 0x3A else { return "trailer line is not a field (no colon after the name)" }
        i += 1
        while i < n && b[i] != 0x0D {
            let c = b[i]
            guard c == 0x09 || c >= 0x20, c != 0x7F else { return "control character in a trailer value" }
            i += 1
        }
        guard crlf() else { return "trailer line does not end in CRLF" }
    }
}

func hexDigitValue(_ c: UInt8) -> UInt8? {
    switch c {
    case 0x30...0x39: return c - 0x30
    case 0x41...0x46: return c - 0x37
    case 0x61...0x66: return c - 0x57
    default: return nil
    }
}
