import CFulcrumPlugin
import CFulcrumShim
import FulcrumCore
import FulcrumDemoBackend
import FulcrumEtcd
import FulcrumPluginHost
import FulcrumProxy
import FulcrumRegistry
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
        // Before any thread exists, so every thread inherits it: SIGINT and
        // SIGTERM are taken by sigwait below, SIGPIPE never kills us.
        fulcrum_ignore_sigpipe()
        _ = fulcrum_block_signals()
        _ = fulcrum_raise_fd_limit()
        do {
            try run(options)
            return 0
        } catch {
            Console.error("fulcrum: \(error.description)")
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

    static func run(_ o: Options) throws(StartError) {
        let listen = try resolve(o.listen, flag: "-listen")
        let adminAddress = try resolve(o.admin, flag: "-admin")
        if !isLoopback(adminAddress) && o.adminToken == nil {
            throw StartError("-admin \(o.admin) is reachable from other hosts: set -admin-token TOKEN (or use a loopback address)", exitCode: 2)
        }

        // Slow start publishes weights ×10; plugins may read the scale in create.
        let slowStart = o.slowStart.map { SlowStart(windowSeconds: $0) }
        if slowStart != nil { HostServices.setWeightScale(SlowStart.weightScale) }

        // Plugins: built-ins beside the executable, then -plugins, then FULCRUM_PLUGIN_PATH.
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
        guard let probe = probeDescriptor.makeInstance(config: probeConfig.serialized) else {
            throw StartError("probe \(probeDescriptor.name) refused its configuration \(probeConfig.serialized)", exitCode: 2)
        }

        let registry = Registry(rise: o.rise, fall: o.fall)
        if let slowStart { registry.enableSlowStart(slowStart) }
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
        TLSCertificates.watchSIGHUP()

        // Bind everything before registering anything: a port in use fails fast.
        var config = ProxyConfig(listen: listen, workers: o.workers)
        config.tlsListen = tlsListen
        config.headerTimeout = UInt64(o.headerTimeout * 1000)
        config.idleTimeout = UInt64(o.idleTimeout * 1000)
        config.connectTimeout = UInt64(o.connectTimeout * 1000)
        config.responseTimeout = UInt64(o.timeout * 1000)
        config.bodyTimeout = UInt64(o.bodyTimeout * 1000)
        let selection = Published(StrategySelection(descriptor: strategy, config: o.algoConfig))
        let defaultPool = ProxyPool(name: "default", registry: registry, selection: selection)
        let routing = Published(Routing(pools: [defaultPool], table: nil, defaultPool: 0, unmatchedPool: 0, workers: max(1, o.workers)))
        let proxy = Proxy(config: config, routing: routing, accessLog: accessLog)
        do { try proxy.start() } catch { throw StartError("\(error) (-listen/-port\(tlsListen == nil ? "" : "/-tls-listen"))") }

        let health = HealthChecker(registry: registry, probe: probe, period: o.period, timeout: o.effectiveProbeTimeout)
        let registrar = Registrar(registry: registry, probe: probe, timeout: o.effectiveProbeTimeout, healthChecker: health)
        // -registry: the address the admin API gets is known only once bound; the
        // shared registry is made after it, so the API reaches it through a box.
        let sharedBox = SharedBox()
        let api = AdminAPI(registry: registry, registrar: registrar, catalog: catalog, selection: selection,
                           proxy: proxy, health: health, token: o.adminToken, sharedBox: sharedBox)
        var limits = AdminLimits()
        limits.headerTimeoutMillis = UInt64(o.headerTimeout * 1000)
        limits.idleTimeoutMillis = UInt64(o.idleTimeout * 1000)
        let gate = AdminGate(token: o.adminToken, adminHost: splitHostPort(o.admin)?.host ?? "")
        let admin = AdminServer(address: adminAddress, gate: gate, limits: limits) { request, respond in api.handle(request, respond: respond) }
        do { try admin.start() } catch { throw StartError("\(error) (-admin)") }
        sharedBox.adminAddress = admin.address.description
        admin.every(milliseconds: 100) {
            let removed = registry.removeIdleDrained()
            if !removed.isEmpty { sharedBox.value?.locallyRemoved(removed) }
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

        // Initial registrations: the state file, then -backend (which wins on
        // weight), then the demo backends. Probed concurrently; a backend that
        // does not answer yet is kept, out of rotation until it passes `rise` checks.
        var initial: [(FulcrumAddress, UInt32, Bool)] = []
        for p in saved { if case .success(let a) = FulcrumAddress.parse(p.address) { initial.append((a, p.weight, p.draining)) } }
        for b in o.backends { initial.removeAll { $0.0 == b.address }; initial.append((b.address, b.weight, false)) }
        for d in demoBackends { initial.append((FulcrumAddress(host: "127.0.0.1", port: d.address.port), 1, false)) }
        registerAll(initial, registrar: registrar)
        if let text = o.registry, case .success(let url) = EtcdURL.parse(text) {
            let me = InstanceInfo(id: ClusterStart.instanceID(), proxy: proxy.boundAddress.description,
                                  admin: admin.address.description, since: Clock.timestamp())
            let seeds = initial.map { SharedBackend(address: $0.0.description, weight: $0.1, draining: false) }
            let strategySeed = SharedStrategy(name: strategy.name, config: o.algoConfig)
            let shared = SharedRegistry(url: url, applier: ClusterApplier(registry: registry, selection: selection, catalog: catalog),
                                        instance: me) { ClusterStart.seed($0, backends: seeds, strategy: strategySeed) }
            sharedBox.value = shared
            shared.start()
        }
        if let slowStart {
            // Backends registered at start begin at full weight; later arrivals ramp.
            slowStart.arm()
            admin.every(milliseconds: slowStart.republishMillis) { registry.republishIfRamping() }
        }
        if let stateFile {
            registry.onPersistentChange { stateFile.save($0) }
            stateFile.save(registry.persistentEntries)
        }
        health.start()

        let eligible = registry.snapshot.eligible.count
        Console.error("fulcrum \(FulcrumVersion.string): proxy listening on \(proxy.boundAddress)\(proxy.boundTLSAddress.map { ", HTTPS on \($0)" } ?? "") (\(proxy.workers.count) workers), "
                      + "admin API on \(admin.address), strategy \(strategy.name), \(eligible)/\(registry.snapshot.all.count) backends in rotation")
        if o.demo {
            DemoTour.start(proxy: proxy.boundAddress, admin: admin.address, token: o.adminToken, backends: demoBackends)
        }

        let signal = fulcrum_wait_termination_signal()
        Log.info("received \(signal == SIGTERM ? "SIGTERM" : "SIGINT"): no new connections; waiting up to \(Int(o.drainTimeout)) s for in-flight requests")
        health.stop()
        sharedBox.value?.stop()
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
