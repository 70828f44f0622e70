import FulcrumSDK

/// Least connections: the backend with the fewest in-flight requests per
/// unit of weight (active / weight, compared by cross-multiplication), using
/// the host's process-wide counts. The scan starts one position further on
/// each pick, and the first of equal candidates wins, so ties rotate instead
/// of always going to the first backend.
final class LeastConnections: FulcrumStrategy {
    static let name = "least-connections"
    static let aliases = ["LC"]
    static let description = "fewest in-flight requests per unit of weight, ties rotated"

    private let host: FulcrumHost
    private var ids: [UInt64] = []
    private var weights: [UInt32] = []
    private var start = 0

    init?(host: FulcrumHost, config: String) { self.host = host }

    func update(_ backends: FulcrumBackends) {
        ids = backends.map(\.id)
        weights = backends.map { max($0.weight, 1) }
        start = 0
    }

    func pick(_ request: FulcrumRequest) -> Int? {
        let n = ids.count
        guard n > 0 else { return nil }
        start = start + 1 < n ? start + 1 : 0
        var best = start
        var bestActive = host.activeRequests(ids[best])
        var bestWeight = weights[best]
        var i = start + 1 == n ? 0 : start + 1
        for _ in 1..<n {
            let active = host.activeRequests(ids[i])
            if fulcrumLessLoaded(active, weight: weights[i], than: bestActive, weight: bestWeight) {
                best = i
                bestActive = active
                bestWeight = weights[i]
            }
            i = i + 1 == n ? 0 : i + 1
        }
        return best
    }
}

@c public func fulcrum_plugin_entry() -> UnsafePointer<fulcrum_plugin> {
    fulcrumExport(name: "fulcrum-least-connections", version: "1.0.0", strategies: [LeastConnections.self])
}
