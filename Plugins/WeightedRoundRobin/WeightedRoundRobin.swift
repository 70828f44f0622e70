import FulcrumSDK

/// Smooth weighted round robin, as nginx does it: every pick, each backend's
/// current weight grows by its weight, the largest is chosen and loses the
/// total. Over any window of sum(weights) picks each backend gets exactly its
/// weight, interleaved: weights 5,1,1 give a a b a c a a, repeating.
///
/// The sequence is periodic, so it is computed once per backend set (with
/// the weights divided by their gcd, which leaves the order unchanged) into a
/// schedule that all workers share with one cursor: a pick is one atomic
/// increment and one array read, whatever the number of backends, and the
/// whole process — not each worker — follows the sequence. A set whose
/// period exceeds `maxSchedule` falls back to the per-instance O(n) algorithm.
final class WeightedRoundRobin: FulcrumStrategy {
    static let name = "weighted-round-robin"
    static let aliases = ["WRR"]
    static let description = "smooth weighted round robin (nginx): each backend gets its weight's share, interleaved"

    /// Schedules longer than this (in picks per period) are not precomputed.
    static let defaultMaxSchedule = 1 << 20

    final class Schedule: @unchecked Sendable {
        /// Immutable after init; a raw buffer so a pick reads it without
        /// retaining an array.
        let order: UnsafeMutableBufferPointer<Int32>
        let rotation = FulcrumRotation()
        init(order: [Int32]) {
            self.order = .allocate(capacity: order.count)
            _ = self.order.initialize(from: order)
        }
        deinit { order.deallocate() }
    }

    private static let schedules = FulcrumSharedState<Schedule>()
    private let maxSchedule: Int
    /// The shared schedule (nil when the fallback runs); `order` and
    /// `rotation` are its parts, copied out for the pick path.
    private var lease: FulcrumLease<Schedule>?
    private var order: UnsafeMutablePointer<Int32>?
    private var rotation = FulcrumRotation()
    private var period: UInt64 = 0
    // The fallback: nginx's algorithm on this instance's own state.
    private var weights: [Int] = []
    private var current: [Int] = []
    private var total = 0

    init?(host: FulcrumHost, config: String) {
        guard let json = try? JSONValue.parse(config) else { return nil }
        if let limit = json["max_schedule"] {
            guard let n = limit.intValue, n >= 1 else { return nil }
            maxSchedule = n
        } else {
            maxSchedule = Self.defaultMaxSchedule
        }
    }

    func update(_ backends: FulcrumBackends) {
        weights = backends.map { Int(max($0.weight, 1)) }
        current = Array(repeating: 0, count: weights.count)
        total = weights.reduce(0, +)
        let divisor = weights.reduce(0, gcd)
        let reducedTotal = divisor > 0 ? total / divisor : 0
        if reducedTotal > 0 && reducedTotal <= maxSchedule {
            let reduced = weights.map { $0 / divisor }
            lease = Self.schedules.lease(fulcrumSignature(of: backends)) {
                Schedule(order: Self.smoothSequence(weights: reduced, length: reducedTotal))
            }
            order = lease!.value.order.baseAddress
            rotation = lease!.value.rotation
            period = UInt64(reducedTotal)
        } else {
            lease = nil
            order = nil
        }
    }

    func pick(_ request: FulcrumRequest) -> Int? {
        if let order {
            return Int(order[Int(rotation.next() % period)])
        }
        return smoothStep()
    }

    /// One step of nginx's smooth weighted round robin on this instance's state.
    private func smoothStep() -> Int? {
        guard !weights.isEmpty else { return nil }
        var best = 0
        for i in weights.indices {
            current[i] += weights[i]
            if current[i] > current[best] { best = i }
        }
        current[best] -= total
        return best
    }

    /// The first `length` picks of the smooth sequence for `weights`.
    static func smoothSequence(weights: [Int], length: Int) -> [Int32] {
        let sum = weights.reduce(0, +)
        var current = Array(repeating: 0, count: weights.count)
        var order: [Int32] = []
        order.reserveCapacity(length)
        for _ in 0..<length {
            var best = 0
            for i in weights.indices {
                current[i] += weights[i]
                if current[i] > current[best] { best = i }
            }
            current[best] -= sum
            order.append(Int32(best))
        }
        return order
    }
}

private func gcd(_ a: Int, _ b: Int) -> Int { b == 0 ? a : gcd(b, a % b) }

@c public func fulcrum_plugin_entry() -> UnsafePointer<fulcrum_plugin> {
    fulcrumExport(name: "fulcrum-weighted-round-robin", version: "1.0.0", strategies: [WeightedRoundRobin.self])
}
