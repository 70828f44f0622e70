/// What a client makes us do without getting a response for it, counted per
/// accounting window (HARDENING.md: "count what a client makes you do per
/// byte it sends"). Two rules:
///  - glitches (HAProxy's word): PING, SETTINGS after the first, PRIORITY,
///    empty DATA, tiny WINDOW_UPDATE, unknown frames, refused or malformed
///    streams, frames on closed streams; past `glitchThreshold`, ENHANCE_YOUR_CALM;
///  - rapid reset (CVE-2023-44487, Envoy's rule): streams the client reset
///    before their response; past `rapidResetMinimum` and more than half of
///    the streams opened in the window, ENHANCE_YOUR_CALM. Each early reset is
///    also a glitch, so a slower trickle still meets the glitch budget.
struct AbuseCounters: Sendable, Equatable {
    var glitches = 0
    var opened = 0
    var earlyResets = 0
    var windowStart: UInt64 = 0

    /// Counts `n` glitches; true when the connection should end.
    mutating func glitch(_ n: Int = 1, threshold: Int) -> Bool {
        glitches += n
        return glitches > threshold
    }

    /// Counts a stream the client reset before its response; true when the connection should end.
    mutating func earlyReset(config: ConnectionConfig) -> Bool {
        earlyResets += 1
        if glitch(threshold: config.glitchThreshold) { return true }
        return earlyResets >= config.rapidResetMinimum && earlyResets * 2 > opened
    }

    /// A new accounting window starts at `now`.
    mutating func restart(at now: UInt64) {
        self = AbuseCounters(windowStart: now)
    }
}

/// The last few stream ids we closed, and whether we reset them: frames the
/// peer had in flight on a stream we reset are ignored (RFC 9113 §5.1
/// "closed"), frames on a stream it closed itself are STREAM_CLOSED errors.
struct RecentlyClosed: Sendable, Equatable {
    private var ids = [UInt32](repeating: 0, count: 32)
    private var weReset = [Bool](repeating: false, count: 32)
    private var next = 0

    mutating func add(_ id: UInt32, weReset reset: Bool) {
        ids[next] = id
        weReset[next] = reset
        next = (next + 1) % ids.count
    }

    /// nil when not remembered; else whether we reset it.
    func lookup(_ id: UInt32) -> Bool? {
        guard id != 0, let i = ids.firstIndex(of: id) else { return nil }
        return weReset[i]
    }
}
