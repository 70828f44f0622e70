import Glibc

/// Blocking socket helpers for probes: every call is bounded by a deadline,
/// so a probe's `check` returns within its timeout whatever the backend does.
/// Each failure carries the short reason the host logs ("connection refused",
/// "timeout after 2000 ms").
public struct FulcrumProbeSocket: ~Copyable {
    public let fd: Int32
    let deadline: UInt64
    let timeoutMilliseconds: UInt32

    /// Connects to `address` (an IP literal or a name; names are resolved with
    /// getaddrinfo) before `timeoutMilliseconds` elapse.
    public static func connect(to address: FulcrumAddress, timeoutMilliseconds: UInt32) -> Result<FulcrumProbeSocket, ProbeFailure> {
        let deadline = monotonicMilliseconds() + UInt64(timeoutMilliseconds)
        var hints = addrinfo()
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        hints.ai_flags = AI_NUMERICSERV
        var list: UnsafeMutablePointer<addrinfo>?
        let rc = getaddrinfo(address.host, String(address.port), &hints, &list)
        guard rc == 0, let first = list else {
            return .failure(ProbeFailure("cannot resolve \(address.host)"))
        }
        defer { freeaddrinfo(list) }
        var lastFailure = ProbeFailure("no address for \(address.host)")
        var entry: UnsafeMutablePointer<addrinfo>? = first
        while let ai = entry {
            entry = ai.pointee.ai_next
            let fd = socket(ai.pointee.ai_family, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_NONBLOCK.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
            if fd < 0 { lastFailure = ProbeFailure(errnoText(errno)); continue }
            let sock = FulcrumProbeSocket(fd: fd, deadline: deadline, timeoutMilliseconds: timeoutMilliseconds)
            if Glibc.connect(fd, ai.pointee.ai_addr, ai.pointee.ai_addrlen) == 0 { return .success(sock) }
            guard errno == EINPROGRESS else { lastFailure = ProbeFailure(errnoText(errno)); continue }
            if let failure = sock.wait(for: Int16(POLLOUT)) { lastFailure = failure; continue }
            var err: Int32 = 0
            var len = socklen_t(MemoryLayout<Int32>.size)
            getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len)
            if err == 0 { return .success(sock) }
            lastFailure = ProbeFailure(errnoText(err))
        }
        return .failure(lastFailure)
    }

    deinit { close(fd) }

    /// Waits until the socket is ready for `events` or the deadline passes.
    func wait(for events: Int16) -> ProbeFailure? {
        while true {
            let now = monotonicMilliseconds()
            guard now < deadline else { return ProbeFailure("timeout after \(timeoutMilliseconds) ms") }
            var pfd = pollfd(fd: fd, events: events, revents: 0)
            let rc = poll(&pfd, 1, Int32(min(deadline - now, UInt64(Int32.max))))
            if rc > 0 { return nil }
            if rc == 0 { return ProbeFailure("timeout after \(timeoutMilliseconds) ms") }
            if errno != EINTR { return ProbeFailure(errnoText(errno)) }
        }
    }

    /// Writes all of `bytes` before the deadline.
    public func send(_ bytes: [UInt8]) -> ProbeFailure? {
        var sent = 0
        while sent < bytes.count {
            let n = bytes.withUnsafeBytes { Glibc.send(fd, $0.baseAddress! + sent, $0.count - sent, Int32(MSG_NOSIGNAL)) }
            if n > 0 { sent += n; continue }
            if n < 0 && (errno == EAGAIN || errno == EINTR) {
                if let failure = wait(for: Int16(POLLOUT)) { return failure }
                continue
            }
            return ProbeFailure(errnoText(errno))
        }
        return nil
    }

    /// Reads until `isComplete` says the bytes so far suffice, the peer
    /// closes, `limit` bytes have come, or the deadline passes.
    public func receive(limit: Int, isComplete: ([UInt8]) -> Bool) -> Result<[UInt8], ProbeFailure> {
        var data: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 4096)
        while data.count < limit && !isComplete(data) {
            if let failure = wait(for: Int16(POLLIN)) { return .failure(failure) }
            let n = chunk.withUnsafeMutableBytes { recv(fd, $0.baseAddress!, $0.count, 0) }
            if n > 0 { data.append(contentsOf: chunk[0..<n]); continue }
            if n == 0 { break }
            if errno == EAGAIN || errno == EINTR { continue }
            return .failure(ProbeFailure(errnoText(errno)))
        }
        return .success(data)
    }
}

/// Why a probe failed, in a few words.
public struct ProbeFailure: Error, Sendable {
    public let detail: String
    public init(_ detail: String) { self.detail = detail }
}

/// "connection refused" rather than "Connection refused (111)": the words
/// operators grep for.
public func errnoText(_ code: Int32) -> String {
    switch code {
    case ECONNREFUSED: return "connection refused"
    case ECONNRESET: return "connection reset"
    case ETIMEDOUT: return "connection timed out"
    case EHOSTUNREACH: return "host unreachable"
    case ENETUNREACH: return "network unreachable"
    case EPIPE: return "broken pipe"
    default: return String(cString: strerror(code)).lowercased()
    }
}

func monotonicMilliseconds() -> UInt64 {
    var ts = timespec()
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return UInt64(ts.tv_sec) * 1000 + UInt64(ts.tv_nsec) / 1_000_000
}

/// The status code of an "HTTP/1.x NNN ..." status line (the http probe's
/// and the host's https probe's pass rule reads it), nil if it is not one.
public func httpStatusCode(_ bytes: [UInt8]) -> Int? {
    guard bytes.count >= 12, bytes.starts(with: Array("HTTP/1.".utf8)), bytes[8] == UInt8(ascii: " ") else { return nil }
    var code = 0
    for b in bytes[9..<12] {
        guard b >= UInt8(ascii: "0") && b <= UInt8(ascii: "9") else { return nil }
        code = code * 10 + Int(b - UInt8(ascii: "0"))
    }
    return code >= 100 ? code : nil
}
