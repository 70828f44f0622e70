import FulcrumCore
import Glibc
import Synchronization

/// Slow start (`-slow-start SECONDS`): a backend that joins or returns to
/// rotation ramps its effective weight from 10% to 100% of its registered
/// weight over the window, as Envoy's `slow_start_config` with aggression 1:
///
///     effective = weight × max(min_weight_percent, time_factor ^ (1 / aggression))
///     time_factor = max(elapsed, 1 ms) / window,   min_weight_percent = 10%
///
/// (Envoy's page writes max(seconds, 1); its code, `applySlowStartFactor`,
/// floors at 1 ms, which is what this follows: a 2 s window starts at 10%,
/// not 50%.) As in recent Envoy, "elapsed" counts from the moment the backend
/// entered rotation (registered healthy, or back from unhealthy or draining).
///
/// Why: a backend that just started (cold caches, JIT, connection pools) or
/// just recovered would otherwise get its full share at once; least-loaded
/// strategies are worse still, since its empty in-flight count makes it the
/// least loaded backend of all.
///
/// The registry asks for the effective weights each time it publishes a
/// snapshot, and re-publishes while a ramp is in progress (every
/// `republishMillis`: window / 10, between 50 ms and 1 s), so strategies see
/// the weight grow through `update`, never per request.
///
/// Weights are published ×`weightScale` (10) while slow start is on, so even
/// a backend of weight 1 can sit at 10% (1 of 10); ratios between backends
/// are unchanged (the host tells plugins through `fulcrum_host.weight_scale`).
///
/// Backends in rotation before `arm()` (those registered at start) begin at
/// full weight: ramping a whole cluster from cold protects nobody.
public final class SlowStart: Sendable {
    public static let weightScale: UInt32 = 10
    public static let minimumFraction = 0.1
    public static let aggression = 1.0

    public let windowNanos: UInt64
    private let clock: @Sendable () -> UInt64

    private struct State {
        /// Backends in rotation at the last publish → when they entered it (0: before `arm`).
        var since: [UInt64: UInt64] = [:]
        var armed = false
        /// Whether the last computed weights had a backend below full weight.
        var ramping = false
    }
    private let state = Mutex(State())

    public init(windowSeconds: Double, clock: @escaping @Sendable () -> UInt64 = { Clock.monotonicNanos() }) {
        windowNanos = UInt64(max(windowSeconds, 0.001) * 1_000_000_000)
        self.clock = clock
    }

    /// How often the registry re-publishes while a backend ramps.
    public var republishMillis: UInt64 { min(1000, max(50, windowNanos / 10 / 1_000_000)) }

    /// Envoy's slow-start factor for a backend `elapsed` nanoseconds into its window.
    public static func factor(elapsedNanos elapsed: UInt64, windowNanos window: UInt64) -> Double {
        guard elapsed < window else { return 1 }
        let timeFactor = Double(max(elapsed, 1_000_000)) / Double(window)
        return max(minimumFraction, aggression == 1 ? timeFactor : pow(timeFactor, 1 / aggression))
    }

    /// A registered weight at `factor`, in the published unit (×weightScale), at least 1.
    public static func effectiveWeight(_ weight: UInt32, factor: Double) -> UInt32 {
        max(1, UInt32((Double(weight) * Double(weightScale) * factor).rounded()))
    }

    /// From now on a backend entering rotation ramps up.
    public func arm() { state.withLock { $0.armed = true } }

    /// Whether a ramp was in progress at the last publish (the next one may advance it).
    public var needsRepublish: Bool { state.withLock { $0.ramping } }

    /// The effective weights of `eligible` (a snapshot's backends in rotation),
    /// remembering when each entered rotation. Called once per published
    /// snapshot, in publish order (the registry holds its lock).
    public func effectiveWeights(_ eligible: [Backend]) -> [UInt32] {
        let now = clock()
        return state.withLock { s in
            var next: [UInt64: UInt64] = [:]
            next.reserveCapacity(eligible.count)
            var ramping = false
            let weights = eligible.map { b -> UInt32 in
                let since = s.since[b.id] ?? (s.armed ? now : 0)
                next[b.id] = since
                let f = since == 0 ? 1 : Self.factor(elapsedNanos: now &- since, windowNanos: windowNanos)
                if f < 1 { ramping = true }
                return Self.effectiveWeight(b.weight, factor: f)
            }
            s.since = next
            s.ramping = ramping
            return weights
        }
    }
}
