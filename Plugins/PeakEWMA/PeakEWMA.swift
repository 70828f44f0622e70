import FulcrumSDK
import Glibc

/// Peak-EWMA power of two choices, after Finagle's `PeakEwma` balancer: two
/// distinct random backends, the one with the lower
/// `peak-EWMA latency × (in-flight + 1)` wins (the first drawn on a tie).
///
/// Peak EWMA: a sample above the current value replaces it at once (a
/// backend that turns slow is avoided from its first slow answer); otherwise
/// the value moves toward the sample with weight e^(−Δt/τ) on the old value,
/// Δt the time since the last update and τ = `decay_ms` (default 10,000).
/// Reading a cost decays it the same way toward 0 (Finagle's `observe(0)`
/// on read), so a backend that was slow and stopped being chosen is tried
/// again once its cost has decayed, and its share returns if it recovered.
///
/// Samples come from `complete()`, this instance's own measurement (pick to
/// end of response), not from the host's `latency_ewma_us`: that figure is a
/// plain EWMA with a fixed 1/8 weight per sample — it has no peak and no
/// decay in time, and it already smooths away the spike this balancer is
/// built to react to. `complete` also gives each sample at its own moment,
/// which the e^(−Δt/τ) weight needs. A 502/504 (the backend failed) counts
/// as at least twice the backend's current cost, so a backend failing fast
/// does not look fast.
///
/// A backend with no sample yet (new, or back in the set) costs as if it
/// answered in the median of the others' costs: 0 would make it look the
/// fastest, and every pick it is drawn in would go to it, whatever its
/// in-flight count, until its first answer returns (a thundering herd on a
/// cold backend); infinity would mean it is never chosen, so it never gets a
/// sample. The median treats it as typical until its own answers speak, and
/// one outlier among the others does not move it. Recomputed (O(N), in a
/// preallocated scratch buffer) after every 16th sample or a first sample,
/// not per pick. With no samples at all every cost is equal and the choice
/// is by in-flight count alone.
///
/// Per-instance state (one per worker, as Finagle keeps one per balancer):
/// each worker learns from the responses it proxied.
///
/// Measured: in a simulated steady load (tests, 20 requests in flight, one
/// of three backends 50 ms slower) the slow backend got 1.5% of the picks,
/// and 33.1% again after it recovered. A pick costs 23 ns with 3 backends and
/// 29 ns with 100 (fulcrum-pick-bench; PTC 21 / 20 ns in the same runs): no
/// clock read (costs decay to the time of the last completion, read in
/// `complete`) and no libm call for the small decay steps between picks
/// (with both, it cost 155 ns).
final class PeakEWMA: FulcrumStrategy {
    static let name = "peak-ewma"
    static let aliases = ["PEWMA"]
    static let description = "two random backends, the lower peak-EWMA latency × (in-flight + 1) (Finagle's cost; decay_ms 10000)"
    static let observesCompletions = true

    private let host: FulcrumHost
    /// τ in nanoseconds.
    private let tau: Double
    private var count = 0
    private var ids = UnsafeMutablePointer<UInt64>.allocate(capacity: 1)
    /// Peak-EWMA cost in microseconds, the time it was last updated, and whether any sample came.
    private var cost = UnsafeMutablePointer<Double>.allocate(capacity: 1)
    private var stamp = UnsafeMutablePointer<UInt64>.allocate(capacity: 1)
    private var sampled = UnsafeMutablePointer<Bool>.allocate(capacity: 1)
    private var scratch = UnsafeMutablePointer<Double>.allocate(capacity: 1)
    private var index: [UInt64: Int] = [:]
    private var median = 1.0
    private var samplesSinceMedian = 0
    /// The host's clock as last read (in `complete` and `update`): a pick
    /// decays costs to this time instead of reading the clock itself. Under
    /// load completions come far more often than τ changes anything, and the
    /// pick saves a clock read.
    private var now: UInt64 = 0

    init?(host: FulcrumHost, config: String) {
        guard let json = try? JSONValue.parse(config) else { return nil }
        var decay = 10_000.0
        if let member = json["decay_ms"] {
            guard let v = member.doubleValue, v.isFinite, v > 0, v <= 86_400_000 else { return nil }
            decay = v
        }
        self.host = host
        tau = decay * 1_000_000
    }

    deinit { release() }

    private func release() {
        ids.deallocate(); cost.deallocate(); stamp.deallocate(); sampled.deallocate(); scratch.deallocate()
    }

    func update(_ backends: FulcrumBackends) {
        // Carry each surviving backend's cost over, by id.
        let old = (count, ids, cost, stamp, sampled, index)
        let n = backends.count
        count = n
        ids = .allocate(capacity: max(1, n))
        cost = .allocate(capacity: max(1, n))
        stamp = .allocate(capacity: max(1, n))
        sampled = .allocate(capacity: max(1, n))
        scratch.deallocate()
        scratch = .allocate(capacity: max(1, n))
        index = [:]
        index.reserveCapacity(n)
        for (i, b) in backends.enumerated() {
            ids[i] = b.id
            index[b.id] = i
            if let j = old.5[b.id] {
                cost[i] = old.2[j]; stamp[i] = old.3[j]; sampled[i] = old.4[j]
            } else {
                cost[i] = 0; stamp[i] = 0; sampled[i] = false
            }
        }
        _ = old.0
        old.1.deallocate(); old.2.deallocate(); old.3.deallocate(); old.4.deallocate()
        recomputeMedian()
        now = host.monotonicNanos()
    }

    /// The cost of backend `i` at `now`, decayed toward 0 since its last update.
    @inline(__always)
    private func currentCost(_ i: Int, now: UInt64) -> Double {
        guard sampled[i] else { return median }
        if now > stamp[i] {
            cost[i] *= decay(Double(now - stamp[i]) / tau)
            stamp[i] = now
        }
        return cost[i]
    }

    /// e^(−x). Between two picks x is tiny (microseconds over τ = seconds):
    /// there the Taylor polynomial (error < x⁴/24, below 1e-9 for x < 0.01)
    /// spares the libm call.
    @inline(__always)
    private func decay(_ x: Double) -> Double {
        x < 0.01 ? 1 - x * (1 - x * (0.5 - x / 6)) : exp(-x)
    }

    func pick(_ request: FulcrumRequest) -> Int? {
        let n = count
        if n <= 1 { return n == 1 ? 0 : nil }
        let a = host.random(below: n)
        var b = host.random(below: n - 1)
        if b >= a { b += 1 }
        let costA = currentCost(a, now: now) * Double(host.activeRequests(ids[a]) + 1)
        let costB = currentCost(b, now: now) * Double(host.activeRequests(ids[b]) + 1)
        return costB < costA ? b : a
    }

    func complete(backendID: UInt64, status: Int32, durationMicros: UInt64) {
        now = host.monotonicNanos()
        guard let i = index[backendID] else { return }
        var sample = Double(max(durationMicros, 1))
        let first = !sampled[i]
        if status == 502 || status == 504 {
            sample = max(sample, 2 * (first ? median : currentCost(i, now: now)))
        }
        if first || sample > cost[i] {
            cost[i] = sample
        } else {
            let w = now > stamp[i] ? decay(Double(now - stamp[i]) / tau) : 1
            cost[i] = cost[i] * w + sample * (1 - w)
        }
        stamp[i] = now
        sampled[i] = true
        samplesSinceMedian += 1
        if first || samplesSinceMedian >= 16 { recomputeMedian() }
    }

    /// The median of the sampled backends' costs (1 when none has a sample).
    private func recomputeMedian() {
        samplesSinceMedian = 0
        var k = 0
        for i in 0..<count where sampled[i] { scratch[k] = cost[i]; k += 1 }
        guard k > 0 else { median = 1; return }
        median = Self.select(scratch, count: k, rank: k / 2)
    }

    /// The element of rank `rank` (0-based) of `values[0..<count]`, reordering them (quickselect).
    static func select(_ values: UnsafeMutablePointer<Double>, count: Int, rank: Int) -> Double {
        var lo = 0, hi = count - 1
        while lo < hi {
            let pivot = values[(lo + hi) / 2]
            var i = lo, j = hi
            while i <= j {
                while values[i] < pivot { i += 1 }
                while values[j] > pivot { j -= 1 }
                if i <= j { values.swapAt(i, j) ; i += 1; j -= 1 }
            }
            if rank <= j { hi = j } else if rank >= i { lo = i } else { return values[rank] }
        }
        return values[lo]
    }
}

extension UnsafeMutablePointer where Pointee == Double {
    @inline(__always) func swapAt(_ i: Int, _ j: Int) {
        let t = self[i]; self[i] = self[j]; self[j] = t
    }
}

@c public func fulcrum_plugin_entry() -> UnsafePointer<fulcrum_plugin> {
    fulcrumExport(name: "fulcrum-peak-ewma", version: "1.0.0", strategies: [PeakEWMA.self])
}
