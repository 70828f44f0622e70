import CFulcrumPlugin
import CFulcrumShim
import FulcrumCore
import FulcrumRegistry

/// The `fulcrum_host` every plugin instance receives: plain C functions over
/// the process-wide backend table, so `active_requests` from a plugin is one
/// indirect call and one atomic load.
public enum HostServices {
    public nonisolated(unsafe) static let host: UnsafePointer<fulcrum_host> = {
        let p = UnsafeMutablePointer<fulcrum_host>.allocate(capacity: 1)
        p.initialize(to: fulcrum_host(
            active_requests: { id in BackendTable.shared.active(id) },
            random_u64: { fulcrum_random_u64() },
            log: { level, message in
                guard let message else { return }
                let l = LogLevel(rawValue: Int(max(0, min(3, level)))) ?? .info
                Log.write(l, "plugin: \(String(cString: message))")
            },
            revision: UInt32(FULCRUM_HOST_REVISION),
            monotonic_ns: { Clock.monotonicNanos() },
            latency_ewma_us: { id in BackendTable.shared.latencyEWMA(id) }))
        return UnsafePointer(p)
    }()
}
