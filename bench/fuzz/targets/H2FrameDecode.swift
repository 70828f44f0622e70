// Fuzz target `h2-frame`: FrameDecoder (Sources/FulcrumHTTP2, compiled in).
//
// Input: byte 0 chooses the cut points, byte 1 SETTINGS_MAX_FRAME_SIZE
// (16384 or larger); the rest is what a peer sends after the preface.
// Oracles:
//  - incremental = whole: decoding the arriving prefixes as a driver does
//    (keep the undecoded tail, decode again when more comes) gives the same
//    results as decoding everything at once;
//  - each result's extent is its header's length + 9, ranges lie inside it;
//  - the RFC's classification, checked by an independent reading of the
//    header: length over the limit, wrong fixed lengths (PING 8, RST_STREAM 4,
//    WINDOW_UPDATE 4, SETTINGS multiple of 6 / ACK empty, PRIORITY 5) and
//    stream-0 rules give exactly the RFC's error class and code;
//  - a decoded frame, written again by FrameWriter where it can be, decodes
//    to the same frame.

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzFrames(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    guard size >= 2 else { return 0 }
    let all = UnsafeRawBufferPointer(start: data, count: size)
    let maxFrame = all[1] < 200 ? 16_384 : 16_384 + Int(all[1]) * 64
    let input = UnsafeRawBufferPointer(rebasing: all[2...])
    let decoder = FrameDecoder(maxFrameSize: maxFrame)

    var whole: [FrameDecoder.Result] = []
    var at = 0
    while true {
        let r = decoder.decode(input, at: at)
        whole.append(r)
        switch r {
        case .frame(_, let end), .streamError(_, let end):
            check(r, input, at, maxFrame, all)
            at = end
            continue
        case .connectionError:
            check(r, input, at, maxFrame, all)
        case .needMore:
            if input.count - at >= 9 {
                let len = Int(input[at]) << 16 | Int(input[at + 1]) << 8 | Int(input[at + 2])
                if len > maxFrame || input.count - at - 9 >= len { oracleFailure("needMore with a whole frame there", all) }
            }
        }
        break
    }

    // The same bytes arriving in pieces: the decoder only ever sees what has
    // arrived since the first undecoded byte (no copies: views of the input).
    var split: [FrameDecoder.Result] = []
    var base = 0  // first undecoded byte
    outer: for arrived in cutPoints(selector: all[0], count: input.count) + [input.count] {
        while true {
            let view = UnsafeRawBufferPointer(rebasing: input[base..<arrived])
            let r = decoder.decode(view, at: 0)
            switch r {
            case .needMore:
                continue outer
            case .connectionError:
                split.append(r)
                break outer
            case .frame(let f, let end):
                split.append(.frame(shift(f, by: base), end: end + base))
                base += end
            case .streamError(let e, let end):
                split.append(.streamError(e, end: end + base))
                base += end
            }
        }
    }
    if whole.last == .needMore { whole.removeLast() }
    if whole != split { oracleFailure("whole vs split: \(whole.count) vs \(split.count) results", all) }
    return 0
}

/// A frame's ranges moved by `d` (the split decode sees offsets of its own buffer).
func shift(_ f: Frame, by d: Int) -> Frame {
    func m(_ r: Range<Int>) -> Range<Int> { (r.lowerBound + d)..<(r.upperBound + d) }
    switch f {
    case .data(let s, let r, let e, let fl): return .data(stream: s, data: m(r), endStream: e, flowLength: fl)
    case .headers(let s, let r, let e, let eh, let p): return .headers(stream: s, block: m(r), endStream: e, endHeaders: eh, priority: p)
    case .settings(let a, let r): return .settings(ack: a, payload: m(r))
    case .pushPromise(let s, let p, let r, let eh): return .pushPromise(stream: s, promised: p, block: m(r), endHeaders: eh)
    case .goaway(let l, let c, let r): return .goaway(lastStream: l, code: c, debug: m(r))
    case .continuation(let s, let r, let eh): return .continuation(stream: s, block: m(r), endHeaders: eh)
    default: return f
    }
}

/// The independent reading of one frame's header and the checks on the decoder's answer.
func check(_ r: FrameDecoder.Result, _ b: UnsafeRawBufferPointer, _ at: Int, _ maxFrame: Int, _ all: UnsafeRawBufferPointer) {
    let len = Int(b[at]) << 16 | Int(b[at + 1]) << 8 | Int(b[at + 2])
    let type = b[at + 3], flags = b[at + 4]
    let id = (UInt32(b[at + 5]) << 24 | UInt32(b[at + 6]) << 16 | UInt32(b[at + 7]) << 8 | UInt32(b[at + 8])) & 0x7FFF_FFFF
    let start = at + 9, end = at + 9 + len
    // (class, code) the RFC demands, when the header alone decides it: "c" connection, "s" stream.
    var expected: (Character, H2ErrorCode)?
    if len > maxFrame { expected = ("c", .frameSizeError) }
    else {
        switch type {
        case 0, 1, 9: if id == 0 { expected = ("c", .protocolError) }
        case 2: expected = id == 0 ? ("c", .protocolError) : len != 5 ? ("s", .frameSizeError) : nil
        case 3: expected = id == 0 ? ("c", .protocolError) : len != 4 ? ("c", .frameSizeError) : nil
        case 4: expected = id != 0 ? ("c", .protocolError) : (flags & 1 != 0 && len != 0) || len % 6 != 0 ? ("c", .frameSizeError) : nil
        case 6: expected = id != 0 ? ("c", .protocolError) : len != 8 ? ("c", .frameSizeError) : nil
        case 7: expected = id != 0 ? ("c", .protocolError) : len < 8 ? ("c", .frameSizeError) : nil
        case 8:
            if len != 4 { expected = ("c", .frameSizeError) }
            else if b[start] & 0x7F == 0 && b[start + 1] == 0 && b[start + 2] == 0 && b[start + 3] == 0 {
                expected = id == 0 ? ("c", .protocolError) : ("s", .protocolError)
            }
        default: break
        }
    }
    switch r {
    case .connectionError(let e):
        if let x = expected, x.0 != "c" || x.1 != e.code { oracleFailure("connection error \(e.code), expected \(x)", all) }
        if expected == nil && !(type <= 1 || type == 5) { oracleFailure("unexpected connection error \(e) for type \(type)", all) }
    case .streamError(let e, let e2):
        guard let x = expected, x.0 == "s", x.1 == e.code, e2 == end else { oracleFailure("stream error \(e), expected \(String(describing: expected))", all) }
    case .frame(let f, let e2):
        if let x = expected { oracleFailure("accepted a frame the RFC refuses (\(x))", all) }
        if e2 != end { oracleFailure("frame extent", all) }
        checkRanges(f, start, end, all)
        if type > 9, f != .unknown(type: type, stream: id) { oracleFailure("unknown type not ignored", all) }
        rewrite(f, b, all)
    case .needMore:
        break
    }
}

func checkRanges(_ f: Frame, _ start: Int, _ end: Int, _ all: UnsafeRawBufferPointer) {
    let r: Range<Int>?
    switch f {
    case .data(_, let x, _, let fl): r = x; if fl != end - start { oracleFailure("flow length", all) }
    case .headers(_, let x, _, _, _), .settings(_, let x), .pushPromise(_, _, let x, _), .goaway(_, _, let x), .continuation(_, let x, _): r = x
    default: r = nil
    }
    if let r, r.lowerBound < start || r.upperBound > end { oracleFailure("payload range outside the frame", all) }
}

/// Writes the frame again (where FrameWriter can) and decodes it.
func rewrite(_ f: Frame, _ b: UnsafeRawBufferPointer, _ all: UnsafeRawBufferPointer) {
    var out: [UInt8] = []
    switch f {
    case .data(let s, let r, let e, _): FrameWriter.data(stream: s, UnsafeRawBufferPointer(rebasing: b[r]), endStream: e, into: &out)
    case .rstStream(let s, let c): guard let code = H2ErrorCode(rawValue: c) else { return }; FrameWriter.rstStream(stream: s, code: code, into: &out)
    case .ping(let a, let o): FrameWriter.ping(o, ack: a, into: &out)
    case .windowUpdate(let s, let n): FrameWriter.windowUpdate(stream: s, increment: n, into: &out)
    default: return
    }
    let again = out.withUnsafeBytes { FrameDecoder(maxFrameSize: H2.maxMaxFrameSize).decode($0) }
    guard case .frame(let g, _) = again else { oracleFailure("rewritten frame refused", all) }
    switch (f, g) {
    case (.data(let s, let r, let e, _), .data(let s2, let r2, let e2, _)):
        if s != s2 || e != e2 || r.count != r2.count { oracleFailure("DATA rewrite differs", all) }
    default:
        if f != g { oracleFailure("rewrite differs: \(f) vs \(g)", all) }
    }
}
