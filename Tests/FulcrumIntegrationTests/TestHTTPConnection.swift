import Foundation

struct TestResponse {
    var status: Int
    var version: String
    var headers: [(String, String)]
    var body: [UInt8]

    func header(_ name: String) -> String? { headers.first { $0.0.lowercased() == name.lowercased() }?.1 }
    func headers(_ name: String) -> [String] { headers.filter { $0.0.lowercased() == name.lowercased() }.map(\.1) }
    var text: String { String(decoding: body, as: UTF8.self) }
    var json: [String: Any]? { try? JSONSerialization.jsonObject(with: Data(body)) as? [String: Any] }
}

/// A blocking HTTP/1.1 client on a raw socket: exactly the bytes we choose
/// go out, and responses are framed by their own headers (so the proxy's
/// framing is what is tested). Every read has a timeout.
final class TestHTTPConnection {
    let fd: Int32
    /// The port connected to: the default Host is 127.0.0.1:port, as curl sends.
    let port: UInt16
    /// Received bytes not yet consumed: buffer[start...].
    private var buffer: [UInt8] = []
    private var start = 0
    var closedByPeer = false
    /// Bytes received and not yet consumed.
    var bufferedCount: Int { buffer.count - start }

    init(port: UInt16, timeout: Double = 15) throws {
        self.port = port
        fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_port = port.bigEndian
        addr.sin_addr.s_addr = UInt32(0x7F00_0001).bigEndian
        let rc = withUnsafePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) } }
        guard rc == 0 else {
            let e = errno
            Glibc.close(fd)
            throw HarnessError.failed("connect to \(port): \(String(cString: strerror(e)))")
        }
        setTimeout(timeout)
    }

    func setTimeout(_ seconds: Double) {
        var tv = timeval(tv_sec: Int(seconds), tv_usec: Int((seconds - Double(Int(seconds))) * 1e6))
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
        setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
    }

    deinit { Glibc.close(fd) }

    func close() { shutdown(fd, Int32(SHUT_RDWR)) }

    func send(_ bytes: [UInt8]) throws {
        var sent = 0
        while sent < bytes.count {
            let n = bytes.withUnsafeBytes { Glibc.send(fd, $0.baseAddress! + sent, $0.count - sent, Int32(MSG_NOSIGNAL)) }
            if n <= 0 { throw HarnessError.failed("send failed: \(String(cString: strerror(errno)))") }
            sent += n
        }
    }

    func send(_ text: String) throws { try send(Array(text.utf8)) }

    /// Reads more bytes into the buffer; false at EOF.
    @discardableResult
    func fill() throws -> Bool {
        var chunk = [UInt8](repeating: 0, count: 256 * 1024)
        let n = chunk.withUnsafeMutableBytes { recv(fd, $0.baseAddress!, $0.count, 0) }
        if n > 0 {
            if start > 0 && start >= buffer.count / 2 {
                buffer.removeFirst(start)
                start = 0
            }
            buffer += chunk[0..<n]
            return true
        }
        if n == 0 { closedByPeer = true; return false }
        if errno == EAGAIN || errno == EWOULDBLOCK { throw HarnessError.timeout("read") }
        if errno == ECONNRESET { closedByPeer = true; return false }
        throw HarnessError.failed("recv: \(String(cString: strerror(errno)))")
    }

    func readLine() throws -> String {
        while true {
            if let i = buffer[start...].firstIndex(of: 0x0A) {
                var line = Array(buffer[start..<i])
                start = i + 1
                if line.last == 0x0D { line.removeLast() }
                return String(decoding: line, as: UTF8.self)
            }
            guard try fill() else { throw HarnessError.failed("connection closed while reading a line") }
        }
    }

    func readExactly(_ n: Int) throws -> [UInt8] {
        while bufferedCount < n { guard try fill() else { throw HarnessError.failed("connection closed after \(bufferedCount) of \(n) bytes") } }
        let out = Array(buffer[start..<(start + n)])
        start += n
        return out
    }

    /// Reads whatever arrives until the peer closes.
    func readToEnd() throws -> [UInt8] {
        while try fill() {}
        let out = Array(buffer[start...])
        buffer.removeAll()
        start = 0
        return out
    }

    /// Reads one response (1xx responses are returned as such).
    func readResponse(requestMethod: String = "GET") throws -> TestResponse {
        let statusLine = try readLine()
        let parts = statusLine.split(separator: " ", maxSplits: 2)
        guard parts.count >= 2, let status = Int(parts[1]) else { throw HarnessError.failed("bad status line: \(statusLine)") }
        var headers: [(String, String)] = []
        while true {
            let line = try readLine()
            if line.isEmpty { break }
            guard let colon = line.firstIndex(of: ":") else { throw HarnessError.failed("bad header line: \(line)") }
            headers.append((String(line[..<colon]), line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)))
        }
        var r = TestResponse(status: status, version: String(parts[0]), headers: headers, body: [])
        if requestMethod == "HEAD" || status < 200 || status == 204 || status == 304 { return r }
        if requestMethod == "CONNECT" && status < 300 { return r }  // a tunnel follows
        if r.header("Transfer-Encoding")?.lowercased().contains("chunked") == true {
            while true {
                let sizeLine = try readLine()
                guard let size = Int(sizeLine.split(separator: ";").first ?? "", radix: 16) else { throw HarnessError.failed("bad chunk size \(sizeLine)") }
                if size == 0 {
                    while try !readLine().isEmpty {}
                    break
                }
                r.body += try readExactly(size)
                guard try readLine().isEmpty else { throw HarnessError.failed("missing CRLF after chunk") }
            }
        } else if let cl = r.header("Content-Length"), let n = Int(cl) {
            r.body = try readExactly(n)
        } else {
            r.body = try readToEnd()
        }
        return r
    }

    /// Sends a request and reads its final response (skipping 1xx).
    func request(_ method: String, _ path: String, headers: [(String, String)] = [], body: [UInt8]? = nil,
                 chunked: Bool = false, version: String = "HTTP/1.1", closing: Bool = false) throws -> TestResponse {
        var head = "\(method) \(path) \(version)\r\n"
        if !headers.contains(where: { $0.0.lowercased() == "host" }) && version == "HTTP/1.1" { head += "Host: 127.0.0.1:\(port)\r\n" }
        for (k, v) in headers { head += "\(k): \(v)\r\n" }
        if closing { head += "Connection: close\r\n" }
        if let body {
            if chunked { head += "Transfer-Encoding: chunked\r\n" } else { head += "Content-Length: \(body.count)\r\n" }
        }
        head += "\r\n"
        var out = Array(head.utf8)
        if let body {
            if chunked {
                var i = 0
                while i < body.count {
                    let n = min(40_000, body.count - i)
                    out += Array("\(String(n, radix: 16))\r\n".utf8) + body[i..<(i + n)] + [13, 10]
                    i += n
                }
                out += Array("0\r\n\r\n".utf8)
            } else {
                out += body
            }
        }
        try send(out)
        var r = try readResponse(requestMethod: method)
        while r.status < 200 && r.status != 101 { r = try readResponse(requestMethod: method) }
        return r
    }
}

/// The demo backend's byte pattern (see DemoBackend.pattern).
func backendPattern(_ count: Int, from start: Int = 0) -> [UInt8] {
    (start..<(start + count)).map { UInt8(truncatingIfNeeded: $0 &* 7 &+ $0 / 251) }
}
