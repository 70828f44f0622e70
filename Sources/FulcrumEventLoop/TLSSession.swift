import CFulcrumShim
import FulcrumCore
import Glibc

/// One connection's TLS state over the dlopen'd OpenSSL (`fulcrum_tls.h`).
/// A handler with a session reads and writes through it (`SocketIO` checks
/// `handler.tls`, one branch per call; plain connections pay nothing else).
///
/// The handshake is driven by the first reads and writes, so the
/// connections' own state machines need no new states: a read or write
/// during the handshake just "would block" until it completes, and the
/// header timeout (clients) or connect and response timeouts (backends)
/// bound a peer that stalls mid-handshake.
///
/// Non-blocking TLS crosses directions: a read may need the socket writable
/// (a handshake flight, a key update) and a write may need it readable. The
/// session remembers which, and the event loop widens the epoll interest and
/// maps the readiness back (`adjust`, `translate`). Decrypted bytes OpenSSL
/// already holds are invisible to level-triggered epoll: the loop delivers a
/// synthetic readable event for them (`EventLoop.notePending`).
public final class TLSSession {
    public enum State: Equatable {
        case handshaking
        case established
        /// close_notify sent: nothing more is written.
        case shuttingDown
        /// The handshake or the connection failed.
        case failed
    }

    let raw: OpaquePointer
    public private(set) var state = State.handshaking
    /// A read returned WANT_WRITE: readable progress needs writability.
    var readWantsWrite = false
    /// A write returned WANT_READ.
    var writeWantsRead = false
    /// The epoll mask actually registered (the handler's `interest` is what it asked for).
    var registered: UInt32 = 0
    /// In the loop's pending list.
    var pendingQueued = false
    /// The last read wanted more from the socket: whatever OpenSSL holds is
    /// a partial record, so only a real readable event can help (no
    /// synthetic ones until then, or a partial record would spin the loop).
    var starved = false

    /// The loop the connection lives on (it outlives every connection).
    unowned(unsafe) let loop: EventLoop

    /// To a backend (a failed handshake there is the operator's business: logged as a warning).
    let toBackend: Bool

    private init(raw: OpaquePointer, loop: EventLoop, toBackend: Bool) {
        self.raw = raw
        self.loop = loop
        self.toBackend = toBackend
    }

    deinit { fulcrum_tls_free(raw) }

    /// A server session on an accepted socket, or nil when no certificate is installed.
    public static func accepting(fd: Int32, loop: EventLoop) -> TLSSession? {
        fulcrum_tls_accept(fd).map { TLSSession(raw: $0, loop: loop, toBackend: false) }
    }

    /// A client session to `host` (verified, SNI), or nil when the backend TLS context is not set up.
    public static func connecting(fd: Int32, host: String, loop: EventLoop) -> TLSSession? {
        host.withCString { fulcrum_tls_connect(fd, $0) }.map { TLSSession(raw: $0, loop: loop, toBackend: true) }
    }

    /// After an end of stream: the peer's TCP connection ended without its
    /// close_notify (tracked on backends' sessions). A body delimited by the
    /// close is then cut short, perhaps by an attacker (RFC 9112 §9.8).
    public var endedWithoutCloseNotify: Bool { fulcrum_tls_truncated(raw) != 0 }

    /// Why the last call on this thread failed.
    public static var lastError: String { String(cString: fulcrum_tls_error_text()) }

    var hasPending: Bool { state == .established && !starved && fulcrum_tls_pending(raw) > 0 }

    /// The socket reported readable: new bytes may complete a record.
    @inline(__always)
    func socketReadable() { starved = false }

    // MARK: interest

    /// The mask to register for what the handler asked: a direction whose
    /// progress waits on the other direction waits for that one instead
    /// (waiting for "writable" while OpenSSL needs input would spin).
    @inline(__always)
    func adjust(_ interest: UInt32) -> UInt32 { Self.adjust(interest, readWantsWrite: readWantsWrite, writeWantsRead: writeWantsRead) }

    /// Readiness as the handler understands it: "writable" is "readable" to a read that waits on a write, and vice versa.
    @inline(__always)
    func translate(_ events: UInt32) -> UInt32 { Self.translate(events, readWantsWrite: readWantsWrite, writeWantsRead: writeWantsRead) }

    @inline(__always)
    static func adjust(_ interest: UInt32, readWantsWrite: Bool, writeWantsRead: Bool) -> UInt32 {
        let rw = EventMask.readable | EventMask.writable
        var out = interest & ~rw
        if interest & EventMask.readable != 0 { out |= readWantsWrite ? EventMask.writable : EventMask.readable }
        if interest & EventMask.writable != 0 { out |= writeWantsRead ? EventMask.readable : EventMask.writable }
        return out
    }

    @inline(__always)
    static func translate(_ events: UInt32, readWantsWrite: Bool, writeWantsRead: Bool) -> UInt32 {
        var e = events
        if readWantsWrite && e & EventMask.writable != 0 { e |= EventMask.readable }
        if writeWantsRead && e & EventMask.readable != 0 { e |= EventMask.writable }
        return e
    }

    private func want(read: Bool, _ result: Int, _ handler: EventHandler) {
        let crossed = read ? result == Int(FULCRUM_TLS_WANT_WRITE) : result == Int(FULCRUM_TLS_WANT_READ)
        let changed = read ? readWantsWrite != crossed : writeWantsRead != crossed
        guard changed else { return }
        if read { readWantsWrite = crossed } else { writeWantsRead = crossed }
        loop.refreshInterest(handler)
    }

    // MARK: I/O

    /// Advances the handshake; nil once established, else what the caller's call "did".
    @inline(never)
    private func handshake(read: Bool, _ handler: EventHandler) -> IOOutcome? {
        let r = fulcrum_tls_handshake(raw)
        if r == 1 {
            state = .established
            if readWantsWrite || writeWantsRead {
                readWantsWrite = false
                writeWantsRead = false
                loop.refreshInterest(handler)
            }
            return nil
        }
        if r == FULCRUM_TLS_WANT_READ || r == FULCRUM_TLS_WANT_WRITE {
            // Either direction may be what the handshake waits for, whoever called.
            let wantsWrite = r == FULCRUM_TLS_WANT_WRITE
            if readWantsWrite != wantsWrite || writeWantsRead != !wantsWrite {
                readWantsWrite = wantsWrite
                writeWantsRead = !wantsWrite
                loop.refreshInterest(handler)
            }
            return .wouldBlock
        }
        state = .failed
        if toBackend { Log.warn("TLS handshake with a backend failed: \(TLSSession.lastError)") } else {
            Log.debug("TLS handshake failed: \(TLSSession.lastError)")
        }
        return .failed(EPROTO)
    }

    func read(_ handler: EventHandler, into buffer: inout ByteBuffer) -> IOOutcome {
        if state != .established {
            if state == .handshaking, let o = handshake(read: true, handler) { return o }
            if state == .failed { return .failed(EPROTO) }
        }
        if buffer.writableCount == 0 { buffer.compact() }
        guard buffer.writableCount > 0 else { return .noRoom }
        let n = fulcrum_tls_read(raw, buffer.writableStart, buffer.writableCount)
        if n > 0 {
            buffer.writeIndex += n
            starved = false
            if readWantsWrite { want(read: true, 0, handler) }
            if fulcrum_tls_pending(raw) > 0 { loop.notePending(handler) }
            return .bytes(n)
        }
        return classify(read: true, n, handler)
    }

    /// Reads into raw memory (a pooled connection checking for stray bytes).
    func read(_ handler: EventHandler, into p: UnsafeMutableRawPointer, count: Int) -> IOOutcome {
        if state == .handshaking, let o = handshake(read: true, handler) { return o }
        if state == .failed { return .failed(EPROTO) }
        let n = fulcrum_tls_read(raw, p, count)
        return n > 0 ? .bytes(n) : classify(read: true, n, handler)
    }

    /// Writes `a` then `b` (TLS has no writev): the bytes taken, or why none were.
    func writev(_ handler: EventHandler, _ a: UnsafeRawPointer?, _ aCount: Int, _ b: UnsafeRawPointer?, _ bCount: Int) -> IOOutcome {
        if state != .established {
            if state == .handshaking, let o = handshake(read: false, handler) { return o }
            if state != .established { return .failed(EPIPE) }
        }
        var total = 0
        if aCount > 0 && bCount > 0 && aCount < Int(FULCRUM_TLS_RECORD) {
            // A head and the start of its body: one record, one system call.
            let n = fulcrum_tls_write2(raw, a, aCount, b, bCount)
            if n <= 0 { return classify(read: false, n, handler) }
            total = n
        }
        if total < aCount, let o = writeAll(handler, a! + total, aCount - total, &total) { return o }
        let bDone = total - aCount
        if bCount > bDone, let o = writeAll(handler, b! + bDone, bCount - bDone, &total) { return o }
        if writeWantsRead { want(read: false, 0, handler) }
        return total > 0 ? .bytes(total) : .wouldBlock
    }

    /// Writes `count` bytes at `p`, adding what went to `total`; nil when all
    /// went, else what to report (the bytes so far, or why none went).
    @inline(__always)
    private func writeAll(_ handler: EventHandler, _ p: UnsafeRawPointer, _ count: Int, _ total: inout Int) -> IOOutcome? {
        var done = 0
        defer { total += done }
        while done < count {
            let n = fulcrum_tls_write(raw, p + done, count - done)
            if n > 0 { done += n; continue }
            let o = classify(read: false, n, handler)
            // Report what went; the retry starts where this stopped.
            return total + done > 0 && o == .wouldBlock ? .bytes(total + done) : o
        }
        return nil
    }

    /// close_notify, once.
    func shutdown() {
        guard state == .established else { return }
        state = .shuttingDown
        fulcrum_tls_shutdown(raw)
    }

    private func classify(read: Bool, _ n: Int, _ handler: EventHandler) -> IOOutcome {
        switch n {
        case FULCRUM_TLS_WANT_READ, FULCRUM_TLS_WANT_WRITE:
            if read && n == FULCRUM_TLS_WANT_READ { starved = true }
            want(read: read, n, handler)
            return .wouldBlock
        case FULCRUM_TLS_EOF:
            return .endOfStream
        default:
            state = .failed
            return .failed(EPROTO)
        }
    }
}
