// Fuzz target `h2-connection`: the whole H2Connection machine
// (Sources/FulcrumHTTP2, compiled in) driven as a driver would drive it, and
// the proxy's HTTP/1.1 parser (Sources/FulcrumHTTP) reading what it produces.
//
// Input: byte 0 chooses the cut points; byte 1 the driver's behaviour
// (consume bodies at once or hold them, answer requests, reset streams,
// advance time, write outbound or let it pile up, start a graceful shutdown); the rest is what a client
// sends after a valid preface + SETTINGS + SETTINGS ACK.
// Oracles:
//  - bounded memory: streams ≤ MAX_CONCURRENT_STREAMS, held body bytes ≤ the
//    connection window, outbound ≤ its limit plus one burst, the driver's
//    unconsumed input < one frame while the machine wants to read;
//  - action order: heads on growing odd ids, data/trailers only on started and
//    unfinished streams with a body, nothing after `close`;
//  - what reaches the HTTP/1.1 side, against an independent reading of the
//    frames (H2Reference.swift): every request head's method, target, Host,
//    joined cookies and other fields equal the reference's decoding of that
//    stream's HEADERS block, and that block obeys RFC 9113 §8 by the
//    reference's own checks; the HTTP/1.1 head is strictly framed; body bytes
//    never exceed what the stream's DATA frames carried, and a body that ends
//    normally adds up to its content-length;
//  - everything written to the client is a valid frame sequence.

import Glibc

let clientPreamble: [UInt8] = {
    var out = Array("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n".utf8)
    out += [0, 0, 0, 4, 0, 0, 0, 0, 0]  // SETTINGS
    out += [0, 0, 0, 4, 1, 0, 0, 0, 0]  // SETTINGS ACK
    return out
}()

/// FUZZ_DEBUG=1 prints every action (to see what a reproducer does).
let debugActions = getenv("FUZZ_DEBUG") != nil

struct StreamSeen {
    var head: RequestHead
    var delivered = 0
    var ended: Bool
    var reset = false
    var toSend = 0
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzConnection(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    guard size >= 2 else { return 0 }
    let all = UnsafeRawBufferPointer(start: data, count: size)
    let flags = all[1]
    let consumeAtOnce = flags & 1 != 0, respond = flags & 2 != 0, proxyResets = flags & 4 != 0
    let advanceTime = flags & 8 != 0, holdOutbound = flags & 16 != 0
    let bodySize = [0, 10, 20_000, 100_000][Int(flags >> 5 & 3)]
    let shutdownMidway = flags & 128 != 0
    let rest = Array(all[2...])
    let full = clientPreamble + rest

    var config = ConnectionConfig()
    config.maxOutboundBytes = 64 * 1024
    var conn = H2Connection(config: config)
    var pending: [UInt8] = []
    var written: [UInt8] = []
    var seen: [UInt32: StreamSeen] = [:]
    var lastHead: UInt32 = 0
    var closed = false
    var now: UInt64 = 0
    var n = 0
    let body = [UInt8](repeating: 0x62, count: 100_000)

    func drainOutbound(_ actions: inout [ConnectionAction]) {
        written += conn.outbound
        conn.outboundWritten(conn.outbound.count, into: &actions)
    }

    func sendMore(_ s: UInt32, _ actions: inout [ConnectionAction]) {
        guard let st = seen[s], st.toSend > 0, !st.reset else { return }
        let off = bodySize - st.toSend
        guard let sent = body.withUnsafeBytes({ conn.sendData(stream: s, UnsafeRawBufferPointer(rebasing: $0[off..<bodySize]), endStream: true, into: &actions) }) else { return }
        seen[s]!.toSend -= sent
    }

    func process(_ actions: [ConnectionAction], _ buf: UnsafeRawBufferPointer) -> [ConnectionAction] {
        var more: [ConnectionAction] = []
        for a in actions {
            if closed { oracleFailure("action after close: \(a)", all) }
            if debugActions { print("action", a) }
            switch a {
            case .requestHead(let s, let head):
                if s & 1 == 0 || s <= lastHead { oracleFailure("head on stream \(s) after \(lastHead)", all) }
                lastHead = s
                checkHTTP1Head(head, all)
                checkProxyParses(head, all)
                seen[s] = StreamSeen(head: head, ended: !head.hasBody)
                if respond {
                    if conn.sendHead(stream: s, status: 200, fields: HeaderList([("Content-Type", "a/b"), ("Connection", "x")]), endStream: bodySize == 0, into: &more) {
                        seen[s]!.toSend = bodySize
                        sendMore(s, &more)
                    }
                }
                if proxyResets && s % 7 == 3 { conn.resetStream(s, code: .internalError, into: &more); seen[s]!.reset = true }
            case .requestData(let s, let r, let end):
                guard var st = seen[s], !st.ended, st.head.hasBody else { oracleFailure("data on stream \(s) not expecting it", all) }
                if r.upperBound > buf.count || r.lowerBound < 0 { oracleFailure("data range outside the buffer", all) }
                st.delivered += r.count
                st.ended = end
                if end, let cl = st.head.contentLength, cl != st.delivered, !st.reset { oracleFailure("body ended at \(st.delivered) of content-length \(cl)", all) }
                seen[s] = st
                if consumeAtOnce && !st.reset { conn.consumed(stream: s, r.count) }
            case .requestTrailers(let s, let list):
                guard var st = seen[s], !st.ended else { oracleFailure("trailers on stream \(s) not expecting them", all) }
                if let cl = st.head.contentLength, cl != st.delivered, !st.reset { oracleFailure("trailers at \(st.delivered) of content-length \(cl)", all) }
                for i in 0..<list.count where list.name(i).first == 0x3A { oracleFailure("pseudo-header in trailers", all) }
                st.ended = true
                seen[s] = st
            case .streamReset(let s, _):
                if seen[s] == nil { oracleFailure("reset of a stream never started", all) }
                seen[s]!.reset = true
            case .streamWritable(let s):
                sendMore(s, &more)
            case .requestRefused:
                break
            case .close:
                closed = true
            }
        }
        return more
    }

    var pieceStart = 0
    for cut in cutPoints(selector: all[0], count: full.count) + [full.count] where !closed && cut > pieceStart {
        pending += full[pieceStart..<cut]
        pieceStart = cut
        n += 1
        var actions: [ConnectionAction] = []
        if conn.wantsRead {
            let used = pending.withUnsafeBytes { buf -> Int in
                let u = conn.receive(buf, now: now, into: &actions)
                var next = process(actions, buf)
                while !next.isEmpty { next = process(next, buf) }
                return u
            }
            pending.removeFirst(used)
        }
        checkBounds(conn, pending, config, all)
        if !consumeAtOnce {
            // Held bytes are released piece by piece, as a backend drains.
            for (s, st) in seen where !st.reset {
                if let rec = conn.streams[s], rec.unconsumed > 0 { conn.consumed(stream: s, min(rec.unconsumed, 4096)) }
            }
        }
        var after: [ConnectionAction] = []
        if !holdOutbound || n % 4 == 0 { drainOutbound(&after) }
        if advanceTime { now += 1_500; conn.tick(now: now, into: &after) }
        if shutdownMidway && n == 3 { conn.beginShutdown(now: now) }
        var next = process(after, UnsafeRawBufferPointer(start: nil, count: 0))
        while !next.isEmpty { next = process(next, UnsafeRawBufferPointer(start: nil, count: 0)) }
    }
    var last: [ConnectionAction] = []
    drainOutbound(&last)
    checkWritten(written, all)
    checkFlowControl(written, rest, all)
    checkAgainstReference(rest, seen, all)
    return 0
}

func checkBounds(_ conn: H2Connection, _ pending: [UInt8], _ config: ConnectionConfig, _ all: UnsafeRawBufferPointer) {
    if conn.activeStreams > config.maxConcurrentStreams { oracleFailure("\(conn.activeStreams) streams", all) }
    if conn.heldBodyBytes > config.connectionWindow { oracleFailure("\(conn.heldBodyBytes) body bytes held", all) }
    if conn.outbound.count > config.maxOutboundBytes + 64 * 1024 { oracleFailure("outbound \(conn.outbound.count)", all) }
    if conn.wantsRead && conn.phase != .closed && pending.count >= 9 + config.maxFrameSize { oracleFailure("driver holds \(pending.count) unread bytes", all) }
}

/// What we wrote is a sequence of whole, valid frames.
func checkWritten(_ w: [UInt8], _ all: UnsafeRawBufferPointer) {
    w.withUnsafeBytes { b in
        var at = 0
        while at < b.count {
            guard case .frame(_, let end) = FrameDecoder(maxFrameSize: H2.maxMaxFrameSize).decode(b, at: at) else {
                oracleFailure("we wrote an invalid frame at \(at) of \(b.count)", all)
            }
            at = end
        }
    }
}

/// Our DATA never outruns the client's windows. Read in order, a stream's
/// window can never exceed the largest SETTINGS_INITIAL_WINDOW_SIZE in force
/// from its HEADERS on, plus every increment the client sent for it (and the
/// connection's: 65535 + its increments); no DATA frame exceeds the largest
/// SETTINGS_MAX_FRAME_SIZE allowed. Sound upper bounds whatever the
/// interleaving of our output with the client's input.
func checkFlowControl(_ w: [UInt8], _ rest: [UInt8], _ all: UnsafeRawBufferPointer) {
    var initial = 65_535, maxFrame = 16_384
    var bound: [UInt32: Int] = [0: 65_535]
    for f in refSplitFrames(rest) {
        if f.type == 4 && f.flags & 1 == 0 && f.stream == 0 && f.payload.count % 6 == 0 {
            var k = 0
            while k + 6 <= f.payload.count {
                let id = Int(f.payload[k]) << 8 | Int(f.payload[k + 1])
                let v = Int(f.payload[k + 2]) << 24 | Int(f.payload[k + 3]) << 16 | Int(f.payload[k + 4]) << 8 | Int(f.payload[k + 5])
                if id == 4 {
                    initial = v
                    for s in bound.keys where s != 0 { bound[s] = max(bound[s]!, v) }
                }
                if id == 5 { maxFrame = max(maxFrame, v) }
                k += 6
            }
        }
        if f.type == 1 && bound[f.stream] == nil { bound[f.stream] = initial }
        if f.type == 8 && f.payload.count == 4 {
            let v = (Int(f.payload[0]) & 0x7F) << 24 | Int(f.payload[1]) << 16 | Int(f.payload[2]) << 8 | Int(f.payload[3])
            if bound[f.stream] != nil { bound[f.stream]! += v }
        }
    }
    var sent: [UInt32: Int] = [:]
    for f in refSplitFrames(w) where f.type == 0 {
        if f.payload.count > maxFrame { oracleFailure("DATA frame of \(f.payload.count) over the client's \(maxFrame)", all) }
        sent[f.stream, default: 0] += f.payload.count
        sent[0, default: 0] += f.payload.count
    }
    for (s, n) in sent {
        guard let allowed = bound[s] else { oracleFailure("DATA on stream \(s) the client never opened", all) }
        if n > allowed { oracleFailure("stream \(s): \(n) DATA bytes sent, the client allowed at most \(allowed)", all) }
    }
}

/// The HTTP/1.1 head is strictly framed (an independent reading of its bytes).
func checkHTTP1Head(_ head: RequestHead, _ all: UnsafeRawBufferPointer) {
    let text = head.http1Head()
    var lines: [[UInt8]] = []
    var cur: [UInt8] = []
    var i = 0
    while i < text.count {
        if text[i] == 0x0D {
            if i + 1 >= text.count || text[i + 1] != 0x0A { oracleFailure("bare CR in head", all) }
            lines.append(cur); cur = []; i += 2; continue
        }
        if text[i] == 0x0A { oracleFailure("bare LF in head", all) }
        cur.append(text[i]); i += 1
    }
    guard cur.isEmpty, lines.last == [], lines.count >= 2 else { oracleFailure("head does not end with an empty line", all) }
    let rl = lines[0].split(separator: 0x20, omittingEmptySubsequences: false)
    guard rl.count == 3, Array(rl[2]) == Array("HTTP/1.1".utf8), !rl[0].isEmpty, !rl[1].isEmpty else { oracleFailure("request line", all) }
    if !(rl[1].first == 0x2F || Array(rl[1]) == [0x2A]) { oracleFailure("target form", all) }
    if Array(rl[0]) == Array("CONNECT".utf8) { oracleFailure("CONNECT forwarded", all) }
    var hosts = 0, lengths = 0, chunked = 0
    for line in lines[1..<(lines.count - 1)] {
        guard let colon = line.firstIndex(of: 0x3A), colon > 0 else { oracleFailure("field line", all) }
        let name = String(decoding: line[..<colon], as: UTF8.self)
        let value = line[(colon + 1)...]
        if name != name.lowercased() || name.contains(" ") || name.isEmpty { oracleFailure("field name \(name)", all) }
        for b in value where (b < 0x20 && b != 0x09) || b == 0x7F { oracleFailure("control byte in \(name)", all) }
        switch name {
        case "host": hosts += 1
        case "content-length": lengths += 1
        case "transfer-encoding":
            chunked += 1
            if Array(value) != Array(" chunked".utf8) { oracleFailure("transfer-encoding \(value)", all) }
        case "connection", "keep-alive", "proxy-connection", "upgrade": oracleFailure("\(name) forwarded", all)
        case "te": if Array(value) != Array(" trailers".utf8) { oracleFailure("te forwarded", all) }
        default: break
        }
    }
    if hosts != 1 || lengths > 1 || chunked > 1 || (lengths == 1 && chunked == 1) { oracleFailure("framing fields host \(hosts) cl \(lengths) te \(chunked)", all) }
    if chunked == 1 && !head.hasBody { oracleFailure("chunked without a body", all) }
}

/// The proxy's own HTTP/1.1 parser (Sources/FulcrumHTTP, compiled in) reads
/// the head as the machine meant it: same method, target and body framing.
/// The only refusal allowed is 431 (more fields than an HTTP/1.1 head may
/// carry): anything else means the two sides disagree on what is valid.
let proxyHead = ParsedHead()
func checkProxyParses(_ head: RequestHead, _ all: UnsafeRawBufferPointer) {
    let bytes = head.http1Head()
    bytes.withUnsafeBytes { b in
        if let e = HeadParser.parseRequest(b, into: proxyHead) {
            if e.status != 431 { oracleFailure("the proxy's HTTP/1.1 parser refuses the head: \(e)", all) }
            return
        }
        if Array(b[0..<Int(proxyHead.methodEnd)]) != head.method { oracleFailure("HTTP/1.1 method differs", all) }
        if Array(b[Int(proxyHead.targetStart)..<Int(proxyHead.targetEnd)]) != head.target { oracleFailure("HTTP/1.1 target differs", all) }
        let framing: BodyFraming = head.chunkedBody ? .chunked : (head.contentLength ?? 0) > 0 ? .length(Int64(head.contentLength!)) : .none
        if proxyHead.requestFraming != framing { oracleFailure("HTTP/1.1 framing \(proxyHead.requestFraming) vs \(framing)", all) }
    }
}

/// Decodes the client's header blocks independently and compares them with the heads the machine gave out.
func checkAgainstReference(_ rest: [UInt8], _ seen: [UInt32: StreamSeen], _ all: UnsafeRawBufferPointer) {
    var hpack = RefHPACK(max: 4096)
    var firstBlock: [UInt32: [([UInt8], [UInt8])]] = [:]
    var dataBytes: [UInt32: Int] = [:]
    var block: [UInt8] = []
    var blockStream: UInt32 = 0
    var inBlock = false
    func finish() -> Bool {
        guard let fields = hpack.decode(block) else { return false }
        if firstBlock[blockStream] == nil { firstBlock[blockStream] = fields }
        return true
    }
    frames: for f in refSplitFrames(rest) {
        switch f.type {
        case 0:
            var p = f.payload[...]
            if f.flags & 0x8 != 0 { guard let pad = p.first, Int(pad) < p.count else { break frames }; p = p.dropFirst().dropLast(Int(pad)) }
            dataBytes[f.stream, default: 0] += p.count
        case 1:
            if inBlock { break frames }
            var p = f.payload[...]
            var pad = 0
            if f.flags & 0x8 != 0 { guard let x = p.first else { break frames }; pad = Int(x); p = p.dropFirst() }
            if f.flags & 0x20 != 0 { guard p.count >= 5 else { break frames }; p = p.dropFirst(5) }
            guard pad <= p.count else { break frames }
            block = Array(p.dropLast(pad)); blockStream = f.stream
            if f.flags & 0x4 != 0 { if !finish() { break frames } } else { inBlock = true }
        case 9:
            guard inBlock, f.stream == blockStream else { break frames }
            block += f.payload
            if f.flags & 0x4 != 0 { inBlock = false; if !finish() { break frames } }
        default:
            if inBlock { break frames }
        }
    }
    for (s, st) in seen {
        guard let fields = firstBlock[s] else { oracleFailure("head on stream \(s) without a HEADERS block in the input", all) }
        referenceRules(fields, st.head, all)
        if st.delivered > dataBytes[s, default: 0] { oracleFailure("stream \(s): \(st.delivered) body bytes from \(dataBytes[s, default: 0]) sent", all) }
    }
}

/// RFC 9113 §8 by the reference's own reading, and equality with the head.
func referenceRules(_ fields: [([UInt8], [UInt8])], _ head: RequestHead, _ all: UnsafeRawBufferPointer) {
    var pseudo: [String: [UInt8]] = [:]
    var regularSeen = false
    var cookies: [[UInt8]] = []
    var cookieAt: Int?
    var host: [UInt8]?
    var expected: [([UInt8], [UInt8])] = []
    var clSeen = false
    for (n, v) in fields {
        let name = String(decoding: n, as: UTF8.self)
        if v.contains(0) || v.contains(0x0D) || v.contains(0x0A) { oracleFailure("CR/LF/NUL accepted in \(name)", all) }
        if name.hasPrefix(":") {
            if regularSeen { oracleFailure("pseudo-header after a regular field accepted", all) }
            if ![":method", ":scheme", ":path", ":authority"].contains(name) || pseudo[name] != nil { oracleFailure("pseudo-header \(name) accepted", all) }
            pseudo[name] = v
            continue
        }
        regularSeen = true
        if name != name.lowercased() || name.isEmpty { oracleFailure("name \(name) accepted", all) }
        if ["connection", "keep-alive", "proxy-connection", "transfer-encoding", "upgrade"].contains(name) { oracleFailure("\(name) accepted", all) }
        if name == "te" && v != Array("trailers".utf8) { oracleFailure("te accepted", all) }
        switch name {
        case "host":
            host = v
        case "cookie":
            // RFC 9113 §8.2.3: one field, the crumbs joined with "; ", where the first crumb was.
            if cookieAt == nil { cookieAt = expected.count; expected.append((n, [])) }
            cookies.append(v)
        case "content-length":
            if !clSeen { expected.append((n, v)) }
            clSeen = true
        default:
            expected.append((n, v))
        }
    }
    if let at = cookieAt { expected[at].1 = Array(cookies.joined(separator: [0x3B, 0x20])) }
    guard let m = pseudo[":method"], let p = pseudo[":path"], pseudo[":scheme"] != nil else { oracleFailure("accepted without :method/:path/:scheme", all) }
    if m != head.method || p != head.target { oracleFailure("method or target differ", all) }
    if (pseudo[":authority"] ?? host) != head.host { oracleFailure("host differs", all) }
    if let a = pseudo[":authority"], let h = host, a.map({ $0 | 0x20 }) != h.map({ $0 | 0x20 }) { oracleFailure(":authority and host disagree, accepted", all) }
    if expected.count != head.fields.count { oracleFailure("field count \(head.fields.count) vs reference \(expected.count)", all) }
    for i in 0..<expected.count where Array(head.fields.name(i)) != expected[i].0 || Array(head.fields.value(i)) != expected[i].1 {
        oracleFailure("field \(i) differs from the reference", all)
    }
}
