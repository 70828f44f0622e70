import FulcrumCluster
import FulcrumCore
import FulcrumPluginHost
import FulcrumProxy
import FulcrumRegistry
import FulcrumSDK
import Glibc

/// The admin API of CONTRACT §3, JSend envelopes throughout.
public final class AdminAPI: Sendable {
    let pools: PoolManager
    let catalog: PluginCatalog
    let proxy: Proxy
    let token: String?
    /// The default pool's parts (calls without a pool, the cluster, the seed's API).
    var registry: Registry { pools.defaultRuntime.registry }
    var registrar: Registrar { pools.defaultRuntime.registrar }
    var selection: Published<StrategySelection> { pools.defaultRuntime.selection }
    var health: HealthChecker { pools.defaultRuntime.health }
    let background = ProbeWorkers(maxThreads: 32)
    let startedAt = Clock.monotonicNanos()
    let startedAtWall = Clock.timestamp()
    /// The etcd-shared registry (-registry), once started; see `SharedBox`.
    let sharedBox: SharedBox
    /// The etcd-shared registry, else nil: the in-process one.
    var shared: SharedRegistry? { sharedBox.value }

    init(pools: PoolManager, catalog: PluginCatalog, proxy: Proxy, token: String?, sharedBox: SharedBox = SharedBox()) {
        self.sharedBox = sharedBox
        self.pools = pools
        self.catalog = catalog
        self.proxy = proxy
        self.token = token
    }

    /// With -registry: where a pool's registrations are shared (the default
    /// pool under PREFIX, another under PREFIX/pools/NAME); nil: local.
    func shared(for target: PoolRuntime) -> SharedRegistry? {
        guard let shared else { return nil }
        return target === pools.defaultRuntime ? shared : pools.sharing?.shared(for: target.name)
    }

    /// The pool to name in a registration's answer: only when the call named one.
    func namedPool(_ name: String?, _ target: PoolRuntime) -> PoolRuntime? { name == nil ? nil : target }

    /// The pool a call names (`?pool=` or `"pool"`; none: the default), or the 404 to answer.
    func pool(_ name: String?) -> Result<PoolRuntime, AdminResponseBox> {
        if let r = pools.runtime(forParameter: name) { return .success(r) }
        let known = pools.runtimes.map(\.name).joined(separator: ", ")
        return .failure(AdminResponseBox(Self.fail(404, "no pool \"\(name ?? "")\" (pools: \(known))")))
    }

    // MARK: envelopes

    static func json(_ status: Int, _ value: JSONValue) -> AdminResponse {
        AdminResponse(status: status, contentType: "application/json", body: Array(value.serialized.utf8))
    }

    static func success(_ data: JSONValue) -> AdminResponse { json(200, ["status": "success", "data": data]) }

    static func fail(_ status: Int, _ title: String) -> AdminResponse {
        json(status, ["status": "fail", "data": ["title": .string(title)]])
    }

    // MARK: routing

    /// `AdminGate` has already checked the token and the browser rules on the head.
    public func handle(_ r: AdminRequest, respond: @escaping @Sendable (AdminResponse) -> Void) {
        func only(_ methods: String...) -> Bool {
            if methods.contains(r.method) { return true }
            var response = Self.fail(405, "method \(r.method) not allowed on \(r.path)")
            response.headers.append(("Allow", methods.joined(separator: ", ")))
            respond(response)
            return false
        }
        switch r.path {
        case "/register":
            if only("POST") { register(r, respond: respond) }
        case "/backends":
            guard only("GET", "DELETE") else { return }
            let target: PoolRuntime
            switch pool(r.query["pool"]) {
            case .success(let p): target = p
            case .failure(let box): respond(box.response); return
            }
            if r.method == "DELETE", let shared = shared(for: target), case .success(let address) = drainTarget(r) {
                sharedDrain(shared, address, pool: target, respond: respond)
                return
            }
            respond(r.method == "GET" ? listBackends(target) : drain(r, target))
        case "/pools":
            if only("GET") { respond(listPools()) }
        case "/routes":
            if only("GET") { respond(listRoutes()) }
        case "/config/reload":
            if only("POST") { reloadConfig(respond: respond) }
        case "/strategy":
            guard only("GET", "PUT") else { return }
            if r.method == "GET" {
                switch pool(r.query["pool"]) {
                case .success(let p): respond(currentStrategy(p))
                case .failure(let box): respond(box.response)
                }
                return
            }
            switch validatedStrategy(r) {
            case .failure(let box): respond(box.response)
            case .success(let (choice, target)):
                if let shared = shared(for: target) {
                    if let reason = shared.unavailableReason { respond(Self.unavailable(reason)); return }
                    sharedSwitch(shared, SharedStrategy(name: choice.descriptor.name, config: choice.config), respond: respond)
                } else {
                    respond(switchStrategy(choice, target))
                }
            }
        case "/cluster":
            if only("GET") { respond(clusterInfo()) }
        case "/plugins":
            guard only("GET", "POST") else { return }
            respond(r.method == "GET" ? listPlugins() : loadPlugin(r))
        case "/metrics":
            if only("GET") {
                respond(AdminResponse(status: 200, contentType: "text/plain; version=0.0.4; charset=utf-8",
                                      body: Array(MetricsExposition.render(self).utf8)))
            }
        case "/tls/reload":
            if only("POST") { respond(reloadTLS()) }
        case "/healthz":
            if only("GET", "HEAD") { respond(Self.success(["uptime_seconds": .number(uptime, isInteger: false)])) }
        case "/", "/index.html":
            if only("GET") {
                respond(AdminResponse(status: 200, contentType: "text/html; charset=utf-8", body: Array(statusPage(r).utf8)))
            }
        default:
            respond(Self.fail(404, "no such endpoint: \(r.path)"))
        }
    }

    /// `POST /tls/reload`: re-reads the certificate files (as SIGHUP does).
    func reloadTLS() -> AdminResponse {
        guard let certificates = TLSCertificates.installed else { return Self.fail(404, "TLS is not enabled (-tls-listen)") }
        if let why = certificates.reload() { return Self.fail(422, "reload failed, previous certificates kept: \(why)") }
        return Self.success(["certificates": .integer(certificates.pairs.count)])
    }

    var uptime: Double { Double(Clock.monotonicNanos() - startedAt) / 1e9 }

    /// The body as a JSON object, or the 400 to answer.
    func jsonObject(_ r: AdminRequest) -> Result<JSONValue, AdminResponseBox> {
        guard !r.body.isEmpty else { return .failure(AdminResponseBox(Self.fail(400, "request body is missing (a JSON object)"))) }
        let parsed: JSONValue
        do {
            parsed = try r.body.withUnsafeBytes { raw throws(JSONError) in try JSONValue.parse(raw) }
        } catch {
            return .failure(AdminResponseBox(Self.fail(400, "request body is not valid JSON: \(error)")))
        }
        guard parsed.objectMembers != nil else { return .failure(AdminResponseBox(Self.fail(400, "request body must be a JSON object"))) }
        return .success(parsed)
    }

    /// 403 for a member outside `allowed`.
    func unknownField(_ object: JSONValue, allowed: Set<String>) -> AdminResponse? {
        for (key, _) in object.objectMembers ?? [] where !allowed.contains(key) {
            return Self.fail(403, "unknown field \"\(key)\" (allowed: \(allowed.sorted().joined(separator: ", ")))")
        }
        return nil
    }

    // MARK: POST /register

    func register(_ r: AdminRequest, respond: @escaping @Sendable (AdminResponse) -> Void) {
        let object: JSONValue
        switch jsonObject(r) {
        case .success(let o): object = o
        case .failure(let box): respond(box.response); return
        }
        if let problem = unknownField(object, allowed: ["address", "weight", "pool"]) { respond(problem); return }
        guard let addressValue = object["address"] else { respond(Self.fail(400, "field \"address\" is required")); return }
        guard let addressText = addressValue.stringValue else { respond(Self.fail(400, "field \"address\" must be a string like http://127.0.0.1:8081")); return }
        let address: FulcrumAddress
        switch FulcrumAddress.parse(addressText) {
        case .success(let a): address = a
        case .failure(let e): respond(Self.fail(400, "invalid address \"\(addressText)\": \(e)")); return
        }
        var weight: UInt32 = 1
        if let w = object["weight"] {
            guard let n = w.intValue, n >= 1, n <= 1000 else {
                respond(Self.fail(400, "field \"weight\" must be an integer from 1 to 1000"))
                return
            }
            weight = UInt32(n)
        }
        var poolName: String?
        if let p = object["pool"] {
            guard let name = p.stringValue, !name.isEmpty else { respond(Self.fail(400, "field \"pool\" must be a pool name")); return }
            poolName = name
        }
        let target: PoolRuntime
        switch pool(poolName) {
        case .success(let p): target = p
        case .failure(let box): respond(box.response); return
        }
        if let shared = shared(for: target) {
            sharedRegister(shared, address, weight: weight, pool: namedPool(poolName, target), respond: respond)
            return
        }
        // Probing blocks for up to the probe timeout: not on the admin loop.
        let registrar = target.registrar
        let namedPool = poolName != nil
        let weightToRegister = weight
        background.submit {
            switch registrar.register(address, weight: weightToRegister, requireAlive: true) {
            case .registered(let b):
                var data: JSONValue = ["server": .string(b.address), "weight": .integer(Int(b.weight))]
                if namedPool, case .object(var m) = data { m.append(("pool", .string(target.name))); data = .object(m) }
                respond(Self.success(data))
            case .notAlive(let detail):
                Log.info("registration of \(address) refused: not alive (\(detail))")
                respond(Self.fail(422, "\(address) not alive, registration failed."))
            case .invalid(let why):
                respond(Self.fail(400, why))
            case .full:
                respond(Self.fail(503, "no room for another backend"))
            }
        }
    }

    // MARK: backends

    /// Each backend's counters, summed over the workers.
    func backendCounters(_ statuses: [BackendStatus]) -> [UInt64: BackendCounters] {
        var out: [UInt64: BackendCounters] = [:]
        for status in statuses {
            var sum = BackendCounters()
            for w in proxy.workers { if let c = w.metrics.backendBlock(status.id) { sum = sum + c } }
            out[status.id] = sum
        }
        return out
    }

    func listBackends(_ target: PoolRuntime) -> AdminResponse {
        Self.success(backendsData(target))
    }

    /// `data` of GET /backends for one pool (also one entry of GET /pools).
    func backendsData(_ target: PoolRuntime) -> JSONValue {
        let statuses = target.registry.statuses()
        let counters = backendCounters(statuses)
        let list: [JSONValue] = statuses.map { s in
            let c = counters[s.id] ?? BackendCounters()
            return .object([
                ("address", .string(s.address)),
                ("weight", .integer(Int(s.weight))),
                ("effective_weight", .number(s.effectiveWeight, isInteger: s.effectiveWeight == s.effectiveWeight.rounded())),
                ("healthy", .bool(s.healthy)),
                ("draining", .bool(s.draining)),
                ("active", .integer(Int(s.active))),
                ("requests", .integer(Int(c.requests))),
                ("failures", .integer(Int(c.failures))),
                ("latency_ms", .number(Double(s.latencyMicros) / 1000, isInteger: false)),
                ("last_check", .string(s.lastCheck)),
            ])
        }
        return ["strategy": .string(target.selection.value.descriptor.name), "backends": .array(list)]
    }

    /// The address a DELETE /backends names, or the 400 to answer.
    func drainTarget(_ r: AdminRequest) -> Result<FulcrumAddress, AdminResponseBox> {
        guard let raw = r.query["address"], !raw.isEmpty else {
            return .failure(AdminResponseBox(Self.fail(400, "query parameter \"address\" is required: DELETE /backends?address=http%3A%2F%2Fhost%3Aport")))
        }
        guard case .success(let address) = FulcrumAddress.parse(raw) else { return .failure(AdminResponseBox(Self.fail(400, "invalid address \"\(raw)\""))) }
        return .success(address)
    }

    func drain(_ r: AdminRequest, _ target: PoolRuntime) -> AdminResponse {
        let address: FulcrumAddress
        switch drainTarget(r) {
        case .success(let a): address = a
        case .failure(let box): return box.response
        }
        let registry = target.registry
        guard let b = registry.drain(address: address.description) else { return Self.fail(404, "no backend \(address.description)") }
        Log.info("draining \(b.address): no new requests; removed when its \(registry.table.active(b.id)) in-flight request(s) finish")
        registry.removeIdleDrained()
        return Self.success(["address": .string(b.address), "draining": true, "active": .integer(Int(registry.table.active(b.id)))])
    }

    // MARK: strategy

    func currentStrategy(_ target: PoolRuntime) -> AdminResponse {
        let current = target.selection.value
        let available: [JSONValue] = catalog.strategies.map {
            .object([("name", .string($0.name)), ("aliases", .array($0.aliases.map { .string($0) })),
                     ("description", .string($0.description))])
        }
        return Self.success(["strategy": .string(current.descriptor.name), "available": .array(available)])
    }

    /// A PUT /strategy body checked: the strategy exists and accepts its configuration.
    func validatedStrategy(_ r: AdminRequest) -> Result<(StrategySelection, PoolRuntime), AdminResponseBox> {
        func refuse(_ response: AdminResponse) -> Result<(StrategySelection, PoolRuntime), AdminResponseBox> { .failure(AdminResponseBox(response)) }
        let object: JSONValue
        switch jsonObject(r) {
        case .success(let o): object = o
        case .failure(let box): return .failure(box)
        }
        if let problem = unknownField(object, allowed: ["name", "config", "pool"]) { return refuse(problem) }
        guard let name = object["name"]?.stringValue, !name.isEmpty else { return refuse(Self.fail(400, "field \"name\" (a strategy name) is required")) }
        var config = "{}"
        if let c = object["config"] {
            guard c.objectMembers != nil else { return refuse(Self.fail(400, "field \"config\" must be a JSON object")) }
            config = c.serialized
        }
        guard let descriptor = catalog.strategy(named: name) else {
            let known = catalog.strategies.map(\.name).joined(separator: ", ")
            return refuse(Self.fail(404, "no strategy \"\(name)\" (available: \(known))"))
        }
        // Proves the configuration before any worker switches.
        guard descriptor.makeInstance(config: config) != nil else {
            return refuse(Self.fail(400, "strategy \(descriptor.name) refused its configuration \(config)"))
        }
        if let p = object["pool"], p.stringValue == nil { return refuse(Self.fail(400, "field \"pool\" must be a pool name")) }
        switch pool(object["pool"]?.stringValue) {
        case .success(let target): return .success((StrategySelection(descriptor: descriptor, config: config), target))
        case .failure(let box): return .failure(box)
        }
    }

    func switchStrategy(_ choice: StrategySelection, _ target: PoolRuntime) -> AdminResponse {
        let descriptor = choice.descriptor
        let selection = target.selection
        let previous = selection.value.descriptor.name
        selection.publish(choice)
        Log.info("pool \(target.name): strategy switched from \(previous) to \(descriptor.name)")
        return Self.success(["strategy": .string(descriptor.name)])
    }

    // MARK: plugins

    static func describe(_ lib: PluginLibrary) -> JSONValue {
        .object([
            ("file", .string(lib.file)),
            ("name", .string(lib.name)),
            ("version", .string(lib.version)),
            ("strategies", .array(lib.strategies.map { .string($0.name) })),
            ("probes", .array(lib.probes.map { .string($0.name) })),
            ("filters", .array(lib.filters.map { .string($0.name) })),
            ("abi", .integer(Int(lib.abi))),
        ])
    }

    func listPlugins() -> AdminResponse {
        Self.success(["plugins": .array(catalog.libraries.map(Self.describe))])
    }

    func loadPlugin(_ r: AdminRequest) -> AdminResponse {
        let object: JSONValue
        switch jsonObject(r) {
        case .success(let o): object = o
        case .failure(let box): return box.response
        }
        if let problem = unknownField(object, allowed: ["path"]) { return problem }
        guard let path = object["path"]?.stringValue, path.hasPrefix("/") else {
            return Self.fail(400, "field \"path\" must be an absolute path to a .so file")
        }
        let file: String
        switch PluginFileRule.check(path) {
        case .success(let resolved): file = resolved
        case .failure(let refusal):
            Log.warn(refusal.message)
            return Self.fail(400, refusal.message)
        }
        do throws(PluginLoadError) {
            // The resolved path: a link swapped after the check changes nothing.
            let (library, _) = try catalog.load(file: file, strict: true)
            Log.info("loaded plugin \(library.name) \(library.version) from \(path): strategies \(library.strategies.map(\.name)), probes \(library.probes.map(\.name)), filters \(library.filters.map(\.name))")
            return Self.success(Self.describe(library))
        } catch {
            Log.warn("refused plugin: \(error)")
            return Self.fail(400, error.description)
        }
    }
}

/// Lets a response travel in a `Result` failure.
struct AdminResponseBox: Error {
    let response: AdminResponse
    init(_ response: AdminResponse) { self.response = response }
}
