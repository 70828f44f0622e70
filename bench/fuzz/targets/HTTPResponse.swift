// Fuzz target `http-response`: HeadScanner + HeadParser.parseResponse and
// responseFraming, compiled together with Sources/FulcrumHTTP/*.swift.
//
// Input: byte 0 chooses cut points; the rest is what a backend sends.
// Oracles: incremental vs whole scanning agree; reused vs fresh ParsedHead
// agree; every refusal is a 502; an accepted head has the structure every
// accepted head must have (HeadChecks.swift), a 100…599 status taken from the
// three digits of the status line, and framing that follows RFC 9112 §6.3.

let reused = ParsedHead()
let lastRequest = Array("GET /x HTTP/1.1\r\nHost: a\r\n\r\n".utf8)

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzResponse(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    guard size >= 1 else { return 0 }
    let all = UnsafeRawBufferPointer(start: data, count: size)
    let input = UnsafeRawBufferPointer(rebasing: all[1...])

    _ = HeadParser.parseResponse(input, into: reused)

    var whole = HeadScanner()
    let wholeLength = whole.scan(input)
    var incremental = HeadScanner()
    var incrementalLength: Int?
    for end in cutPoints(selector: all[0], count: input.count) + [input.count] {
        if let l = incremental.scan(UnsafeRawBufferPointer(rebasing: input[0..<end])) { incrementalLength = l; break }
    }
    if wholeLength != incrementalLength { oracleFailure("scanner: whole vs split", all) }
    guard let length = wholeLength else { return 0 }
    let head = UnsafeRawBufferPointer(rebasing: input[0..<length])

    // A worker's head object last held a request (and, in turn, this input).
    _ = HeadParser.parseRequest(head, into: reused)
    lastRequest.withUnsafeBytes { _ = HeadParser.parseRequest($0, into: reused) }
    let fresh = ParsedHead()
    let e1 = HeadParser.parseResponse(head, into: reused)
    let e2 = HeadParser.parseResponse(head, into: fresh)
    if e1 != e2 { oracleFailure("reused vs fresh: \(String(describing: e1)) vs \(String(describing: e2))", all) }
    if let e = e1 {
        if e.status != 502 { oracleFailure("response refused with \(e.status), not 502", all) }
        return 0
    }
    if let d = headDifference(reused, fresh, requestLine: knownBugs) { oracleFailure("reused vs fresh ParsedHead differ in \(d)", all) }
    checkAcceptedHead(fresh, head, isRequest: false, all)

    let h = fresh
    let version = String(decoding: UnsafeRawBufferPointer(rebasing: head[0..<8]), as: UTF8.self)
    guard (version == "HTTP/1.1" && h.version == .http11) || (version == "HTTP/1.0" && h.version == .http10) else {
        oracleFailure("version \(version) accepted", all)
    }
    guard head[8] == 0x20, let status = Int(String(decoding: UnsafeRawBufferPointer(rebasing: head[9..<12]), as: UTF8.self)),
          status == h.status, (100...599).contains(status) else { oracleFailure("status \(h.status)", all) }
    if Int(h.startLineEnd) > 14 && head[12] != 0x20 { oracleFailure("no SP before the reason phrase", all) }

    for method in [HTTPMethod.get, .head, .post, .connect] {
        let framing = HeadParser.responseFraming(h, requestMethod: method)
        let bodiless = method == .head || status < 200 || status == 204 || status == 304
        switch framing {
        case .none:
            if !bodiless && h.contentLength != 0 { oracleFailure("no body for \(status) to \(method)", all) }
        case .length(let n):
            if bodiless || n <= 0 || n != h.contentLength { oracleFailure("length framing \(n)", all) }
        case .chunked:
            if bodiless || !h.chunked || h.contentLength >= 0 { oracleFailure("chunked framing", all) }
        case .untilClose:
            let tunnel = method == .connect && status >= 200 && status < 300
            if bodiless || (!tunnel && (h.chunked || h.contentLength >= 0)) {
                oracleFailure("until-close framing", all)
            }
        }
    }
    return 0
}
