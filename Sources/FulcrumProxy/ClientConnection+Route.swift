import FulcrumCore
import FulcrumHTTP
import FulcrumRouting

/// Routing one request (CONTRACT §10): the route table reads the facts the
/// parser captured (method, target, host, header values as offsets into the
/// client's buffer); nothing is copied unless the path needs normalising.
extension ClientConnection {
    enum RouteStep { case forward, refuse, noRoute }

    /// The request target as sent, in the client's buffer.
    @inline(__always)
    func requestTarget(_ parsed: ParsedHead, _ head: UnsafeRawBufferPointer) -> UnsafeRawBufferPointer {
        UnsafeRawBufferPointer(start: head.baseAddress! + Int(parsed.targetStart), count: Int(parsed.targetEnd - parsed.targetStart))
    }

    /// Chooses the route and pool; `.refuse` for a path that may not be
    /// routed (400), `.noRoute` when nothing matches and no `default_pool`
    /// catches it (404).
    func chooseRoute(_ table: RouteTable, _ parsed: ParsedHead, _ head: UnsafeRawBufferPointer) -> RouteStep {
        let routing = worker.routing
        let base = head.baseAddress!
        var host = UnsafeRawBufferPointer(start: nil, count: 0)
        if parsed.authorityStart >= 0 {
            host = UnsafeRawBufferPointer(start: base + Int(parsed.authorityStart), count: Int(parsed.authorityEnd - parsed.authorityStart))
        } else if parsed.hostIndex >= 0 {
            let f = parsed.fields[parsed.hostIndex]
            host = UnsafeRawBufferPointer(start: base + Int(f.valueStart), count: Int(f.valueEnd - f.valueStart))
        }
        let request = RouteRequest(method: UnsafeRawBufferPointer(start: base, count: Int(parsed.methodEnd)),
                                   target: requestTarget(parsed, head), host: host)
        let outcome = table.route(request, scratch: worker.routeScratch) { name in
            guard let (s, e) = parsed.firstValue(named: name, in: head) else { return nil }
            return UnsafeRawBufferPointer(start: base + s, count: e - s)
        }
        switch outcome {
        case .route(let i):
            let r = table.routes[i]
            routing.counters.count(worker: worker.index, route: i)
            route = r
            pool = worker.workerPools[r.poolIndex]
            return .forward
        case .noRoute:
            route = nil
            if let unmatched = routing.unmatchedPool {
                pool = worker.workerPools[unmatched]
                return .forward
            }
            pool = worker.defaultPool
            return .noRoute
        case .refused(let why):
            Log.debug("client \(clientIP): 400, path refused (\(why))")
            route = nil
            return .refuse
        }
    }
}
