import CFulcrumShim
import FulcrumCore
import Glibc

/// Why a socket call failed, with errno and the words to log.
public struct SocketError: Error, CustomStringConvertible, Sendable {
    public let code: Int32
    public let action: String
    public init(_ action: String, _ code: Int32) {
        self.action = action
        self.code = code
    }
    public var description: String {
        switch code {
        case EADDRINUSE: return "\(action): address already in use"
        case EACCES: return "\(action): permission denied"
        case EADDRNOTAVAIL: return "\(action): address not available"
        default: return "\(action): \(String(cString: strerror(code)))"
        }
    }
}

/// Non-blocking socket set-up, thin over the system calls.
public enum Socket {
    /// A listening socket on `address`; with `reusePort`, several workers
    /// can each have their own (the kernel spreads connections among them).
    public static func listen(on address: SocketAddress, reusePort: Bool, backlog: Int32 = 4096) -> Result<Int32, SocketError> {
        let fd = fulcrum_socket_nonblocking(address.family)
        guard fd >= 0 else { return .failure(SocketError("socket", errno)) }
        _ = fulcrum_set_int_option(fd, Int32(FULCRUM_SOL_SOCKET), Int32(FULCRUM_SO_REUSEADDR), 1)
        if reusePort { _ = fulcrum_set_int_option(fd, Int32(FULCRUM_SOL_SOCKET), Int32(FULCRUM_SO_REUSEPORT), 1) }
        var addr = address
        let rc = withUnsafePointer(to: &addr.storage) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, address.length) }
        }
        guard rc == 0 else {
            let e = errno
            Glibc.close(fd)
            return .failure(SocketError("cannot listen on \(address)", e))
        }
        guard Glibc.listen(fd, backlog) == 0 else {
            let e = errno
            Glibc.close(fd)
            return .failure(SocketError("cannot listen on \(address)", e))
        }
        return .success(fd)
    }

    /// Starts a non-blocking connect. `.success(true)` means connected at
    /// once, `.success(false)` in progress (wait for writability).
    public static func connect(to address: SocketAddress) -> Result<(fd: Int32, connected: Bool), SocketError> {
        let fd = fulcrum_socket_nonblocking(address.family)
        guard fd >= 0 else { return .failure(SocketError("socket", errno)) }
        setNoDelay(fd)
        var addr = address
        let rc = withUnsafePointer(to: &addr.storage) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { Glibc.connect(fd, $0, address.length) }
        }
        if rc == 0 { return .success((fd, true)) }
        let e = errno
        if e == EINPROGRESS { return .success((fd, false)) }
        Glibc.close(fd)
        return .failure(SocketError("connect to \(address)", e))
    }

    /// The pending error of a socket whose connect finished (0 if connected).
    public static func pendingError(_ fd: Int32) -> Int32 {
        var err: Int32 = 0
        var len = socklen_t(MemoryLayout<Int32>.size)
        getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len)
        return err
    }

    @inline(__always)
    public static func setNoDelay(_ fd: Int32) {
        _ = fulcrum_set_int_option(fd, Int32(FULCRUM_IPPROTO_TCP), Int32(FULCRUM_TCP_NODELAY), 1)
    }

    /// Asks the kernel to acknowledge what it has received now rather than
    /// delay the ACK (up to 40 ms on Linux). Not sticky: it lasts until the
    /// kernel leaves quick-ack mode, so it is re-armed per read.
    @inline(__always)
    public static func quickAck(_ fd: Int32) {
        _ = fulcrum_set_int_option(fd, Int32(FULCRUM_IPPROTO_TCP), Int32(FULCRUM_TCP_QUICKACK), 1)
    }

    /// Whether an idle keep-alive connection still looks usable: nothing to
    /// read (no FIN, no stray bytes, no error) right now. One `recv` with
    /// MSG_PEEK; it catches a close that arrived but was not processed yet.
    public static func idleConnectionIsUsable(_ fd: Int32) -> Bool {
        var byte: UInt8 = 0
        let n = recv(fd, &byte, 1, Int32(MSG_PEEK | MSG_DONTWAIT))
        return n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)
    }

    /// Accepts one connection: the new non-blocking socket and the peer's address.
    @inline(__always)
    public static func accept(_ listener: Int32, peer: inout SocketAddress) -> Int32 {
        var len = socklen_t(MemoryLayout<sockaddr_storage>.size)
        let fd = fulcrum_accept4(listener, &peer.storage, &len)
        if fd >= 0 { peer.length = len }
        return fd
    }
}
