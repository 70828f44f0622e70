/// The routes of one configuration, compiled for matching: immutable, one
/// per configuration, shared by every worker (a reload builds a new one).
///
/// First match in file order wins. With a handful of routes every route is
/// tried in order (a few byte comparisons each). With more, an index narrows
/// the candidates: routes are bucketed by host (exact names in a hash table,
/// `*.suffix` wildcards in another probed with each dot-suffix of the
/// request's host, and routes without a host), and within a bucket by exact
/// path (hash), path prefix (hash per distinct prefix length, probed with
/// one running hash over the path) and the rest. Every candidate list is in
/// file order and is scanned only up to the best match found so far, so the
/// result is exactly the linear scan's (a property test checks it).
public final class RouteTable: @unchecked Sendable {
    public let routes: [Route]
    /// Pool names, in the order `Route.poolIndex` counts them.
    public let pools: [String]
    // What matching reads, in plain memory (no reference counting per request).
    let conditions: UnsafeMutablePointer<Conditions>
    let conditionCount: Int
    let arena: UnsafeMutableRawBufferPointer
    let methodRanges: UnsafeMutablePointer<Range<Int>>
    let headerTests: UnsafeMutablePointer<HeaderTest>
    let index: RouteIndex?
    /// At or below this many routes, matching scans them all.
    public static let linearLimit = 16

    /// Compiles validated routes. `pools` lists every pool name; a route
    /// without one goes to `defaultPool`.
    public init(_ config: [RouteConfig], pools: [String], defaultPool: String, indexed: Bool? = nil) {
        self.pools = pools
        var arena: [UInt8] = []
        var methodRanges: [Range<Int>] = []
        var headerTests: [HeaderTest] = []
        func put(_ s: String, lower: Bool = false) -> Range<Int> {
            let start = arena.count
            arena += Array((lower ? s.lowercased() : s).utf8)
            return start..<arena.count
        }
        var conditions: [Conditions] = []
        var routes: [Route] = []
        for (i, r) in config.enumerated() {
            var c = Conditions()
            if let host = r.host, host != "*" {
                if host.hasPrefix("*.") {
                    c.hostKind = .suffix
                    c.host = put(String(host.dropFirst()), lower: true)
                } else {
                    c.hostKind = .exact
                    c.host = put(host, lower: true)
                }
            }
            if let p = r.pathPrefix { c.hasPrefix = true; c.prefix = put(p) }
            if let p = r.path { c.hasPath = true; c.path = put(p) }
            if let methods = r.methods {
                let start = methodRanges.count
                for m in methods { methodRanges.append(put(m)) }
                c.methods = start..<methodRanges.count
            }
            if let headers = r.headers {
                let start = headerTests.count
                for h in headers {
                    headerTests.append(HeaderTest(name: put(h.name, lower: true), value: h.value == "*" ? 0..<0 : put(h.value),
                                                  anyValue: h.value == "*"))
                }
                c.headers = start..<headerTests.count
            }
            conditions.append(c)
            let pool = r.pool ?? defaultPool
            routes.append(Route(index: i, label: r.name ?? "routes[\(i)]", pool: pool, poolIndex: pools.firstIndex(of: pool) ?? 0,
                                stripPrefix: r.stripPrefix == true && r.pathPrefix != nil, prefixLength: r.pathPrefix?.utf8.count ?? 0,
                                requestHeaders: CompiledHeaderRules(r.requestHeaders),
                                responseHeaders: CompiledHeaderRules(r.responseHeaders), config: r))
        }
        self.routes = routes
        conditionCount = conditions.count
        self.conditions = Self.copy(conditions)
        self.arena = UnsafeMutableRawBufferPointer.allocate(byteCount: max(1, arena.count), alignment: 8)
        self.arena.copyBytes(from: arena)
        self.methodRanges = Self.copy(methodRanges)
        self.headerTests = Self.copy(headerTests)
        let useIndex = indexed ?? (config.count > Self.linearLimit)
        index = useIndex ? RouteIndex(conditions, arena: arena) : nil
    }

    deinit {
        conditions.deallocate()
        arena.deallocate()
        methodRanges.deallocate()
        headerTests.deallocate()
    }

    static func copy<T>(_ a: [T]) -> UnsafeMutablePointer<T> {
        let p = UnsafeMutablePointer<T>.allocate(capacity: max(1, a.count))
        _ = UnsafeMutableBufferPointer(start: p, count: a.count).initialize(from: a)
        return p
    }

    /// The route for a request, or nil. `path` is the normalised path
    /// (empty for the asterisk and authority forms); `host` the host name
    /// without its port; `header` finds a request header's first value by
    /// its lower-case name.
    @inline(__always)
    public func match(method: UnsafeRawBufferPointer, path: UnsafeRawBufferPointer, host: UnsafeRawBufferPointer,
                      header: (UnsafeRawBufferPointer) -> UnsafeRawBufferPointer?) -> Int? {
        if let index {
            return index.match(self, method: method, path: path, host: host, header: header)
        }
        for i in 0..<conditionCount where matches(i, method: method, path: path, host: host, header: header) {
            return i
        }
        return nil
    }

    /// Whether route `i`'s every condition holds.
    @inline(__always)
    func matches(_ i: Int, method: UnsafeRawBufferPointer, path: UnsafeRawBufferPointer, host: UnsafeRawBufferPointer,
                 header: (UnsafeRawBufferPointer) -> UnsafeRawBufferPointer?) -> Bool {
        let c = conditions[i]
        let a = UnsafeRawBufferPointer(arena)
        do {
            switch c.hostKind {
            case .any: break
            case .exact:
                guard host.count == c.host.count, Self.equalLower(a, c.host, host, from: 0) else { return false }
            case .suffix:
                guard host.count > c.host.count, Self.equalLower(a, c.host, host, from: host.count - c.host.count) else { return false }
            }
            if c.hasPath {
                guard path.count == c.path.count, Self.equal(a, c.path, path) else { return false }
            }
            if c.hasPrefix {
                guard path.count >= c.prefix.count, Self.equal(a, c.prefix, path) else { return false }
            }
            if !c.methods.isEmpty {
                var found = false
                for m in c.methods {
                    let r = methodRanges[m]
                    if r.count == method.count && Self.equal(a, r, method) { found = true; break }
                }
                guard found else { return false }
            }
            for h in c.headers {
                let test = headerTests[h]
                guard let value = header(UnsafeRawBufferPointer(rebasing: a[test.name])) else { return false }
                if !test.anyValue {
                    guard value.count == test.value.count, Self.equal(a, test.value, value) else { return false }
                }
            }
            return true
        }
    }

    /// `arena[range]` equals the first `range.count` bytes of `bytes`.
    @inline(__always)
    static func equal(_ a: UnsafeRawBufferPointer, _ range: Range<Int>, _ bytes: UnsafeRawBufferPointer) -> Bool {
        var j = 0
        for i in range {
            if a[i] != bytes[j] { return false }
            j += 1
        }
        return true
    }

    /// `arena[range]` (lower-case) equals `bytes[from...]` ignoring case.
    @inline(__always)
    static func equalLower(_ a: UnsafeRawBufferPointer, _ range: Range<Int>, _ bytes: UnsafeRawBufferPointer, from: Int) -> Bool {
        var j = from
        for i in range {
            if a[i] != ByteKeyIndex.lower(bytes[j]) { return false }
            j += 1
        }
        return true
    }
}
