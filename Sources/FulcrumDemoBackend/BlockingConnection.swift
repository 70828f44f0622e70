import Glibc

/// Blocking, buffered HTTP/1.1 request reading for the demo backend (lenient:
/// the strict parser is the proxy's job).
final class BlockingConnection {
    struct Request {
        var method = ""
        var path = ""
        var head = ""
        var headers: [String: String] = [:]
        var body: [UInt8] = []
        var keepAlive = true
    }

    let fd: Int32
    /// Unconsumed input is buffer[start...] (consuming moves `start`, not bytes).
    private var buffer: [UInt8] = []
    private var start = 0
    private var chunk = [UInt8](repeating: 0, count: 64 * 1024)

    init(fd: Int32) { self.fd = fd }

    private func fill() -> Bool {
        let n = chunk.withUnsafeMutableBytes { recv(fd, $0.baseAddress!, $0.count, 0) }
        if n <= 0 { return false }
        if start > 0 && start >= buffer.count / 2 {
            buffer.removeFirst(start)
            start = 0
        }
        buffer.append(contentsOf: chunk[0..<n])
        return true
    }

    private func readLine() -> String? {
        while true {
            if let nl = buffer[start...].firstIndex(of: 0x0A) {
                var line = Array(buffer[start..<nl])
                start = nl + 1
                if line.last == 0x0D { line.removeLast() }
                return String(decoding: line, as: UTF8.self)
            }
            guard fill() else { return nil }
        }
    }

    private func readExactly(_ n: Int) -> [UInt8]? {
        while buffer.count - start < n { guard fill() else { return nil } }
        let out = Array(buffer[start..<(start + n)])
        start += n
        return out
    }

    func readRequest() -> Request? {
        var r = Request()
        guard var first = readLine() else { return nil }
        while first.isEmpty { guard let next = readLine() else { return nil }; first = next }
        let parts = first.split(separator: " ")
        guard parts.count == 3 else { return nil }
        r.method = String(parts[0])
        r.path = String(parts[1])
        r.head = first + "\r\n"
        while let line = readLine(), !line.isEmpty {
            r.head += line + "\r\n"
            if let colon = line.firstIndex(of: ":") {
                let name = line[..<colon].lowercased()
                let value = line[line.index(after: colon)...].trimmingSpaces()
                r.headers[name] = r.headers[name].map { $0 + ", " + value } ?? value
            }
        }
        let connection = r.headers["connection"]?.lowercased() ?? ""
        r.keepAlive = parts[2] == "HTTP/1.1" ? !connection.contains("close") : connection.contains("keep-alive")
        if r.headers["expect"]?.lowercased() == "100-continue" {
            guard write(Array("HTTP/1.1 100 Continue\r\n\r\n".utf8)) else { return nil }
        }
        if r.headers["transfer-encoding"]?.lowercased().contains("chunked") == true {
            while true {
                guard let sizeLine = readLine(), let size = Int(String(sizeLine.prefix { $0 != ";" && $0 != " " && $0 != "\t" }), radix: 16) else { return nil }
                if size == 0 {
                    while let trailer = readLine(), !trailer.isEmpty {}
                    break
                }
                guard let data = readExactly(size), readExactly(2) != nil else { return nil }
                r.body += data
            }
        } else if let cl = r.headers["content-length"], let n = Int(cl), n > 0 {
            guard let data = readExactly(n) else { return nil }
            r.body = data
        }
        return r
    }

    func write(_ bytes: [UInt8]) -> Bool {
        var sent = 0
        while sent < bytes.count {
            let n = bytes.withUnsafeBytes { send(fd, $0.baseAddress! + sent, $0.count - sent, Int32(MSG_NOSIGNAL)) }
            if n <= 0 { if errno == EINTR { continue }; return false }
            sent += n
        }
        return true
    }

    /// After 101: echo every byte back until the peer closes.
    func echoUntilClosed() {
        if start < buffer.count { guard write(Array(buffer[start...])) else { return } }
        buffer.removeAll()
        start = 0
        while true {
            let n = chunk.withUnsafeMutableBytes { recv(fd, $0.baseAddress!, $0.count, 0) }
            if n <= 0 { return }
            guard write(Array(chunk[0..<n])) else { return }
        }
    }
}

extension Substring {
    func trimmingSpaces() -> String {
        var s = self
        while s.first == " " || s.first == "\t" { s = s.dropFirst() }
        while s.last == " " || s.last == "\t" { s = s.dropLast() }
        return String(s)
    }
}
