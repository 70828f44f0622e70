// Fuzz target `exchange`: the request side of a whole proxy exchange, in
// process. Client bytes, delivered in pieces chosen by the first input byte,
// go through the same components in the same order as ClientConnection:
// RequestHeadReader (empty lines, limits) → HeadParser.parseRequest →
// RequestFacts + HeadRewriter.writeRequest (the forwarded head) → BodyTracker
// (body bytes forwarded as received). The bytes "sent to the backend" are
// collected.
//
// Differential oracle: an independent reference parser (below, written from
// RFC 9112 and sharing no code with FulcrumHTTP) parses the forwarded stream.
// It must find exactly the requests the proxy accepted — same count, same
// method and target, same body payload (de-chunked) — none split, none
// merged, no bytes left over, nothing forwarded after a rejection.
@testable import FulcrumProxy
import FulcrumEventLoop
import FulcrumHTTP

/// What the proxy believed it forwarded.
struct Accepted {
    var method: [UInt8]
    var target: [UInt8]
    var payload: [UInt8]
}

nonisolated(unsafe) let pool = BufferPool(bufferSize: 68 * 1024, maxFree: 4)
let parsed = ParsedHead()

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzExchange(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    guard size >= 1 else { return 0 }
    let input = UnsafeRawBufferPointer(start: data + 1, count: size - 1)
    var inBuf = pool.take()
    defer { pool.give(inBuf) }
    var reader = RequestHeadReader()
    var forwarded: [UInt8] = []
    var accepted: [Accepted] = []
    var body: BodyTracker?
    var current: Accepted?
    var rejected = false

    func step() {
        while !rejected && !inBuf.isEmpty {
            if var tracker = body {
                let fresh = inBuf.readable
                var payload: [UInt8] = []
                let progress = tracker.consume(fresh) { o, n in payload += fresh[o..<(o + n)] }
                switch progress {
                case .more:
                    forwarded += fresh
                    current!.payload += payload
                    inBuf.consume(fresh.count)
                    body = tracker
                    return
                case .complete(let n):
                    forwarded += fresh[0..<n]
                    current!.payload += payload
                    inBuf.consume(n)
                    accepted.append(current!)
                    body = nil
                case .invalid:
                    rejected = true
                    return
                }
                continue
            }
            switch reader.next(inBuf.readable) {
            case .skip(let n): inBuf.consume(n)
            case .needMore:
                if inBuf.writableCount == 0 { inBuf.compact() }
                return
            case .refuse: rejected = true; return
            case .head(let length):
                let head = UnsafeRawBufferPointer(start: inBuf.base + inBuf.readIndex, count: length)
                if HeadParser.parseRequest(head, into: parsed) != nil { rejected = true; return }
                var facts = RequestFacts(parsed, draining: false)
                var fwd = pool.take()
                let fits = HeadRewriter.writeRequest(parsed, head: head, clientIP: "192.0.2.1", into: &fwd, facts: &facts)
                let out = Array(fwd.readable)
                pool.give(fwd)
                let method = Array(head[0..<Int(parsed.methodEnd)])
                let target = Array(head[Int(parsed.targetStart)..<Int(parsed.targetEnd)])
                inBuf.consume(length)
                guard fits else { rejected = true; return }
                forwarded += out
                if parsed.isUpgradeRequest || facts.isConnect {
                    // A tunnel may follow: stop comparing after this request.
                    accepted.append(Accepted(method: method, target: target, payload: []))
                    rejected = true
                    return
                }
                current = Accepted(method: method, target: target, payload: [])
                if facts.framing == .none {
                    accepted.append(current!)
                } else {
                    body = BodyTracker(facts.framing)
                }
            }
        }
    }

    for piece in pieces(input, cuts: cutPoints(selector: data[0], count: input.count)) {
        var rest = piece
        while rest.count > 0 && !rejected {
            if inBuf.writableCount == 0 { inBuf.compact() }
            let n = min(rest.count, inBuf.writableCount)
            if n == 0 { break }  // a head that never ends: the reader refuses it at the limit
            inBuf.append(UnsafeRawBufferPointer(rebasing: rest[0..<n]))
            rest = UnsafeRawBufferPointer(rebasing: rest[n...])
            step()
        }
        if rejected { break }
    }
    // A body still streaming at the end of the input was forwarded in part:
    // the reference parser sees an incomplete last message, which is fine.
    let partial = body != nil ? current : nil

    let reference = ReferenceParser.parse(forwarded)
    let input0 = UnsafeRawBufferPointer(start: data, count: size)
    guard let messages = reference.messages else { oracleFailure("forwarded bytes do not parse: \(reference.error ?? "?")", input0) }
    if messages.count != accepted.count { oracleFailure("proxy accepted \(accepted.count), backend would read \(messages.count)", input0) }
    for (a, m) in zip(accepted, messages) {
        if a.method != m.method || a.target != m.target { oracleFailure("request line changed", input0) }
        if a.payload != m.body { oracleFailure("body changed (\(a.payload.count) vs \(m.body.count) bytes)", input0) }
    }
    if partial == nil && !reference.leftover.isEmpty { oracleFailure("\(reference.leftover.count) bytes left over", input0) }
    return 0
}

/// A deliberately simple, independent HTTP/1.1 request-stream parser
/// (RFC 9112 §2–7), strict where framing is concerned. It parses only what
/// the proxy forwards, so it need not be lenient.
enum ReferenceParser {
    struct Message {
        var method: [UInt8]
        var target: [UInt8]
        var body: [UInt8]
    }

    struct Result {
        var messages: [Message]?
        var error: String?
        var leftover: [UInt8] = []
    }

    static func parse(_ bytes: [UInt8]) -> Result {
        var out: [Message] = []
        var i = 0
        func line() -> [UInt8]? {
            var j = i
            while j + 1 < bytes.count {
                if bytes[j] == 13 && bytes[j + 1] == 10 {
                    let l = Array(bytes[i..<j])
                    i = j + 2
                    return l
                }
                j += 1
            }
            return nil
        }
        while i < bytes.count {
            let start = i
            guard let requestLine = line() else { return Result(messages: out, leftover: Array(bytes[start...])) }
            let parts = requestLine.split(separator: 32, omittingEmptySubsequences: false)
            guard parts.count == 3 else { return Result(error: "request line \(parts.count) parts") }
            var length: Int?
            var chunked = false
            var teCount = 0
            while true {
                guard let field = line() else { return Result(messages: out, leftover: Array(bytes[start...])) }
                if field.isEmpty { break }
                guard let colon = field.firstIndex(of: 58) else { return Result(error: "field without colon") }
                let name = String(decoding: field[..<colon], as: UTF8.self).lowercased()
                let value = String(decoding: field[(colon + 1)...], as: UTF8.self).trimmingSpaces()
                if name == "content-length" {
                    guard length == nil, let n = Int(value), n >= 0, value.allSatisfy({ $0.isASCII && $0.isNumber }) else {
                        return Result(error: "Content-Length '\(value)' not one plain value")
                    }
                    length = n
                } else if name == "transfer-encoding" {
                    teCount += 1
                    guard value.lowercased() == "chunked" else { return Result(error: "Transfer-Encoding '\(value)'") }
                    chunked = true
                } else if name == "connection" {
                    let opts = value.lowercased().split(separator: ",").map { String($0).trimmingSpaces() }
                    if opts.contains("content-length") || opts.contains("transfer-encoding") || opts.contains("host") {
                        return Result(error: "Connection names a framing header")
                    }
                }
            }
            if chunked && length != nil { return Result(error: "both framings") }
            if teCount > 1 { return Result(error: "two Transfer-Encoding lines") }
            var body: [UInt8] = []
            if chunked {
                while true {
                    guard let sizeLine = line() else { return Result(messages: out, leftover: Array(bytes[start...])) }
                    let digits = sizeLine.prefix { (48...57).contains($0) || (65...70).contains($0) || (97...102).contains($0) }
                    guard !digits.isEmpty, digits.count <= 16, let big = UInt64(String(decoding: digits, as: UTF8.self), radix: 16) else {
                        return Result(error: "chunk size")
                    }
                    let n = Int(min(big, UInt64(Int.max / 2)))
                    let rest = sizeLine[digits.count...]
                    if let f = rest.first, f != 59 && f != 32 && f != 9 { return Result(error: "chunk size junk") }
                    if n == 0 {
                        while true {
                            guard let t = line() else { return Result(messages: out, leftover: Array(bytes[start...])) }
                            if t.isEmpty { break }
                        }
                        break
                    }
                    guard n <= bytes.count - i - 2 else { return Result(messages: out, leftover: Array(bytes[start...])) }
                    body += bytes[i..<(i + n)]
                    i += n
                    guard bytes[i] == 13 && bytes[i + 1] == 10 else { return Result(error: "chunk data CRLF") }
                    i += 2
                }
            } else if let n = length, n > 0 {
                guard i + n <= bytes.count else { return Result(messages: out, leftover: Array(bytes[start...])) }
                body = Array(bytes[i..<(i + n)])
                i += n
            }
            out.append(Message(method: Array(parts[0]), target: Array(parts[1]), body: body))
        }
        return Result(messages: out)
    }
}

extension String {
    func trimmingSpaces() -> String {
        var s = Substring(self)
        while let f = s.first, f == " " || f == "\t" { s = s.dropFirst() }
        while let l = s.last, l == " " || l == "\t" { s = s.dropLast() }
        return String(s)
    }
}
