import FulcrumCore
import FulcrumEventLoop
import FulcrumHTTP
import FulcrumPluginHost

/// Filters on the request path (CONTRACT §11). Everything here runs only
/// for a request whose route has filters: `startExchange` tests
/// `worker.filters` (nil when the file has none) and the route's chain.
/// The request view is the parser's own field table over the client's
/// buffer, so a filter that only reads costs no allocation; the run
/// (edits, per-filter state, annotations) is reused from the worker's pool.
extension ClientConnection {

    /// Runs the request hooks after the route is chosen, before the pick.
    /// Status 0: forward (to `pool`, which a filter may have changed; the
    /// edits are applied when the forwarded head is written); otherwise the
    /// status of a local answer, `own` when it is a filter's (its headers
    /// and body) rather than the proxy's 500 for a failed chain.
    func runRequestFilters(_ filters: WorkerFilters, _ parsed: ParsedHead, _ head: UnsafeRawBufferPointer,
                           headLength: Int) -> (status: Int, own: Bool) {
        let chosen = route.map { filters.chains[$0.index] } ?? filters.unmatched
        guard let rc = chosen else { return (0, false) }
        guard !rc.broken else { return (500, false) }
        let run = filters.runs.take()
        filterChain = rc
        filterRun = run
        filterBytesIn = UInt64(headLength)
        filterMarkOut = clientBytesOut
        let base = head.baseAddress!
        let fields = FilterHead(base: UnsafeRawPointer(base), fields: UnsafeRawPointer(parsed.fields), count: parsed.fieldCount,
                                stride: MemoryLayout<FieldRef>.stride)
        let verdict = peer.withIPBytes { ip in
            rc.routeName.withUnsafeBytes { routeName in
                pool.nameBytes.withUnsafeBytes { poolName in
                    rc.chain.runRequest(FilterRequestView(head: fields, method: 0..<Int(parsed.methodEnd),
                                                          target: Int(parsed.targetStart)..<Int(parsed.targetEnd),
                                                          clientIP: ip, route: routeName, pool: poolName), run: run)
                }
            }
        }
        switch verdict {
        case .forward:
            return (0, false)
        case .forwardToPool:
            let found = run.withChosenPool { name in worker.workerPools.first { $0.nameBytes.elementsEqual(name) } }
            guard let found else {
                Log.warn("client \(clientIP): a filter chose pool \"\(run.withChosenPool { String(decoding: $0, as: UTF8.self) })\", which does not exist: 500")
                return (500, false)
            }
            if found !== pool { pool = found }
            return (0, false)
        case .respond(let status):
            return (status, true)
        }
    }

    /// The response hooks on a backend's response head (before it is rewritten for the client).
    func runResponseFilters(_ parsed: ParsedHead, _ head: UnsafeRawBufferPointer) {
        guard let rc = filterChain, let run = filterRun else { return }
        rc.chain.runResponse(status: parsed.status,
                             head: FilterHead(base: head.baseAddress, fields: UnsafeRawPointer(parsed.fields),
                                              count: parsed.fieldCount, stride: MemoryLayout<FieldRef>.stride),
                             run: run)
    }

    /// A local answer (a filter's, or the proxy's own 5xx) with the
    /// response hooks of the filters that ran, their headers applied.
    func writeLocalResponse(_ code: Int, keepAlive: Bool) -> Bool {
        guard let rc = filterChain, let run = filterRun else {
            return CannedResponse.write(code, keepAlive: keepAlive, into: &outBuf!)
        }
        rc.chain.runResponse(status: code, head: nil, run: run)
        let bodyless = exchange.facts.method == .head
        if filterAnswered {
            return run.withLocalBody { body in
                FilterResponse.write(code, keepAlive: keepAlive, edits: run.responseEdits, body: body, bodyless: bodyless, into: &outBuf!)
            }
        }
        return FilterResponse.writeCanned(code, keepAlive: keepAlive, edits: run.responseEdits, bodyless: bodyless, into: &outBuf!)
    }

    /// The completion hooks (once per request that ran filters).
    func completeFilters(status: Int, micros: UInt64) {
        guard let rc = filterChain, let run = filterRun else { return }
        rc.chain.complete(run: run, status: status, bytesIn: filterBytesIn, bytesOut: clientBytesOut &- filterMarkOut,
                          durationMicros: micros)
    }

    /// Gives the run back for the next request and lets go of the chain
    /// (its instances live on until no request holds them).
    func releaseFilters() {
        if let run = filterRun { worker.filters?.runs.give(run) }
        filterRun = nil
        filterChain = nil
        filterAnswered = false
    }
}
