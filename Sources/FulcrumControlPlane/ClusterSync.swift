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
final class ClusterSync: @unchecked Sendable {
    /// Where the connection to etcd stands; logged on every change.
    enum Link: Equatable, Sendable {
        /// Not connected yet, or reconnecting after `disconnected`.
        case connecting
        /// Reading the whole range (first start, or after a compaction).
        case listing
        /// Up to date and following the watch.
        case watching
        /// etcd unreachable (the reason); the last known set keeps serving.
        case disconnected(String)
    }

    struct State: Sendable {
        var link = Link.connecting
        /// The newest revision applied locally.
        var revision: Int64 = 0
        var events: UInt64 = 0
        /// The shared backends as last seen in etcd, with their mod revisions.
        var backends: [String: (SharedBackend, Int64)] = [:]
        var instances: [String: InstanceInfo] = [:]
        var strategy: SharedStrategy?
    }

    let client: EtcdClient
    let keys: ClusterKeys
    let applier: ClusterApplier
    private let state = Mutex(State())
    private let stopped = Atomic<Bool>(false)
    /// Run once, on the first connection, before the first list (-backend, -algo).
    private let seed: @Sendable (ClusterSync) -> Void
    private let seeded = Atomic<Bool>(false)
    /// A watch idle this long triggers a freshness check (see `checkFresh`).
    let idleCheck = 2.0
    static let maxBackoff = 5.0

    init(client: EtcdClient, keys: ClusterKeys, applier: ClusterApplier, seed: @escaping @Sendable (ClusterSync) -> Void) {
        self.client = client
        self.keys = keys
        self.applier = applier
        self.seed = seed
    }

    // MARK: reading

    var snapshot: State { state.withLock { $0 } }

    var link: Link { state.withLock { $0.link } }

    /// Nil when writes can go to etcd, else why not (for a 503).
    var unavailableReason: String? {
        if case .disconnected(let why) = link { return "registry etcd unreachable: \(why)" }
        return nil
    }

    func sharedBackend(_ address: String) -> (SharedBackend, Int64)? { state.withLock { $0.backends[address] } }

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

    private func run() {
        var backoff = 0.1
        var needList = true
        while !stopped.load(ordering: .relaxed) {
            do throws(EtcdError) {
                if !seeded.load(ordering: .relaxed) {
                    // A cheap call first: seeding must not run against an unreachable etcd.
                    _ = try client.newestModification(prefix: keys.root)
                    seed(self)
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
                if error.kind == .compacted {
                    Log.warn("registry \(client.url): revision \(state.withLock { $0.revision } + 1) was compacted (\(error.message)); listing again")
                    needList = true
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
        var suspect: Int64 = 0
        while !stopped.load(ordering: .relaxed) {
            switch try watch.next(idle: idleCheck) {
            case .created:
                setLink(.watching)
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
                suspect = try checkFresh(suspect)
            }
        }
    }

    /// While the watch is quiet, asks etcd for the newest change under the
    /// prefix. That both proves etcd still answers (a hung etcd fails this
    /// within its deadline) and catches a watch that silently stopped
    /// delivering (traefik#566): a change newer than what was applied,
    /// still undelivered at the next check, restarts the watch from the
    /// last applied revision. Returns the revision to re-check next time.
    private func checkFresh(_ suspect: Int64) throws(EtcdError) -> Int64 {
        let (newest, current) = try client.newestModification(prefix: keys.root, timeout: 2)
        let applied = state.withLock { $0.revision }
        if current < applied {
            // A restored or replaced etcd: the watch would wait for revisions that never come.
            throw EtcdError(.compacted, "etcd's revision went back from \(applied) to \(current) (restored or replaced)")
        }
        if suspect > applied {
            throw EtcdError(.unavailable, "watch did not deliver revision \(suspect) (applied \(applied)); restarting it")
        }
        return newest > applied ? newest : 0
    }

    private func sleepInterruptibly(_ seconds: Double) {
        let end = Clock.monotonicNanos() + UInt64(seconds * 1e9)
        while !stopped.load(ordering: .relaxed) && Clock.monotonicNanos() < end { usleep(20_000) }
    }

    // MARK: applying

    /// A full listing: applies every key, and drains local backends (and
    /// forgets instances) that are no longer in etcd.
    private func resync(_ kvs: [KeyValue], revision: Int64) {
        var backends: [String: (SharedBackend, Int64)] = [:]
        var instances: [String: InstanceInfo] = [:]
        var strategy: SharedStrategy?
        for kv in kvs {
            switch keys.classify(kv.key) {
            case .backend(let address):
                if let b = SharedBackend(json: kv.value, key: address) { backends[address] = (b, kv.modRevision) }
                else { Log.warn("registry: ignoring \(kv.key): not a backend record") }
            case .instance(let id):
                if let i = InstanceInfo(json: kv.value) { instances[id] = i }
            case .strategy:
                strategy = SharedStrategy(json: kv.value)
            case .other: applier.onOther(kv.key)
            }
        }
        applier.resync(backends.values.map(\.0), strategy: strategy)
        state.withLock { s in
            s.backends = backends
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
                    Log.warn("registry: ignoring \(kv.key): not a backend record")
                    break
                }
                state.withLock { $0.backends[address] = (b, kv.modRevision) }
                applier.put(b)
            case (.backend(let address), .delete):
                state.withLock { _ = $0.backends.removeValue(forKey: address) }
                applier.remove(address)
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
            case (.other, .put): applier.onOther(kv.key)
            case (.other, _): break
            }
            state.withLock { s in
                s.revision = max(s.revision, kv.modRevision)
                s.events += 1
            }
        }
    }
}
