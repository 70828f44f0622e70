import Foundation

/// Writing a request in pieces: each piece is its own `send` on a
/// TCP_NODELAY socket, so it leaves as its own segment, and a short gap
/// between pieces lets the server read each one separately (the case a
/// server that assumes "one read, one request" gets wrong). The gap shapes
/// the traffic; it does not wait for anything.
extension TestHTTPConnection {
    func setNoDelay() {
        var one: Int32 = 1
        setsockopt(fd, Int32(IPPROTO_TCP), TCP_NODELAY, &one, socklen_t(MemoryLayout<Int32>.size))
    }

    /// Sends `bytes` cut at `offsets` (ascending, within the bytes).
    func send(_ bytes: [UInt8], cuttingAt offsets: [Int], gapMicros: useconds_t = 3000) throws {
        setNoDelay()
        var start = 0
        for cut in offsets + [bytes.count] where cut > start && cut <= bytes.count {
            try send(Array(bytes[start..<cut]))
            start = cut
            if cut < bytes.count { usleep(gapMicros) }
        }
    }

    /// Sends `bytes` one byte per write.
    func sendByteByByte(_ bytes: [UInt8], gapMicros: useconds_t = 300) throws {
        try send(bytes, cuttingAt: Array(1..<max(1, bytes.count)), gapMicros: gapMicros)
    }
}

/// The bytes of one request with Content-Length framing.
func requestBytes(_ method: String, _ path: String, body: String? = nil, headers: [(String, String)] = [],
                  host: String = "127.0.0.1") -> [UInt8] {
    var head = "\(method) \(path) HTTP/1.1\r\nHost: \(host)\r\n"
    for (k, v) in headers { head += "\(k): \(v)\r\n" }
    if let body { head += "Content-Type: application/json\r\nContent-Length: \(body.utf8.count)\r\n" }
    head += "\r\n"
    return Array(head.utf8) + Array((body ?? "").utf8)
}

/// CPU time (user + system) a process has used, in seconds, from /proc.
func cpuSeconds(of pid: Int32) -> Double {
    guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
          let close = stat.lastIndex(of: ")") else { return 0 }
    let fields = stat[stat.index(after: close)...].split(separator: " ")
    // After the command: state is field 3, utime 14, stime 15 (1-based over the whole line).
    guard fields.count > 13, let u = Double(fields[11]), let s = Double(fields[12]) else { return 0 }
    return (u + s) / Double(sysconf(Int32(_SC_CLK_TCK)))
}
