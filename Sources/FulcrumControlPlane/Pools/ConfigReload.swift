import FulcrumCore

/// Reloading the configuration file from a signal (the admin API's
/// `POST /config/reload` answers with the same problems).
enum ConfigReload {
    static func onSIGHUP(_ pools: PoolManager) {
        Log.info("SIGHUP: reloading \(pools.configPath ?? "")")
        if let problems = pools.reload() {
            Log.error("configuration not reloaded (\(problems.count) problem\(problems.count == 1 ? "" : "s"); the previous one stays in force):")
            for p in problems { Log.error(p) }
        }
    }
}
