import FulcrumCore
import FulcrumEtcd
import Glibc
import Synchronization

/// Keeps this instance's registry and strategy equal to what etcd holds:
/// list once, then watch from the listed revision + 1, so no change falls
/// in a gap. A dropped watch resumes from the last revision applied; a
/// compacted one re-lists (and drains whatever vanished meanwhile, which a
/// watch alone would miss: traefik#8092). Every instance, the one that
/// wrote a change included, applies changes only here (one source of truth).
///
/// Runs on its own thread with blocking, deadline-bounded etcd calls.
public final class ClusterSync: @unchecked Sendable {
    /// Where the connection to etcd stands; logged on every change.
    public enum Link: Equatable, Sendable {
        /// Not connected yet, or reconnecting after `disconnected`.
        case connecting
        /// Reading the whole range (first start, or after a compaction).
        case listing
        /// Up to date and following the watch.
        case watching
        /// etcd unreachable (the reason); the last known set keeps serving.
        case disconnected(String)
    }

    /// A shared backend as this instance knows it: the record (canonical
    /// address), its key as written (possibly not canonical), its revision.
    public struct Entry: Sendable {
        public let record: SharedBackend
        public let modRevision: Int64
        public let key: String
    }

    public struct State: Sendable {
        public var link = Link.connecting
        /// The newest revision applied locally.
        public var revision: Int64 = 0
        public var events: UInt64 = 0
        /// The shared backends as last seen in etcd, with their mod revisions.
        /// By canonical address.
        public var backends: [String: Entry] = [:]
        /// Every key under the prefix with its mod revision (valid or not):
        /// what the freshness check compares with etcd.
        var keyRevisions: [String: Int64] = [:]
        public var instances: [String: InstanceInfo] = [:]
        public var strategy: SharedStrategy?
    }

    let client: EtcdClient
    let keys: ClusterKeys
    let applier: ClusterApplier
    private let state = Mutex(State())
    private let stopped = Atomic<Bool>(false)
    /// Run once, on the first connection, before the first list (-backend, -algo).
    /// Returns false when etcd refused it: retried with backoff, before listing.
    private let seed: @Sendable (ClusterSync) -> Bool
    private let seeded = Atomic<Bool>(false)
    /// A watch idle this long triggers a freshness check (see `checkFresh`).
    let idleCheck = 0.3
    static let maxBackoff = 5.0

    /// This instance's id, and what to do when its key is deleted by hand (write it back).
    let instanceID: String
    let onOwnInstanceDeleted: @Sendable () -> Void

    init(client: EtcdClient, keys: ClusterKeys, applier: ClusterApplier, instanceID: String,
         onOwnInstanceDeleted: @escaping @Sendable () -> Void, seed: @escaping @Sendable (ClusterSync) -> Bool) {
        self.instanceID = instanceID
        self.onOwnInstanceDeleted = onOwnInstanceDeleted
        self.client = client
        self.keys = keys
        self.applier = applier
        self.seed = seed
    }

    // MARK: reading

    public var snapshot: State { state.withLock { $0 } }

    public var link: Link { state.withLock { $0.link } }

    /// Nil when writes can go to etcd, else why not (for a 503).
    public var unavailableReason: String? {
        if case .disconnected(let why) = link { return "registry etcd unreachable: \(why)" }
        return nil
    }

    public func sharedBackend(_ address: String) -> Entry? {
        guard let canonical = SharedBackend.canonical(address) else { return nil }
        return state.withLock { $0.backends[canonical] }
    }

    /// Waits until the watch has applied `revision` (bounded): the admin
    /// call that wrote it answers only once its own instance serves it.
    @discardableResult
    func waitApplied(_ revision: Int64, timeout: Double) -> Bool {
        let deadline = Clock.monotonicNanos() + UInt64(timeout * 1e9)
        while state.withLock({ $0.revision }) < revision {
            if Clock.monotonicNanos() >= deadline { return false }
            usleep(1000)
        }
        return true
    }

    // MARK: running

    func start() { NamedThread.start(name: "fulcrum-etcd") { [self] in run() } }

    func stop() { stopped.store(true, ordering: .relaxed) }

    private func setLink(_ link: Link) {
        let previous = state.withLock { s in
            let p = s.link
            s.link = link
            return p
        }
        guard previous != link else { return }
        switch link {
        case .watching: Log.info("registry \(client.url): connected, watching from revision \(state.withLock { $0.revision } + 1)")
        case .disconnected(let why): Log.warn("registry \(client.url): disconnected (\(why)); serving the last known set, retrying")
        case .listing: Log.info("registry \(client.url): listing \(keys.root)")
        case .connecting: break
        }
    }

    /// The reconnect delay: doubles per failure up to `maxBackoff`, back to
    /// 0.1 s once a watch is established (gRPC's connection-backoff rule).
    private var backoff = 0.1
    /// Relists in a row without an established watch: the second and later wait `backoff`.
    private var relists = 0

    private func run() {
        var needList = true
        while !stopped.load(ordering: .relaxed) {
            do throws(EtcdError) {
                if !seeded.load(ordering: .relaxed) {
                    // A cheap call first: seeding must not run against an unreachable etcd.
                    _ = try client.newestModification(prefix: keys.root)
                    guard seed(self) else { throw EtcdError(.server, "could not write the start-up backends/strategy; retrying") }
                    seeded.store(true, ordering: .relaxed)
                }
                if needList {
                    setLink(.listing)
                    let (kvs, revision) = try client.list(prefix: keys.root)
                    resync(kvs, revision: revision)
                    needList = false
                }
                try follow()
            } catch {
                if error.kind == .stale {
                    Log.warn("registry \(client.url): \(error.message); listing again")
                    needList = true
                    relists += 1
                    if relists > 1 {
                        sleepInterruptibly(backoff)
                        backoff = min(backoff * 2, Self.maxBackoff)
                    }
                    continue
                }
                if error.kind == .compacted {
                    Log.warn("registry \(client.url): revision \(state.withLock { $0.revision } + 1) was compacted (\(error.message)); listing again")
                    needList = true
                    relists += 1
                    if relists > 1 {
                        sleepInterruptibly(backoff)
                        backoff = min(backoff * 2, Self.maxBackoff)
                    }
                    continue
                }
                client.dropIdleConnections()
                setLink(.disconnected(error.message))
                sleepInterruptibly(backoff)
                backoff = min(backoff * 2, Self.maxBackoff)
                continue
            }
        }
    }

    /// Follows one watch until it fails (thrown) or a compaction is reported.
    private func follow() throws(EtcdError) {
        let from = state.withLock { $0.revision } + 1
        let watch = try EtcdWatch.open(client, prefix: keys.root, fromRevision: from)
        var check = FreshCheck()
        while !stopped.load(ordering: .relaxed) {
            switch try watch.next(idle: idleCheck) {
            case .created:
                setLink(.watching)
                backoff = 0.1
                relists = 0
            case .events(let events, let revision):
                setLink(.watching)
                if events.isEmpty {
                    // A progress notification: everything up to `revision` was sent.
                    state.withLock { $0.revision = max($0.revision, revision) }
                } else {
                    apply(events)
                }
            case .compacted(let r):
                throw EtcdError(.compacted, "watch start revision compacted (etcd keeps history from \(r))")
            case .idle:
                try checkFresh(&check)
                sweepDrained()
            }
        }
    }

    /// What the freshness checks of one watch know.
    struct FreshCheck {
        /// etcd's revision at which the keys under the prefix last matched what was applied.
        var verified: Int64 = 0
        /// The previous check found a difference.
        var differed = false
    }

    /// While the watch is quiet (every `idleCheck`), asks etcd for its
    /// revision: that proves etcd still answers (a hung etcd fails this
    /// within its deadline). When it moved past what was applied and last
    /// verified, the keys under the prefix (keys only, with their mod
    /// revisions) are compared with what was applied: a difference still
    /// there at the next check means the watch stopped delivering (a stalled
    /// TCP connection: traefik#566) or etcd was restored; either way the
    /// instance lists again. A deletion, which changes no remaining key's
    /// revision, is caught too. The first check of every new watch compares
    /// once, so an etcd restored while this instance was away is noticed.
    private func checkFresh(_ check: inout FreshCheck) throws(EtcdError) {
        let (_, current) = try client.newestModification(prefix: keys.root, timeout: 2)
        let applied = state.withLock { $0.revision }
        if current < applied {
            // A restored or replaced etcd: the watch would wait for revisions that never come.
            throw EtcdError(.stale, "etcd's revision went back from \(applied) to \(current) (restored or replaced)")
        }
        if current <= check.verified { check.differed = false; return }
        let (kvs, at) = try client.list(prefix: keys.root, keysOnly: true)
        let known = state.withLock { $0.keyRevisions }
        var same = kvs.count == known.count
        if same { for kv in kvs where known[kv.key] != kv.modRevision { same = false; break } }
        if same {
            check.verified = at
            check.differed = false
        } else if check.differed {
            throw EtcdError(.stale, "the watch did not deliver changes up to revision \(at) (applied \(state.withLock { $0.revision }))")
        } else {
            check.differed = true
        }
    }

    private func sleepInterruptibly(_ seconds: Double) {
        let end = Clock.monotonicNanos() + UInt64(seconds * 1e9)
        while !stopped.load(ordering: .relaxed) && Clock.monotonicNanos() < end { usleep(20_000) }
    }

    // MARK: applying

    /// A full listing: applies every key, and drains local backends (and
    /// forgets instances) that are no longer in etcd.
    private func resync(_ kvs: [KeyValue], revision: Int64) {
        var backends: [String: Entry] = [:]
        var keyRevisions: [String: Int64] = [:]
        var instances: [String: InstanceInfo] = [:]
        var strategy: SharedStrategy?
        for kv in kvs {
            keyRevisions[kv.key] = kv.modRevision
            switch keys.classify(kv.key) {
            case .backend(let address):
                if let b = SharedBackend(json: kv.value, key: address) {
                    // Two keys for one backend (hand-written forms): the newest write wins.
                    if (backends[b.address]?.modRevision ?? 0) < kv.modRevision {
                        backends[b.address] = Entry(record: b, modRevision: kv.modRevision, key: kv.key)
                    }
                } else { Log.warn("registry: ignoring \(kv.key): not a backend record") }
            case .instance(let id):
                if let i = InstanceInfo(json: kv.value) { instances[id] = i }
            case .strategy:
                strategy = SharedStrategy(json: kv.value)
            case .other: applier.onOther(kv.key)
            }
        }
        applier.resync(backends.values.map(\.record), strategy: strategy)
        state.withLock { s in
            s.backends = backends
            s.keyRevisions = keyRevisions
            s.instances = instances
            if strategy != nil { s.strategy = strategy }
            s.revision = revision
        }
        Log.info("registry \(client.url): \(backends.count) backend(s) at revision \(revision)")
    }

    private func apply(_ events: [WatchEvent]) {
        for e in events {
            let kv = e.kv
            switch (keys.classify(kv.key), e.kind) {
            case (.backend(let address), .put):
                guard let b = SharedBackend(json: kv.value, key: address) else {
                    // Invalid counts as absent, as on a full read: the key's backend goes.
                    Log.warn("registry: ignoring \(kv.key): not a backend record")
                    removeBackend(key: kv.key, address: address)
                    break
                }
                state.withLock { $0.backends[b.address] = Entry(record: b, modRevision: kv.modRevision, key: kv.key) }
                applier.put(b)
            case (.backend(let address), .delete):
                removeBackend(key: kv.key, address: address)
            case (.strategy, .put):
                if let s = SharedStrategy(json: kv.value) {
                    state.withLock { $0.strategy = s }
                    applier.select(s)
                }
            case (.strategy, .delete):
                Log.warn("registry: the strategy key was deleted; keeping \(applier.selection.value.descriptor.name)")
            case (.instance(let id), .put):
                if let i = InstanceInfo(json: kv.value) { state.withLock { $0.instances[id] = i } }
            case (.instance(let id), .delete):
                state.withLock { _ = $0.instances.removeValue(forKey: id) }
                if id == instanceID { onOwnInstanceDeleted() }
            case (.other, .put): applier.onOther(kv.key)
            case (.other, _): break
            }
            state.withLock { s in
                if e.kind == .delete { s.keyRevisions.removeValue(forKey: kv.key) } else { s.keyRevisions[kv.key] = kv.modRevision }
                s.revision = max(s.revision, kv.modRevision)
                s.events += 1
            }
        }
    }

    /// The key of a backend is gone (or invalid): the backend goes, unless
    /// another key (another written form of the same address) holds it now.
    private func removeBackend(key: String, address: String) {
        guard let canonical = SharedBackend.canonical(address) else { return }
        let removed = state.withLock { s -> Bool in
            guard s.backends[canonical]?.key == key else { return false }
            s.backends.removeValue(forKey: canonical)
            return true
        }
        if removed { applier.remove(canonical) }
    }

    /// Draining records whose backend this instance no longer has (it
    /// finished draining): delete the key. The delete after a local removal
    /// (SharedRegistry.locallyRemoved) can fail, or every instance can have
    /// removed the backend before any delete went through; this sweep, run by
    /// every instance while its watch is quiet, is what guarantees the key
    /// goes. Conditional on the record's revision, so a re-registration wins.
    private func sweepDrained() {
        let draining = state.withLock { $0.backends.values.filter(\.record.draining) }
        guard !draining.isEmpty else { return }
        let local = Set(applier.registry.statuses().map(\.address))
        for e in draining where !local.contains(e.record.address) {
            do throws(EtcdError) {
                try client.delete(e.key, if: .modRevision(e.modRevision), timeout: 2)
            } catch {
                Log.warn("registry: could not delete drained \(e.key): \(error.message) (retried)")
                return
            }
        }
    }
}
