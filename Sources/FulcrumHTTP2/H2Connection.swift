/// One HTTP/2 connection as a pure state machine (RFC 9113): the driver hands
/// it the bytes it read (`receive`), the proxy side's writes (`sendHead`,
/// `sendData`, `sendTrailers`, `resetStream`, `consumed`) and the time
/// (`tick`); it answers with `ConnectionAction`s and appends the frames to
/// send to `outbound`. No sockets, no clocks, no Foundation: every rule is a
/// unit test (`H2ConnectionTests`) and a fuzz target (`h2-connection`).
///
/// Memory is bounded whatever the peer does: at most `maxConcurrentStreams`
/// streams, request body bytes held by the driver never exceed the connection
/// window (credited back only on `consumed`), one header block of at most
/// `maxHeaderBlockBytes`, and `receive` stops taking frames while `outbound`
/// holds more than `maxOutboundBytes` (the peer is not reading what we send).
public struct H2Connection: Sendable {
    public let config: ConnectionConfig
    public internal(set) var phase: ConnectionPhase
    /// Bytes to write to the peer, in order. Report what was written with `outboundWritten`.
    public internal(set) var outbound: [UInt8] = []

    var decoder: FrameDecoder
    var hpack: HPACKDecoder
    let responses = ResponseHeaders()
    var headerList = HeaderList()

    struct StreamRecord: Sendable {
        var state: StreamState
        var send: SendWindow
        var recv: ReceiveWindow
        var contentLength: Int?
        var received = 0
        var responseStarted = false
        /// Body bytes handed to the driver and not yet reported consumed.
        var unconsumed = 0
        /// Last DATA or WINDOW_UPDATE from the peer on this stream (ms).
        var lastPeerProgress: UInt64
    }

    var streams: [UInt32: StreamRecord] = [:]
    /// Streams whose `sendData` took less than offered: told `streamWritable` when that changes.
    var blocked: Set<UInt32> = []
    var highestPeerStream: UInt32 = 0
    /// The last stream id of the final GOAWAY we sent.
    var goawayLastStream: UInt32?
    var recentlyClosed = RecentlyClosed()

    var connectionSend = SendWindow(H2.defaultWindow)
    var connectionReceive: ReceiveWindow
    var peerInitialWindow = H2.defaultWindow
    var peerMaxFrameSize = H2.minMaxFrameSize
    var peerSettingsSeen = 0
    var settingsAcked = false
    var settingsSentAt: UInt64
    var peerSentGoaway = false
    var lastFrameAt: UInt64
    var abuse = AbuseCounters()

    /// A header block waiting for its CONTINUATION frames.
    struct PendingBlock: Sendable {
        var stream: UInt32
        var isTrailers: Bool
        var endStream: Bool
        var priority: Frame.Priority?
        var bytes: [UInt8]
        var frames: Int
    }
    var pendingBlock: PendingBlock?

    /// The opaque data of the PING that times the graceful shutdown.
    static let shutdownPing: UInt64 = 0x6675_6C63_7275_6D21

    /// A new connection: our SETTINGS and the connection WINDOW_UPDATE are in `outbound` at once.
    public init(config: ConnectionConfig = ConnectionConfig(), now: UInt64 = 0) {
        self.config = config
        phase = config.role == .server ? .preface(matched: 0) : .firstSettings
        decoder = FrameDecoder(maxFrameSize: config.maxFrameSize)
        hpack = HPACKDecoder(maxTableSize: config.headerTableSize, maxHeaderListSize: config.maxHeaderListSize)
        connectionReceive = ReceiveWindow(target: config.connectionWindow, advertised: H2.defaultWindow)
        settingsSentAt = now
        lastFrameAt = now
        abuse.restart(at: now)
        if config.role == .client { outbound += H2.preface }
        FrameWriter.settings(config.advertised, into: &outbound)
        if let inc = connectionReceive.openToTarget() { FrameWriter.windowUpdate(stream: 0, increment: inc, into: &outbound) }
    }

    /// Streams the peer initiates have odd ids toward a server, even toward a client.
    var peerParity: UInt32 { config.role == .server ? 1 : 0 }

    public var activeStreams: Int { streams.count }
    /// Body bytes handed out and not yet consumed, all streams together (≤ the connection window).
    public var heldBodyBytes: Int { streams.values.reduce(0) { $0 + $1.unconsumed } }
    /// The driver should read from the peer only while this holds.
    public var wantsRead: Bool { phase != .closed && outbound.count < config.maxOutboundBytes }
    /// The stream still takes response frames.
    public func canSend(stream: UInt32) -> Bool { streams[stream]?.state.localOpen ?? false }

    // MARK: - input

    /// Processes the bytes in `buffer` (everything read and not yet consumed)
    /// and returns how many were consumed; the driver keeps the rest (a partial
    /// frame, or frames left while `outbound` is over its limit) for the next
    /// call. Ranges in the actions point into `buffer`.
    public mutating func receive(_ buffer: UnsafeRawBufferPointer, now: UInt64, into actions: inout [ConnectionAction]) -> Int {
        var at = 0
        while true {
            switch phase {
            case .closed:
                return buffer.count
            case .preface(let matched):
                let n = min(H2.preface.count - matched, buffer.count - at)
                for k in 0..<n where buffer[at + k] != H2.preface[matched + k] {
                    fail(.connection(.protocolError, "not an HTTP/2 connection preface"), into: &actions)
                    return buffer.count
                }
                at += n
                guard matched + n == H2.preface.count else {
                    phase = .preface(matched: matched + n)
                    return at
                }
                phase = .firstSettings
                continue
            case .firstSettings, .open, .draining:
                break
            }
            if outbound.count >= config.maxOutboundBytes { return at }
            switch decoder.decode(buffer, at: at) {
            case .needMore:
                return at
            case .connectionError(let e):
                fail(e, into: &actions)
                return buffer.count
            case .streamError(let e, let end):
                lastFrameAt = now
                if phase == .firstSettings || pendingBlock != nil {
                    fail(.connection(.protocolError, "\(e) where it may not be"), into: &actions)
                    return buffer.count
                }
                if case .stream(let id, let code, let why) = e {
                    if id > highestPeerStream && code == .protocolError { fail(.connection(.protocolError, why), into: &actions); return buffer.count }
                    streamError(id, code, why, into: &actions)
                }
                at = end
            case .frame(let frame, let end):
                lastFrameAt = now
                if phase == .firstSettings {
                    guard case .settings(ack: false, _) = frame else {
                        fail(.connection(.protocolError, "first frame is not SETTINGS"), into: &actions)
                        return buffer.count
                    }
                    phase = .open
                }
                handle(frame, buffer, now: now, into: &actions)
                // A stream the client ended or reset may have been the last one a GOAWAY waited for.
                if phase != .open || peerSentGoaway { checkDrained(into: &actions) }
                at = end
            }
        }
    }

    // MARK: - errors and stream bookkeeping

    /// A connection error: GOAWAY with the last stream we processed, then close.
    mutating func fail(_ e: H2Error, into actions: inout [ConnectionAction]) {
        guard phase != .closed else { return }
        FrameWriter.goaway(lastStream: highestPeerStream, code: e.code, into: &outbound)
        phase = .closed
        pendingBlock = nil
        streams.removeAll()
        blocked.removeAll()
        actions.append(.close(error: e))
    }

    /// A stream error: RST_STREAM; an exchange already started is told to stop.
    /// A stream the client made us reset before its response counts as a
    /// rapid reset too ("MadeYouReset", CVE-2025-8671: a WINDOW_UPDATE
    /// overflow, DATA past END_STREAM or a bad content-length makes the server
    /// send the RST_STREAM, which a client-resets-only count would miss).
    mutating func streamError(_ id: UInt32, _ code: H2ErrorCode, _ why: String, into actions: inout [ConnectionAction]) {
        FrameWriter.rstStream(stream: id, code: code, into: &outbound)
        if let rec = streams[id] {
            remove(id, weReset: true)
            actions.append(.streamReset(stream: id, code))
            if !rec.responseStarted && abuse.earlyReset(config: config) {
                return fail(.connection(.enhanceYourCalm, "rapid reset: \(abuse.earlyResets) streams reset before their response"), into: &actions)
            }
        } else {
            recentlyClosed.add(id, weReset: true)
        }
        countGlitch(into: &actions)
    }

    /// Forgets a stream; body bytes the driver still held are credited to the connection.
    mutating func remove(_ id: UInt32, weReset: Bool) {
        guard let rec = streams.removeValue(forKey: id) else { return }
        blocked.remove(id)
        recentlyClosed.add(id, weReset: weReset)
        if rec.unconsumed > 0 { creditConnection(rec.unconsumed) }
    }

    /// Stores a stream back, or forgets it once closed.
    mutating func settle(_ id: UInt32, _ rec: StreamRecord) {
        if rec.state == .closed {
            streams[id] = rec
            remove(id, weReset: false)
        } else {
            streams[id] = rec
        }
    }

    mutating func creditConnection(_ n: Int) {
        guard n > 0, let inc = connectionReceive.consumed(n) else { return }
        FrameWriter.windowUpdate(stream: 0, increment: inc, into: &outbound)
    }

    mutating func countGlitch(_ n: Int = 1, into actions: inout [ConnectionAction]) {
        if abuse.glitch(n, threshold: config.glitchThreshold) {
            fail(.connection(.enhanceYourCalm, "too many frames that serve no request"), into: &actions)
        }
    }
}
