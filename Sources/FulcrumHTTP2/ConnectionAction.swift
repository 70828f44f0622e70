/// What the connection machine asks its driver to do. Frames to send are not
/// actions: they accumulate in `H2Connection.outbound`, which the driver
/// writes whenever it is not empty.
public enum ConnectionAction: Equatable, Sendable {
    /// A valid request head: start an exchange for this stream.
    case requestHead(stream: UInt32, RequestHead)
    /// Request body bytes: `bytes` is a range of the buffer given to `receive`
    /// (valid until the driver changes that buffer). Report them with
    /// `consumed(stream:_:)` once forwarded: that is what reopens the windows.
    /// `endStream` with an empty range ends a body.
    case requestData(stream: UInt32, bytes: Range<Int>, endStream: Bool)
    /// Request trailers; they end the request.
    case requestTrailers(stream: UInt32, HeaderList)
    /// The stream is gone (the client reset it, or it broke a rule after its
    /// head went out): abandon its exchange; never let its request reach a
    /// backend complete, and drop its unforwarded body bytes (the backend
    /// connection that got a partial body must not be reused).
    case streamReset(stream: UInt32, H2ErrorCode)
    /// A request that never reached the proxy: answered with `status` or reset
    /// with `code` by the machine itself (for logs and metrics only).
    case requestRefused(stream: UInt32, status: Int?, code: H2ErrorCode?, reason: String)
    /// The stream can take more DATA (a window opened, outbound drained).
    case streamWritable(stream: UInt32)
    /// Flush `outbound`, then close the connection. `error` is nil on a graceful end.
    case close(error: H2Error?)
}

/// The connection's phase (HAProxy's PREFACE, SETTINGS1, frames, ERROR).
public enum ConnectionPhase: Equatable, Sendable {
    /// Reading the 24-byte client preface; `matched` bytes so far.
    case preface(matched: Int)
    /// The preface is in; the next frame must be SETTINGS.
    case firstSettings
    case open
    /// GOAWAY sent: `finalSent` once the real last stream id went out;
    /// `since` is when the shutdown started (ms).
    case draining(finalSent: Bool, since: UInt64)
    case closed
}
