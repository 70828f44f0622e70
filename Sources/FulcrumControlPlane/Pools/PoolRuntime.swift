import FulcrumCore
import FulcrumPluginHost
import FulcrumProxy
import FulcrumRegistry
import FulcrumSDK
import Synchronization

/// One pool as the control plane runs it: the data plane's `ProxyPool`
/// (registry + strategy), its health checker and registrar (each with the
/// pool's probe), and what the configuration file said about it. A reload
/// keeps the object of a pool that keeps its name.
final class PoolRuntime: @unchecked Sendable {
    let name: String
    let proxyPool: ProxyPool
    /// What a reload may replace (under `PoolManager`'s reload lock), read
    /// from any thread (admin calls, the health loop): behind a lock.
    private struct Parts {
        var settings: PoolSettings
        var health: HealthChecker
        var registrar: Registrar
        /// Backends the file lists (a reload drains those it no longer lists;
        /// API-registered ones are never touched by a reload).
        var fileBackends: Set<String> = []
        /// The pool's own ramp (armed once start-up registrations are in), if it has one.
        var slowStart: SlowStart?
    }
    private let parts: Mutex<Parts>

    var settings: PoolSettings { parts.withLock { $0.settings } }
    var health: HealthChecker { parts.withLock { $0.health } }
    var registrar: Registrar { parts.withLock { $0.registrar } }
    var slowStart: SlowStart? { parts.withLock { $0.slowStart } }
    var fileBackends: Set<String> {
        get { parts.withLock { $0.fileBackends } }
        set { parts.withLock { $0.fileBackends = newValue } }
    }

    var registry: Registry { proxyPool.registry }
    var selection: Published<StrategySelection> { proxyPool.selection }

    struct SetupError: Error { let message: String }

    /// Probe and strategy as `settings` says; `scaled`: weights are published
    /// ×10 (some pool uses slow start, so the host told plugins so).
    init(name: String, settings: PoolSettings, catalog: PluginCatalog, scaled: Bool) throws(SetupError) {
        self.name = name
        guard let strategy = catalog.strategy(named: settings.strategy) else {
            throw SetupError(message: "unknown strategy \"\(settings.strategy)\" for pool \(name)")
        }
        let registry = Registry(rise: settings.health.rise, fall: settings.health.fall)
        let slowStart = Self.applySlowStart(settings.slowStart, scaled: scaled, to: registry)
        proxyPool = ProxyPool(name: name, registry: registry,
                              selection: Published(StrategySelection(descriptor: strategy, config: settings.strategyConfig)))
        let probe = try Self.probe(settings.health, catalog: catalog, pool: name)
        let health = HealthChecker(registry: registry, probe: probe, period: settings.health.interval, timeout: settings.health.timeout)
        parts = Mutex(Parts(settings: settings, health: health,
                            registrar: Registrar(registry: registry, probe: probe, timeout: settings.health.timeout, healthChecker: health),
                            slowStart: slowStart))
    }

    static func probe(_ h: PoolSettings.Health, catalog: PluginCatalog, pool: String) throws(SetupError) -> ProbeInstance {
        guard let descriptor = catalog.probe(named: h.probe) else { throw SetupError(message: "unknown probe \"\(h.probe)\" for pool \(pool)") }
        let config: JSONValue = ["path": .string(h.path)]
        guard let probe = descriptor.makeInstance(config: config.serialized) else {
            throw SetupError(message: "probe \(descriptor.name) refused its configuration \(config.serialized) for pool \(pool)")
        }
        return probe
    }

    /// Slow start as configured; a pool without it in a scaled process
    /// still publishes weights ×10 (an unarmed ramp is always at 100%).
    static func applySlowStart(_ window: Double?, scaled: Bool, to registry: Registry) -> SlowStart? {
        if let window {
            let ramp = SlowStart(windowSeconds: window)
            registry.enableSlowStart(ramp)
            return ramp
        } else if scaled {
            registry.enableSlowStart(SlowStart(windowSeconds: 0.001))
        }
        return nil
    }

    /// Takes new settings (a reload): the strategy is switched only when it
    /// or its configuration changed (otherwise every worker keeps its
    /// instance); health settings restart the checker.
    func update(_ next: PoolSettings, catalog: PluginCatalog, started: Bool) throws(SetupError) {
        let settings = self.settings
        let current = selection.value
        if current.descriptor.name != next.strategy || current.config != next.strategyConfig {
            guard let strategy = catalog.strategy(named: next.strategy) else { throw SetupError(message: "unknown strategy \(next.strategy)") }
            selection.publish(StrategySelection(descriptor: strategy, config: next.strategyConfig))
            Log.info("pool \(name): strategy \(strategy.name) \(next.strategyConfig)")
        }
        if next.health != settings.health {
            let probe = try Self.probe(next.health, catalog: catalog, pool: name)
            registry.setThresholds(rise: next.health.rise, fall: next.health.fall)
            let checker = HealthChecker(registry: registry, probe: probe, period: next.health.interval, timeout: next.health.timeout)
            let old = parts.withLock { p -> HealthChecker in
                let old = p.health
                p.health = checker
                p.registrar = Registrar(registry: registry, probe: probe, timeout: next.health.timeout, healthChecker: checker)
                return old
            }
            old.stop()
            if started { checker.start() }
        }
        if next.slowStart != settings.slowStart, let window = next.slowStart {
            let ramp = SlowStart(windowSeconds: window)
            ramp.arm()
            registry.enableSlowStart(ramp)
            parts.withLock { $0.slowStart = ramp }
        }
        parts.withLock { $0.settings = next }
    }
}
