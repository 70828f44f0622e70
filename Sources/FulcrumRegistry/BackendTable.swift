import CFulcrumShim
import Glibc
import Synchronization

/// Process-wide per-backend counters: what every worker thread and every
/// plugin (through `fulcrum_host.active_requests`) must agree on.
///
/// One 64-byte cache line per backend slot, so workers bumping different
/// backends never share a line. A backend id is `tag << 32 | slot`, the tag a
/// process-wide serial: word 0 of a slot holds `tag << 32 | in-flight count`,
/// and every change is a compare-and-swap that checks the tag. A request that
/// outlives its backend's removal (its slot since given to another backend)
/// can therefore neither count against the newcomer nor drive its count
/// below zero.
///
/// A trivial struct (two words, no references): reading `shared` and calling
/// `active` costs no reference counting, which matters because plugins call
/// it per backend per pick.
public struct BackendTable: @unchecked Sendable {
    public static let shared = BackendTable(capacity: 16_384)

    public let capacity: Int
    private let words: UnsafeMutablePointer<UInt64>
    private static let wordsPerSlot = 8

    private struct Allocation {
        var nextTag: UInt64 = 1
        var free: [Int] = []
        var nextUnused = 0
    }
    /// Slot allocation is a control-plane affair (registration, removal).
    private static let allocation = Mutex(Allocation())

    private init(capacity: Int) {
        self.capacity = capacity
        let bytes = capacity * Self.wordsPerSlot * 8
        // Anonymous pages: zeroed, and resident only once a slot is used.
        let raw = mmap(nil, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0)
        precondition(raw != MAP_FAILED, "cannot map the backend table")
        words = raw!.bindMemory(to: UInt64.self, capacity: capacity * Self.wordsPerSlot)
        // The C host services read the same memory.
        fulcrum_backend_table_install(words, UInt64(capacity))
    }

    @inline(__always) public static func slot(of id: UInt64) -> Int { Int(id & 0xFFFF_FFFF) }
    @inline(__always) static func tag(of id: UInt64) -> UInt64 { id >> 32 }

    @inline(__always)
    private func word(_ slot: Int, _ index: Int) -> UnsafeMutablePointer<UInt64> {
        words + slot * Self.wordsPerSlot + index
    }

    @inline(__always)
    private func valid(_ id: UInt64) -> Bool { Self.slot(of: id) < capacity && Self.tag(of: id) != 0 }

    /// Whether `id` is the current owner of its slot.
    @inline(__always)
    private func owns(_ id: UInt64) -> Bool {
        valid(id) && fulcrum_load_relaxed(word(Self.slot(of: id), 0)) >> 32 == Self.tag(of: id)
    }

    /// A fresh id for a new backend, or nil when every slot is taken. Slots
    /// are recycled first-in first-out, so a removed backend's slot rests as
    /// long as possible before it serves another.
    public func allocate() -> UInt64? {
        Self.allocation.withLock { a -> UInt64? in
            let slot: Int
            if a.nextUnused < capacity {
                slot = a.nextUnused
                a.nextUnused += 1
            } else if !a.free.isEmpty {
                slot = a.free.removeFirst()
            } else {
                return nil
            }
            let tag = a.nextTag
            a.nextTag += 1
            fulcrum_store_relaxed(word(slot, 1), 0)
            fulcrum_store_release(word(slot, 0), tag << 32)
            return tag << 32 | UInt64(slot)
        }
    }

    /// Gives the slot of `id` back; its counters stop answering for `id`.
    public func release(_ id: UInt64) {
        guard valid(id) else { return }
        let slot = Self.slot(of: id)
        Self.allocation.withLock { a in
            var expected = fulcrum_load_relaxed(word(slot, 0))
            guard expected >> 32 == Self.tag(of: id) else { return }
            while fulcrum_cas(word(slot, 0), &expected, 0) == 0 {
                if expected >> 32 != Self.tag(of: id) { return }
            }
            a.free.append(slot)
        }
    }

    /// Counts a request starting on `id`. False when `id` is no longer registered.
    @inline(__always) @discardableResult
    public func begin(_ id: UInt64) -> Bool {
        guard valid(id) else { return false }
        let w = word(Self.slot(of: id), 0)
        var expected = fulcrum_load_relaxed(w)
        while expected >> 32 == Self.tag(of: id) {
            if fulcrum_cas(w, &expected, expected &+ 1) != 0 { return true }
        }
        return false
    }

    /// Counts a request on `id` as finished (a no-op when it was not counted).
    @inline(__always)
    public func end(_ id: UInt64) {
        guard valid(id) else { return }
        let w = word(Self.slot(of: id), 0)
        var expected = fulcrum_load_relaxed(w)
        while expected >> 32 == Self.tag(of: id) && expected & 0xFFFF_FFFF > 0 {
            if fulcrum_cas(w, &expected, expected &- 1) != 0 { return }
        }
    }

    /// In-flight requests on `id` across the process; 0 for an unknown id.
    @inline(__always)
    public func active(_ id: UInt64) -> UInt32 { fulcrum_backend_active(id) }

    /// Folds one response-head latency into the backend's EWMA (weight 1/8,
    /// as TCP's SRTT). Racing updates from two workers may lose one sample:
    /// harmless for a smoothed figure, and cheaper than a CAS loop.
    @inline(__always)
    public func recordLatency(_ id: UInt64, micros: UInt64) {
        guard owns(id) else { return }
        let w = word(Self.slot(of: id), 1)
        let old = fulcrum_load_relaxed(w)
        let sample = max(micros, 1)
        fulcrum_store_relaxed(w, old == 0 ? sample : old - old / 8 + sample / 8)
    }

    /// The smoothed latency in microseconds, 0 when unknown.
    public func latencyEWMA(_ id: UInt64) -> UInt64 { fulcrum_backend_latency(id) }
}
