import CFulcrumPlugin

/// One head as the filter callbacks see it: the original fields plus the
/// edits made so far. `writable` is true only while the hook that may edit
/// this head runs.
final class FilterHeadContext {
    unowned(unsafe) var run: FilterRun!
    let isRequest: Bool
    var head = FilterHead.empty
    var edits = HeaderEdits()
    var writable = false

    init(isRequest: Bool) { self.isRequest = isRequest }

    var opaque: UnsafeMutableRawPointer { Unmanaged.passUnretained(self).toOpaque() }

    /// First value of `name`, edits first.
    func get(_ name: UnsafeRawBufferPointer) -> UnsafeRawBufferPointer? {
        if let op = edits.latest(name) {
            guard op.isSet else { return nil }
            return edits.withBytes(op.value) { $0 }  // the arena outlives the hook
        }
        for i in 0..<head.count where HeaderRules.equalsCaseInsensitive(head.name(i), name) { return head.value(i) }
        return nil
    }

    /// Fields after edits: originals not touched, then each name set last.
    func forEachField(_ body: (UnsafeRawBufferPointer, UnsafeRawBufferPointer) -> Bool) {
        for i in 0..<head.count {
            let name = head.name(i)
            if !edits.isEmpty && edits.touches(name) { continue }
            if !body(name, head.value(i)) { return }
        }
        var stop = false
        edits.forEachSet { n, v in if !stop { stop = !body(n, v) } }
    }
}

/// Everything one request's filters keep between its head and its end: the
/// per-filter state slots, how many filters ran, both heads' edits, the
/// annotations, a chosen pool, a local answer. One per request in flight;
/// reuse it (`FilterRunPool`) so a request costs no allocation.
public final class FilterRun {
    public static let maxFilters = 32
    let slots: UnsafeMutablePointer<fulcrum_filter_state>
    /// Filters whose request hook ran, in chain order (their response and
    /// completion hooks run in reverse).
    public internal(set) var ranCount = 0
    let request = FilterHeadContext(isRequest: true)
    let response = FilterHeadContext(isRequest: false)
    var annotationBytes: [UInt8] = []
    var annotationRanges: [(key: Range<Int>, value: Range<Int>)] = []
    var poolBytes: [UInt8] = []
    public internal(set) var poolChosen = false
    var bodyBytes: [UInt8] = []
    public internal(set) var localStatus = 0
    var completed = false

    public init() {
        slots = .allocate(capacity: Self.maxFilters)
        slots.initialize(repeating: fulcrum_filter_state(), count: Self.maxFilters)
        request.run = self
        response.run = self
    }

    deinit { slots.deallocate() }

    /// Makes the run ready for a new request (the chain does this in runRequest).
    func reset() {
        for i in 0..<ranCount { slots[i] = fulcrum_filter_state() }
        ranCount = 0
        if !request.edits.isEmpty { request.edits.reset() }
        if !response.edits.isEmpty { response.edits.reset() }
        if !annotationBytes.isEmpty {
            annotationBytes.removeAll(keepingCapacity: true)
            annotationRanges.removeAll(keepingCapacity: true)
        }
        if poolChosen { poolBytes.removeAll(keepingCapacity: true) }
        poolChosen = false
        if !bodyBytes.isEmpty { bodyBytes.removeAll(keepingCapacity: true) }
        localStatus = 0
        completed = false
    }

    // MARK: what the proxy reads

    /// Edits to the request head, to apply when writing the forwarded head.
    public var requestEdits: HeaderEdits { request.edits }
    /// Edits to the response head (and a local answer's headers).
    public var responseEdits: HeaderEdits { response.edits }

    /// The pool a filter chose (valid while `poolChosen`).
    public func withChosenPool<R>(_ body: (UnsafeRawBufferPointer) -> R) -> R { poolBytes.withUnsafeBytes(body) }
    /// The body of a local answer.
    public func withLocalBody<R>(_ body: (UnsafeRawBufferPointer) -> R) -> R { bodyBytes.withUnsafeBytes(body) }

    /// Calls `body(key, value)` for every annotation (the access log's extra fields).
    public func forEachAnnotation(_ body: (UnsafeRawBufferPointer, UnsafeRawBufferPointer) -> Void) {
        annotationBytes.withUnsafeBytes { b in
            for r in annotationRanges { body(UnsafeRawBufferPointer(rebasing: b[r.key]), UnsafeRawBufferPointer(rebasing: b[r.value])) }
        }
    }

    /// One annotation's value as text, or nil (allocates: tests and logs).
    public func annotation(_ key: String) -> String? {
        var found: String?
        forEachAnnotation { k, v in if String(decoding: k, as: UTF8.self) == key { found = String(decoding: v, as: UTF8.self) } }
        return found
    }

    func annotation(_ key: UnsafeRawBufferPointer) -> UnsafeRawBufferPointer? {
        annotationBytes.withUnsafeBytes { b in
            for r in annotationRanges where r.key.count == key.count && b[r.key].elementsEqual(key) {
                return UnsafeRawBufferPointer(rebasing: b[r.value])
            }
            return nil
        }
    }

    static let annotationCapacity = 2048

    func annotate(_ key: UnsafeRawBufferPointer, _ value: UnsafeRawBufferPointer) -> Int32 {
        guard (1...32).contains(key.count), key.allSatisfy({ c in
            (c >= 0x61 && c <= 0x7A) || (c >= 0x30 && c <= 0x39) || c == 0x5F || c == 0x2E || c == 0x2D
        }) else { return FilterStatus.invalid }
        guard value.count <= 256, value.allSatisfy({ $0 >= 0x20 && $0 <= 0x7E && $0 != 0x22 && $0 != 0x5C }) else {
            return FilterStatus.invalid
        }
        // Replace: drop the old entry (its bytes stay until reset).
        annotationBytes.withUnsafeBytes { b in
            annotationRanges.removeAll { r in r.key.count == key.count && b[r.key].elementsEqual(key) }
        }
        guard annotationBytes.count + key.count + value.count <= Self.annotationCapacity else { return FilterStatus.tooLarge }
        let k = annotationBytes.count
        annotationBytes.append(contentsOf: key)
        let v = annotationBytes.count
        annotationBytes.append(contentsOf: value)
        annotationRanges.append((k..<v, v..<annotationBytes.count))
        return FilterStatus.ok
    }
}

/// FilterRuns kept for reuse by one worker (not thread-safe).
public final class FilterRunPool {
    private var free: [FilterRun] = []
    public init() {}
    public func take() -> FilterRun { free.popLast() ?? FilterRun() }
    public func give(_ run: FilterRun) { if free.count < 4096 { free.append(run) } }
}

extension HeaderRules {
    static func equalsCaseInsensitive(_ a: UnsafeRawBufferPointer, _ b: UnsafeRawBufferPointer) -> Bool {
        guard a.count == b.count else { return false }
        for i in 0..<a.count where lowerASCII(a[i]) != lowerASCII(b[i]) { return false }
        return true
    }
}
