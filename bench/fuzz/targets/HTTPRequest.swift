// Fuzz target `http-request`: HeadScanner + HeadParser.parseRequest, compiled
// together with Sources/FulcrumHTTP/*.swift (see ../run.sh).
//
// Input: byte 0 chooses how the bytes arrive (cut points); the rest is what a
// client sends. Oracles:
//  - scanning the arriving prefixes incrementally finds the same head end (and
//    line count) as scanning everything at once;
//  - parsing into the worker's reused ParsedHead gives the same answer as a
//    fresh one (no state leaks from the previous message);
//  - an accepted head obeys the parser's documented promises (strict framing:
//    CRLF everywhere, token names, no CTL in values, one Host on 1.1, never
//    both Content-Length and Transfer-Encoding, ...), and offsets are in bounds.

let reused = ParsedHead()

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzRequest(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    guard size >= 1 else { return 0 }
    let all = UnsafeRawBufferPointer(start: data, count: size)
    let input = UnsafeRawBufferPointer(rebasing: all[1...])

    // The parser must survive anything, not only what the scanner hands it.
    _ = HeadParser.parseRequest(input, into: reused)

    let skip = HeadScanner.leadingEmptyLines(input)
    guard skip <= input.count else { oracleFailure("leadingEmptyLines past the end", all) }
    let rest = UnsafeRawBufferPointer(rebasing: input[skip...])

    var whole = HeadScanner()
    let wholeLength = whole.scan(rest)
    var incremental = HeadScanner()
    var incrementalLength: Int?
    for end in cutPoints(selector: all[0], count: rest.count) + [rest.count] {
        if let l = incremental.scan(UnsafeRawBufferPointer(rebasing: rest[0..<end])) { incrementalLength = l; break }
        if incremental.scanned != end { oracleFailure("scanner did not consume a partial head", all) }
    }
    if wholeLength != incrementalLength { oracleFailure("scanner: whole \(String(describing: wholeLength)) vs split \(String(describing: incrementalLength))", all) }
    if wholeLength != nil && whole.lines != incremental.lines { oracleFailure("scanner line counts differ", all) }
    guard let length = wholeLength else { return 0 }
    if length > rest.count || length < 1 { oracleFailure("head length out of range", all) }
    let head = UnsafeRawBufferPointer(rebasing: rest[0..<length])

    let fresh = ParsedHead()
    let e1 = HeadParser.parseRequest(head, into: reused)
    let e2 = HeadParser.parseRequest(head, into: fresh)
    if e1 != e2 { oracleFailure("reused vs fresh ParsedHead: \(String(describing: e1)) vs \(String(describing: e2))", all) }
    if let e = e1 {
        if ![400, 414, 431, 501, 505].contains(e.status) { oracleFailure("unexpected status \(e.status)", all) }
        return 0
    }
    if let d = headDifference(reused, fresh, requestLine: true) { oracleFailure("reused vs fresh ParsedHead differ in \(d)", all) }
    checkAcceptedHead(fresh, head, isRequest: true, all)
    checkRequestSemantics(fresh, head, all)
    return 0
}

func checkRequestSemantics(_ h: ParsedHead, _ head: UnsafeRawBufferPointer, _ all: UnsafeRawBufferPointer) {
    let me = Int(h.methodEnd), ts = Int(h.targetStart), te = Int(h.targetEnd), sl = Int(h.startLineEnd)
    guard me > 0, ts == me + 1, te > ts, sl == te + 11, sl <= head.count else { oracleFailure("request line offsets", all) }
    for k in 0..<me where !isTchar(head[k]) { oracleFailure("method byte not a tchar", all) }
    for k in ts..<te where !(head[k] >= 0x21 && head[k] <= 0x7E) { oracleFailure("target byte not visible ASCII", all) }
    if head[me] != 0x20 || head[te] != 0x20 { oracleFailure("request line separators", all) }
    let version = String(decoding: UnsafeRawBufferPointer(rebasing: head[(te + 1)..<(te + 9)]), as: UTF8.self)
    guard (version == "HTTP/1.1" && h.version == .http11) || (version == "HTTP/1.0" && h.version == .http10) else {
        oracleFailure("version \(version) accepted as \(h.version)", all)
    }
    let method = String(decoding: UnsafeRawBufferPointer(rebasing: head[0..<me]), as: UTF8.self)
    let expected: HTTPMethod = ["GET": .get, "HEAD": .head, "POST": .post, "PUT": .put, "DELETE": .delete,
                                "CONNECT": .connect, "OPTIONS": .options, "TRACE": .trace, "PATCH": .patch][method] ?? .other
    if h.method != expected { oracleFailure("method \(method) classified as \(h.method)", all) }
    let target = Array(head[ts..<te])
    // Asterisk-form: OPTIONS and extension methods (SSDP's M-SEARCH), never a method RFC 9110 defines.
    if target == [0x2A] && h.method != .options && h.method != .other { oracleFailure("asterisk-form accepted for \(method)", all) }
    if h.method == .connect && knownBugs {
        // Finding F2: authority-form is uri-host ":" port (RFC 9112 §3.2.3).
        guard let colon = target.lastIndex(of: 0x3A), colon > 0, colon + 1 < target.count, target.count - colon - 1 <= 5,
              target[(colon + 1)...].allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }),
              let port = Int(String(decoding: target[(colon + 1)...], as: UTF8.self)), port <= 65535 else {
            oracleFailure("CONNECT target is not host:port", all)
        }
    }
    if h.method != .connect && target[0] != 0x2F && target != [0x2A] {
        // absolute-form: scheme "://"
        guard let colon = target.firstIndex(of: 0x3A), colon > 0, target.count >= colon + 3,
              target[colon + 1] == 0x2F, target[colon + 2] == 0x2F else { oracleFailure("target form", all) }
        // Finding F7: an http(s) URI with an empty host must be rejected (RFC 9110 §4.2.1, §4.2.2).
        let authority = target[(colon + 3)...].prefix { $0 != 0x2F && $0 != 0x3F && $0 != 0x23 }
        let host = authority.split(separator: 0x40, omittingEmptySubsequences: false).last!.prefix { $0 != 0x3A }
        if knownBugs && host.isEmpty { oracleFailure("absolute-form with an empty host accepted", all) }
    }
    // Hosts: exactly one on HTTP/1.1, at most one on 1.0.
    let hosts = (0..<h.fieldCount).filter { name(h, $0, head) == "host" }
    if hosts.count > 1 { oracleFailure("more than one Host accepted", all) }
    if h.version == .http11 && hosts.count != 1 { oracleFailure("HTTP/1.1 without Host accepted", all) }
    if let only = hosts.first, h.hostIndex != only { oracleFailure("hostIndex", all) }
    // Finding F2: a Transfer-Encoding value with no coding in it (",", ";chunked")
    // is accepted, framed as no body, and forwarded as written.
    if h.hasTransferEncoding && !h.chunked && knownBugs { oracleFailure("request TE accepted without chunked", all) }
    if h.hasTransferEncoding && h.version == .http10 { oracleFailure("TE on HTTP/1.0 accepted", all) }
    switch h.requestFraming {
    case .chunked: if !h.chunked || h.contentLength >= 0 { oracleFailure("chunked framing", all) }
    case .length(let n): if n <= 0 || n != h.contentLength || h.chunked { oracleFailure("length framing", all) }
    case .none: if h.chunked || h.contentLength > 0 { oracleFailure("none framing", all) }
    case .untilClose: oracleFailure("request framed until close", all)
    }
    _ = h.wantsKeepAlive
    _ = h.isUpgradeRequest
}
