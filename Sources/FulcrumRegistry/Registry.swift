import FulcrumCore
import FulcrumSDK
import Synchronization

/// What `GET /backends` and the status page show of one backend.
public struct BackendStatus: Sendable {
    public let id: UInt64
    public let address: String
    public let weight: UInt32
    /// The weight strategies see now, in units of `weight`: below it while
    /// slow start ramps the backend up, 0 out of rotation (unhealthy or draining).
    public let effectiveWeight: Double
    public let healthy: Bool
    public let draining: Bool
    public let active: UInt32
    public let lastCheck: String
    public let latencyMicros: UInt64
}

/// What the state file keeps of one backend.
public struct PersistentBackend: Sendable, Equatable {
    public let address: String
    public let weight: UInt32
    public let draining: Bool
    /// The pool it belongs to; nil: the default pool.
    public var pool: String?

    public init(address: String, weight: UInt32, draining: Bool, pool: String? = nil) {
        self.address = address
        self.weight = weight
        self.draining = draining
        self.pool = pool
    }
}

/// The registered backends and their health: the one mutable copy, owned by
/// the control plane, published to workers as immutable `BackendSnapshot`s.
///
/// Health follows HAProxy's rise/fall: a healthy backend leaves rotation
/// after `fall` failed probes in a row, or at once when a proxied connection
/// to it is refused (`markDown`); an unhealthy one returns after `rise`
/// passes in a row.
public final class Registry: @unchecked Sendable {
    public enum RegisterResult: Sendable {
        case added(Backend)
        case updated(Backend)
        /// Every backend slot is taken.
        case full
    }

    struct Record {
        let id: UInt64
        let endpoint: FulcrumAddress
        let socketAddress: SocketAddress
        var weight: UInt32
        var healthy: Bool
        var draining: Bool
        var passes = 0
        var failures = 0
        var lastCheck = ""

        func backend() -> Backend {
            Backend(id: id, endpoint: endpoint, socketAddress: socketAddress, weight: weight, healthy: healthy, draining: draining)
        }
    }

    public let published = Published(BackendSnapshot(all: []))
    public let table: BackendTable
    /// Passes to return / failures to leave rotation (a reload may change them).
    public var rise: Int { riseFall.load(ordering: .relaxed) >> 8 }
    public var fall: Int { riseFall.load(ordering: .relaxed) & 0xFF }
    private let riseFall: Atomic<Int>
    /// Health transitions since start, for metrics.
    public let wentUp = Atomic<UInt64>(0)
    public let wentDown = Atomic<UInt64>(0)

    private let records = Mutex<[Record]>([])
    private let persistLock = Mutex<(@Sendable ([PersistentBackend]) -> Void)?>(nil)

    public init(rise: Int, fall: Int, table: BackendTable = .shared) {
        riseFall = Atomic(min(255, max(1, rise)) << 8 | min(255, max(1, fall)))
        self.table = table
    }

    /// New rise/fall thresholds (a configuration reload).
    public func setThresholds(rise: Int, fall: Int) {
        riseFall.store(min(255, max(1, rise)) << 8 | min(255, max(1, fall)), ordering: .relaxed)
    }

    /// Called, serialised and with the latest state, after every change a
    /// state file must keep (registration, weight, drain, removal).
    public func onPersistentChange(_ body: @escaping @Sendable ([PersistentBackend]) -> Void) {
        persistLock.withLock { $0 = body }
    }

    // MARK: changes

    /// Registers `endpoint`, or updates the weight of a known address (which
    /// also ends a drain: re-registering brings a backend back). `healthy` is
    /// the result of the probe made just before.
    public func register(endpoint: FulcrumAddress, socketAddress: SocketAddress, weight: UInt32,
                         healthy: Bool, draining: Bool = false) -> RegisterResult {
        let result: RegisterResult = records.withLock { list in
            if let i = list.firstIndex(where: { $0.endpoint == endpoint }) {
                list[i].weight = weight
                list[i].draining = draining
                if healthy && !list[i].healthy {
                    list[i].healthy = true
                    list[i].failures = 0
                    list[i].passes = rise
                }
                publishLocked(list)
                return .updated(list[i].backend())
            }
            guard let id = table.allocate() else { return .full }
            var record = Record(id: id, endpoint: endpoint, socketAddress: socketAddress, weight: weight,
                                healthy: healthy, draining: draining)
            if healthy { record.passes = rise } else { record.failures = fall }
            list.append(record)
            publishLocked(list)
            return .added(record.backend())
        }
        persist()
        return result
    }

    /// Stops new requests to `address`; it is removed once idle
    /// (`removeIdleDrained`). Nil when the address is unknown.
    public func drain(address: String) -> Backend? {
        let backend: Backend? = records.withLock { list in
            guard let i = list.firstIndex(where: { $0.endpoint.description == address }) else { return nil }
            list[i].draining = true
            publishLocked(list)
            return list[i].backend()
        }
        if backend != nil { persist() }
        return backend
    }

    /// Removes draining backends that have no request in flight; returns their addresses.
    @discardableResult
    public func removeIdleDrained() -> [String] {
        let removed: [String] = records.withLock { list in
            let gone = list.filter { $0.draining && table.active($0.id) == 0 }
            guard !gone.isEmpty else { return [] }
            list.removeAll { r in gone.contains { $0.id == r.id } }
            for r in gone { table.release(r.id) }
            publishLocked(list)
            return gone.map(\.endpoint.description)
        }
        if !removed.isEmpty {
            for a in removed { Log.info("backend \(a) drained and removed") }
            persist()
        }
        return removed
    }

    /// Feeds one health-probe result into the rise/fall counters.
    public func recordProbe(id: UInt64, passed: Bool, detail: String) {
        records.withLock { list in
            guard let i = list.firstIndex(where: { $0.id == id }) else { return }
            list[i].lastCheck = passed ? "ok" : detail
            if passed {
                list[i].failures = 0
                list[i].passes += 1
                if !list[i].healthy && list[i].passes >= rise {
                    list[i].healthy = true
                    wentUp.add(1, ordering: .relaxed)
                    Log.info("backend \(list[i].endpoint) is UP (\(list[i].passes) checks passed)")
                    publishLocked(list)
                }
            } else {
                list[i].passes = 0
                list[i].failures += 1
                if list[i].healthy && list[i].failures >= fall {
                    list[i].healthy = false
                    wentDown.add(1, ordering: .relaxed)
                    Log.warn("backend \(list[i].endpoint) is DOWN: \(detail) (\(list[i].failures) checks failed)")
                    publishLocked(list)
                }
            }
        }
    }

    /// Takes a backend out of rotation at once (a proxied connection to it
    /// was refused or reset); it needs `rise` passing probes to return.
    /// Safe from any thread.
    public func markDown(id: UInt64, reason: String) {
        records.withLock { list in
            guard let i = list.firstIndex(where: { $0.id == id }) else { return }
            list[i].passes = 0
            list[i].lastCheck = reason
            guard list[i].healthy else { return }
            list[i].healthy = false
            list[i].failures = fall
            wentDown.add(1, ordering: .relaxed)
            Log.warn("backend \(list[i].endpoint) is DOWN: \(reason) (proxied request)")
            publishLocked(list)
        }
    }

    // MARK: reading

    public var snapshot: BackendSnapshot { published.value }

    /// Every backend with its live in-flight count, in registration order.
    public func statuses() -> [BackendStatus] {
        records.withLock { list in
            // The published set is what strategies see (the lock orders it after `list`).
            let effective = published.value.effectiveWeights()
            return list.map {
                BackendStatus(id: $0.id, address: $0.endpoint.description, weight: $0.weight,
                              effectiveWeight: effective[$0.id] ?? 0, healthy: $0.healthy,
                              draining: $0.draining, active: table.active($0.id), lastCheck: $0.lastCheck,
                              latencyMicros: table.latencyEWMA($0.id))
            }
        }
    }

    public var persistentEntries: [PersistentBackend] {
        records.withLock { list in
            list.map { PersistentBackend(address: $0.endpoint.description, weight: $0.weight, draining: $0.draining) }
        }
    }

    // MARK: internals

    private func publishLocked(_ list: [Record]) {
        published.publish(BackendSnapshot(all: list.map { $0.backend() }, slowStart: slowStartSlot.withLock { $0 }))
    }

    private func persist() {
        persistLock.withLock { sink in
            guard let sink else { return }
            sink(persistentEntries)
        }
    }

    // MARK: slow start (SlowStart.swift computes the effective weights)

    private let slowStartSlot = Mutex<SlowStart?>(nil)

    /// Turns slow start on: from now on snapshots carry its effective weights.
    public func enableSlowStart(_ slowStart: SlowStart) {
        slowStartSlot.withLock { $0 = slowStart }
        records.withLock { publishLocked($0) }
    }

    /// Re-publishes the set while a backend ramps up, so strategies see its
    /// weight grow (called every `SlowStart.republishMillis`).
    public func republishIfRamping() {
        guard slowStartSlot.withLock({ $0 })?.needsRepublish == true else { return }
        records.withLock { publishLocked($0) }
    }
}
