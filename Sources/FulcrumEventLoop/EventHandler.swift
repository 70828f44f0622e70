import CFulcrumShim

/// Anything an `EventLoop` dispatches to: a socket and what to do when it is
/// ready or when its deadline passes. A class hierarchy rather than a
/// protocol, so dispatch is one vtable call.
open class EventHandler {
    /// The file descriptor, or -1 once closed.
    public internal(set) var fd: Int32 = -1
    /// The epoll events currently asked for.
    public internal(set) var interest: UInt32 = 0
    public var isOpen: Bool { fd >= 0 }
    /// The TLS session when this connection is encrypted (nil: plain, the
    /// only cost being this check in `SocketIO` and the loop).
    public final var tls: TLSSession?

    /// The loop's own reference while registered (released after the batch
    /// in which the handler is closed, so late events in that batch are safe).
    var retainedByLoop: Unmanaged<EventHandler>?

    // Deadline queue links: a handler waits in at most one queue at a time.
    var timerNext: EventHandler?
    unowned(unsafe) var timerPrev: EventHandler?
    unowned(unsafe) var timerQueue: DeadlineQueue?
    /// When the timer fires (coarse monotonic ms).
    public internal(set) var timerDeadline: UInt64 = 0

    public init() {}

    /// `events` is the epoll mask (EPOLLIN, EPOLLOUT, EPOLLERR, EPOLLHUP, EPOLLRDHUP).
    open func handleEvent(_ events: UInt32) {}

    /// The handler's deadline passed.
    open func timerExpired(now: UInt64) {}
}

public enum EventMask {
    public static let readable = UInt32(FULCRUM_EPOLLIN)
    public static let writable = UInt32(FULCRUM_EPOLLOUT)
    public static let error = UInt32(FULCRUM_EPOLLERR)
    public static let hangUp = UInt32(FULCRUM_EPOLLHUP)
    public static let readHangUp = UInt32(FULCRUM_EPOLLRDHUP)
}
