import FulcrumSDK

/// HTTP probe: GET the health path; a 2xx or 3xx status line within the
/// timeout is healthy. Config: {"path": "/health"} (default "/").
final class HTTPProbe: FulcrumProbe {
    static let name = "http"
    static let description = "GET the health path; 2xx/3xx within the timeout is healthy"

    private let path: String

    init?(host: FulcrumHost, config: String) {
        guard let json = try? JSONValue.parse(config), json.objectMembers != nil else { return nil }
        if let p = json["path"] {
            guard let s = p.stringValue, s.hasPrefix("/"),
                  s.utf8.allSatisfy({ $0 > 0x20 && $0 < 0x7F }) else { return nil }
            path = s
        } else {
            path = "/"
        }
    }

    func check(address: String, timeoutMilliseconds: UInt32) -> FulcrumProbeResult {
        guard case .success(let target) = FulcrumAddress.parse(address) else { return .unhealthy("invalid address") }
        let socket: FulcrumProbeSocket
        switch FulcrumProbeSocket.connect(to: target, timeoutMilliseconds: timeoutMilliseconds) {
        case .success(let s): socket = s
        case .failure(let failure): return .unhealthy(failure.detail)
        }
        let request = "GET \(path) HTTP/1.1\r\nHost: \(target.authority)\r\nUser-Agent: fulcrum-health-check\r\nAccept: */*\r\nConnection: close\r\n\r\n"
        if let failure = socket.send(Array(request.utf8)) { return .unhealthy(failure.detail) }
        // The status line is all we need: "HTTP/1.x NNN".
        switch socket.receive(limit: 4096, isComplete: { $0.contains(UInt8(ascii: "\n")) }) {
        case .failure(let failure):
            return .unhealthy(failure.detail)
        case .success(let bytes):
            guard let status = httpStatusCode(bytes) else {
                return .unhealthy(bytes.isEmpty ? "connection closed without a response" : "invalid response")
            }
            return (200...399).contains(status) ? .healthy : .unhealthy("status \(status)")
        }
    }

}

@c public func fulcrum_plugin_entry() -> UnsafePointer<fulcrum_plugin> {
    fulcrumExport(name: "fulcrum-http-probe", version: "1.0.0", probes: [HTTPProbe.self])
}
