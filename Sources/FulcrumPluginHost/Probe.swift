import CFulcrumPlugin
import FulcrumSDK

/// A health probe some loaded plugin provides.
public final class ProbeDescriptor: @unchecked Sendable {
    public let name: String
    public let description: String
    public let file: String
    let vtable: UnsafePointer<fulcrum_probe>

    init(name: String, description: String, file: String, vtable: UnsafePointer<fulcrum_probe>) {
        self.name = name
        self.description = description
        self.file = file
        self.vtable = vtable
    }

    /// A new instance, or nil when the plugin refuses `config`.
    public func makeInstance(config: String = "{}") -> ProbeInstance? {
        let raw = config.withCString { vtable.pointee.create!(HostServices.host, $0) }
        guard let raw else { return nil }
        return ProbeInstance(descriptor: self, raw: raw, config: config)
    }
}

/// A probe instance. `check` is re-entrant by the ABI's rules, so one
/// instance serves every concurrent check.
public final class ProbeInstance: @unchecked Sendable {
    public let descriptor: ProbeDescriptor
    let raw: UnsafeMutableRawPointer
    /// The `http` probe's health path, for the host's own HTTPS checks.
    let healthPath: String

    init(descriptor: ProbeDescriptor, raw: UnsafeMutableRawPointer, config: String) {
        self.descriptor = descriptor
        self.raw = raw
        healthPath = (try? JSONValue.parse(config))?["path"]?.stringValue ?? "/"
    }

    deinit { descriptor.vtable.pointee.destroy!(raw) }

    /// Runs one check: nil when healthy, else the probe's reason.
    public func check(address: String, timeoutMilliseconds: UInt32) -> String? {
        // The http probe plugin speaks plain TCP: the host probes https:// backends itself.
        if descriptor.name == "http", address.hasPrefix("https://"), case .success(let target) = FulcrumAddress.parse(address) {
            return HTTPSProbe.check(target, path: healthPath, timeoutMilliseconds: timeoutMilliseconds)
        }
        var detail = [CChar](repeating: 0, count: 256)
        let ok = address.withCString { a in
            detail.withUnsafeMutableBufferPointer { d in
                descriptor.vtable.pointee.check!(raw, a, timeoutMilliseconds, d.baseAddress, d.count)
            }
        }
        if ok == 1 { return nil }
        detail[detail.count - 1] = 0
        let reason = detail.withUnsafeBufferPointer { String(cString: $0.baseAddress!) }
        return reason.isEmpty ? "check failed" : reason
    }
}
