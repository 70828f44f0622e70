import CFulcrumPlugin
import CFulcrumShim
import FulcrumCluster
import FulcrumCore
import FulcrumDemoBackend
import FulcrumEtcd
import FulcrumPluginHost
import FulcrumProxy
import FulcrumRegistry
import FulcrumRouting
import FulcrumSDK
import Glibc
import Synchronization

/// The `fulcrum` program: flags → plugins → registry → proxy, admin API and
/// health checks → serve until SIGTERM/SIGINT → drain → exit 0.
public enum Fulcrum {
    /// Runs the program; returns the exit code.
    public static func main(_ arguments: [String]) -> Int32 {
        let options: Options
        do {
            options = try OptionParser.parse(arguments)
        } catch {
            Console.error("fulcrum: \(error)")
            return 2
        }
        if options.help { Console.out(OptionParser.usage); return 0 }
        if options.version { Console.out("fulcrum \(FulcrumVersion.string) (plugin ABI \(FULCRUM_ABI_VERSION))"); return 0 }
        Log.level = options.logLevel
        if options.checkConfig {
            do throws(StartError) {
                try checkConfig(options)
                return 0
            } catch {
                if !error.description.isEmpty { Console.error("fulcrum: \(error.description)") }
                return 2
            }
        }
        // Before any thread exists, so every thread inherits it: SIGINT and
        // SIGTERM are taken by sigwait below, SIGPIPE never kills us.
        fulcrum_ignore_sigpipe()
        _ = fulcrum_block_signals()
        _ = fulcrum_raise_fd_limit()
        do {
            try run(options)
            return 0
        } catch {
            // Empty: the problems are printed already, one a line (a bad -config file).
            if !error.description.isEmpty { Console.error("fulcrum: \(error.description)") }
            return error.exitCode
        }
    }

    struct StartError: Error, CustomStringConvertible {
        let description: String
        let exitCode: Int32
        init(_ description: String, exitCode: Int32 = 1) {
            self.description = description
            self.exitCode = exitCode
        }
    }

    static func resolve(_ text: String, flag: String) throws(StartError) -> SocketAddress {
        guard let (host, port) = splitHostPort(text) else { throw StartError("invalid \(flag) \(text): must be HOST:PORT", exitCode: 2) }
        switch SocketAddress.resolve(host: host.isEmpty ? "0.0.0.0" : host, port: port, passive: true) {
        case .success(let a): return a
        case .failure(let e): throw StartError("invalid \(flag) \(text): \(e)", exitCode: 2)
        }
    }

    static func isLoopback(_ a: SocketAddress) -> Bool {
        a.withIPBytes { ip in
            ip.count == 4 ? ip[0] == 127 : (ip.prefix(15).allSatisfy { $0 == 0 } && ip[15] == 1)
        }
    }

    /// Plugins: built-ins beside the executable, then -plugins, then
    /// FULCRUM_PLUGIN_PATH; then the -algo and -probe defaults checked.
    static func loadPlugins(_ o: Options) throws(StartError) -> PluginCatalog {
        for dir in o.pluginDirectories {
            var st = stat()
            guard stat(dir, &st) == 0, (st.st_mode & S_IFMT) == S_IFDIR else {
                throw StartError("-plugins \(dir): no such directory", exitCode: 2)
            }
        }
        let catalog = PluginCatalog()
        let env = getenv("FULCRUM_PLUGIN_PATH").map { String(cString: $0) }
        let searchPath = PluginSearchPath(executableDirectory: PluginSearchPath.executableDirectory,
                                          pluginDirectories: o.pluginDirectories, environmentPath: env)
        let (warnings, errors) = searchPath.load(into: catalog)
        for w in warnings { Log.warn(w) }
        if let first = errors.first { throw StartError(first.description) }

        guard let strategy = catalog.strategy(named: o.algo) else {
            let names = catalog.strategies.map { ([$0.name] + $0.aliases).joined(separator: "/") }.joined(separator: ", ")
            throw StartError("unknown strategy \"\(o.algo)\" for -algo (available: \(names.isEmpty ? "none; are the plugin .so files next to the executable?" : names))", exitCode: 2)
        }
        guard strategy.makeInstance(config: o.algoConfig) != nil else {
            throw StartError("strategy \(strategy.name) refused -algo-config \(o.algoConfig)", exitCode: 2)
        }
        guard let probeDescriptor = catalog.probe(named: o.probe) else {
            let names = catalog.libraries.flatMap { $0.probes.map(\.name) }.joined(separator: ", ")
            throw StartError("unknown probe \"\(o.probe)\" for -probe (available: \(names))", exitCode: 2)
        }
        let probeConfig: JSONValue = ["path": .string(o.healthPath)]
        guard probeDescriptor.makeInstance(config: probeConfig.serialized) != nil else {
            throw StartError("probe \(probeDescriptor.name) refused its configuration \(probeConfig.serialized)", exitCode: 2)
        }
        return catalog
    }

    /// The configuration file, checked; its problems printed one a line
    /// (stderr) and exit 2 when it is invalid.
    static func readConfig(_ o: Options, catalog: PluginCatalog) throws(StartError) -> RoutingConfig? {
        guard let path = o.configPath else { return nil }
        switch ConfigLoader.read(path, options: o, catalog: catalog) {
        case .valid(let c): return c
        case .invalid(let problems):
            // One line per problem on stderr, each starting with the file's path, and nothing else.
            for p in problems { Console.error(p) }
            if o.checkConfig { Console.out("\(path): invalid: \(problems.count) problem\(problems.count == 1 ? "" : "s")") }
            throw StartError("", exitCode: 2)
        }
    }

    /// -check-config: flags, plugins and the file, then a summary. Binds no
    /// port, probes nothing, contacts no etcd.
    static func checkConfig(_ o: Options) throws(StartError) {
        _ = try resolve(o.listen, flag: "-listen")
        let adminAddress = try resolve(o.admin, flag: "-admin")
        if !isLoopback(adminAddress) && o.adminToken == nil {
            throw StartError("-admin \(o.admin) is reachable from other hosts: set -admin-token TOKEN (or use a loopback address)", exitCode: 2)
        }
        let catalog = try loadPlugins(o)
        if let config = try readConfig(o, catalog: catalog), let path = o.configPath {
            Console.out(ConfigLoader.summary(config, path: path))
        } else {
            Console.out("flags valid (no -config file): one pool, default, strategy \(catalog.strategy(named: o.algo)?.name ?? o.algo)")
        }
    }

    static func run(_ o: Options) throws(StartError) {
        let listen = try resolve(o.listen, flag: "-listen")
        let adminAddress = try resolve(o.admin, flag: "-admin")
        if !isLoopback(adminAddress) && o.adminToken == nil {
            throw StartError("-admin \(o.admin) is reachable from other hosts: set -admin-token TOKEN (or use a loopback address)", exitCode: 2)
        }
        let catalog = try loadPlugins(o)
        let fileConfig = try readConfig(o, catalog: catalog)
        // The pools (one, "default", without -config); slow start may scale weights ×10.
        let pools: PoolManager
        do { pools = try PoolManager(options: o, catalog: catalog, config: fileConfig, configPath: o.configPath) } catch {
            throw StartError(error.message, exitCode: 2)
        }

        let stateFile = o.stateFile.map(StateFile.init(path:))
        var saved: [PersistentBackend] = []
        if let stateFile {
            do { saved = try stateFile.load() } catch { throw StartError(error.description) }
        }
        var accessLog: AccessLogFile?
        if let path = o.accessLog {
            do { accessLog = try AccessLogFile(path: path) } catch { throw StartError(error.description) }
        }

        // TLS: OpenSSL is loaded only when a TLS flag (or an https:// backend) asks for it.
        let tlsListen = try o.tlsListen.map { text throws(StartError) in try resolve(text, flag: "-tls-listen") }
        _ = try TLSCertificates.start(o)
        // SIGHUP: TLS certificates and the configuration file are both re-read.
        TLSCertificates.watchSIGHUP { if pools.configPath != nil { ConfigReload.onSIGHUP(pools) } }

        // Bind everything before registering anything: a port in use fails fast.
        var config = ProxyConfig(listen: listen, workers: o.workers)
        config.tlsListen = tlsListen
        config.headerTimeout = UInt64(o.headerTimeout * 1000)
        config.idleTimeout = UInt64(o.idleTimeout * 1000)
        config.connectTimeout = UInt64(o.connectTimeout * 1000)
        config.responseTimeout = UInt64(o.timeout * 1000)
        config.bodyTimeout = UInt64(o.bodyTimeout * 1000)
        let proxy = Proxy(config: config, routing: pools.routing, accessLog: accessLog)
        do { try proxy.start() } catch { throw StartError("\(error) (-listen/-port\(tlsListen == nil ? "" : "/-tls-listen"))") }

        // -registry: the address the admin API gets is known only once bound; the
        // shared registry is made after it, so the API reaches it through a box.
        let sharedBox = SharedBox()
        let api = AdminAPI(pools: pools, catalog: catalog, proxy: proxy, token: o.adminToken, sharedBox: sharedBox)
        var limits = AdminLimits()
        limits.headerTimeoutMillis = UInt64(o.headerTimeout * 1000)
        limits.idleTimeoutMillis = UInt64(o.idleTimeout * 1000)
        let gate = AdminGate(token: o.adminToken, adminHost: splitHostPort(o.admin)?.host ?? "")
        let admin = AdminServer(address: adminAddress, gate: gate, limits: limits) { request, respond in api.handle(request, respond: respond) }
        do { try admin.start() } catch { throw StartError("\(error) (-admin)") }
        sharedBox.adminAddress = admin.address.description
        admin.every(milliseconds: 100) {
            // A backend drained away here: the first instance to get there deletes its shared key.
            for (pool, addresses) in pools.removeIdleDrained() {
                let shared = pool == pools.defaultRuntime.name ? sharedBox.value : pools.sharing?.shared(for: pool)
                shared?.locallyRemoved(addresses)
            }
        }

        // Demo backends.
        var demoBackends: [DemoBackend] = []
        if o.demo {
            for i in 1...3 {
                let preferred = SocketAddress.resolve(host: "127.0.0.1", port: UInt16(9000 + i)).get(or: nil)
                let any = SocketAddress.resolve(host: "127.0.0.1", port: 0).get(or: nil)!
                let b = (try? DemoBackend(name: "backend-\(i)", listen: preferred ?? any)) ?? (try? DemoBackend(name: "backend-\(i)", listen: any))
                guard let b else { throw StartError("cannot start demo backend \(i)") }
                b.start()
                demoBackends.append(b)
            }
        }

        // Initial registrations, per pool: the state file, then the file's
        // backends and -backend (default pool), which win on weight, then the
        // demo backends. Probed concurrently; a backend that does not answer
        // yet is kept, out of rotation until it passes `rise` checks.
        let defaultPool = pools.defaultRuntime
        var initial: [String: [(FulcrumAddress, UInt32, Bool)]] = [:]
        func add(_ pool: String, _ a: FulcrumAddress, _ weight: UInt32, _ draining: Bool) {
            initial[pool, default: []].removeAll { $0.0 == a }
            initial[pool, default: []].append((a, weight, draining))
        }
        for p in saved {
            guard case .success(let a) = FulcrumAddress.parse(p.address) else { continue }
            let name = p.pool ?? defaultPool.name
            guard pools.runtime(named: name) != nil else {
                Log.warn("state file: \(p.address) belongs to pool \(name), which the configuration does not have; skipped")
                continue
            }
            add(name, a, p.weight, p.draining)
        }
        for pool in fileConfig?.effectivePools ?? [] {
            for b in pool.backends { if case .success(let a) = FulcrumAddress.parse(b.address) { add(pool.name, a, b.effectiveWeight, false) } }
        }
        for b in o.backends { add(defaultPool.name, b.address, b.weight, false) }
        for d in demoBackends { add(defaultPool.name, FulcrumAddress(host: "127.0.0.1", port: d.address.port), 1, false) }
        let registrations = initial.map { (name, entries) in
            NamedThread.start(name: "fulcrum-register") { registerAll(entries, registrar: pools.runtime(named: name)!.registrar) }
        }
        for t in registrations { t.join() }
        if let fileConfig { pools.noteFileBackends(fileConfig) }
        if let text = o.registry, case .success(let url) = EtcdURL.parse(text) {
            let me = InstanceInfo(id: ClusterStart.instanceID(), proxy: proxy.boundAddress.description,
                                  admin: admin.address.description, since: Clock.timestamp())
            let seeds = (initial[defaultPool.name] ?? []).map { SharedBackend(address: $0.0.description, weight: $0.1, draining: false) }
            let strategySeed = SharedStrategy(name: defaultPool.selection.value.descriptor.name, config: defaultPool.selection.value.config)
            // Pools other than the default one are shared under PREFIX/pools/NAME (docs/cluster.md).
            let sharing = PoolSharing(url: url, catalog: catalog, instance: me)
            sharing.setKnown(pools.runtimes.map(\.name))
            let prefix = url.prefix
            let applier = ClusterApplier(registry: defaultPool.registry, selection: defaultPool.selection, catalog: catalog) {
                sharing.other(key: $0, prefix: prefix)
            }
            let shared = SharedRegistry(url: url, applier: applier, instance: me) { ClusterStart.seed($0, backends: seeds, strategy: strategySeed) }
            sharedBox.value = shared
            pools.sharing = sharing
            shared.start()
            for r in pools.runtimes where r !== defaultPool {
                sharing.start(r, seeds: (initial[r.name] ?? []).map { SharedBackend(address: $0.0.description, weight: $0.1, draining: false) })
            }
        }
        if pools.scaled {
            // Backends registered at start begin at full weight; later arrivals ramp.
            admin.every(milliseconds: pools.runtimes.compactMap(\.slowStart).map(\.republishMillis).min() ?? 100) { pools.republishIfRamping() }
        }
        if let stateFile {
            pools.onPersistentChange { stateFile.save(pools.persistentEntries()) }
            stateFile.save(pools.persistentEntries())
        }
        pools.startHealth()

        let routing = pools.routing.value
        let eligible = defaultPool.registry.snapshot.eligible.count
        let what = fileConfig == nil
            ? "strategy \(defaultPool.selection.value.descriptor.name), \(eligible)/\(defaultPool.registry.snapshot.all.count) backends in rotation"
            : "\(routing.pools.count) pool(s), \(routing.table?.routes.count ?? 0) route(s) from \(o.configPath ?? "")"
        Console.error("fulcrum \(FulcrumVersion.string): proxy listening on \(proxy.boundAddress)\(proxy.boundTLSAddress.map { ", HTTPS on \($0)" } ?? "") (\(proxy.workers.count) workers), "
                      + "admin API on \(admin.address), \(what)")
        if o.demo {
            DemoTour.start(proxy: proxy.boundAddress, admin: admin.address, token: o.adminToken, backends: demoBackends)
        }

        let signal = fulcrum_wait_termination_signal()
        Log.info("received \(signal == SIGTERM ? "SIGTERM" : "SIGINT"): no new connections; waiting up to \(Int(o.drainTimeout)) s for in-flight requests")
        pools.stopHealth()
        sharedBox.value?.stop()
        pools.sharing?.stopAll()
        proxy.beginShutdown()
        if proxy.waitForDrain(seconds: o.drainTimeout) {
            Log.info("drained; bye")
        } else {
            Log.warn("\(proxy.openConnections) connection(s) still open after \(Int(o.drainTimeout)) s; exiting anyway")
        }
    }

    /// Probes `entries` concurrently (each bounded by the probe timeout),
    /// then registers them in their given order: strategies see backends in
    /// registration order.
    static func registerAll(_ entries: [(FulcrumAddress, UInt32, Bool)], registrar: Registrar) {
        guard !entries.isEmpty else { return }
        let results = Mutex<[Int: Registrar.Check]>([:])
        let threads = entries.enumerated().map { (i, entry) in
            NamedThread.start(name: "fulcrum-register") {
                let check = registrar.check(entry.0)
                results.withLock { $0[i] = check }
            }
        }
        for t in threads { t.join() }
        let checks = results.withLock { $0 }
        for (i, entry) in entries.enumerated() {
            guard let check = checks[i] else { continue }
            if case .invalid(let why) = registrar.commit(check, weight: entry.1, draining: entry.2, requireAlive: false) {
                Log.error("cannot register \(entry.0): \(why)")
            }
        }
    }
}

extension Result {
    func get(or fallback: Success?) -> Success? {
        if case .success(let v) = self { return v }
        return fallback
    }
}
