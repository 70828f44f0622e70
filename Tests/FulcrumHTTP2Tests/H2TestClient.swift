@testable import FulcrumHTTP2

/// A client's half for connection tests: builds frames with the codec's
/// writer and the encoder, feeds them to the machine, and reads what the
/// machine wrote back as frames (an independent decode of `outbound`).
struct H2TestClient {
    var conn: H2Connection
    var now: UInt64 = 0
    var actions: [ConnectionAction] = []
    /// Bytes fed but not consumed by the machine yet (as a driver keeps them).
    var pending: [UInt8] = []

    init(_ config: ConnectionConfig = ConnectionConfig(), handshake: Bool = true) {
        conn = H2Connection(config: config)
        if handshake {
            feed(H2.preface + Self.settings([]) + Self.raw(4, 1, 0, []))  // our SETTINGS acknowledged, as clients do
            _ = takeFrames()
        }
    }

    static func settings(_ values: [(SettingID, UInt32)]) -> [UInt8] {
        var out: [UInt8] = []
        FrameWriter.settings(values, into: &out)
        return out
    }

    static func raw(_ type: UInt8, _ flags: UInt8, _ stream: UInt32, _ payload: [UInt8]) -> [UInt8] {
        var out: [UInt8] = []
        FrameHeader(length: payload.count, type: type, flags: FrameFlags(rawValue: flags), streamID: stream).write(into: &out)
        return out + payload
    }

    static func block(_ pairs: [(String, String)]) -> [UInt8] {
        var out: [UInt8] = []
        HPACKEncoder().encode(HeaderList(pairs), into: &out)
        return out
    }

    static func headers(_ stream: UInt32, _ pairs: [(String, String)], endStream: Bool = true) -> [UInt8] {
        var out: [UInt8] = []
        FrameWriter.headers(stream: stream, block: block(pairs), endStream: endStream, maxFrameSize: 16_384, into: &out)
        return out
    }

    static func get(_ stream: UInt32, path: String = "/", endStream: Bool = true, extra: [(String, String)] = []) -> [UInt8] {
        headers(stream, [(":method", endStream ? "GET" : "POST"), (":scheme", "https"), (":path", path), (":authority", "example.com")] + extra, endStream: endStream)
    }

    static func data(_ stream: UInt32, _ bytes: [UInt8], endStream: Bool = false) -> [UInt8] {
        var out: [UInt8] = []
        bytes.withUnsafeBytes { FrameWriter.data(stream: stream, $0, endStream: endStream, into: &out) }
        return out
    }

    static func rst(_ stream: UInt32, _ code: H2ErrorCode = .cancel) -> [UInt8] {
        var out: [UInt8] = []
        FrameWriter.rstStream(stream: stream, code: code, into: &out)
        return out
    }

    static func windowUpdate(_ stream: UInt32, _ n: Int) -> [UInt8] {
        var out: [UInt8] = []
        FrameWriter.windowUpdate(stream: stream, increment: n, into: &out)
        return out
    }

    static func ping(_ opaque: UInt64, ack: Bool = false) -> [UInt8] {
        var out: [UInt8] = []
        FrameWriter.ping(opaque, ack: ack, into: &out)
        return out
    }

    /// Feeds bytes as a driver would; request data ranges are resolved to bytes in `bodies`.
    var bodies: [UInt32: [UInt8]] = [:]
    mutating func feed(_ bytes: [UInt8]) {
        pending += bytes
        var produced: [ConnectionAction] = []
        let used = pending.withUnsafeBytes { buf -> Int in
            let n = conn.receive(buf, now: now, into: &produced)
            for case .requestData(let s, let r, _) in produced { bodies[s, default: []] += buf[r] }
            return n
        }
        pending.removeFirst(used)
        actions += produced
    }

    /// Frames the machine wrote since the last call, decoded independently.
    enum Out: Equatable {
        case settings(ack: Bool, [UInt16: UInt32])
        case windowUpdate(UInt32, Int)
        case ping(ack: Bool, UInt64)
        case goaway(last: UInt32, H2ErrorCode)
        case rst(UInt32, H2ErrorCode)
        case headers(UInt32, [String], endStream: Bool)
        case data(UInt32, Int, endStream: Bool)
    }

    var responseDecoder = HPACKDecoder()
    mutating func takeFrames() -> [Out] {
        var out: [Out] = []
        let bytes = conn.outbound
        var drop: [ConnectionAction] = []
        conn.outboundWritten(bytes.count, into: &drop)
        actions += drop
        var block: [UInt8] = []
        var blockStream: UInt32 = 0
        var blockEnd = false
        bytes.withUnsafeBytes { b in
            var at = 0
            while case .frame(let f, let end) = FrameDecoder(maxFrameSize: H2.maxMaxFrameSize).decode(b, at: at) {
                at = end
                switch f {
                case .settings(let ack, let p):
                    var d: [UInt16: UInt32] = [:]
                    for (id, v) in SettingsPayload(UnsafeRawBufferPointer(rebasing: b[p])) { d[id] = v }
                    out.append(.settings(ack: ack, d))
                case .windowUpdate(let s, let n): out.append(.windowUpdate(s, n))
                case .ping(let ack, let o): out.append(.ping(ack: ack, o))
                case .goaway(let last, let code, _): out.append(.goaway(last: last, H2ErrorCode(rawValue: code)!))
                case .rstStream(let s, let code): out.append(.rst(s, H2ErrorCode(rawValue: code)!))
                case .data(let s, let r, let e, _): out.append(.data(s, r.count, endStream: e))
                case .headers(let s, let r, let e, let eh, _):
                    block = Array(b[r]); blockStream = s; blockEnd = e
                    if eh { out.append(decodeBlock(block, s, e)) }
                case .continuation(_, let r, let eh):
                    block += b[r]
                    if eh { out.append(decodeBlock(block, blockStream, blockEnd)) }
                default: break
                }
            }
            precondition(at == b.count, "the machine wrote a partial or invalid frame")
        }
        return out
    }

    mutating func decodeBlock(_ block: [UInt8], _ s: UInt32, _ end: Bool) -> Out {
        var list = HeaderList()
        let r = block.withUnsafeBytes { responseDecoder.decode($0, into: &list) }
        precondition(r == .complete)
        return .headers(s, list.pairs.map { "\($0.0): \($0.1)" }, endStream: end)
    }

    mutating func takeActions() -> [ConnectionAction] {
        defer { actions = [] }
        return actions
    }
}
