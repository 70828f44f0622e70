import FulcrumCore
import Glibc

/// What `fulcrum -demo` shows a newcomer: requests going round robin over
/// the three demo backends, a weight change and a switch to weighted round
/// robin through the admin API, then what to try next.
public enum DemoTour {
    public static func start(proxy: SocketAddress, admin: SocketAddress, token: String?, backends: [DemoBackend]) {
        NamedThread.start(name: "fulcrum-demo") {
            let p = reachable(proxy), a = reachable(admin)
            var lines = ["", "── Fulcrum demo ─────────────────────────────────────────────────────────"]
            lines.append("Three demo backends are registered: \(backends.map { "\($0.name) at \($0.address)" }.joined(separator: ", ")).")
            lines += ["", "Six requests through the proxy, round robin:"]
            for i in 1...6 { lines.append("  \(i). \(request(p, "GET", "/"))") }
            let auth = token.map { ["Authorization: Bearer \($0)"] } ?? []
            let register = request(a, "POST", "/register", body: "{\"address\":\"http://127.0.0.1:\(backends[0].address.port)\",\"weight\":5}", headers: auth)
            let switched = request(a, "PUT", "/strategy", body: "{\"name\":\"WRR\"}", headers: auth)
            lines += ["", "Give \(backends[0].name) weight 5 and switch to weighted round robin, live, through the admin API:"]
            lines.append("  POST /register  → \(register)")
            lines.append("  PUT  /strategy  → \(switched)")
            lines += ["", "Seven more requests (5:1:1, interleaved):"]
            for i in 1...7 { lines.append("  \(i). \(request(p, "GET", "/"))") }
            let curlAuth = token.map { " -H 'Authorization: Bearer \($0)'" } ?? ""
            lines += ["", "Try it yourself:"]
            lines.append("  curl http://\(p)/")
            lines.append("  curl\(curlAuth) http://\(a)/backends")
            lines.append("  curl\(curlAuth) -X PUT -d '{\"name\":\"LC\"}' http://\(a)/strategy")
            lines.append("  curl\(curlAuth) -X DELETE 'http://\(a)/backends?address=http%3A%2F%2F127.0.0.1%3A\(backends[1].address.port)'")
            lines.append("  open http://\(a)/ in a browser for the live status page; Ctrl-C to stop.")
            lines += ["─────────────────────────────────────────────────────────────────────────", ""]
            Console.out(lines.joined(separator: "\n"))
        }
    }

    /// 0.0.0.0 is where we listen, not where we connect.
    static func reachable(_ a: SocketAddress) -> String {
        let ip = a.ipString
        return (ip == "0.0.0.0" || ip == "::" ? "127.0.0.1" : (ip.contains(":") ? "[\(ip)]" : ip)) + ":\(a.port)"
    }

    /// One request on a fresh connection; the first line of the body (or the status line on failure).
    static func request(_ hostPort: String, _ method: String, _ path: String, body: String = "", headers: [String] = []) -> String {
        guard let (host, port) = splitHostPort(hostPort), case .success(let address) = SocketAddress.resolve(host: host, port: port) else { return "(bad address)" }
        let fd = socket(address.family, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { return "(socket failed)" }
        defer { close(fd) }
        var timeout = timeval(tv_sec: 5, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        var a = address
        let rc = withUnsafePointer(to: &a.storage) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, address.length) } }
        guard rc == 0 else { return "(connect failed: \(String(cString: strerror(errno))))" }
        var text = "\(method) \(path) HTTP/1.1\r\nHost: \(hostPort)\r\nConnection: close\r\n"
        for h in headers { text += h + "\r\n" }
        if !body.isEmpty { text += "Content-Type: application/json\r\nContent-Length: \(body.utf8.count)\r\n" }
        text += "\r\n" + body
        _ = text.withCString { send(fd, $0, strlen($0), Int32(MSG_NOSIGNAL)) }
        var response: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 8192)
        while true {
            let n = chunk.withUnsafeMutableBytes { recv(fd, $0.baseAddress!, $0.count, 0) }
            if n <= 0 { break }
            response += chunk[0..<n]
        }
        guard let split = (0..<max(0, response.count - 3)).first(where: { response[$0..<($0 + 4)].elementsEqual([13, 10, 13, 10]) }) else {
            return "(no response)"
        }
        let status = String(decoding: response[..<split].prefix { $0 != 13 }, as: UTF8.self)
        let payload = String(decoding: response[(split + 4)...].prefix { $0 != 10 }, as: UTF8.self)
        return status.hasPrefix("HTTP/1.1 200") ? payload : "\(status) \(payload)"
    }
}
