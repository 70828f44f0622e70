import CFulcrumShim
import FulcrumRegistry
import Glibc

/// One worker's counters. Only the worker writes them (plain relaxed
/// stores: no lock, no contended cache line); a scrape sums every worker's.
public final class WorkerMetrics: @unchecked Sendable {
    public enum Counter: Int, CaseIterable {
        case connectionsAccepted, connectionsClosed, requests, retries, upstreamConnects, upstreamReuses,
             upstreamFailures, tunnels, bytesFromClients, bytesToClients, responseTimeouts, bodyTimeouts, connectTimeouts,
             /// HTTP/2 (issue 17): client connections that became HTTP/2, and their streams.
             h2Connections, h2Streams
    }

    /// Upper bounds (seconds) of the upstream duration histogram.
    public static let bucketBounds: [Double] = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10]
    static let bucketMicros: [UInt64] = bucketBounds.map { UInt64($0 * 1_000_000) }

    // Per-backend block layout (UInt64 words).
    static let ownerWord = 0
    static let codeBase = 1            // status 100…599 at codeBase + status - 100
    static let bucketBase = 501        // bucketBounds.count + 1 (+Inf)
    static let sumWord = 515
    static let countWord = 516
    static let failureWord = 517
    static let blockWords = 520

    let counters: UnsafeMutablePointer<UInt64>
    /// Every response sent to a client, by status (100…599).
    let responses: UnsafeMutablePointer<UInt64>
    /// Per backend slot, allocated on first use.
    let blocks: UnsafeMutablePointer<UnsafeMutablePointer<UInt64>?>
    let slots: Int

    public init(slots: Int = BackendTable.shared.capacity) {
        self.slots = slots
        counters = .allocate(capacity: Counter.allCases.count)
        counters.initialize(repeating: 0, count: Counter.allCases.count)
        responses = .allocate(capacity: 500)
        responses.initialize(repeating: 0, count: 500)
        blocks = .allocate(capacity: slots)
        blocks.initialize(repeating: nil, count: slots)
    }

    @inline(__always)
    func add(_ c: Counter, _ n: UInt64 = 1) { fulcrum_counter_add(counters + c.rawValue, n) }

    @inline(__always)
    func response(_ status: Int) {
        guard status >= 100 && status < 600 else { return }
        fulcrum_counter_add(responses + (status - 100), 1)
    }

    /// The block for backend `id`, cleared if its slot last served another backend.
    @inline(__always)
    private func block(_ id: UInt64) -> UnsafeMutablePointer<UInt64>? {
        let slot = BackendTable.slot(of: id)
        guard slot < slots else { return nil }
        var b = blocks[slot]
        if b == nil {
            let fresh = UnsafeMutablePointer<UInt64>.allocate(capacity: Self.blockWords)
            fresh.initialize(repeating: 0, count: Self.blockWords)
            fresh[Self.ownerWord] = id
            // Publish after initialising: scrapes read the pointer from another thread.
            fulcrum_store_release(UnsafeMutableRawPointer(blocks + slot).assumingMemoryBound(to: UInt64.self),
                                  UInt64(UInt(bitPattern: fresh)))
            b = fresh
        }
        if b![Self.ownerWord] != id {
            for i in 1..<Self.blockWords { fulcrum_store_relaxed(b! + i, 0) }
            fulcrum_store_release(b! + Self.ownerWord, id)
        }
        return b
    }

    /// A request to backend `id` finished with `status` after `micros`.
    @inline(__always)
    func record(backend id: UInt64, status: Int, micros: UInt64) {
        guard let b = block(id) else { return }
        if status >= 100 && status < 600 { fulcrum_counter_add(b + Self.codeBase + status - 100, 1) }
        var bucket = 0
        while bucket < Self.bucketMicros.count && micros > Self.bucketMicros[bucket] { bucket += 1 }
        fulcrum_counter_add(b + Self.bucketBase + bucket, 1)
        fulcrum_counter_add(b + Self.sumWord, micros)
        fulcrum_counter_add(b + Self.countWord, 1)
    }

    @inline(__always)
    func failure(backend id: UInt64) {
        guard let b = block(id) else { return }
        fulcrum_counter_add(b + Self.failureWord, 1)
    }

    // MARK: reading (any thread)

    public func value(_ c: Counter) -> UInt64 { fulcrum_load_relaxed(counters + c.rawValue) }

    public func responses(status: Int) -> UInt64 { fulcrum_load_relaxed(responses + (status - 100)) }

    /// A consistent-enough copy of backend `id`'s block, or nil when this
    /// worker never served it.
    public func backendBlock(_ id: UInt64) -> BackendCounters? {
        let slot = BackendTable.slot(of: id)
        guard slot < slots else { return nil }
        let raw = fulcrum_load_acquire(UnsafeMutableRawPointer(blocks + slot).assumingMemoryBound(to: UInt64.self))
        guard raw != 0, let b = UnsafeMutablePointer<UInt64>(bitPattern: UInt(raw)),
              fulcrum_load_acquire(b + Self.ownerWord) == id else { return nil }
        var c = BackendCounters()
        for status in 100..<600 {
            let v = fulcrum_load_relaxed(b + Self.codeBase + status - 100)
            if v > 0 { c.codes[status, default: 0] += v }
        }
        for i in 0...Self.bucketMicros.count { c.buckets[i] = fulcrum_load_relaxed(b + Self.bucketBase + i) }
        c.sumMicros = fulcrum_load_relaxed(b + Self.sumWord)
        c.count = fulcrum_load_relaxed(b + Self.countWord)
        c.failures = fulcrum_load_relaxed(b + Self.failureWord)
        return c
    }
}

/// One backend's counters, summed over workers at scrape time.
public struct BackendCounters: Sendable {
    public var codes: [Int: UInt64] = [:]
    /// Non-cumulative counts per histogram bucket (the last is +Inf).
    public var buckets = [UInt64](repeating: 0, count: WorkerMetrics.bucketBounds.count + 1)
    public var sumMicros: UInt64 = 0
    public var count: UInt64 = 0
    public var failures: UInt64 = 0

    public init() {}

    public var requests: UInt64 { codes.values.reduce(0, +) }

    public static func + (a: BackendCounters, b: BackendCounters) -> BackendCounters {
        var r = a
        for (k, v) in b.codes { r.codes[k, default: 0] += v }
        for i in r.buckets.indices { r.buckets[i] += b.buckets[i] }
        r.sumMicros += b.sumMicros
        r.count += b.count
        r.failures += b.failures
        return r
    }
}
