/// The decoder's dynamic table (RFC 7541 §2.3.2, §4): newest entry first, size
/// counted as name + value + 32 per entry, oldest evicted to stay within the
/// maximum. The maximum is what the peer last set with a size update, never
/// more than our SETTINGS_HEADER_TABLE_SIZE (the decoder checks that).
public struct HPACKDynamicTable: Sendable {
    struct Entry: Sendable {
        var name: [UInt8]
        var value: [UInt8]
        var size: Int { name.count + value.count + 32 }
    }

    /// Oldest first from `start`; entries before `start` are evicted and dropped in batches.
    private var entries: [Entry] = []
    private var start = 0
    public private(set) var size = 0
    public private(set) var maxSize: Int

    public init(maxSize: Int = H2.defaultHeaderTableSize) { self.maxSize = maxSize }

    public var count: Int { entries.count - start }

    /// Entry `i`, 0 = the newest.
    func entry(_ i: Int) -> Entry? {
        guard i >= 0 && i < count else { return nil }
        return entries[entries.count - 1 - i]
    }

    /// Adds an entry, evicting as needed; an entry larger than the table
    /// empties it and is not added (§4.4).
    public mutating func add(name: [UInt8], value: [UInt8]) {
        let e = Entry(name: name, value: value)
        evict(toFit: maxSize - e.size)
        if e.size <= maxSize {
            entries.append(e)
            size += e.size
        }
    }

    /// A dynamic table size update (§6.3): evicts down to the new maximum.
    public mutating func setMaxSize(_ newMax: Int) {
        maxSize = newMax
        evict(toFit: newMax)
    }

    private mutating func evict(toFit limit: Int) {
        while size > limit && start < entries.count {
            size -= entries[start].size
            start += 1
        }
        if start > 32 && start * 2 > entries.count {
            entries.removeFirst(start)
            start = 0
        }
    }
}
