/// Handlers waiting for one fixed-duration timeout (header timeout, idle
/// timeout, backend response timeout…). Because every handler in a queue
/// waits the same duration, arming appends at the tail and the queue stays
/// ordered by deadline: arm, disarm and expiry are O(1), with no heap and no
/// allocation. `rearm(_:deadline:)` covers inactivity timeouts that are
/// pushed back lazily: on expiry a handler that saw activity re-enters at
/// its new deadline, found by walking back from the tail (a step or two).
public final class DeadlineQueue {
    /// The timeout, in milliseconds.
    public let duration: UInt64
    fileprivate var head: EventHandler?
    private unowned(unsafe) var tail: EventHandler?
    public private(set) var count = 0

    public init(milliseconds: UInt64) { duration = milliseconds }

    /// Arms `handler` to fire `duration` after `now`, leaving any queue it was in.
    public func arm(_ handler: EventHandler, now: UInt64) {
        rearm(handler, deadline: now &+ duration)
    }

    /// Arms `handler` to fire at `deadline` (at most `duration` from now).
    public func rearm(_ handler: EventHandler, deadline: UInt64) {
        if handler.timerQueue != nil { DeadlineQueue.disarm(handler) }
        handler.timerDeadline = deadline
        handler.timerQueue = self
        count += 1
        // Find the last handler due no later than this one (usually the tail).
        var after = tail
        while let a = after, a.timerDeadline > deadline { after = a.timerPrev }
        if let a = after {
            handler.timerNext = a.timerNext
            handler.timerPrev = a
            if let n = a.timerNext { n.timerPrev = handler } else { tail = handler }
            a.timerNext = handler
        } else {
            handler.timerNext = head
            handler.timerPrev = nil
            if let h = head { h.timerPrev = handler } else { tail = handler }
            head = handler
        }
    }

    /// Removes `handler` from whatever queue it waits in.
    public static func disarm(_ handler: EventHandler) {
        guard let queue = handler.timerQueue else { return }
        let next = handler.timerNext
        if let prev = handler.timerPrev { prev.timerNext = next } else { queue.head = next }
        if let next { next.timerPrev = handler.timerPrev } else { queue.tail = handler.timerPrev }
        handler.timerNext = nil
        handler.timerPrev = nil
        handler.timerQueue = nil
        queue.count -= 1
    }

    /// The earliest deadline, if any handler waits.
    public var nextDeadline: UInt64? { head?.timerDeadline }

    /// Fires every handler whose deadline is at or before `now`.
    func expire(now: UInt64) {
        while let h = head, h.timerDeadline <= now {
            DeadlineQueue.disarm(h)
            h.timerExpired(now: now)
        }
    }
}

extension DeadlineQueue {
    /// Visits every waiting handler (oldest first). The body must not change the queue.
    public func forEach(_ body: (EventHandler) -> Void) {
        var h = head
        while let current = h {
            h = current.timerNext
            body(current)
        }
    }
}
