import CFulcrumShim

extension EventLoop {
    /// Hands `old`'s socket (and TLS session) to `new` without closing it:
    /// a connection that turns out to speak another protocol (the HTTP/2
    /// preface on a listener that starts every connection as HTTP/1.1)
    /// changes its driver. `old` ends up closed-looking (fd -1) and released.
    public func transfer(from old: EventHandler, to new: EventHandler, events: UInt32) -> Bool {
        guard old.fd >= 0 else { return false }
        DeadlineQueue.disarm(old)
        let fd = old.fd
        new.tls = old.tls
        new.fd = fd
        new.interest = events
        var actual = events
        if let tls = new.tls {
            actual = tls.adjust(events)
            tls.registered = actual
        }
        let token = UInt64(UInt(bitPattern: Unmanaged.passUnretained(new).toOpaque()))
        guard fulcrum_epoll_ctl(epfd, Int32(FULCRUM_EPOLL_CTL_MOD), fd, actual, token) == 0 else { return false }
        new.retainedByLoop = Unmanaged.passRetained(new)
        old.fd = -1
        old.interest = 0
        old.tls = nil
        if let retained = old.retainedByLoop {
            old.retainedByLoop = nil
            graveyard.append(old)
            retained.release()
        }
        if let tls = new.tls, tls.hasPending { notePending(new) }
        return true
    }
}
