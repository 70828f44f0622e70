import Glibc
import Synchronization

/// State that all instances of one strategy share on purpose, keyed by a
/// 64-bit signature (for example a hash of the eligible backend set).
///
/// The host makes one instance per worker; when they should act as one
/// balancer (a round-robin rotation that is even across the whole process,
/// a sticky table every worker sees), each instance takes a lease on the
/// object of its key. When the last lease on a key is dropped (its instance
/// moved to another backend set, or was destroyed), the object goes, and the
/// next instance to ask for that key starts afresh. Take leases in `create`
/// and `update`, never in `pick`: it takes a lock.
///
/// (Leases count users explicitly instead of holding the values weakly: a
/// weakly referenced Swift object moves its reference count to a side
/// table, and every retain in `pick` would then take the slow path.)
public final class FulcrumSharedState<Value: AnyObject & Sendable>: Sendable {
    private struct Entry {
        let value: Value
        var leases: Int
    }
    private let entries = Mutex<[UInt64: Entry]>([:])

    public init() {}

    /// The shared value for `key`, made by `make` if nobody holds one.
    public func lease(_ key: UInt64, make: () -> Value) -> FulcrumLease<Value> {
        let value: Value = entries.withLock { table in
            if var entry = table[key] {
                entry.leases += 1
                table[key] = entry
                return entry.value
            }
            let fresh = make()
            table[key] = Entry(value: fresh, leases: 1)
            return fresh
        }
        return FulcrumLease(value: value, key: key, owner: self)
    }

    fileprivate func giveBack(_ key: UInt64) {
        entries.withLock { table in
            guard var entry = table[key] else { return }
            entry.leases -= 1
            table[key] = entry.leases > 0 ? entry : nil
        }
    }
}

/// One instance's hold on a shared value; dropping it gives the value back.
public final class FulcrumLease<Value: AnyObject & Sendable> {
    public let value: Value
    private let key: UInt64
    private let owner: FulcrumSharedState<Value>

    fileprivate init(value: Value, key: UInt64, owner: FulcrumSharedState<Value>) {
        self.value = value
        self.key = key
        self.owner = owner
    }

    deinit { owner.giveBack(key) }
}

/// A signature of a backend set: ids, weights and order, so that instances
/// that were given the same `update` agree on it.
public func fulcrumSignature(of backends: FulcrumBackends, includeWeights: Bool = true) -> UInt64 {
    var h = FulcrumHash.mix(UInt64(backends.count))
    for b in backends {
        h = FulcrumHash.mix(h ^ b.id)
        if includeWeights { h = FulcrumHash.mix(h ^ UInt64(b.weight)) }
    }
    return h
}

/// A process-wide rotation cursor.
public final class FulcrumRotation: Sendable {
    @usableFromInline let cursor = Atomic<UInt64>(0)
    public init() {}
    /// The next position (0, 1, 2, …), shared by every instance holding this rotation.
    @inlinable @inline(__always)
    public func next() -> UInt64 { cursor.wrappingAdd(1, ordering: .relaxed).oldValue }
}

/// Backend id → index in the current update, open addressing with linear
/// probing: a lookup is a multiply and usually one compare.
public struct FulcrumIDIndexMap {
    @usableFromInline var keys: [UInt64] = []
    @usableFromInline var values: [Int32] = []
    @usableFromInline var mask = 0

    public init() {}

    public init(_ backends: FulcrumBackends) {
        var capacity = 8
        while capacity < backends.count * 2 { capacity <<= 1 }
        mask = capacity - 1
        keys = Array(repeating: UInt64.max, count: capacity)
        values = Array(repeating: -1, count: capacity)
        for (i, b) in backends.enumerated() {
            var slot = Int(truncatingIfNeeded: FulcrumHash.mix(b.id)) & mask
            while keys[slot] != UInt64.max && keys[slot] != b.id { slot = (slot + 1) & mask }
            keys[slot] = b.id
            values[slot] = Int32(i)
        }
    }

    /// The index of backend `id`, or nil when it is not in the set.
    @inlinable @inline(__always)
    public func index(of id: UInt64) -> Int? {
        guard mask > 0 else { return nil }
        var slot = Int(truncatingIfNeeded: FulcrumHash.mix(id)) & mask
        while true {
            let k = keys[slot]
            if k == id { return Int(values[slot]) }
            if k == UInt64.max { return nil }
            slot = (slot + 1) & mask
        }
    }
}

/// 1,024 sequence locks for tables that all workers share: writers lock
/// `key % 1024` around a short critical section; readers first try
/// `readOptimistically`, which writes nothing (so workers reading the same
/// stripe do not bounce its cache line between cores) and is retried under
/// the lock only when a writer interfered.
///
/// Each stripe is a counter: even = free, odd = a writer holds it. Uncontended,
/// a write costs one compare-exchange and one store; a waiter yields the CPU
/// after a short spin, so a preempted holder does not burn its peer's slice.
public final class FulcrumStripedLock: Sendable {
    public static let stripes = 1024
    @usableFromInline let words: InlineArray<1024, Atomic<UInt32>>

    public init() { words = InlineArray { _ in Atomic<UInt32>(0) } }

    /// Runs `body` holding stripe `key % 1024` exclusively.
    @inlinable @inline(__always)
    public func withLock<R>(_ key: Int, _ body: () -> R) -> R {
        let i = key & (Self.stripes - 1)
        let seen = words[i].load(ordering: .relaxed)
        if seen & 1 != 0 || !words[i].compareExchange(expected: seen, desired: seen &+ 1, ordering: .acquiring).exchanged {
            contended(i)
        }
        defer { words[i].add(1, ordering: .releasing) }
        return body()
    }

    /// Runs `body` without locking and returns its result if no writer held
    /// or took the stripe meanwhile; nil means "retry with `withLock`".
    /// `body` may observe a torn state and must only read plain data,
    /// returning nothing it dereferenced from what it read.
    @inlinable @inline(__always)
    public func readOptimistically<R>(_ key: Int, _ body: () -> R) -> R? {
        let i = key & (Self.stripes - 1)
        let before = words[i].load(ordering: .acquiring)
        guard before & 1 == 0 else { return nil }
        let result = body()
        atomicMemoryFence(ordering: .acquiring)
        return words[i].load(ordering: .relaxed) == before ? result : nil
    }

    @usableFromInline @inline(never)
    func contended(_ i: Int) {
        var spins = 0
        while true {
            let seen = words[i].load(ordering: .relaxed)
            if seen & 1 == 0,
               words[i].compareExchange(expected: seen, desired: seen &+ 1, ordering: .acquiring).exchanged { return }
            spins += 1
            if spins >= 64 { sched_yield(); spins = 0 }
        }
    }
}
