/// Why an etcd call failed, sorted by what the caller should do about it.
public struct EtcdError: Error, CustomStringConvertible, Sendable {
    public enum Kind: Sendable, Equatable {
        /// No endpoint answered in time (refused, reset, timed out): etcd is unreachable.
        case unavailable
        /// etcd answered, but with an error (HTTP status or a gRPC error body).
        case server
        /// The answer did not parse: a bug or a proxy in the way.
        case protocolError
        /// The watch's start revision was compacted: list again.
        case compacted
        /// What was applied no longer matches etcd (a watch that stopped
        /// delivering, a restored etcd): list again.
        case stale
        /// A bad -registry value.
        case usage
    }

    public let kind: Kind
    public let message: String

    public init(_ kind: Kind, _ message: String) {
        self.kind = kind
        self.message = message
    }

    public var description: String { message }
}
