import Dispatch
import FulcrumCore
import Synchronization

/// Threads that run blocking probe checks. A job never waits behind another:
/// when no thread is idle a new one starts (up to `maxThreads`), so one hung
/// backend — each check is bounded by its own timeout anyway — cannot delay
/// the checks of the others.
final class ProbeWorkers: Sendable {
    private struct State {
        var jobs: [@Sendable () -> Void] = []
        var idle = 0
        var threads = 0
    }
    private let state = Mutex(State())
    private let available = DispatchSemaphore(value: 0)
    let maxThreads: Int

    init(maxThreads: Int = 128) { self.maxThreads = maxThreads }

    func submit(_ job: @escaping @Sendable () -> Void) {
        let spawn: Bool = state.withLock { s in
            s.jobs.append(job)
            if s.idle > 0 {
                s.idle -= 1
                return false
            }
            if s.threads < maxThreads {
                s.threads += 1
                return true
            }
            return false
        }
        if spawn {
            NamedThread.start(name: "fulcrum-probe", stackSize: 512 * 1024) { [self] in run() }
        } else {
            available.signal()
        }
    }

    private func run() {
        while true {
            let job: (@Sendable () -> Void)? = state.withLock { s in s.jobs.isEmpty ? nil : s.jobs.removeFirst() }
            if let job {
                job()
                continue
            }
            state.withLock { $0.idle += 1 }
            // Re-check: a job may have been queued between the two locks.
            let again: (@Sendable () -> Void)? = state.withLock { s in
                if s.jobs.isEmpty { return nil }
                s.idle -= 1
                return s.jobs.removeFirst()
            }
            if let again { again(); continue }
            available.wait()
        }
    }
}
