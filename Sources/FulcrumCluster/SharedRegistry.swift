import FulcrumCore
import FulcrumEtcd
import FulcrumRegistry

/// `-registry etcd://…`: the registry shared through etcd. Admin calls
/// write here; nothing is changed locally until the watch (ClusterSync)
/// delivers the write, on this instance as on every other.
public final class SharedRegistry: Sendable {
    public let url: EtcdURL
    let client: EtcdClient
    let keys: ClusterKeys
    public let sync: ClusterSync
    let lease: InstanceLease
    let instance: InstanceInfo
    /// etcd write deadline for an admin call: with the probe before it and
    /// the wait after it, the call still answers within CONTRACT's 5 s.
    static let writeTimeout = 2.5
    /// How long an admin call waits for its own watch to deliver its write.
    static let applyWait = 1.0

    public init(url: EtcdURL, applier: ClusterApplier, instance: InstanceInfo, seed: @escaping @Sendable (SharedRegistry) -> Bool) {
        self.url = url
        client = EtcdClient(url: url)
        keys = ClusterKeys(prefix: url.prefix)
        self.instance = instance
        lease = InstanceLease(client: client, key: keys.instance(instance.id), value: instance.json.serialized,
                              ttl: InstanceLease.configuredTTL)
        let box = WeakBox()
        let lease = lease
        sync = ClusterSync(client: client, keys: keys, applier: applier, instanceID: instance.id,
                           onOwnInstanceDeleted: { lease.writeBack() }) { _ in box.value.map { seed($0) } ?? true }
        box.value = self
    }

    /// Seeding needs the registry and the sync needs seeding: the cycle is broken here.
    private final class WeakBox: @unchecked Sendable { weak var value: SharedRegistry? }

    public func start() {
        sync.start()
        lease.start()
    }

    public func stop() {
        sync.stop()
        lease.stop()
    }

    /// Why a write cannot be made now, for a 503; nil when it can.
    public var unavailableReason: String? { sync.unavailableReason }

    public enum WriteOutcome {
        case written(revision: Int64)
        case notWritten
        case failed(String)
    }

    private func write(_ body: () throws(EtcdError) -> (succeeded: Bool, revision: Int64)) -> WriteOutcome {
        if let reason = unavailableReason { return .failed(reason) }
        do {
            let (ok, revision) = try body()
            guard ok else { return .notWritten }
            if !sync.waitApplied(revision, timeout: Self.applyWait) {
                Log.warn("registry: revision \(revision) written but not yet delivered by the watch after \(Self.applyWait) s")
            }
            return .written(revision: revision)
        } catch {
            return .failed("registry etcd unavailable: \(error.message)")
        }
    }

    public func putBackend(_ b: SharedBackend) -> WriteOutcome {
        write { () throws(EtcdError) in
            try client.putAll([(keys.backend(b.address), b.json), (keys.known(b.address), "1")], if: [], timeout: Self.writeTimeout)
        }
    }

    /// -backend at start: only if this address was never in the registry
    /// (no `known` marker: a backend removed since stays removed) and has no key.
    func seedBackend(_ b: SharedBackend) throws(EtcdError) -> Bool {
        try client.putAll([(keys.backend(b.address), b.json), (keys.known(b.address), "1")],
                          if: [(keys.backend(b.address), .absent), (keys.known(b.address), .absent)], timeout: Self.writeTimeout).succeeded
    }

    func seedStrategy(_ s: SharedStrategy) throws(EtcdError) -> Bool {
        try client.put(keys.strategy, s.json, if: .absent, timeout: Self.writeTimeout).succeeded
    }

    public func putStrategy(_ s: SharedStrategy) -> WriteOutcome {
        write { () throws(EtcdError) in try client.put(keys.strategy, s.json, timeout: Self.writeTimeout) }
    }

    /// Marks a shared backend draining (every instance drains it). Only if
    /// unchanged since `modRevision`, so a concurrent re-registration wins.
    /// The record is written back at the key it was read from (which may be
    /// a hand-written, non-canonical form of the address).
    public func drainBackend(_ entry: ClusterSync.Entry) -> WriteOutcome {
        let b = entry.record
        let draining = SharedBackend(address: b.address, weight: b.weight, draining: true)
        return write { () throws(EtcdError) in
            try client.putAll([(entry.key, draining.json), (keys.known(b.address), "1")],
                              if: [(entry.key, .modRevision(entry.modRevision))], timeout: Self.writeTimeout)
        }
    }

    /// Backends this instance finished draining: the first instance to get
    /// there deletes the key (if it is still the draining record it saw), and
    /// the others, still finishing their own in-flight requests, get the delete.
    /// Runs off the caller's thread (the admin loop).
    public func locallyRemoved(_ addresses: [String]) {
        let stale = addresses.compactMap { a -> (String, Int64)? in
            guard let e = sync.sharedBackend(a), e.record.draining else { return nil }
            return (e.key, e.modRevision)
        }
        guard !stale.isEmpty else { return }
        NamedThread.start(name: "fulcrum-etcd-del") { [client, keys] in
            for (key, mod) in stale {
                do throws(EtcdError) {
                    try client.delete(key, if: .modRevision(mod), timeout: Self.writeTimeout)
                } catch {
                    Log.warn("registry: could not delete drained \(key): \(error.message) (the next drained instance retries)")
                }
            }
        }
    }
}
