/// What we may send to the peer on a stream or the connection (RFC 9113 §5.2,
/// §6.9). It may go negative when the peer lowers SETTINGS_INITIAL_WINDOW_SIZE
/// (§6.9.2); sending then waits until WINDOW_UPDATEs bring it above zero.
public struct SendWindow: Equatable, Sendable {
    public private(set) var value: Int

    public init(_ initial: Int) { value = initial }

    /// Bytes that may be sent now.
    public var available: Int { max(0, value) }

    /// A WINDOW_UPDATE: false when the window would pass 2^31-1 (FLOW_CONTROL_ERROR:
    /// a stream error for a stream, a connection error for the connection).
    public mutating func increment(_ n: Int) -> Bool {
        precondition(n > 0)
        guard value + n <= H2.maxWindow else { return false }
        value += n
        return true
    }

    /// The peer's SETTINGS_INITIAL_WINDOW_SIZE moved by `delta` (may be
    /// negative): every stream window moves by it; false on overflow.
    public mutating func adjust(by delta: Int) -> Bool {
        guard value + delta <= H2.maxWindow else { return false }
        value += delta
        return true
    }

    /// Bytes were sent (never more than `available`).
    public mutating func consume(_ n: Int) {
        precondition(n >= 0 && n <= available, "sending \(n) with a window of \(value)")
        value -= n
    }
}

/// What the peer may send us, and when to open it again. Bytes are credited
/// back only when the driver says it consumed them (forwarded to the backend
/// or dropped), so the bytes held per stream never exceed its window and per
/// connection never exceed the connection window: memory is bounded whatever
/// the client sends, and a stalled stream stalls only its own window.
/// A WINDOW_UPDATE goes out once half the target is consumed (as nghttp2 and
/// h2o do): few updates, and the peer never waits on a nearly empty window.
public struct ReceiveWindow: Equatable, Sendable {
    /// The window we keep open.
    public let target: Int
    /// What the peer may still send before it must wait.
    public private(set) var remaining: Int
    /// Consumed since the last WINDOW_UPDATE.
    public private(set) var pending = 0

    public init(target: Int, advertised: Int) {
        self.target = target
        remaining = advertised
    }

    /// The peer sent `n` flow-controlled bytes: false when that is more than
    /// it was allowed (FLOW_CONTROL_ERROR).
    public mutating func receive(_ n: Int) -> Bool {
        guard n <= remaining else { return false }
        remaining -= n
        return true
    }

    /// The driver consumed `n` received bytes. Returns the increment of the
    /// WINDOW_UPDATE to send now, if one is due.
    public mutating func consumed(_ n: Int) -> Int? {
        pending += n
        let increment = target - remaining
        guard increment > 0, pending >= target / 2 || remaining == 0 else { return nil }
        // Never advertise bytes still held by the driver: credit what was consumed.
        let credit = min(pending, increment)
        pending -= credit
        remaining += credit
        return credit
    }

    /// Opens the window to `target` at once (the connection window after our
    /// SETTINGS): the increment to send, if any.
    public mutating func openToTarget() -> Int? {
        let increment = target - remaining
        guard increment > 0 else { return nil }
        remaining = target
        return increment
    }
}
