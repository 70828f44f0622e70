import FulcrumCore

/// A point on the monotonic clock after which a call gives up. Every etcd
/// call carries one, so a hung etcd (accepting, never answering) fails the
/// call in bounded time instead of blocking an admin request forever.
public struct Deadline: Sendable {
    public let nanos: UInt64

    public init(seconds: Double) { nanos = Clock.monotonicNanos() + UInt64(max(0, seconds) * 1e9) }
    init(nanos: UInt64) { self.nanos = nanos }

    public static var never: Deadline { Deadline(nanos: .max / 2) }

    /// Milliseconds left, for poll(2); 0 once passed.
    var remainingMillis: Int32 {
        let now = Clock.monotonicNanos()
        guard nanos > now else { return 0 }
        return Int32(min(UInt64(Int32.max), (nanos - now + 999_999) / 1_000_000))
    }

    var passed: Bool { Clock.monotonicNanos() >= nanos }

    /// The earlier of this one and `seconds` from now.
    func capped(seconds: Double) -> Deadline {
        Deadline(nanos: min(nanos, Deadline(seconds: seconds).nanos))
    }
}
