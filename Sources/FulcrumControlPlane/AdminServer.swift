import FulcrumCore
import FulcrumEventLoop
import FulcrumHTTP
import Glibc

/// A request to the admin API, read whole (they are small).
public struct AdminRequest: Sendable {
    public let method: String
    /// The path without the query.
    public let path: String
    /// Decoded query parameters (the last value wins).
    public let query: [String: String]
    /// Header names lowercased; first value wins.
    public let headers: [String: String]
    public let body: [UInt8]
}

public struct AdminResponse: Sendable {
    public var status: Int
    public var contentType: String
    public var body: [UInt8]
    public var headers: [(String, String)] = []

    public init(status: Int, contentType: String, body: [UInt8], headers: [(String, String)] = []) {
        self.status = status
        self.contentType = contentType
        self.body = body
        self.headers = headers
    }
}

/// Hands each request to `handler`, which answers through `respond`, now
/// or later from any thread.
public typealias AdminHandler = @Sendable (AdminRequest, _ respond: @escaping @Sendable (AdminResponse) -> Void) -> Void

/// The admin listener: its own event-loop thread, the proxy's strict HTTP/1.1
/// head parser, keep-alive, bodies up to 1 MiB (Content-Length only).
public final class AdminServer: @unchecked Sendable {
    public static let maxBody = 1024 * 1024
    let loop = EventLoop(name: "admin")
    let handler: AdminHandler
    let head = ParsedHead()
    public private(set) var address: SocketAddress
    private var listener: AdminListener?
    private var thread: NamedThread?

    public init(address: SocketAddress, handler: @escaping AdminHandler) {
        self.address = address
        self.handler = handler
    }

    public func start() throws(SocketError) {
        let fd: Int32
        switch Socket.listen(on: address, reusePort: false, backlog: 128) {
        case .success(let f): fd = f
        case .failure(let e): throw e
        }
        if let actual = SocketAddress.local(of: fd) { address = actual }
        let l = AdminListener(server: self)
        listener = l
        loop.register(l, fd: fd, events: EventMask.readable)
        thread = NamedThread.start(name: "fulcrum-admin") { [loop] in loop.run() }
    }

    /// Runs `body` on the admin loop about every `milliseconds` (e.g. drain sweeps).
    public func every(milliseconds: UInt64, _ body: @escaping @Sendable () -> Void) {
        let timer = RepeatingTimer(body: body)
        loop.execute { [loop] in
            let queue = loop.makeDeadlineQueue(milliseconds: milliseconds)
            timer.queue = queue
            queue.arm(timer, now: loop.now)
        }
    }
}

final class RepeatingTimer: EventHandler, @unchecked Sendable {
    let body: @Sendable () -> Void
    var queue: DeadlineQueue?
    init(body: @escaping @Sendable () -> Void) { self.body = body }
    override func timerExpired(now: UInt64) {
        body()
        queue?.arm(self, now: now)
    }
}

final class AdminListener: EventHandler {
    unowned let server: AdminServer
    init(server: AdminServer) { self.server = server }

    override func handleEvent(_ events: UInt32) {
        var peer = SocketAddress(storage: sockaddr_storage(), length: 0)
        for _ in 0..<16 {
            let fd = Socket.accept(self.fd, peer: &peer)
            if fd < 0 { return }
            let c = AdminConnection(server: server)
            server.loop.register(c, fd: fd, events: EventMask.readable)
        }
    }
}

final class AdminConnection: EventHandler, @unchecked Sendable {
    unowned let server: AdminServer
    var input: [UInt8] = []
    var output: [UInt8] = []
    var scanner = HeadScanner()
    var waiting = false
    var closeAfterWrite = false
    /// The request being answered is HEAD: the response has no body.
    var answeringHead = false

    init(server: AdminServer) { self.server = server }

    override func handleEvent(_ events: UInt32) {
        if events & EventMask.writable != 0 { flush() }
        guard isOpen, events & (EventMask.readable | EventMask.hangUp | EventMask.error) != 0, !waiting else { return }
        var chunk = [UInt8](repeating: 0, count: 16 * 1024)
        let n = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress!, $0.count) }
        if n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR) { server.loop.close(self); return }
        if n > 0 {
            input += chunk[0..<n]
            process()
        }
    }

    /// Handles the next complete request in `input`, if any.
    func process() {
        guard !waiting, isOpen else { return }
        let length: Int? = input.withUnsafeBytes { scanner.scan($0) }
        guard let headLength = length else {
            if input.count > HTTPLimits.maxHead { fail(431, "request head too large") }
            return
        }
        let h = server.head
        let error = input.withUnsafeBytes { HeadParser.parseRequest(UnsafeRawBufferPointer(rebasing: $0[0..<headLength]), into: h) }
        if let error { fail(error.status, error.reason); return }
        if h.chunked { fail(411, "send the body with Content-Length"); return }
        let bodyLength = Int(max(0, h.contentLength))
        if bodyLength > AdminServer.maxBody { fail(413, "request body larger than \(AdminServer.maxBody) bytes"); return }
        guard input.count >= headLength + bodyLength else { return }  // wait for the body
        let request: AdminRequest = input.withUnsafeBytes { raw in
            func text(_ s: Int32, _ e: Int32) -> String { String(decoding: UnsafeRawBufferPointer(rebasing: raw[Int(s)..<Int(e)]), as: UTF8.self) }
            let method = text(0, h.methodEnd)
            let target = text(h.targetStart, h.targetEnd)
            var headers: [String: String] = [:]
            for i in 0..<h.fieldCount {
                let f = h.fields[i]
                let name = text(f.nameStart, f.nameEnd).lowercased()
                if headers[name] == nil { headers[name] = text(f.valueStart, f.valueEnd) }
            }
            let (path, query) = splitTarget(target)
            return AdminRequest(method: method, path: path, query: query, headers: headers,
                                body: Array(raw[headLength..<(headLength + bodyLength)]))
        }
        closeAfterWrite = !h.wantsKeepAlive
        answeringHead = request.method == "HEAD"
        input.removeFirst(headLength + bodyLength)
        scanner.reset()
        waiting = true
        let loop = server.loop
        server.handler(request) { [self] response in
            loop.execute { [self] in respond(response) }
        }
    }

    func respond(_ r: AdminResponse) {
        waiting = false
        guard isOpen else { return }
        var head = "HTTP/1.1 \(r.status) \(reason(r.status))\r\nContent-Type: \(r.contentType)\r\nContent-Length: \(r.body.count)\r\nCache-Control: no-store\r\n"
        for (k, v) in r.headers { head += "\(k): \(v)\r\n" }
        if closeAfterWrite { head += "Connection: close\r\n" }
        head += "\r\n"
        output += Array(head.utf8) + (answeringHead ? [] : r.body)
        answeringHead = false
        flush()
        if isOpen && !closeAfterWrite && !input.isEmpty { process() }
    }

    func fail(_ status: Int, _ title: String) {
        closeAfterWrite = true
        waiting = true
        respond(AdminAPI.fail(status, title))
    }

    func flush() {
        while !output.isEmpty {
            let n = output.withUnsafeBytes { write(fd, $0.baseAddress!, $0.count) }
            if n > 0 {
                output.removeFirst(n)
            } else if n < 0 && (errno == EAGAIN || errno == EINTR) {
                server.loop.setInterest(self, EventMask.writable)
                return
            } else {
                server.loop.close(self)
                return
            }
        }
        if closeAfterWrite && !waiting {
            shutdown(fd, Int32(SHUT_WR))
            server.loop.close(self)
            return
        }
        server.loop.setInterest(self, EventMask.readable)
    }

    func reason(_ status: Int) -> String {
        switch status {
        case 200: return "OK"
        case 400: return "Bad Request"
        case 401: return "Unauthorized"
        case 403: return "Forbidden"
        case 404: return "Not Found"
        case 405: return "Method Not Allowed"
        case 411: return "Length Required"
        case 413: return "Content Too Large"
        case 422: return "Unprocessable Content"
        case 431: return "Request Header Fields Too Large"
        case 500: return "Internal Server Error"
        case 503: return "Service Unavailable"
        default: return "Status"
        }
    }
}

/// "/a/b?x=1&y=%2F" → ("/a/b", ["x": "1", "y": "/"]).
func splitTarget(_ target: String) -> (String, [String: String]) {
    guard let q = target.firstIndex(of: "?") else { return (percentDecode(target) ?? target, [:]) }
    let path = String(target[..<q])
    var query: [String: String] = [:]
    for pair in target[target.index(after: q)...].split(separator: "&") {
        let kv = pair.split(separator: "=", maxSplits: 1)
        let key = percentDecode(String(kv[0]), plusIsSpace: true) ?? String(kv[0])
        let value = kv.count > 1 ? (percentDecode(String(kv[1]), plusIsSpace: true) ?? String(kv[1])) : ""
        query[key] = value
    }
    return (percentDecode(path) ?? path, query)
}

/// Decodes %XX escapes; nil when an escape is malformed.
func percentDecode(_ s: String, plusIsSpace: Bool = false) -> String? {
    var out: [UInt8] = []
    var bytes = Array(s.utf8)[...]
    while let c = bytes.popFirst() {
        if c == UInt8(ascii: "%") {
            guard bytes.count >= 2, let hi = hexDigit(bytes.popFirst()!), let lo = hexDigit(bytes.popFirst()!) else { return nil }
            out.append(hi << 4 | lo)
        } else if c == UInt8(ascii: "+") && plusIsSpace {
            out.append(UInt8(ascii: " "))
        } else {
            out.append(c)
        }
    }
    return String(decoding: out, as: UTF8.self)
}

private func hexDigit(_ c: UInt8) -> UInt8? {
    switch c {
    case 0x30...0x39: return c - 0x30
    case 0x41...0x46: return c - 0x37
    case 0x61...0x66: return c - 0x57
    default: return nil
    }
}
