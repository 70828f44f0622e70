/// A balancing strategy written in Swift.
///
/// The host makes one instance per worker thread and never calls one
/// instance concurrently, so an instance needs no locks for its own state.
/// Implement `update` and `pick`; export the type with `fulcrumExport`.
public protocol FulcrumStrategy: AnyObject {
    /// Canonical name, e.g. "round-robin".
    static var name: String { get }
    /// Other names, e.g. ["RR"]. Names are matched case-insensitively.
    static var aliases: [String] { get }
    /// One line for people.
    static var description: String { get }
    /// Whether the host should call `complete` (skip the call when unused).
    static var observesCompletions: Bool { get }

    /// Makes an instance for one worker; `config` is a JSON object text.
    /// Return nil to refuse the configuration.
    init?(host: FulcrumHost, config: String)
    /// The eligible backends, in registration order; valid until the next update.
    func update(_ backends: FulcrumBackends)
    /// An index into the last update's backends, or nil for "none" (503).
    func pick(_ request: FulcrumRequest) -> Int?
    /// Called after a request this instance picked has finished.
    func complete(backendID: UInt64, status: Int32, durationMicros: UInt64)
}

extension FulcrumStrategy {
    public static var aliases: [String] { [] }
    public static var description: String { "" }
    public static var observesCompletions: Bool { false }
    public func complete(backendID: UInt64, status: Int32, durationMicros: UInt64) {}
}

/// Holds an instance behind the opaque pointer the host sees; calling through
/// the existential is one witness-table dispatch.
final class StrategyBox {
    let strategy: any FulcrumStrategy
    init(_ strategy: any FulcrumStrategy) { self.strategy = strategy }
}

/// Calls `body` with the instance behind `p` without retaining it: the host
/// owns the instance until `destroy`, so +0 is safe, and `pick` then costs no
/// reference counting.
@inline(__always)
private func withStrategy<R>(_ p: UnsafeMutableRawPointer?, _ body: (any FulcrumStrategy) -> R) -> R {
    Unmanaged<StrategyBox>.fromOpaque(p!)._withUnsafeGuaranteedRef { body($0.strategy) }
}

/// C function pointers cannot capture the strategy type, so `create` goes
/// through one of a fixed set of slot trampolines, each reading its type from
/// `PluginTypes.strategies[slot]`. The other entry points get the instance
/// pointer and need no slot.
typealias StrategyCreateFn = @convention(c) (UnsafePointer<fulcrum_host>?, UnsafePointer<CChar>?) -> UnsafeMutableRawPointer?

func createStrategy(slot: Int, _ host: UnsafePointer<fulcrum_host>?, _ config: UnsafePointer<CChar>?) -> UnsafeMutableRawPointer? {
    guard let host, slot < PluginTypes.strategies.count else { return nil }
    let type = PluginTypes.strategies[slot]
    let text = config.map { String(cString: $0) } ?? "{}"
    guard let instance = type.init(host: FulcrumHost(host), config: text) else { return nil }
    return Unmanaged.passRetained(StrategyBox(instance)).toOpaque()
}

let strategyCreateSlots: [StrategyCreateFn] = [
    { createStrategy(slot: 0, $0, $1) }, { createStrategy(slot: 1, $0, $1) },
    { createStrategy(slot: 2, $0, $1) }, { createStrategy(slot: 3, $0, $1) },
    { createStrategy(slot: 4, $0, $1) }, { createStrategy(slot: 5, $0, $1) },
    { createStrategy(slot: 6, $0, $1) }, { createStrategy(slot: 7, $0, $1) },
]

let strategyDestroy: @convention(c) (UnsafeMutableRawPointer?) -> Void = { p in
    guard let p else { return }
    Unmanaged<StrategyBox>.fromOpaque(p).release()
}

let strategyUpdate: @convention(c) (UnsafeMutableRawPointer?, UnsafePointer<fulcrum_backend>?, Int) -> Void = { p, backends, count in
    withStrategy(p) { $0.update(FulcrumBackends(base: backends, count: count)) }
}

let strategyPick: @convention(c) (UnsafeMutableRawPointer?, UnsafePointer<fulcrum_request>?) -> Int64 = { p, request in
    guard let request, let index = withStrategy(p, { $0.pick(FulcrumRequest(request)) }) else { return -1 }
    return Int64(index)
}

let strategyComplete: @convention(c) (UnsafeMutableRawPointer?, UInt64, Int32, UInt64) -> Void = { p, id, status, duration in
    withStrategy(p) { $0.complete(backendID: id, status: status, durationMicros: duration) }
}
