import CFulcrumPlugin

/// A strategy some loaded plugin provides. Makes per-worker instances.
public final class StrategyDescriptor: @unchecked Sendable {
    /// Canonical name, e.g. "round-robin".
    public let name: String
    public let aliases: [String]
    public let description: String
    /// The plugin file it came from.
    public let file: String
    let vtable: UnsafePointer<fulcrum_strategy>

    init(name: String, aliases: [String], description: String, file: String, vtable: UnsafePointer<fulcrum_strategy>) {
        self.name = name
        self.aliases = aliases
        self.description = description
        self.file = file
        self.vtable = vtable
    }

    /// Every name it answers to.
    public var names: [String] { [name] + aliases }

    /// A new instance, or nil when the plugin refuses `config`.
    public func makeInstance(config: String = "{}") -> StrategyInstance? {
        makeInstance(config: config, host: HostServices.host)
    }

    /// A new instance served by another `fulcrum_host` (tests and benchmarks:
    /// a controllable clock), or nil when the plugin refuses `config`.
    public func makeInstance(config: String, host: UnsafePointer<fulcrum_host>) -> StrategyInstance? {
        let raw = config.withCString { vtable.pointee.create!(host, $0) }
        guard let raw else { return nil }
        return StrategyInstance(descriptor: self, raw: raw)
    }
}

/// One worker's instance of a strategy. Not thread-safe by design: the ABI
/// promises a plugin that one instance is never called concurrently, so a
/// worker owns its instance outright. The function pointers are copied out of
/// the vtable once; `pick` is then one indirect call.
public final class StrategyInstance {
    public let descriptor: StrategyDescriptor
    let raw: UnsafeMutableRawPointer
    private let updateFn: @convention(c) (UnsafeMutableRawPointer?, UnsafePointer<fulcrum_backend>?, Int) -> Void
    private let pickFn: @convention(c) (UnsafeMutableRawPointer?, UnsafePointer<fulcrum_request>?) -> Int64
    private let completeFn: (@convention(c) (UnsafeMutableRawPointer?, UInt64, Int32, UInt64) -> Void)?
    private let destroyFn: @convention(c) (UnsafeMutableRawPointer?) -> Void
    /// Size of the last update; `pick` results outside it are treated as none.
    /// (Private storage lets whole-module optimisation drop the dynamic
    /// exclusivity check a public stored `var` would cost on every pick.)
    private var eligibleCount = 0
    public var count: Int { eligibleCount }

    init(descriptor: StrategyDescriptor, raw: UnsafeMutableRawPointer) {
        self.descriptor = descriptor
        self.raw = raw
        let v = descriptor.vtable.pointee
        updateFn = v.update!
        pickFn = v.pick!
        completeFn = v.complete
        destroyFn = v.destroy!
    }

    deinit { destroyFn(raw) }

    /// Gives the instance the eligible backends (valid until the next update).
    public func update(_ backends: UnsafePointer<fulcrum_backend>?, count: Int) {
        eligibleCount = count
        updateFn(raw, count > 0 ? backends : nil, count)
    }

    /// An index into the last update's backends, or nil for none.
    @inline(__always)
    public func pick(_ request: UnsafePointer<fulcrum_request>) -> Int? {
        let n = eligibleCount
        guard n > 0 else { return nil }
        let index = pickFn(raw, request)
        return index >= 0 && index < Int64(n) ? Int(index) : nil
    }

    @inline(__always)
    public var wantsCompletions: Bool { completeFn != nil }

    @inline(__always)
    public func complete(backendID: UInt64, status: Int32, durationMicros: UInt64) {
        completeFn?(raw, backendID, status, durationMicros)
    }
}
