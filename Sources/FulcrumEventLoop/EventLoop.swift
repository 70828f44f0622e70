import CFulcrumShim
import FulcrumCore
import Glibc
import Synchronization

/// One epoll instance driven by one thread. Level-triggered: a handler reads
/// once per readiness report (no extra read to reach EAGAIN), and stops
/// reading from a side by dropping EPOLLIN from its interest (back-pressure).
///
/// Handlers are retained while registered; closing one unregisters it but
/// keeps it alive until the end of the current batch of events, so an event
/// for it later in the same batch finds a closed handler, never a freed one.
public final class EventLoop: @unchecked Sendable {
    public let name: String
    let epfd: Int32
    private let wakeFD: Int32
    private let wakeHandler: WakeHandler
    private let events: UnsafeMutablePointer<fulcrum_event>
    private static let batch = 256
    var graveyard: [EventHandler] = []
    private var queues: [DeadlineQueue] = []
    /// TLS handlers whose sessions hold decrypted bytes (see `notePending`).
    private var tlsPending: [EventHandler] = []
    private var running = false
    private let tasks = Mutex<[@Sendable () -> Void]>([])
    /// Coarse monotonic milliseconds, read once per batch.
    public private(set) var now: UInt64 = Clock.coarseMillis()
    /// Runs after every batch of events (e.g. flushing a log buffer).
    public var afterBatch: (() -> Void)?
    /// Runs about once a second.
    public var everySecond: (() -> Void)?
    private var lastTick: UInt64 = 0

    public init(name: String) {
        self.name = name
        epfd = fulcrum_epoll_create()
        precondition(epfd >= 0, "epoll_create1 failed: \(errno)")
        wakeFD = fulcrum_eventfd()
        precondition(wakeFD >= 0, "eventfd failed: \(errno)")
        events = .allocate(capacity: Self.batch)
        wakeHandler = WakeHandler()
        register(wakeHandler, fd: wakeFD, events: EventMask.readable)
    }

    deinit {
        Glibc.close(epfd)
        Glibc.close(wakeFD)
        events.deallocate()
    }

    /// A queue for one timeout duration, served by this loop.
    public func makeDeadlineQueue(milliseconds: UInt64) -> DeadlineQueue {
        let q = DeadlineQueue(milliseconds: milliseconds)
        queues.append(q)
        return q
    }

    // MARK: registration (loop thread only)

    @discardableResult
    public func register(_ handler: EventHandler, fd: Int32, events: UInt32) -> Bool {
        handler.fd = fd
        handler.interest = events
        var events = events
        if let tls = handler.tls {
            events = tls.adjust(events)
            tls.registered = events
        }
        let token = UInt64(UInt(bitPattern: Unmanaged.passUnretained(handler).toOpaque()))
        guard fulcrum_epoll_ctl(epfd, Int32(FULCRUM_EPOLL_CTL_ADD), fd, events, token) == 0 else { return false }
        handler.retainedByLoop = Unmanaged.passRetained(handler)
        return true
    }

    /// Changes what `handler` waits for; a no-op when unchanged.
    @inline(__always)
    public func setInterest(_ handler: EventHandler, _ events: UInt32) {
        if let tls = handler.tls { setTLSInterest(handler, tls, events); return }
        guard handler.fd >= 0, handler.interest != events else { return }
        handler.interest = events
        let token = UInt64(UInt(bitPattern: Unmanaged.passUnretained(handler).toOpaque()))
        _ = fulcrum_epoll_ctl(epfd, Int32(FULCRUM_EPOLL_CTL_MOD), handler.fd, events, token)
    }

    /// A TLS handler's interest: what it asked for, adjusted for what
    /// OpenSSL waits on; buffered plaintext counts as readable.
    @inline(never)
    func setTLSInterest(_ handler: EventHandler, _ tls: TLSSession, _ events: UInt32) {
        guard handler.fd >= 0 else { return }
        handler.interest = events
        if events & EventMask.readable != 0 && tls.hasPending { notePending(handler) }
        let actual = tls.adjust(events)
        guard actual != tls.registered else { return }
        tls.registered = actual
        let token = UInt64(UInt(bitPattern: Unmanaged.passUnretained(handler).toOpaque()))
        _ = fulcrum_epoll_ctl(epfd, Int32(FULCRUM_EPOLL_CTL_MOD), handler.fd, actual, token)
    }

    /// Re-registers a TLS handler after its session's wants changed.
    func refreshInterest(_ handler: EventHandler) {
        if let tls = handler.tls { setTLSInterest(handler, tls, handler.interest) }
    }

    /// `handler`'s session holds decrypted bytes: it gets a readable event
    /// after this batch (epoll cannot report them).
    func notePending(_ handler: EventHandler) {
        guard let tls = handler.tls, !tls.pendingQueued else { return }
        tls.pendingQueued = true
        tlsPending.append(handler)
    }

    /// Delivers the synthetic readable events (one round per batch).
    private func deliverPending() {
        let list = tlsPending
        tlsPending.removeAll(keepingCapacity: true)
        for h in list {
            guard let tls = h.tls else { continue }
            tls.pendingQueued = false
            if h.fd >= 0 && h.interest & EventMask.readable != 0 && tls.hasPending { h.handleEvent(EventMask.readable) }
        }
    }

    /// Closes the handler's socket (which also removes it from epoll) and
    /// disarms its timer. With `reset`, the peer gets an RST instead of a FIN.
    public func close(_ handler: EventHandler, reset: Bool = false) {
        guard handler.fd >= 0 else { return }
        DeadlineQueue.disarm(handler)
        if !reset, let tls = handler.tls { tls.shutdown() }
        if reset { _ = fulcrum_close_reset(handler.fd) } else { Glibc.close(handler.fd) }
        handler.fd = -1
        handler.interest = 0
        if let retained = handler.retainedByLoop {
            handler.retainedByLoop = nil
            graveyard.append(handler)
            retained.release()
        }
    }

    // MARK: cross-thread

    /// Runs `task` on the loop thread soon. Safe from any thread.
    public func execute(_ task: @escaping @Sendable () -> Void) {
        tasks.withLock { $0.append(task) }
        var one: UInt64 = 1
        _ = write(wakeFD, &one, 8)
    }

    /// Makes `run` return after the current batch. Safe from any thread.
    public func stop() { execute { [unowned self] in self.running = false } }

    // MARK: running

    /// Runs until `stop`.
    public func run() {
        running = true
        while running {
            let timeout = nextTimeout()
            let n = fulcrum_epoll_wait(epfd, events, Int32(Self.batch), timeout)
            now = Clock.coarseMillis()
            if n > 0 {
                // Cross-thread tasks first (e.g. a new registry snapshot): a
                // request that arrived after a change was published sees it.
                for i in 0..<Int(n) where UInt(events[i].token) == UInt(bitPattern: Unmanaged.passUnretained(wakeHandler).toOpaque()) {
                    drainWakeups()
                }
                for i in 0..<Int(n) {
                    let e = events[i]
                    let handler = Unmanaged<EventHandler>.fromOpaque(UnsafeRawPointer(bitPattern: UInt(e.token))!).takeUnretainedValue()
                    if handler !== wakeHandler && handler.fd >= 0 {
                        if let tls = handler.tls {
                            if e.events & EventMask.readable != 0 { tls.socketReadable() }
                            handler.handleEvent(tls.translate(e.events))
                        } else {
                            handler.handleEvent(e.events)
                        }
                    }
                }
            } else if n < 0 && errno != EINTR {
                Log.error("\(name): epoll_wait failed: \(String(cString: strerror(errno)))")
            }
            if !tlsPending.isEmpty { deliverPending() }
            for q in queues { q.expire(now: now) }
            if now &- lastTick >= 1000 {
                lastTick = now
                everySecond?()
            }
            afterBatch?()
            if !graveyard.isEmpty { graveyard.removeAll(keepingCapacity: true) }
        }
    }

    private func nextTimeout() -> Int32 {
        if !tlsPending.isEmpty { return 0 }
        var soonest: UInt64 = 1000  // at most a second between ticks
        let current = Clock.coarseMillis()
        for q in queues {
            if let d = q.nextDeadline {
                soonest = min(soonest, d > current ? d - current : 0)
            }
        }
        return Int32(soonest)
    }

    private func drainWakeups() {
        var value: UInt64 = 0
        _ = read(wakeFD, &value, 8)
        let pending = tasks.withLock { t -> [@Sendable () -> Void] in
            let copy = t
            t.removeAll()
            return copy
        }
        for task in pending { task() }
    }
}

/// The eventfd that `execute` pokes.
final class WakeHandler: EventHandler {}
