import Glibc
import Synchronization

/// A map shared by every worker's instance of a filter (rate-limit buckets),
/// bounded to `capacity` keys with the least recently used evicted first.
///
/// Keys are 128-bit (an address, or two independently seeded hashes of a
/// string: collisions are out of reach). 64 shards, each behind its own
/// lock held for a few dozen nanoseconds: workers touching different keys
/// rarely meet, and no lock spans the map. The bound is global and exact;
/// the victim is the oldest shard tail by timestamp (`now`, e.g. the host's
/// monotonic clock), so eviction is least-recently-used across the map.
public final class FulcrumShardedLRUMap: @unchecked Sendable {
    /// One 64-bit word per key (a timestamp, a counter, an index into your
    /// own table): not generic, so a plugin's calls need no run-time
    /// generic metadata and the value is updated in place.
    public typealias Value = UInt64
    public static var shardCount: Int { 64 }
    public let capacity: Int
    private let shards: [Shard]
    private let total = Atomic<Int>(0)

    public init(capacity: Int) {
        precondition(capacity > 0)
        self.capacity = capacity
        shards = (0..<64).map { _ in Shard() }
    }

    /// Keys currently held.
    public var count: Int { total.load(ordering: .relaxed) }

    /// Runs `body` on the value of key (k0, k1), which starts as `initial`
    /// when absent (evicting the least recently used key when the map is
    /// full), marks the key used at `now`, and returns what `body` returns.
    /// (Not generic: a plugin's call needs no run-time generic metadata.)
    public func withValue(_ k0: UInt64, _ k1: UInt64, now: UInt64, initial: Value, _ body: (inout Value) -> UInt64) -> UInt64 {
        let shard = shards[Int(truncatingIfNeeded: k0 >> 58)]
        for attempt in 0..<8 {
            var stored = true
            let outcome = shard.withLock { s -> UInt64 in
                if let i = s.find(k0, k1) {
                    s.touch(i, now)
                    shard.publishTail(s)
                    return body(&s.values[Int(i)])
                }
                if total.add(1, ordering: .relaxed).newValue > capacity {
                    total.subtract(1, ordering: .relaxed)
                    // Several tries lost to other inserters: make room here.
                    guard attempt >= 3, s.count > 0 else { stored = false; return 0 }
                    s.remove(s.tail)
                }
                let i = s.insert(k0, k1, initial, now)
                shard.publishTail(s)
                return body(&s.values[Int(i)])
            }
            if stored { return outcome }
            evictOldest()
        }
        var scratch = initial  // could not get room: serve unstored
        return body(&scratch)
    }

    /// Whether key (k0, k1) is held (does not mark it used).
    public func contains(_ k0: UInt64, _ k1: UInt64) -> Bool {
        shards[Int(truncatingIfNeeded: k0 >> 58)].withLock { $0.find(k0, k1) != nil }
    }

    private func evictOldest() {
        var best = -1
        var oldest = UInt64.max
        for (i, s) in shards.enumerated() {
            let t = s.tailStamp.load(ordering: .relaxed)
            if t < oldest { oldest = t; best = i }
        }
        guard best >= 0 else { return }
        let shard = shards[best]
        shard.withLock { s in
            guard s.count > 0 else { return }
            s.remove(s.tail)
            total.subtract(1, ordering: .relaxed)
            shard.publishTail(s)
        }
    }

    final class Shard: @unchecked Sendable {
        private let word = Atomic<UInt32>(0)
        /// Behind a pointer: no run-time exclusivity bookkeeping per access.
        private let state: UnsafeMutablePointer<ShardState> = {
            let p = UnsafeMutablePointer<ShardState>.allocate(capacity: 1)
            p.initialize(to: ShardState())
            return p
        }()

        /// A test-and-test-and-set lock that yields after a short spin: the
        /// critical sections are a hash probe and a few stores.
        @inline(__always)
        func withLock<R>(_ body: (inout ShardState) -> R) -> R {  // generic, but internal: specialised
            var spins = 0
            while word.load(ordering: .relaxed) != 0 || !word.compareExchange(expected: 0, desired: 1, ordering: .acquiring).exchanged {
                spins += 1
                if spins >= 64 { sched_yield(); spins = 0 }
            }
            defer { word.store(0, ordering: .releasing) }
            return body(&state.pointee)
        }
        /// Last use of this shard's least recently used key (max when empty).
        let tailStamp = Atomic<UInt64>(.max)
        func publishTail(_ s: borrowing ShardState) {
            let t = s.count > 0 ? s.stamps[Int(s.tail)] : .max
            if tailStamp.load(ordering: .relaxed) != t { tailStamp.store(t, ordering: .relaxed) }
        }
    }

    /// One shard: open addressing (linear probing, backward-shift deletion)
    /// over node arrays linked most- to least-recently used.
    struct ShardState {
        var table: [Int32] = Array(repeating: -1, count: 16)
        var k0: [UInt64] = [], k1: [UInt64] = [], stamps: [UInt64] = []
        var prev: [Int32] = [], next: [Int32] = []
        var values: [Value] = []
        var freeList: [Int32] = []
        var head: Int32 = -1, tail: Int32 = -1
        var count = 0

        @inline(__always) func home(_ k: UInt64, _ mask: Int) -> Int { Int(truncatingIfNeeded: k &* 0x9E37_79B9_7F4A_7C15 >> 20) & mask }

        func find(_ a: UInt64, _ b: UInt64) -> Int32? {
            let mask = table.count - 1
            var j = home(a, mask)
            while true {
                let n = table[j]
                if n < 0 { return nil }
                if k0[Int(n)] == a && k1[Int(n)] == b { return n }
                j = (j + 1) & mask
            }
        }

        mutating func insert(_ a: UInt64, _ b: UInt64, _ value: Value, _ now: UInt64) -> Int32 {
            if (count + 1) * 2 > table.count { grow() }
            let n: Int32
            if let f = freeList.popLast() {
                n = f
                k0[Int(n)] = a; k1[Int(n)] = b; stamps[Int(n)] = now; values[Int(n)] = value
            } else {
                n = Int32(k0.count)
                k0.append(a); k1.append(b); stamps.append(now); values.append(value); prev.append(-1); next.append(-1)
            }
            let mask = table.count - 1
            var j = home(a, mask)
            while table[j] >= 0 { j = (j + 1) & mask }
            table[j] = n
            linkFront(n)
            count += 1
            return n
        }

        mutating func touch(_ n: Int32, _ now: UInt64) {
            stamps[Int(n)] = max(stamps[Int(n)], now)
            guard head != n else { return }
            unlink(n)
            linkFront(n)
        }

        mutating func remove(_ n: Int32) {
            let mask = table.count - 1
            var i = home(k0[Int(n)], mask)
            while table[i] != n { i = (i + 1) & mask }
            table[i] = -1
            var j = i
            while true {
                j = (j + 1) & mask
                let m = table[j]
                if m < 0 { break }
                let k = home(k0[Int(m)], mask)
                // Move m back to i unless its home lies cyclically in (i, j].
                let inRange = i <= j ? (k > i && k <= j) : (k > i || k <= j)
                if !inRange { table[i] = m; table[j] = -1; i = j }
            }
            unlink(n)
            freeList.append(n)
            count -= 1
        }

        mutating func grow() {
            let size = table.count * 2
            table = Array(repeating: -1, count: size)
            let mask = size - 1
            var n = head
            while n >= 0 {
                var j = home(k0[Int(n)], mask)
                while table[j] >= 0 { j = (j + 1) & mask }
                table[j] = n
                n = next[Int(n)]
            }
        }

        mutating func linkFront(_ n: Int32) {
            prev[Int(n)] = -1
            next[Int(n)] = head
            if head >= 0 { prev[Int(head)] = n }
            head = n
            if tail < 0 { tail = n }
        }

        mutating func unlink(_ n: Int32) {
            let p = prev[Int(n)], x = next[Int(n)]
            if p >= 0 { next[Int(p)] = x } else { head = x }
            if x >= 0 { prev[Int(x)] = p } else { tail = p }
            prev[Int(n)] = -1
            next[Int(n)] = -1
        }
    }
}

/// A counter every worker updates, on its own cache line (no false sharing
/// with its neighbours): totals, sequence numbers.
public final class FulcrumSharedCounter: Sendable {
    private let pad0 = InlineArray<7, UInt64>(repeating: 0)
    private let value = Atomic<Int64>(0)
    private let pad1 = InlineArray<7, UInt64>(repeating: 0)
    public init() { _ = pad0; _ = pad1 }
    @discardableResult
    public func add(_ n: Int64) -> Int64 { value.wrappingAdd(n, ordering: .relaxed).newValue }
    public var current: Int64 { value.load(ordering: .relaxed) }
}
