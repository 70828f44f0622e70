import FulcrumSDK

/// Round robin: each eligible backend in turn.
///
/// The rotation is shared by every worker's instance (through
/// `FulcrumSharedState`, keyed by the backend set), so the whole process —
/// not each worker separately — goes a, b, c, a, b, c… as HAProxy's
/// `balance roundrobin` does with several threads. A new backend set starts a
/// new rotation at its first backend.
final class RoundRobin: FulcrumStrategy {
    static let name = "round-robin"
    static let aliases = ["RR"]
    static let description = "each healthy backend in turn"

    private static let rotations = FulcrumSharedState<FulcrumRotation>()
    private var lease: FulcrumLease<FulcrumRotation>?
    private var rotation = FulcrumRotation()
    private var count: UInt64 = 0

    init?(host: FulcrumHost, config: String) {}

    func update(_ backends: FulcrumBackends) {
        count = UInt64(backends.count)
        lease = Self.rotations.lease(fulcrumSignature(of: backends, includeWeights: false)) { FulcrumRotation() }
        rotation = lease!.value
    }

    func pick(_ request: FulcrumRequest) -> Int? {
        count == 0 ? nil : Int(rotation.next() % count)
    }
}

@c public func fulcrum_plugin_entry() -> UnsafePointer<fulcrum_plugin> {
    fulcrumExport(name: "fulcrum-round-robin", version: "1.0.0", strategies: [RoundRobin.self])
}
