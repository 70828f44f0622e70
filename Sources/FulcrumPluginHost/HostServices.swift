import CFulcrumPlugin
import CFulcrumShim
import FulcrumCore
import FulcrumRegistry

/// The `fulcrum_host` every plugin instance receives. `active_requests` and
/// `latency_ewma_us` are C functions over the process-wide backend table
/// (one indirect call and one load); the rest are Swift.
public enum HostServices {
    public nonisolated(unsafe) static let host: UnsafePointer<fulcrum_host> = {
        let p = UnsafeMutablePointer<fulcrum_host>.allocate(capacity: 1)
        p.initialize(to: fulcrum_host(
            active_requests: fulcrum_host_active_requests,
            random_u64: { fulcrum_random_u64() },
            log: { level, message in
                guard let message else { return }
                let l = LogLevel(rawValue: Int(max(0, min(3, level)))) ?? .info
                Log.write(l, "plugin: \(String(cString: message))")
            },
            revision: UInt32(FULCRUM_HOST_REVISION),
            monotonic_ns: { Clock.monotonicNanos() },
            latency_ewma_us: fulcrum_host_latency_ewma_us,
            active_requests_batch: fulcrum_host_active_requests_batch,
            weight_scale: 1))
        _ = BackendTable.shared  // maps the table the C functions read
        return UnsafePointer(p)
    }()

    /// Sets `fulcrum_host.weight_scale` (slow start publishes weights ×10).
    /// Call once at start, before any plugin instance is created: plugins
    /// may read it in `create`.
    public static func setWeightScale(_ scale: UInt32) {
        UnsafeMutablePointer(mutating: host).pointee.weight_scale = max(1, scale)
    }
}
