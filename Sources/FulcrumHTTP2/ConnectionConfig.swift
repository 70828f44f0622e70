/// The limits of one HTTP/2 connection. Defaults follow ANCHORS.md: 100
/// concurrent streams (h2o, Envoy's edge guidance), 64 KiB stream windows and
/// a 1 MiB connection window (Envoy), 16 KiB frames, 64 KiB header lists, and
/// flood thresholds in the spirit of HAProxy's glitches and Envoy's
/// rapid-reset rule.
public struct ConnectionConfig: Sendable {
    /// Which end we are. Only `.server` (toward clients) handles requests today;
    /// the role already decides the preface direction and stream-id parity so
    /// an h2 backend side can reuse the machine.
    public enum Role: Sendable { case server, client }

    public var role: Role = .server
    public var maxConcurrentStreams = 100
    /// Our SETTINGS_INITIAL_WINDOW_SIZE: what a client may send per stream before we credit it.
    public var initialStreamWindow = 65_536
    /// The connection receive window, opened with a WINDOW_UPDATE after our SETTINGS.
    public var connectionWindow = 1 << 20
    /// Our SETTINGS_MAX_FRAME_SIZE.
    public var maxFrameSize = H2.minMaxFrameSize
    /// Our SETTINGS_MAX_HEADER_LIST_SIZE; a larger request gets a 431.
    public var maxHeaderListSize = 64 * 1024
    public var headerTableSize = H2.defaultHeaderTableSize
    /// Compressed bytes of one header block before END_HEADERS (CONTINUATION flood): past it, ENHANCE_YOUR_CALM.
    public var maxHeaderBlockBytes = 64 * 1024 + 1024
    /// CONTINUATION frames in one header block (empty ones add no bytes).
    public var maxContinuationFrames = 64
    /// Outbound bytes we hold before we stop reading the peer (it does not read what we send).
    public var maxOutboundBytes = 256 * 1024
    /// Frames that cost us without serving a request (PING, SETTINGS, PRIORITY,
    /// empty DATA, tiny WINDOW_UPDATE, unknown frames, refused streams, frames on
    /// closed streams) within one accounting window: past it, ENHANCE_YOUR_CALM.
    public var glitchThreshold = 1_000
    /// Streams reset by the client before their response within one window: past
    /// `rapidResetMinimum` and more than half the streams opened, ENHANCE_YOUR_CALM.
    public var rapidResetMinimum = 200
    /// The accounting window of the counters above, in milliseconds (reset by `tick`).
    public var accountingWindowMs: UInt64 = 10_000
    /// A stream waiting on the peer (its body, or a WINDOW_UPDATE) this long is reset (`-body-timeout`).
    public var streamIdleTimeoutMs: UInt64 = 60_000
    /// A connection without streams and without frames this long is closed with GOAWAY.
    public var connectionIdleTimeoutMs: UInt64 = 120_000
    /// Our SETTINGS must be acknowledged within this (else SETTINGS_TIMEOUT).
    public var settingsTimeoutMs: UInt64 = 10_000
    /// Graceful shutdown: the final GOAWAY follows the first after the PING's
    /// ACK or after this long, whichever comes first.
    public var shutdownGraceMs: UInt64 = 1_000

    public init() {}

    /// The SETTINGS we send (ENABLE_PUSH 0: we never push, and a server must not be pushed to).
    var advertised: [(SettingID, UInt32)] {
        var s: [(SettingID, UInt32)] = [
            (.maxConcurrentStreams, UInt32(maxConcurrentStreams)),
            (.initialWindowSize, UInt32(initialStreamWindow)),
            (.maxFrameSize, UInt32(maxFrameSize)),
            (.maxHeaderListSize, UInt32(maxHeaderListSize)),
        ]
        if headerTableSize != H2.defaultHeaderTableSize { s.append((.headerTableSize, UInt32(headerTableSize))) }
        if role == .client { s.append((.enablePush, 0)) }
        else { s.insert((.enablePush, 0), at: 0) }
        return s
    }
}
