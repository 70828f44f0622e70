/// An immutable hash table from byte strings to lists of route indices,
/// built once per configuration and probed per request without allocating
/// or reference counting: a plain struct of pointers into memory its owner
/// frees (`deallocate`). Keys live in one byte arena, the lists in one
/// array. Keys may be compared case-insensitively (host names; stored
/// lower-case), and hashed back to front (`reversed`), so that every
/// dot-suffix of a host name is hashed in one pass from its end.
struct ByteKeyIndex {
    private struct Entry {
        var keyStart: Int32
        var keyLength: Int32
        var listStart: Int32
        var listCount: Int32
        var hash: UInt64
    }

    private let slots: UnsafeMutablePointer<Int32>
    private let mask: Int
    private let entries: UnsafeMutablePointer<Entry>
    private let arena: UnsafeMutablePointer<UInt8>
    private let lists: UnsafeMutablePointer<Int32>
    let caseInsensitive: Bool
    let reversed: Bool
    let isEmpty: Bool

    static let basis: UInt64 = 0xcbf2_9ce4_8422_2325
    static let prime: UInt64 = 0x0000_0100_0000_01B3

    @inline(__always)
    static func step(_ h: UInt64, _ b: UInt8) -> UInt64 { (h ^ UInt64(b)) &* prime }

    @inline(__always)
    static func lower(_ b: UInt8) -> UInt8 { b &- 0x41 < 26 ? b | 0x20 : b }

    /// `pairs`: (key, route index) in route order; equal keys share a list.
    init(_ pairs: [([UInt8], Int32)], caseInsensitive: Bool = false, reversed: Bool = false) {
        self.caseInsensitive = caseInsensitive
        self.reversed = reversed
        var order: [[UInt8]] = []
        var grouped: [[UInt8]: [Int32]] = [:]
        for (k, v) in pairs {
            let key = caseInsensitive ? k.map(Self.lower) : k
            if grouped[key] == nil { order.append(key) }
            grouped[key, default: []].append(v)
        }
        var entries: [Entry] = []
        var arena: [UInt8] = []
        var lists: [Int32] = []
        for key in order {
            let list = grouped[key]!
            entries.append(Entry(keyStart: Int32(arena.count), keyLength: Int32(key.count), listStart: Int32(lists.count),
                                 listCount: Int32(list.count), hash: Self.hash(key, reversed: reversed)))
            arena += key
            lists += list
        }
        var size = 4
        while size < entries.count * 2 { size <<= 1 }
        var slots = [Int32](repeating: -1, count: size)
        for (i, e) in entries.enumerated() {
            var s = Int(truncatingIfNeeded: e.hash) & (size - 1)
            while slots[s] >= 0 { s = (s + 1) & (size - 1) }
            slots[s] = Int32(i)
        }
        isEmpty = entries.isEmpty
        mask = size - 1
        self.slots = Self.copy(slots)
        self.entries = Self.copy(entries)
        self.arena = Self.copy(arena)
        self.lists = Self.copy(lists)
    }

    private static func copy<T>(_ a: [T]) -> UnsafeMutablePointer<T> {
        let p = UnsafeMutablePointer<T>.allocate(capacity: max(1, a.count))
        _ = UnsafeMutableBufferPointer(start: p, count: a.count).initialize(from: a)
        return p
    }

    func deallocate() {
        slots.deallocate()
        entries.deallocate()
        arena.deallocate()
        lists.deallocate()
    }

    static func hash(_ key: [UInt8], reversed: Bool) -> UInt64 {
        var h = basis
        if reversed { for b in key.reversed() { h = step(h, b) } } else { for b in key { h = step(h, b) } }
        return h
    }

    /// The list for the key at `key` whose hash (computed the table's way) is `hash`.
    @inline(__always)
    func lookup(hash: UInt64, _ key: UnsafeRawPointer, _ length: Int) -> Range<Int>? {
        var s = Int(truncatingIfNeeded: hash) & mask
        while true {
            let e = slots[s]
            if e < 0 { return nil }
            let entry = entries[Int(e)]
            if entry.hash == hash && Int(entry.keyLength) == length && keyEquals(entry, key, length) {
                return Int(entry.listStart)..<Int(entry.listStart + entry.listCount)
            }
            s = (s + 1) & mask
        }
    }

    @inline(__always)
    private func keyEquals(_ entry: Entry, _ key: UnsafeRawPointer, _ length: Int) -> Bool {
        let a = arena + Int(entry.keyStart)
        if caseInsensitive {
            for i in 0..<length where a[i] != Self.lower(key.load(fromByteOffset: i, as: UInt8.self)) { return false }
        } else {
            for i in 0..<length where a[i] != key.load(fromByteOffset: i, as: UInt8.self) { return false }
        }
        return true
    }

    @inline(__always)
    func route(at i: Int) -> Int32 { lists[i] }
}
