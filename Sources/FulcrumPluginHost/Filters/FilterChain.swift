import CFulcrumPlugin

/// What the request filters decided.
public enum FilterVerdict: Equatable, Sendable {
    /// Go on: pick a backend in the routed pool, forwarding the head with
    /// `run.requestEdits` applied.
    case forward
    /// Go on, but in the pool `run.withChosenPool` names.
    case forwardToPool
    /// Answer now with this status, `run.responseEdits`' headers and
    /// `run.withLocalBody`; then call `runResponse(status:head: nil, …)`.
    case respond(status: Int)
}

/// One worker's filters for one route, in order (the top-level entries
/// first). Not thread-safe: a worker owns its chains, as it owns its
/// strategy instances.
///
/// The proxy calls, for each routed request, "after the route is chosen,
/// before the pick":
///  1. `let verdict = chain.runRequest(view, run: run)` (run from a FilterRunPool);
///  2. to forward: leave out original fields for which
///     `run.requestEdits.touches(name)`, append `run.requestEdits.forEachSet`;
///  3. on the response head (the backend's, or any local answer):
///     `chain.runResponse(status:, head:, run:)`, then apply `run.responseEdits`
///     the same way (for a local answer they are its headers);
///  4. at the end, always: `chain.complete(run:, status:, bytesIn:, bytesOut:, durationMicros:)`,
///     read `run.forEachAnnotation` for the access log, give the run back.
public final class FilterChain {
    public let instances: [FilterInstance]

    public init(_ instances: [FilterInstance]) {
        precondition(instances.count <= FilterRun.maxFilters, "a chain holds at most \(FilterRun.maxFilters) filters")
        self.instances = instances
    }

    public var isEmpty: Bool { instances.isEmpty }

    /// Runs the request hooks in order until one answers.
    public func runRequest(_ view: FilterRequestView, run: FilterRun) -> FilterVerdict {
        run.reset()
        run.request.head = view.head
        var clientIP = view.clientIP
        // v4-mapped IPv6 (::ffff:a.b.c.d) is given to filters as IPv4.
        if clientIP.count == 16, clientIP.prefix(10).allSatisfy({ $0 == 0 }), clientIP[10] == 0xFF, clientIP[11] == 0xFF {
            clientIP = UnsafeRawBufferPointer(rebasing: clientIP[12..<16])
        }
        let base = view.head.base
        var verdict = FilterVerdict.forward
        for (i, filter) in instances.enumerated() {
            run.ranCount = i + 1
            guard let hook = filter.onRequestHead else { continue }
            let poolBytes: UnsafeRawBufferPointer = run.poolChosen ? run.poolBytes.withUnsafeBytes { $0 } : view.pool
            var request = fulcrum_filter_request(
                struct_size: UInt32(MemoryLayout<fulcrum_filter_request>.size),
                client_ip_len: UInt32(clientIP.count),
                client_ip: clientIP.baseAddress?.assumingMemoryBound(to: UInt8.self),
                method: Self.str(base, view.method), target: Self.str(base, view.target),
                route: FilterCallbacks.str(view.route), pool: FilterCallbacks.str(poolBytes),
                head: run.request.opaque, state: run.slots + i)
            var decision = fulcrum_filter_decision()
            decision.struct_size = UInt32(MemoryLayout<fulcrum_filter_decision>.size)
            run.request.writable = true
            let result = hook(filter.raw, &request, &decision)
            run.request.writable = false
            switch result {
            case FULCRUM_FILTER_CONTINUE:
                continue
            case FULCRUM_FILTER_CHOOSE_POOL:
                let name = FilterCallbacks.bytes(decision.pool.ptr, decision.pool.len)
                guard !name.isEmpty, name.count <= 256 else { return respond(500, run: run) }
                run.poolBytes.removeAll(keepingCapacity: true)
                run.poolBytes.append(contentsOf: name)
                run.poolChosen = true
                verdict = .forwardToPool
            case FULCRUM_FILTER_RESPOND:
                guard (200...599).contains(Int(decision.status)) else { return respond(500, run: run) }
                for h in 0..<(decision.headers == nil ? 0 : decision.header_count) {
                    let field = decision.headers![h]
                    let n = FilterCallbacks.bytes(field.name.ptr, field.name.len)
                    let v = FilterCallbacks.bytes(field.value.ptr, field.value.len)
                    // The host frames the answer: refused names are dropped.
                    if HeaderRules.check(name: n, request: false) == FilterStatus.ok, HeaderRules.check(value: v) == FilterStatus.ok {
                        _ = run.response.edits.record(set: true, name: n, value: v)
                    }
                }
                run.bodyBytes.append(contentsOf: FilterCallbacks.bytes(decision.body.ptr, min(decision.body.len, 1 << 20)))
                run.localStatus = Int(decision.status)
                return .respond(status: Int(decision.status))
            default:
                return respond(500, run: run)
            }
        }
        return verdict
    }

    /// A filter misbehaved: answer 500 with an empty body.
    private func respond(_ status: Int, run: FilterRun) -> FilterVerdict {
        run.response.edits.reset()
        run.bodyBytes.removeAll(keepingCapacity: true)
        run.localStatus = status
        return .respond(status: status)
    }

    /// Runs the response hooks of the filters that ran, in reverse order.
    /// `head` is the backend's response head, or nil for a local answer
    /// (a filter's, whose headers are already in `run.responseEdits`, or the
    /// host's own error).
    public func runResponse(status: Int, head: FilterHead?, run: FilterRun) {
        if let head {
            run.response.edits.reset()
            run.response.head = head
        } else {
            run.response.head = .empty
        }
        var i = run.ranCount - 1
        while i >= 0 {
            let filter = instances[i]
            if let hook = filter.onResponseHead {
                var response = fulcrum_filter_response(
                    struct_size: UInt32(MemoryLayout<fulcrum_filter_response>.size), status: Int32(clamping: status),
                    local: head == nil ? 1 : 0, head: run.response.opaque, state: run.slots + i)
                run.response.writable = true
                hook(filter.raw, &response)
                run.response.writable = false
            }
            i -= 1
        }
    }

    /// Runs the completion hooks of the filters that ran, in reverse order.
    /// Call exactly once per runRequest, whatever happened.
    public func complete(run: FilterRun, status: Int, bytesIn: UInt64, bytesOut: UInt64, durationMicros: UInt64) {
        var i = run.ranCount - 1
        while i >= 0 {
            let filter = instances[i]
            if let hook = filter.onComplete {
                var completion = fulcrum_filter_completion(
                    struct_size: UInt32(MemoryLayout<fulcrum_filter_completion>.size), status: Int32(clamping: status),
                    bytes_in: bytesIn, bytes_out: bytesOut, duration_us: durationMicros,
                    exchange: run.request.opaque, state: run.slots + i)
                hook(filter.raw, &completion)
            }
            i -= 1
        }
        run.completed = true
    }

    @inline(__always)
    static func str(_ base: UnsafeRawPointer?, _ range: Range<Int>) -> fulcrum_str {
        guard let base, !range.isEmpty else { return fulcrum_str(ptr: nil, len: 0) }
        return fulcrum_str(ptr: (base + range.lowerBound).assumingMemoryBound(to: CChar.self), len: range.count)
    }
}
