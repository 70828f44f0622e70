// Checks shared by the request and response head targets: what any head the
// parser accepts must look like. Written from RFC 9112 and the parser's doc
// comments, independently of its code.

func isTchar(_ c: UInt8) -> Bool {
    (c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x5A) || (c >= 0x61 && c <= 0x7A) || "!#$%&'*+-.^_`|~".utf8.contains(c)
}

func name(_ h: ParsedHead, _ i: Int, _ head: UnsafeRawBufferPointer) -> String {
    let f = h.fields[i]
    return String(decoding: UnsafeRawBufferPointer(rebasing: head[Int(f.nameStart)..<Int(f.nameEnd)]), as: UTF8.self).lowercased()
}

/// The first property in which two parsed heads differ, or nil. The
/// request-line offsets are compared only when `requestLine` is set: a
/// response parse does not set them (see README, finding F3).
func headDifference(_ a: ParsedHead, _ b: ParsedHead, requestLine: Bool) -> String? {
    if a.fieldCount != b.fieldCount { return "fieldCount" }
    if a.connectionTokenCount != b.connectionTokenCount { return "connectionTokenCount" }
    if a.version != b.version { return "version" }
    if requestLine && a.method != b.method { return "method" }
    if requestLine && a.methodEnd != b.methodEnd { return "methodEnd" }
    if requestLine && a.targetStart != b.targetStart { return "targetStart" }
    if requestLine && a.targetEnd != b.targetEnd { return "targetEnd" }
    if a.startLineEnd != b.startLineEnd { return "startLineEnd" }
    if a.status != b.status { return "status" }
    if a.contentLength != b.contentLength { return "contentLength" }
    if a.hasTransferEncoding != b.hasTransferEncoding { return "hasTransferEncoding" }
    if a.chunked != b.chunked { return "chunked" }
    if a.connectionClose != b.connectionClose { return "connectionClose" }
    if a.connectionKeepAlive != b.connectionKeepAlive { return "connectionKeepAlive" }
    if a.connectionUpgrade != b.connectionUpgrade { return "connectionUpgrade" }
    if a.expectContinue != b.expectContinue { return "expectContinue" }
    if a.hostIndex != b.hostIndex { return "hostIndex" }
    if a.upgradeIndex != b.upgradeIndex { return "upgradeIndex" }
    if a.upgradeOffersH2C != b.upgradeOffersH2C { return "upgradeOffersH2C" }
    if a.length != b.length { return "length" }
    for i in 0..<a.fieldCount {
        let x = a.fields[i], y = b.fields[i]
        guard x.nameStart == y.nameStart, x.nameEnd == y.nameEnd, x.valueStart == y.valueStart, x.valueEnd == y.valueEnd,
              x.lineEnd == y.lineEnd, x.kind == y.kind else { return "fields[\(i)]" }
    }
    for i in 0..<a.connectionTokenCount where a.connectionTokens[i] != b.connectionTokens[i] { return "connectionTokens[\(i)]" }
    return nil
}

let knownNames: [String: KnownHeader] = [
    "host": .host, "content-length": .contentLength, "transfer-encoding": .transferEncoding, "connection": .connection,
    "keep-alive": .keepAlive, "proxy-connection": .proxyConnection, "te": .te, "trailer": .trailer, "upgrade": .upgrade,
    "expect": .expect, "x-forwarded-for": .xForwardedFor, "x-forwarded-proto": .xForwardedProto, "x-forwarded-host": .xForwardedHost,
    "http2-settings": .http2Settings,
]

/// Structure every accepted head (request or response) must have.
func checkAcceptedHead(_ h: ParsedHead, _ head: UnsafeRawBufferPointer, isRequest: Bool, _ all: UnsafeRawBufferPointer) {
    let n = head.count
    if h.length != n { oracleFailure("length \(h.length) != head \(n)", all) }
    guard n >= 4, head[n - 4] == 0x0D, head[n - 3] == 0x0A, head[n - 2] == 0x0D, head[n - 1] == 0x0A else {
        oracleFailure("accepted head does not end in CRLF CRLF", all)
    }
    let sl = Int(h.startLineEnd)
    guard sl >= 2, sl <= n - 2, head[sl - 2] == 0x0D, head[sl - 1] == 0x0A else { oracleFailure("start line end", all) }
    for k in 0..<(sl - 2) where head[k] == 0x0D || head[k] == 0x0A || head[k] == 0 { oracleFailure("CR/LF/NUL in start line", all) }
    if h.fieldCount > HTTPLimits.maxFields { oracleFailure("more than maxFields fields", all) }
    var at = sl
    var contentLengths = 0, transferEncodings = 0, upgrades: [Int] = []
    for i in 0..<h.fieldCount {
        let f = h.fields[i]
        let ns = Int(f.nameStart), ne = Int(f.nameEnd), vs = Int(f.valueStart), ve = Int(f.valueEnd), le = Int(f.lineEnd)
        guard ns == at, ne > ns, head[ne] == 0x3A, vs > ne, ve >= vs, le >= ve + 2, le <= n - 2 else {
            oracleFailure("field \(i) offsets", all)
        }
        guard head[le - 2] == 0x0D, head[le - 1] == 0x0A else { oracleFailure("field \(i) does not end in CRLF", all) }
        for k in ns..<ne where !isTchar(head[k]) { oracleFailure("field \(i) name byte not a tchar", all) }
        for k in (ne + 1)..<(le - 2) {
            let c = head[k]
            if (c < 0x20 && c != 0x09) || c == 0x7F { oracleFailure("field \(i) value has a control byte 0x\(String(c, radix: 16))", all) }
            if (k < vs || k >= ve) && c != 0x20 && c != 0x09 { oracleFailure("field \(i) value bounds skip non-OWS", all) }
        }
        if ve > vs && (head[vs] == 0x20 || head[vs] == 0x09 || head[ve - 1] == 0x20 || head[ve - 1] == 0x09) {
            oracleFailure("field \(i) value not trimmed", all)
        }
        let lower = name(h, i, head)
        if f.kind != (knownNames[lower] ?? .other) { oracleFailure("field \(lower) classified as \(f.kind)", all) }
        if f.kind == .contentLength { contentLengths += 1 }
        if f.kind == .transferEncoding { transferEncodings += 1 }
        if f.kind == .upgrade { upgrades.append(i) }
        _ = h.isHopByHop(i, in: head)
        at = le
    }
    if at != n - 2 { oracleFailure("fields do not cover the head", all) }
    if contentLengths > 0 && h.contentLength < 0 { oracleFailure("Content-Length field but no contentLength", all) }
    if contentLengths == 0 && h.contentLength >= 0 { oracleFailure("contentLength without a field", all) }
    if (transferEncodings > 0) != h.hasTransferEncoding { oracleFailure("hasTransferEncoding", all) }
    if h.hasTransferEncoding && h.contentLength >= 0 { oracleFailure("both Content-Length and Transfer-Encoding accepted", all) }
    if h.chunked && !h.hasTransferEncoding { oracleFailure("chunked without Transfer-Encoding", all) }
    if h.upgradeIndex != (upgrades.first ?? -1) { oracleFailure("upgradeIndex", all) }
    // An h2c offer is never an upgrade: it must not become a tunnel (CONTRACT §12).
    if h.upgradeOffersH2C && h.isUpgradeRequest { oracleFailure("h2c offer treated as an upgrade", all) }
    // Content-Length values: every one is digits (or a list of equal values) equal to contentLength.
    for i in 0..<h.fieldCount where h.fields[i].kind == .contentLength {
        let f = h.fields[i]
        let text = String(decoding: UnsafeRawBufferPointer(rebasing: head[Int(f.valueStart)..<Int(f.valueEnd)]), as: UTF8.self)
        for part in text.split(separator: ",", omittingEmptySubsequences: false) {
            let t = part.trimmingOWS
            guard !t.isEmpty, t.allSatisfy({ $0.isASCII && $0.isNumber }), let v = Int64(t), v == h.contentLength else {
                oracleFailure("Content-Length value \(text) accepted as \(h.contentLength)", all)
            }
        }
    }
    for t in 0..<h.connectionTokenCount {
        let (s, e) = h.connectionTokens[t]
        guard s < e, Int(s) >= sl, Int(e) <= n else { oracleFailure("connection token offsets", all) }
    }
    "content-length".utf8CString.withUnsafeBytes { name in
        _ = h.firstValue(named: UnsafeRawBufferPointer(rebasing: name[0..<14]), in: head)
    }
}

extension Substring {
    var trimmingOWS: Substring {
        var s = self
        while let f = s.first, f == " " || f == "\t" { s.removeFirst() }
        while let l = s.last, l == " " || l == "\t" { s.removeLast() }
        return s
    }
}
