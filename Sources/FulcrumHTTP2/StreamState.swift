/// One stream's state (RFC 9113 §5.1), events in → next state or error out.
/// Reserved states never occur: push is disabled both ways (we advertise
/// ENABLE_PUSH 0 and refuse PUSH_PROMISE), so they are not modelled.
///
///     idle ──HEADERS──▶ open ──END_STREAM in──▶ halfClosedRemote ──END_STREAM out──▶ closed
///                        └──END_STREAM out──▶ halfClosedLocal ──END_STREAM in──────────▶ closed
///     any ──RST_STREAM in or out──▶ closed
public enum StreamState: Equatable, Sendable {
    case idle
    case open
    /// We sent END_STREAM; the peer may still send.
    case halfClosedLocal
    /// The peer sent END_STREAM; we may still send.
    case halfClosedRemote
    case closed

    /// A frame the peer sent on this stream that the state machine cares about.
    public enum Inbound: Equatable, Sendable {
        case headers(endStream: Bool)
        case data(endStream: Bool)
        case rstStream
    }

    /// A frame we send.
    public enum Outbound: Equatable, Sendable {
        case headers(endStream: Bool)
        case data(endStream: Bool)
        case rstStream
    }

    /// Applies a received frame; on a violation returns the error to raise
    /// (the state is then left for the caller to close).
    public mutating func receive(_ e: Inbound, id: UInt32) -> H2Error? {
        switch (self, e) {
        case (_, .rstStream):
            self = .closed
        case (.idle, .headers(let end)):
            self = end ? .halfClosedRemote : .open
        case (.idle, .data):
            return .connection(.protocolError, "DATA on idle stream \(id)")
        case (.open, .headers(let end)), (.halfClosedLocal, .headers(let end)):
            // A second HEADERS is a trailer section: it must end the stream (§8.1).
            guard end else { return .stream(id, .protocolError, "trailers without END_STREAM") }
            self = self == .open ? .halfClosedRemote : .closed
        case (.open, .data(let end)):
            if end { self = .halfClosedRemote }
        case (.halfClosedLocal, .data(let end)):
            if end { self = .closed }
        case (.halfClosedRemote, _), (.closed, _):
            return .stream(id, .streamClosed, "frame after END_STREAM on stream \(id)")
        }
        return nil
    }

    /// Applies a frame we send. Sending on a stream that cannot carry it is a
    /// bug in the caller (the connection checks before).
    public mutating func send(_ e: Outbound) {
        switch (self, e) {
        case (_, .rstStream):
            self = .closed
        case (.open, .headers(let end)), (.open, .data(let end)):
            if end { self = .halfClosedLocal }
        case (.halfClosedRemote, .headers(let end)), (.halfClosedRemote, .data(let end)):
            if end { self = .closed }
        default:
            preconditionFailure("sending \(e) in \(self)")
        }
    }

    /// The peer may still send DATA (its END_STREAM not seen).
    public var remoteOpen: Bool { self == .open || self == .halfClosedLocal }
    /// We may still send.
    public var localOpen: Bool { self == .open || self == .halfClosedRemote }
}
