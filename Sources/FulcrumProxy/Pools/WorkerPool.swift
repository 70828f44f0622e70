import FulcrumCore
import FulcrumPluginHost
import FulcrumRegistry

/// One pool as one worker runs it: its own strategy instance and the
/// backend snapshot that instance last saw. Owned by the worker's thread.
/// A request routed to a pool keeps this object until it ends, so a reload
/// that drops the pool lets it finish where it is.
final class WorkerPool {
    let pool: ProxyPool
    var strategy: StrategyInstance?
    /// Bumped when the strategy instance is replaced: a completion for a
    /// request picked by the previous instance is not reported to the new one.
    var strategyEpoch: UInt64 = 0
    var selectionGeneration: UInt64 = 0
    var snapshot = BackendSnapshot(all: [])
    var snapshotGeneration: UInt64 = 0

    /// The pool's name as bytes (a filter's pool choice is compared to it).
    let nameBytes: [UInt8]

    init(_ pool: ProxyPool) {
        self.pool = pool
        nameBytes = Array(pool.name.utf8)
    }

    var registry: Registry { pool.registry }

    /// Catches up with `PUT /strategy` and registry changes. The previous
    /// snapshot (whose arrays the plugin saw in its last `update`) is kept
    /// alive until the new `update` has returned, so a plugin may compare.
    func refresh(worker: Int) {
        var forceUpdate = false
        let selection = pool.selection
        if selection.generation != selectionGeneration {
            let (chosen, generation) = selection.read()
            selectionGeneration = generation
            if let instance = chosen.descriptor.makeInstance(config: chosen.config) {
                strategy = instance
                strategyEpoch &+= 1
                forceUpdate = true
            } else {
                Log.error("worker \(worker): pool \(pool.name): strategy \(chosen.descriptor.name) refused its configuration; keeping the previous one")
            }
        }
        let published = pool.registry.published
        if published.generation != snapshotGeneration || forceUpdate {
            let (current, generation) = published.read()
            let previous = snapshot
            snapshot = current
            snapshotGeneration = generation
            strategy?.update(current.cEligible, count: current.eligible.count)
            withExtendedLifetime(previous) {}
        }
    }
}
