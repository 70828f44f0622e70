/// Finds the next request head in a client's buffered bytes, incrementally:
/// skips the empty lines a server should ignore before a request line
/// (RFC 9112 §2.2), scans each byte once however the head is split across
/// reads, and applies the size limits (414, 431) before the head is complete,
/// so a peer cannot make the proxy hold more than one head's worth of bytes.
/// The proxy's client connection and the exchange fuzzer both drive it.
public struct RequestHeadReader: Sendable {
    public enum Step: Equatable, Sendable {
        /// Leading empty lines: consume this many bytes and call again.
        case skip(Int)
        /// The head is not complete yet: read more (after compacting a full buffer).
        case needMore
        /// Refuse with this status (and close).
        case refuse(Int)
        /// A complete head of this many bytes starts the buffer.
        case head(Int)
    }

    private var scanner = HeadScanner()

    public init() {}

    /// True while part of a head has been scanned (bytes other than empty lines).
    public var inHead: Bool { scanner.scanned > 0 }

    /// Looks at `bytes`, the client's unconsumed input (starting where the
    /// previous head ended). After `.head` the reader is ready for the next one.
    public mutating func next(_ bytes: UnsafeRawBufferPointer) -> Step {
        if scanner.scanned == 0 {
            let skip = HeadScanner.leadingEmptyLines(bytes)
            if skip > 0 { return .skip(skip) }
        }
        guard let length = scanner.scan(bytes) else {
            if bytes.count >= HTTPLimits.maxHead { return .refuse(scanner.lines == 0 ? 414 : 431) }
            if scanner.firstLineLength > HTTPLimits.maxRequestLine { return .refuse(414) }
            if scanner.lines > HTTPLimits.maxFields + 1 { return .refuse(431) }
            return .needMore
        }
        scanner.reset()
        if length > HTTPLimits.maxHead { return .refuse(431) }
        return .head(length)
    }
}
