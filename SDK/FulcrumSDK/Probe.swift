/// The outcome of one health check.
public enum FulcrumProbeResult: Sendable, Equatable {
    case healthy
    /// Unhealthy, with a short reason such as "connection refused".
    case unhealthy(String)
}

/// A health probe written in Swift. `check` may run concurrently for
/// different backends on the same instance: keep it free of shared mutable state.
public protocol FulcrumProbe: AnyObject {
    static var name: String { get }
    static var description: String { get }
    init?(host: FulcrumHost, config: String)
    /// Checks the backend at `address` ("http://host:port") within `timeoutMilliseconds`.
    func check(address: String, timeoutMilliseconds: UInt32) -> FulcrumProbeResult
}

extension FulcrumProbe {
    public static var description: String { "" }
}

final class ProbeBox {
    let probe: any FulcrumProbe
    init(_ probe: any FulcrumProbe) { self.probe = probe }
}

typealias ProbeCreateFn = @convention(c) (UnsafePointer<fulcrum_host>?, UnsafePointer<CChar>?) -> UnsafeMutableRawPointer?

func createProbe(slot: Int, _ host: UnsafePointer<fulcrum_host>?, _ config: UnsafePointer<CChar>?) -> UnsafeMutableRawPointer? {
    guard let host, slot < PluginTypes.probes.count else { return nil }
    let type = PluginTypes.probes[slot]
    let text = config.map { String(cString: $0) } ?? "{}"
    guard let instance = type.init(host: FulcrumHost(host), config: text) else { return nil }
    return Unmanaged.passRetained(ProbeBox(instance)).toOpaque()
}

let probeCreateSlots: [ProbeCreateFn] = [
    { createProbe(slot: 0, $0, $1) }, { createProbe(slot: 1, $0, $1) },
    { createProbe(slot: 2, $0, $1) }, { createProbe(slot: 3, $0, $1) },
]

let probeDestroy: @convention(c) (UnsafeMutableRawPointer?) -> Void = { p in
    guard let p else { return }
    Unmanaged<ProbeBox>.fromOpaque(p).release()
}

let probeCheck: @convention(c) (UnsafeMutableRawPointer?, UnsafePointer<CChar>?, UInt32, UnsafeMutablePointer<CChar>?, Int) -> Int32 = {
    p, address, timeout, detail, capacity in
    guard let p, let address else { return 0 }
    let probe = Unmanaged<ProbeBox>.fromOpaque(p).takeUnretainedValue().probe
    switch probe.check(address: String(cString: address), timeoutMilliseconds: timeout) {
    case .healthy:
        return 1
    case .unhealthy(let reason):
        if let detail, capacity > 0 {
            var bytes = Array(reason.utf8.prefix(capacity - 1))
            bytes.append(0)
            bytes.withUnsafeBufferPointer { src in
                src.withMemoryRebound(to: CChar.self) { detail.update(from: $0.baseAddress!, count: $0.count) }
            }
        }
        return 0
    }
}
