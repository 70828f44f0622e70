/// Where a body being streamed ends, whatever its framing. Fed the bytes
/// that follow the head, it says how many belong to this message (the rest
/// are the next pipelined request, or a protocol error on a response).
public struct BodyTracker: Sendable {
    public enum Progress: Equatable, Sendable {
        /// Take all of them; the body continues.
        case more
        /// Take this many; the body is complete.
        case complete(Int)
        case invalid(String)
    }

    enum Mode: Sendable {
        case none
        case length(UInt64)
        case chunked(ChunkedDecoder)
        case untilClose
    }

    var mode = Mode.none

    public init(_ framing: BodyFraming = .none) { reset(framing) }

    public mutating func reset(_ framing: BodyFraming) {
        switch framing {
        case .none: mode = .none
        case .length(let n): mode = n > 0 ? .length(UInt64(n)) : .none
        case .chunked: mode = .chunked(ChunkedDecoder())
        case .untilClose: mode = .untilClose
        }
    }

    /// True when there is nothing (left) to read.
    public var isComplete: Bool {
        if case .none = mode { return true }
        return false
    }

    /// True for a body delimited by the connection closing.
    public var endsAtClose: Bool {
        if case .untilClose = mode { return true }
        return false
    }

    /// Feeds the next bytes of the stream.
    public mutating func consume(_ bytes: UnsafeRawBufferPointer) -> Progress {
        consume(bytes) { _, _ in }
    }

    /// Feeds the next bytes, calling `data(offset, count)` for each run of
    /// payload (the chunk framing left out), for de-chunking.
    @inline(__always)
    public mutating func consume(_ bytes: UnsafeRawBufferPointer, data: (Int, Int) -> Void) -> Progress {
        switch mode {
        case .none:
            return .complete(0)
        case .untilClose:
            if bytes.count > 0 { data(0, bytes.count) }
            return .more
        case .length(let remaining):
            if UInt64(bytes.count) >= remaining {
                mode = .none
                if remaining > 0 { data(0, Int(remaining)) }
                return .complete(Int(remaining))
            }
            mode = .length(remaining - UInt64(bytes.count))
            if bytes.count > 0 { data(0, bytes.count) }
            return .more
        case .chunked(var decoder):
            let outcome = decoder.consume(bytes, data: data)
            switch outcome {
            case .needMore:
                mode = .chunked(decoder)
                return .more
            case .done(let n):
                mode = .none
                return .complete(n)
            case .invalid(let why):
                mode = .chunked(decoder)
                return .invalid(why)
            }
        }
    }

    /// True for a chunked body.
    public var isChunked: Bool {
        if case .chunked = mode { return true }
        return false
    }
}
