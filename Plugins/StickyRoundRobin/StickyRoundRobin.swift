import FulcrumSDK
import Glibc

/// Sticky round robin: a client IP keeps the backend it was first given
/// (chosen round robin) across connections and workers, until that backend
/// leaves the eligible set (unhealthy, draining, removed); then it is given
/// the next one in the rotation and sticks to that.
///
/// Memory is bounded: the table shared by all workers holds `max_clients`
/// entries (default 65,536, 32 bytes each) in 4-way buckets; an entry idle
/// for `idle_timeout` seconds (default 1800) is forgotten, and a full bucket
/// evicts its least recently seen client. Config: {"max_clients": N, "idle_timeout": S}.
final class StickyRoundRobin: FulcrumStrategy {
    static let name = "sticky-round-robin"
    static let aliases = ["SRR"]
    static let description = "a client IP keeps the backend it was first given (round robin) until that backend leaves"

    private static let tables = FulcrumSharedState<StickyTable>()
    private static let rotations = FulcrumSharedState<FulcrumRotation>()

    private let tableLease: FulcrumLease<StickyTable>
    private let table: StickyTable
    private var ids: [UInt64] = []
    private var indexOf = FulcrumIDIndexMap()
    private var rotationLease: FulcrumLease<FulcrumRotation>?
    private var rotation = FulcrumRotation()

    init?(host: FulcrumHost, config: String) {
        guard let json = try? JSONValue.parse(config), json.objectMembers != nil else { return nil }
        var maxClients = 65_536
        var idleSeconds = 1800.0
        if let v = json["max_clients"] {
            guard let n = v.intValue, n >= 8, n <= 1 << 26 else { return nil }
            maxClients = n
        }
        if let v = json["idle_timeout"] {
            guard let s = v.doubleValue, s > 0, s <= 86_400 * 365 else { return nil }
            idleSeconds = s
        }
        let idleMs = UInt64(idleSeconds * 1000)
        tableLease = Self.tables.lease(FulcrumHash.mix(UInt64(maxClients)) ^ idleMs) {
            StickyTable(maxClients: maxClients, idleMilliseconds: idleMs)
        }
        table = tableLease.value
    }

    func update(_ backends: FulcrumBackends) {
        ids = backends.map(\.id)
        indexOf = FulcrumIDIndexMap(backends)
        rotationLease = Self.rotations.lease(fulcrumSignature(of: backends, includeWeights: false)) { FulcrumRotation() }
        rotation = rotationLease!.value
    }

    func pick(_ request: FulcrumRequest) -> Int? {
        guard !ids.isEmpty else { return nil }
        var chosen = -1
        table.resolve(StickyTable.key(request.clientIP), eligible: { indexOf.index(of: $0) }, assign: {
            chosen = Int(rotation.next() % UInt64(ids.count))
            return ids[chosen]
        }, found: { chosen = $0 })
        return chosen
    }
}

/// The client → backend table shared by all SRR instances with the same
/// configuration: 4-way set-associative buckets (128 bytes, two cache lines)
/// under 1,024 striped sequence locks. A returning client whose entry was
/// seen within the last second is found without writing anything (an
/// optimistic read); new clients, re-assignments and the last-seen refresh
/// (at most once a second per client) take the stripe's lock.
final class StickyTable: @unchecked Sendable {
    struct Entry {
        var keyHigh: UInt64
        var keyLow: UInt64
        var backendID: UInt64
        /// Milliseconds on CLOCK_MONOTONIC_COARSE; 0 marks a free slot.
        var lastSeen: UInt64
    }

    static let ways = 4
    let bucketMask: Int
    let idleMilliseconds: UInt64
    /// An entry younger than this is used as is; older, its last-seen time is
    /// rewritten (at most once a second, and well before it could expire).
    let refreshAfter: UInt64
    private let entries: UnsafeMutablePointer<Entry>
    private let locks = FulcrumStripedLock()

    init(maxClients: Int, idleMilliseconds: UInt64) {
        var buckets = 1
        while buckets * Self.ways < maxClients { buckets <<= 1 }
        bucketMask = buckets - 1
        self.idleMilliseconds = idleMilliseconds
        refreshAfter = min(1000, idleMilliseconds / 2)
        entries = .allocate(capacity: buckets * Self.ways)
        entries.initialize(repeating: Entry(keyHigh: 0, keyLow: 0, backendID: 0, lastSeen: 0), count: buckets * Self.ways)
    }

    deinit { entries.deallocate() }

    var capacity: Int { (bucketMask + 1) * Self.ways }

    /// The client address as a 128-bit key (IPv4 as ::ffff:a.b.c.d).
    @inline(__always)
    static func key(_ ip: UnsafeRawBufferPointer) -> (UInt64, UInt64) {
        if ip.count == 16 {
            return (ip.loadUnaligned(fromByteOffset: 0, as: UInt64.self), ip.loadUnaligned(fromByteOffset: 8, as: UInt64.self))
        }
        var v4: UInt64 = 0
        for b in ip.prefix(4) { v4 = v4 << 8 | UInt64(b) }
        return (0, 0xFFFF_0000_0000 | v4)
    }

    static func nowMilliseconds() -> UInt64 {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC_COARSE, &ts)
        return UInt64(ts.tv_sec) &* 1000 &+ UInt64(ts.tv_nsec) / 1_000_000 &+ 1
    }

    /// Finds the client's backend; if it has none, or an expired one, or one
    /// `eligible` does not know, stores the backend `assign` gives. Calls
    /// `found` with the eligible index when the remembered backend is kept.
    @inline(__always)
    func resolve(_ key: (UInt64, UInt64), eligible: (UInt64) -> Int?, assign: () -> UInt64, found: (Int) -> Void) {
        let h = FulcrumHash.mix(key.0 ^ FulcrumHash.mix(key.1))
        let bucket = Int(truncatingIfNeeded: h) & bucketMask
        let slots = entries + bucket * Self.ways
        let now = Self.nowMilliseconds()
        // Fast path: a fresh entry for this client, found without writing.
        let hit: UInt64? = locks.readOptimistically(bucket) {
            for w in 0..<Self.ways {
                let e = slots[w]
                if e.keyHigh == key.0 && e.keyLow == key.1 && e.lastSeen != 0 && now &- e.lastSeen <= refreshAfter {
                    return e.backendID
                }
            }
            return nil
        } ?? nil
        if let hit, let index = eligible(hit) {
            found(index)
            return
        }
        locks.withLock(bucket) {
            resolveLocked(slots, key, now, eligible: eligible, assign: assign, found: found)
        }
    }

    @inline(__always)
    private func resolveLocked(_ slots: UnsafeMutablePointer<Entry>, _ key: (UInt64, UInt64), _ now: UInt64,
                               eligible: (UInt64) -> Int?, assign: () -> UInt64, found: (Int) -> Void) {
        var victim = 0
        var victimSeen = UInt64.max
        for w in 0..<Self.ways {
            let e = slots[w]
            let live = e.lastSeen != 0 && now &- e.lastSeen <= idleMilliseconds
            if live && e.keyHigh == key.0 && e.keyLow == key.1 {
                if let index = eligible(e.backendID) {
                    if now &- e.lastSeen > refreshAfter { slots[w].lastSeen = now }
                    found(index)
                    return
                }
                victim = w
                victimSeen = 0
                break
            }
            let seen = live ? e.lastSeen : 0
            if seen < victimSeen { victim = w; victimSeen = seen }
        }
        slots[victim] = Entry(keyHigh: key.0, keyLow: key.1, backendID: assign(), lastSeen: now)
    }
}

@c public func fulcrum_plugin_entry() -> UnsafePointer<fulcrum_plugin> {
    fulcrumExport(name: "fulcrum-sticky-round-robin", version: "1.0.0", strategies: [StickyRoundRobin.self])
}
