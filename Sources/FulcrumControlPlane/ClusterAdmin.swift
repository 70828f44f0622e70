import FulcrumCluster
import FulcrumCore
import FulcrumProxy
import FulcrumRegistry
import FulcrumSDK

/// The admin calls that change the registry, in `-registry etcd://` mode:
/// they write to etcd and answer once this instance's watch applied the
/// write; while etcd is unreachable they answer 503 fail with the reason.
/// They run on the background workers: an etcd call blocks up to its deadline.
extension AdminAPI {
    static func unavailable(_ reason: String) -> AdminResponse { fail(503, reason) }

    /// POST /register: probe once here, then share it (alive, by this probe).
    func sharedRegister(_ shared: SharedRegistry, _ address: FulcrumAddress, weight: UInt32, pool: PoolRuntime? = nil,
                        respond: @escaping @Sendable (AdminResponse) -> Void) {
        let registrar = (pool ?? pools.defaultRuntime).registrar
        let poolName = pool?.name
        background.submit {
            if let reason = shared.unavailableReason { respond(Self.unavailable(reason)); return }
            let check = registrar.check(address)
            if case .failure(let e) = check.resolved { respond(Self.fail(422, "\(address) not alive, registration failed. (\(e))")); return }
            if let detail = check.detail {
                Log.info("registration of \(address) refused: not alive (\(detail))")
                respond(Self.fail(422, "\(address) not alive, registration failed."))
                return
            }
            switch shared.putBackend(SharedBackend(address: address.description, weight: weight, draining: false)) {
            case .written:
                Log.info("registered \(address) weight \(weight) in \(shared.url)")
                var data: [(String, JSONValue)] = [("server", .string(address.description)), ("weight", .integer(Int(weight)))]
                if let poolName { data.append(("pool", .string(poolName))) }
                respond(Self.success(.object(data)))
            case .notWritten: respond(Self.unavailable("registry refused the write"))
            case .failed(let why): respond(Self.unavailable(why))
            }
        }
    }

    /// DELETE /backends: mark it draining in etcd; every instance drains it.
    func sharedDrain(_ shared: SharedRegistry, _ address: FulcrumAddress, pool: PoolRuntime? = nil,
                     respond: @escaping @Sendable (AdminResponse) -> Void) {
        let registry = (pool ?? pools.defaultRuntime).registry
        background.submit {
            if let reason = shared.unavailableReason { respond(Self.unavailable(reason)); return }
            guard let entry = shared.sync.sharedBackend(address.description) else {
                respond(Self.fail(404, "no backend \(address.description)"))
                return
            }
            func answer() -> AdminResponse {
                let active = registry.statuses().first { $0.address == record.address }.map { Int($0.active) } ?? 0
                return Self.success(["address": .string(record.address), "draining": true, "active": .integer(active)])
            }
            let record = entry.record
            if record.draining { respond(answer()); return }
            switch shared.drainBackend(entry) {
            case .written:
                Log.info("draining \(record.address) on every instance of \(shared.url)")
                respond(answer())
            case .notWritten:
                respond(Self.fail(409, "\(record.address) changed meanwhile; retry"))
            case .failed(let why): respond(Self.unavailable(why))
            }
        }
    }

    /// PUT /strategy after validation: share the selection.
    func sharedSwitch(_ shared: SharedRegistry, _ selection: SharedStrategy, respond: @escaping @Sendable (AdminResponse) -> Void) {
        background.submit {
            switch shared.putStrategy(selection) {
            case .written:
                Log.info("strategy \(selection.name) written to \(shared.url)")
                respond(Self.success(["strategy": .string(selection.name)]))
            case .notWritten: respond(Self.unavailable("registry refused the write"))
            case .failed(let why): respond(Self.unavailable(why))
            }
        }
    }

    /// GET /cluster.
    func clusterInfo() -> AdminResponse {
        guard let shared else {
            let me = InstanceInfo(id: "local", proxy: proxy.boundAddress.description, admin: sharedBox.adminAddress, since: startedAtWall)
            return Self.success(["registry": "local", "connected": true, "revision": 0, "instances": [me.json]])
        }
        let s = shared.sync.snapshot
        var connected = false
        if case .watching = s.link { connected = true }
        let instances = s.instances.values.sorted { $0.since == $1.since ? $0.id < $1.id : $0.since < $1.since }
        return Self.success([
            "registry": .string(shared.url.description),
            "connected": .bool(connected),
            "revision": .integer(Int(s.revision)),
            "instances": .array(instances.map(\.json)),
        ])
    }
}
