import FulcrumCore
import FulcrumPluginHost
import FulcrumRegistry
import Glibc
import Synchronization

/// Checks every registered backend every `period` with the probe plugin,
/// all concurrently, each within `timeout`; results feed the registry's
/// rise/fall counters. A backend whose previous check is still running is
/// skipped for that round rather than queued twice.
public final class HealthChecker: @unchecked Sendable {
    let registry: Registry
    let probe: ProbeInstance
    let period: Double
    let timeoutMilliseconds: UInt32
    let workers = ProbeWorkers()
    private let inProgress = Mutex<Set<UInt64>>([])
    private let stopped = Atomic<Bool>(false)
    /// Per backend address: (passes, failures), for metrics.
    private let perBackend = Mutex<[String: (UInt64, UInt64)]>([:])

    public init(registry: Registry, probe: ProbeInstance, period: Double, timeout: Double) {
        self.registry = registry
        self.probe = probe
        self.period = period
        timeoutMilliseconds = UInt32(max(1, min(timeout, period) * 1000))
    }

    public func start() {
        NamedThread.start(name: "fulcrum-health") { [self] in loop() }
    }

    public func stop() { stopped.store(true, ordering: .relaxed) }

    private func loop() {
        var next = Clock.monotonicNanos() + UInt64(period * 1e9)
        while !stopped.load(ordering: .relaxed) {
            let now = Clock.monotonicNanos()
            if now < next {
                // Sleep in short steps so `stop` is prompt.
                usleep(UInt32(min(100_000, (next - now) / 1000)))
                continue
            }
            next += UInt64(period * 1e9)
            if next < now { next = now + UInt64(period * 1e9) }  // we fell behind: do not burst
            runRound()
        }
    }

    /// One round: a check per backend, started at once.
    func runRound() {
        for status in registry.statuses() {
            let id = status.id
            let claimed = inProgress.withLock { $0.insert(id).inserted }
            guard claimed else { continue }
            let address = status.address
            workers.submit { [self] in
                let detail = probe.check(address: address, timeoutMilliseconds: timeoutMilliseconds)
                registry.recordProbe(id: id, passed: detail == nil, detail: detail ?? "")
                count(address: address, passed: detail == nil)
                _ = inProgress.withLock { $0.remove(id) }
            }
        }
    }

    func count(address: String, passed: Bool) {
        perBackend.withLock { table in
            var entry = table[address] ?? (0, 0)
            if passed { entry.0 += 1 } else { entry.1 += 1 }
            table[address] = entry
        }
    }

    /// (passes, failures) per backend address since start.
    func checkCounts() -> [String: (UInt64, UInt64)] { perBackend.withLock { $0 } }
}
