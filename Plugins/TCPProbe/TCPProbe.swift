import FulcrumSDK

/// TCP probe: the backend is healthy when a connection succeeds within the timeout.
final class TCPProbe: FulcrumProbe {
    static let name = "tcp"
    static let description = "healthy when a TCP connection succeeds within the timeout"

    init?(host: FulcrumHost, config: String) {
        guard let json = try? JSONValue.parse(config), json.objectMembers != nil else { return nil }
    }

    func check(address: String, timeoutMilliseconds: UInt32) -> FulcrumProbeResult {
        guard case .success(let target) = FulcrumAddress.parse(address) else { return .unhealthy("invalid address") }
        switch FulcrumProbeSocket.connect(to: target, timeoutMilliseconds: timeoutMilliseconds) {
        case .success: return .healthy
        case .failure(let failure): return .unhealthy(failure.detail)
        }
    }
}

@c public func fulcrum_plugin_entry() -> UnsafePointer<fulcrum_plugin> {
    fulcrumExport(name: "fulcrum-tcp-probe", version: "1.0.0", probes: [TCPProbe.self])
}
