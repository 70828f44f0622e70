/// Per-worker scratch for routing one request at a time: the normalised
/// path (when the path needed normalising) and a rewritten target (when a
/// route strips a prefix). Allocated once per worker; nothing per request.
public final class RouteScratch: @unchecked Sendable {
    public let capacity: Int
    let pathBuffer: UnsafeMutablePointer<UInt8>
    let targetBuffer: UnsafeMutablePointer<UInt8>
    /// The normalised path of the last request routed (valid until the next).
    public private(set) var path = UnsafeRawBufferPointer(start: nil, count: 0)
    /// Where the last request's query (its `?`) starts in its target, or the target's length.
    public private(set) var queryStart = 0

    /// `capacity`: the longest request target (the request line's limit is below it).
    public init(capacity: Int = 64 * 1024) {
        self.capacity = capacity
        pathBuffer = .allocate(capacity: capacity + 2)
        targetBuffer = .allocate(capacity: capacity + 2)
    }

    deinit {
        pathBuffer.deallocate()
        targetBuffer.deallocate()
    }

    static let slash: StaticString = "/"

    /// Finds the path of `target` and normalises it when it needs it.
    @inline(__always)
    func preparePath(_ target: UnsafeRawBufferPointer) -> PathNormalization {
        let (start, end) = RouteRequest.pathRange(of: target)
        queryStart = end
        if start == end {
            // No path (`*`, authority-form), or an absolute-form one that is empty, i.e. "/".
            path = start == 0 ? UnsafeRawBufferPointer(start: nil, count: 0)
                : UnsafeRawBufferPointer(start: Self.slash.utf8Start, count: 1)
            return .ok
        }
        let raw = UnsafeRawBufferPointer(rebasing: target[start..<end])
        guard PathNormalizer.needsWork(raw) else {
            path = raw
            return .ok
        }
        guard raw.count <= capacity else { return .badEscape }
        let (outcome, length) = PathNormalizer.normalize(raw, into: pathBuffer)
        path = UnsafeRawBufferPointer(start: pathBuffer, count: length)
        return outcome
    }
}

public enum RouteOutcome: Equatable, Sendable {
    /// The index of the matching route.
    case route(Int)
    /// No route matches: the default pool, or 404.
    case noRoute
    /// The path is refused (400).
    case refused(PathNormalization)
}

extension RouteTable {
    /// Routes `request` (normalising its path into `scratch` when needed).
    /// `header` finds the first value of a request header by lower-case name.
    @inline(__always)
    public func route(_ request: RouteRequest, scratch: RouteScratch,
                      header: (UnsafeRawBufferPointer) -> UnsafeRawBufferPointer?) -> RouteOutcome {
        let outcome = scratch.preparePath(request.target)
        guard outcome == .ok else { return .refused(outcome) }
        guard !routes.isEmpty else { return .noRoute }
        let hostLength = RouteRequest.hostName(of: request.host)
        let host = UnsafeRawBufferPointer(rebasing: request.host[0..<hostLength])
        if let i = match(method: request.method, path: scratch.path, host: host, header: header) { return .route(i) }
        return .noRoute
    }

    /// The target a route that strips its prefix forwards: the normalised
    /// path minus the prefix, always starting with `/`, then the query as
    /// received. Valid until the next call with `scratch`.
    public func strippedTarget(_ route: Route, target: UnsafeRawBufferPointer, scratch: RouteScratch) -> UnsafeRawBufferPointer {
        let out = scratch.targetBuffer
        var n = 0
        let path = scratch.path
        let rest = path.count > route.prefixLength ? UnsafeRawBufferPointer(rebasing: path[route.prefixLength...])
            : UnsafeRawBufferPointer(start: nil, count: 0)
        if rest.first != 0x2F {
            out[0] = 0x2F
            n = 1
        }
        if let base = rest.baseAddress, rest.count > 0 {
            (out + n).update(from: base.assumingMemoryBound(to: UInt8.self), count: rest.count)
            n += rest.count
        }
        let query = target.count - scratch.queryStart
        if query > 0, n + query <= scratch.capacity + 2 {
            (out + n).update(from: (target.baseAddress! + scratch.queryStart).assumingMemoryBound(to: UInt8.self), count: query)
            n += query
        }
        return UnsafeRawBufferPointer(start: out, count: n)
    }
}
