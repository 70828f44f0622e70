import CFulcrumShim
import Glibc

/// What one non-blocking socket call did. Every connection type (proxy
/// client, backend, admin) reads and writes through `SocketIO`, so EAGAIN,
/// EINTR, EOF and errors are classified in one place.
public enum IOOutcome: Equatable, Sendable {
    /// This many bytes moved (> 0, except `write` of an empty buffer).
    case bytes(Int)
    /// Nothing to read, or the socket's send buffer is full: wait for readiness.
    case wouldBlock
    /// The buffer to read into has no room (back-pressure: read later).
    case noRoom
    /// The peer closed its sending side (reads only).
    case endOfStream
    /// The connection failed (errno), e.g. ECONNRESET or EPIPE.
    case failed(Int32)
}

/// Thin, inlined wrappers over read/writev/shutdown on non-blocking sockets.
public enum SocketIO {
    /// Reads what `fd` has into `buffer`'s tail, taking a buffer from `pool`
    /// if there is none and compacting it when its tail is full.
    @inline(__always)
    public static func read(_ fd: Int32, into buffer: inout ByteBuffer?, pool: BufferPool) -> IOOutcome {
        if buffer == nil { buffer = pool.take() }
        return read(fd, into: &buffer!)
    }

    /// Reads what `fd` has into `buffer`'s tail (compacting it first when the tail is full).
    @inline(__always)
    public static func read(_ fd: Int32, into buffer: inout ByteBuffer) -> IOOutcome {
        if buffer.writableCount == 0 { buffer.compact() }
        guard buffer.writableCount > 0 else { return .noRoom }
        let n = Glibc.read(fd, buffer.writableStart, buffer.writableCount)
        if n > 0 {
            buffer.writeIndex += n
            return .bytes(n)
        }
        if n == 0 { return .endOfStream }
        return classify(errno)
    }

    /// Writes up to two regions in one system call (either may be empty).
    @inline(__always)
    public static func writev(_ fd: Int32, _ a: UnsafeRawPointer?, _ aCount: Int, _ b: UnsafeRawPointer?, _ bCount: Int) -> IOOutcome {
        let n = fulcrum_writev2(fd, a, aCount, b, bCount)
        if n > 0 { return .bytes(n) }
        if n == 0 { return .wouldBlock }
        return classify(errno)
    }

    /// Half-closes the sending side (the peer reads EOF once it has everything).
    @inline(__always)
    public static func shutdownWrite(_ fd: Int32) {
        _ = Glibc.shutdown(fd, Int32(SHUT_WR))
    }

    // MARK: by handler: TLS when the connection has a session

    /// Like `read(fd:into:pool:)`, through the handler's TLS session if it has one.
    @inline(__always)
    public static func read(_ h: EventHandler, into buffer: inout ByteBuffer?, pool: BufferPool) -> IOOutcome {
        if buffer == nil { buffer = pool.take() }
        return read(h, into: &buffer!)
    }

    @inline(__always)
    public static func read(_ h: EventHandler, into buffer: inout ByteBuffer) -> IOOutcome {
        if let tls = h.tls { return tls.read(h, into: &buffer) }
        return read(h.fd, into: &buffer)
    }

    @inline(__always)
    public static func writev(_ h: EventHandler, _ a: UnsafeRawPointer?, _ aCount: Int, _ b: UnsafeRawPointer?, _ bCount: Int) -> IOOutcome {
        if let tls = h.tls { return tls.writev(h, a, aCount, b, bCount) }
        return writev(h.fd, a, aCount, b, bCount)
    }

    /// Writes the readable bytes of `buffer` (through TLS if the handler has a session) and consumes what went out.
    @inline(__always)
    public static func write(_ h: EventHandler, from buffer: inout ByteBuffer) -> IOOutcome {
        guard !buffer.isEmpty else { return .bytes(0) }
        let outcome = writev(h, buffer.base + buffer.readIndex, buffer.readableCount, nil, 0)
        if case .bytes(let n) = outcome { buffer.consume(n) }
        return outcome
    }

    /// Half-closes the sending side; a TLS connection sends close_notify first.
    @inline(__always)
    public static func shutdownWrite(_ h: EventHandler) {
        h.tls?.shutdown()
        shutdownWrite(h.fd)
    }

    /// Reads and discards up to `count` bytes into scratch memory `p`.
    @inline(__always)
    public static func read(_ h: EventHandler, into p: UnsafeMutableRawPointer, count: Int) -> IOOutcome {
        if let tls = h.tls { return tls.read(h, into: p, count: count) }
        let n = Glibc.read(h.fd, p, count)
        return n > 0 ? .bytes(n) : n == 0 ? .endOfStream : classify(errno)
    }

    @inline(__always)
    public static func classify(_ e: Int32) -> IOOutcome {
        e == EAGAIN || e == EWOULDBLOCK || e == EINTR ? .wouldBlock : .failed(e)
    }
}
