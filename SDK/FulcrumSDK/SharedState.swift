import Synchronization

/// State that all instances of one strategy share on purpose, keyed by a
/// 64-bit signature (for example a hash of the eligible backend set).
///
/// The host makes one instance per worker; when they should act as one
/// balancer (a round-robin rotation that is even across the whole process,
/// a sticky table every worker sees), each instance asks this registry for
/// the object of its key. Values are held weakly: when the last instance lets
/// go (it moved to another backend set, or was destroyed), the next one to
/// ask for that key gets a fresh object. Only `update`/`create` should call
/// `value(for:make:)`; it takes a lock.
public final class FulcrumSharedState<Value: AnyObject & Sendable>: Sendable {
    private struct Entry { weak var value: Value? }
    private let entries = Mutex<[UInt64: Entry]>([:])

    public init() {}

    public func value(for key: UInt64, make: () -> Value) -> Value {
        entries.withLock { table in
            if let existing = table[key]?.value { return existing }
            if table.count >= 64 { table = table.filter { $0.value.value != nil } }
            let fresh = make()
            table[key] = Entry(value: fresh)
            return fresh
        }
    }
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
    private let cursor = Atomic<UInt64>(0)
    public init() {}
    /// The next position (0, 1, 2, …), shared by every instance holding this rotation.
    @inline(__always)
    public func next() -> UInt64 { cursor.wrappingAdd(1, ordering: .relaxed).oldValue }
}

/// Backend id → index in the current update, open addressing with linear
/// probing: a lookup is a multiply and usually one compare.
public struct FulcrumIDIndexMap {
    private var keys: [UInt64] = []
    private var values: [Int32] = []
    private var mask = 0

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
    @inline(__always)
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
