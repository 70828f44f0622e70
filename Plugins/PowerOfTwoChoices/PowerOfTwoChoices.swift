import FulcrumSDK

/// Power of two choices: two distinct backends drawn at random, the one with
/// fewer in-flight requests per unit of weight wins (the first drawn on a
/// tie, which is itself random). Nearly as well balanced as least
/// connections at O(1) cost, and without its herd effect when many
/// balancers share backends.
final class PowerOfTwoChoices: FulcrumStrategy {
    static let name = "power-of-two-choices"
    static let aliases = ["PTC", "P2C"]
    static let description = "two random backends, the less loaded one (in-flight / weight)"

    private let host: FulcrumHost
    private var ids: [UInt64] = []
    private var weights: [UInt32] = []

    init?(host: FulcrumHost, config: String) { self.host = host }

    func update(_ backends: FulcrumBackends) {
        ids = backends.map(\.id)
        weights = backends.map { max($0.weight, 1) }
    }

    func pick(_ request: FulcrumRequest) -> Int? {
        let n = ids.count
        if n <= 1 { return n == 1 ? 0 : nil }
        let a = host.random(below: n)
        var b = host.random(below: n - 1)
        if b >= a { b += 1 }
        let loadA = host.activeRequests(ids[a])
        let loadB = host.activeRequests(ids[b])
        return fulcrumLessLoaded(loadB, weight: weights[b], than: loadA, weight: weights[a]) ? b : a
    }
}

@c public func fulcrum_plugin_entry() -> UnsafePointer<fulcrum_plugin> {
    fulcrumExport(name: "fulcrum-power-of-two-choices", version: "1.0.0", strategies: [PowerOfTwoChoices.self])
}
