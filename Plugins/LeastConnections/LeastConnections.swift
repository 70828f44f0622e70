import FulcrumSDK

/// Least connections: the backend with the fewest in-flight requests per
/// unit of weight (active / weight, compared by cross-multiplication), using
/// the host's process-wide counts, read for all backends in one host call.
/// The scan starts one position further on each pick, and the first of equal
/// candidates wins, so ties rotate instead of always going to the first backend.
final class LeastConnections: FulcrumStrategy {
    static let name = "least-connections"
    static let aliases = ["LC"]
    static let description = "fewest in-flight requests per unit of weight, ties rotated"

    private let host: FulcrumHost
    private var count = 0
    /// ids, weights and the scratch for counts, as raw buffers sized at update.
    private var ids = UnsafeMutablePointer<UInt64>.allocate(capacity: 1)
    private var weights = UnsafeMutablePointer<UInt32>.allocate(capacity: 1)
    private var active = UnsafeMutablePointer<UInt32>.allocate(capacity: 1)
    private var start = 0

    init?(host: FulcrumHost, config: String) { self.host = host }

    deinit {
        ids.deallocate()
        weights.deallocate()
        active.deallocate()
    }

    func update(_ backends: FulcrumBackends) {
        ids.deallocate()
        weights.deallocate()
        active.deallocate()
        count = backends.count
        ids = .allocate(capacity: max(1, count))
        weights = .allocate(capacity: max(1, count))
        active = .allocate(capacity: max(1, count))
        for (i, b) in backends.enumerated() {
            ids[i] = b.id
            weights[i] = max(b.weight, 1)
        }
        start = 0
    }

    func pick(_ request: FulcrumRequest) -> Int? {
        let n = count
        guard n > 0 else { return nil }
        host.activeRequests(ids, count: n, into: active)
        start = start + 1 < n ? start + 1 : 0
        // Scan start…n-1 then 0…start-1, keeping the first strictly smaller
        // load; selects rather than branches, since which backend wins is
        // unpredictable and a mispredicted branch costs more than the compare.
        var best = start
        var bestActive = UInt64(active[start]), bestWeight = UInt64(weights[start])
        @inline(__always) func consider(_ i: Int) {
            let a = UInt64(active[i]), w = UInt64(weights[i])
            let less = a &* bestWeight < bestActive &* w
            best = less ? i : best
            bestActive = less ? a : bestActive
            bestWeight = less ? w : bestWeight
        }
        for i in (start + 1)..<n { consider(i) }
        for i in 0..<start { consider(i) }
        return best
    }
}

@c public func fulcrum_plugin_entry() -> UnsafePointer<fulcrum_plugin> {
    fulcrumExport(name: "fulcrum-least-connections", version: "1.0.0", strategies: [LeastConnections.self])
}
