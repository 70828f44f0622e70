// Fuzz target `chunked`: ChunkedDecoder and BodyTracker, compiled together
// with Sources/FulcrumHTTP/*.swift.
//
// Input: byte 0 chooses cut points (Support.swift); the rest is the bytes
// after a head. Differential oracle: the decoder fed the bytes whole and fed
// them in pieces must agree on the outcome (body end at the same absolute
// offset, or the same refusal, or "need more"). Also: BodyTracker(.chunked)
// agrees with the decoder; a body that ends at n ends at n when fed exactly n
// bytes and needs more when fed n - 1; a chunked body ends in CRLF;
// BodyTracker(.length) takes exactly the length.

enum Seen: Equatable {
    case needMore
    case done(Int)
    case invalid(String)
}

func decode(_ parts: [UnsafeRawBufferPointer]) -> Seen {
    var d = ChunkedDecoder()
    var offset = 0
    for p in parts {
        switch d.consume(p) {
        case .needMore: offset += p.count
        case .done(let n):
            if n < 1 || n > p.count { return .invalid("done(\(n)) outside a \(p.count)-byte piece") }
            return .done(offset + n)
        case .invalid(let why): return .invalid(why)
        }
    }
    return .needMore
}

func track(_ framing: BodyFraming, _ parts: [UnsafeRawBufferPointer]) -> Seen {
    var t = BodyTracker(framing)
    var offset = 0
    for p in parts {
        switch t.consume(p) {
        case .more: offset += p.count
        case .complete(let n):
            if n < 0 || n > p.count { return .invalid("complete(\(n)) outside a \(p.count)-byte piece") }
            if !t.isComplete { return .invalid("complete but not isComplete") }
            return .done(offset + n)
        case .invalid(let why): return .invalid(why)
        }
    }
    return .needMore
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzChunked(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    guard size >= 1 else { return 0 }
    let all = UnsafeRawBufferPointer(start: data, count: size)
    let body = UnsafeRawBufferPointer(rebasing: all[1...])
    let split = pieces(body, cuts: cutPoints(selector: all[0], count: body.count))

    let whole = decode([body])
    let pieced = decode(split)
    if whole != pieced { oracleFailure("decoder whole \(whole) vs split \(pieced)", all) }
    let tracked = track(.chunked, split)
    if tracked != whole { oracleFailure("BodyTracker \(tracked) vs decoder \(whole)", all) }

    if case .done(let n) = whole {
        if n < 5 || body[n - 2] != 0x0D || body[n - 1] != 0x0A { oracleFailure("chunked body does not end in CRLF", all) }
        let exact = decode([UnsafeRawBufferPointer(rebasing: body[0..<n])])
        if exact != .done(n) { oracleFailure("exactly n bytes: \(exact)", all) }
        let short = decode([UnsafeRawBufferPointer(rebasing: body[0..<(n - 1)])])
        if short != .needMore { oracleFailure("n - 1 bytes: \(short)", all) }
        // Finding F6: the decoder accepts chunk lines and trailers the grammar does not.
        if knownBugs, let problem = chunkedGrammarProblem(UnsafeRawBufferPointer(rebasing: body[0..<n])) {
            oracleFailure("accepted a non-grammatical chunked body: \(problem)", all)
        }
    }

    // Length framing with a length from the input's first byte.
    let length = Int64(all[0]) * 3
    let expected: Seen = length == 0 ? .done(0) : (body.count >= Int(length) ? .done(Int(length)) : .needMore)
    let lengthWhole = track(.length(length), [body]), lengthSplit = track(.length(length), split)
    if body.count > 0 && (lengthWhole != lengthSplit || lengthWhole != expected) {
        oracleFailure("length(\(length)): whole \(lengthWhole) split \(lengthSplit) expected \(expected)", all)
    }
    if track(.untilClose, split) != .needMore { oracleFailure("untilClose ended", all) }
    return 0
}
