import FulcrumPluginHost
import FulcrumRouting
import FulcrumSDK

/// A pool's settings with the command line's defaults filled in: what a
/// pool runs with, and what a reload compares to decide what to keep.
struct PoolSettings: Equatable, Sendable {
    struct Health: Equatable, Sendable {
        var probe: String
        var path: String
        var interval: Double
        var timeout: Double
        var rise: Int
        var fall: Int
    }

    /// Canonical strategy name and its configuration (serialised JSON).
    var strategy: String
    var strategyConfig: String
    var health: Health
    /// Seconds; nil: off.
    var slowStart: Double?

    /// `pool` (nil: a pool the file does not describe, e.g. `default`) over the flags.
    init(_ pool: PoolConfig?, options o: Options, catalog: PluginCatalog) {
        let descriptor = pool?.strategy.flatMap { catalog.strategy(named: $0) } ?? catalog.strategy(named: o.algo)
        strategy = descriptor?.name ?? o.algo
        strategyConfig = pool?.strategyConfig?.serialized ?? (pool?.strategy == nil ? o.algoConfig : "{}")
        let h = pool?.health ?? HealthConfig()
        let interval = h.interval ?? o.period
        health = Health(probe: h.probe ?? o.probe, path: h.path ?? o.healthPath, interval: interval,
                        timeout: h.timeout ?? o.probeTimeout ?? min(2.0, interval),
                        rise: h.rise ?? o.rise, fall: h.fall ?? o.fall)
        let window = pool?.slowStart ?? o.slowStart
        slowStart = window.flatMap { $0 > 0 ? $0 : nil }
    }
}

extension Options {
    /// What validating a configuration file needs from this program: its
    /// strategies, probes and filters (plugins included), the -algo default.
    /// A filter entry is checked by the filter itself (its `on_config_new`):
    /// the refusal names the filter and gives its reason.
    func validationContext(_ catalog: PluginCatalog) -> ValidationContext {
        let algo = self.algo
        return ValidationContext(
            canonicalStrategy: { catalog.strategy(named: $0)?.name },
            strategyRefusal: { name, config in
                guard let descriptor = catalog.strategy(named: name ?? algo) else { return nil }
                return descriptor.makeInstance(config: config.serialized) == nil
                    ? "strategy \(descriptor.name) refused its configuration \(config.serialized)" : nil
            },
            probeExists: { catalog.probe(named: $0) != nil },
            filterRefusal: { entry in
                switch catalog.makeFilterFactory(name: entry.name, config: entry.config?.serialized ?? "{}") {
                case .success: return nil  // the trial factory is destroyed here
                case .failure(let why): return why.description
                }
            })
    }
}
