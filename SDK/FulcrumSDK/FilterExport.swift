/// C trampolines for Swift filters; `fulcrumExportFilters` builds the list.
enum FilterTypes {
    nonisolated(unsafe) static var types: [any FulcrumFilter.Type] = []
    nonisolated(unsafe) static var list: UnsafePointer<fulcrum_filter_list>?
}

typealias FilterConfigNewFn = @convention(c) (UnsafePointer<fulcrum_filter_host>?, UnsafePointer<CChar>?, UnsafeMutablePointer<CChar>?, Int) -> UnsafeMutableRawPointer?

func filterConfigNew(slot: Int, _ fh: UnsafePointer<fulcrum_filter_host>?, _ config: UnsafePointer<CChar>?,
                     _ error: UnsafeMutablePointer<CChar>?, _ capacity: Int) -> UnsafeMutableRawPointer? {
    func refuse(_ reason: String) -> UnsafeMutableRawPointer? {
        if let error, capacity > 0 {
            let b = Array(reason.utf8.prefix(capacity - 1))
            for (i, c) in b.enumerated() { error[i] = CChar(bitPattern: c) }
            error[b.count] = 0
        }
        return nil
    }
    guard let fh, slot < FilterTypes.types.count else { return refuse("no such filter") }
    let entry = FilterEntry(type: FilterTypes.types[slot], config: config.map { String(cString: $0) } ?? "{}", filterHost: fh)
    do throws(FulcrumFilterConfigError) {
        _ = try entry.type.init(setup: entry.setup(worker: .max))
    } catch {
        return refuse(error.reason)
    }
    return Unmanaged.passRetained(entry).toOpaque()
}

let filterConfigSlots: [FilterConfigNewFn] = [
    { filterConfigNew(slot: 0, $0, $1, $2, $3) }, { filterConfigNew(slot: 1, $0, $1, $2, $3) },
    { filterConfigNew(slot: 2, $0, $1, $2, $3) }, { filterConfigNew(slot: 3, $0, $1, $2, $3) },
    { filterConfigNew(slot: 4, $0, $1, $2, $3) }, { filterConfigNew(slot: 5, $0, $1, $2, $3) },
    { filterConfigNew(slot: 6, $0, $1, $2, $3) }, { filterConfigNew(slot: 7, $0, $1, $2, $3) },
]

let filterConfigDestroy: @convention(c) (UnsafeMutableRawPointer?) -> Void = { p in
    if let p { Unmanaged<FilterEntry>.fromOpaque(p).release() }
}

let filterNew: @convention(c) (UnsafeMutableRawPointer?, UInt32) -> UnsafeMutableRawPointer? = { p, worker in
    guard let p else { return nil }
    let entry = Unmanaged<FilterEntry>.fromOpaque(p).takeUnretainedValue()
    guard let filter = try? entry.type.init(setup: entry.setup(worker: worker)) else { return nil }
    return Unmanaged.passRetained(FilterBox(filter, entry: entry)).toOpaque()
}

let filterDestroy: @convention(c) (UnsafeMutableRawPointer?) -> Void = { p in
    if let p { Unmanaged<FilterBox>.fromOpaque(p).release() }
}

@inline(__always)
private func withBox<R>(_ p: UnsafeMutableRawPointer?, _ body: (FilterBox) -> R) -> R {
    Unmanaged<FilterBox>.fromOpaque(p!)._withUnsafeGuaranteedRef(body)
}

let filterRequestHead: @convention(c) (UnsafeMutableRawPointer?, UnsafePointer<fulcrum_filter_request>?, UnsafeMutablePointer<fulcrum_filter_decision>?) -> Int32 = {
    p, request, decision in
    guard p != nil, let request, let decision else { return FULCRUM_FILTER_CONTINUE }
    return withBox(p) { box in
        let view = FulcrumFilterRequest(raw: request, head: FulcrumHeadAccess(fh: box.entry.filterHost, head: request.pointee.head))
        switch box.filter.requestHead(view) {
        case .proceed:
            return FULCRUM_FILTER_CONTINUE
        case .choosePool(let name):
            box.scratch.removeAll(keepingCapacity: true)
            box.scratch.append(contentsOf: name.utf8)
            decision.pointee.pool = box.scratch.withUnsafeBytes { fulcrum_str(ptr: $0.baseAddress?.assumingMemoryBound(to: CChar.self), len: $0.count) }
            return FULCRUM_FILTER_CHOOSE_POOL
        case .respond(let status, let headers, let body):
            // Lay everything out in the box's scratch, then point into it
            // (not mutated again before the host has copied it).
            box.scratch.removeAll(keepingCapacity: true)
            var spans: [(Range<Int>, Range<Int>)] = []
            for (n, v) in headers {
                let a = box.scratch.count
                box.scratch.append(contentsOf: n.utf8)
                let b = box.scratch.count
                box.scratch.append(contentsOf: v.utf8)
                spans.append((a..<b, b..<box.scratch.count))
            }
            let bodyStart = box.scratch.count
            box.scratch.append(contentsOf: body.utf8)
            box.headers.removeAll(keepingCapacity: true)
            box.scratch.withUnsafeBytes { s in
                func str(_ r: Range<Int>) -> fulcrum_str {
                    fulcrum_str(ptr: (s.baseAddress! + r.lowerBound).assumingMemoryBound(to: CChar.self), len: r.count)
                }
                for (n, v) in spans { box.headers.append(fulcrum_header(name: str(n), value: str(v))) }
                decision.pointee.body = s.isEmpty ? fulcrum_str() : str(bodyStart..<s.count)
            }
            decision.pointee.status = Int32(clamping: status)
            decision.pointee.headers = box.headers.withUnsafeBufferPointer { $0.baseAddress }
            decision.pointee.header_count = box.headers.count
            return FULCRUM_FILTER_RESPOND
        }
    }
}

let filterResponseHead: @convention(c) (UnsafeMutableRawPointer?, UnsafePointer<fulcrum_filter_response>?) -> Void = { p, response in
    guard p != nil, let response else { return }
    withBox(p) { box in
        box.filter.responseHead(FulcrumFilterResponse(raw: response, head: FulcrumHeadAccess(fh: box.entry.filterHost, head: response.pointee.head)))
    }
}

let filterComplete: @convention(c) (UnsafeMutableRawPointer?, UnsafePointer<fulcrum_filter_completion>?) -> Void = { p, completion in
    guard p != nil, let completion else { return }
    withBox(p) { box in
        box.filter.complete(FulcrumFilterCompletion(raw: completion, access: FulcrumHeadAccess(fh: box.entry.filterHost, head: completion.pointee.exchange)))
    }
}

/// Builds (once) the list `fulcrum_plugin_filters` returns. A Swift filter
/// plugin exports both entry points:
///
///     @c public func fulcrum_plugin_entry() -> UnsafePointer<fulcrum_plugin> {
///         fulcrumExport(name: "my-filters", version: "1.0.0")
///     }
///     @c public func fulcrum_plugin_filters(_ host: UnsafePointer<fulcrum_filter_host>?) -> UnsafePointer<fulcrum_filter_list>? {
///         fulcrumExportFilters([MyFilter.self])
///     }
///
/// At most 8 filters per Swift plugin.
public func fulcrumExportFilters(_ types: [any FulcrumFilter.Type]) -> UnsafePointer<fulcrum_filter_list> {
    exportFiltersLock.withLock { _ in
        if let list = FilterTypes.list { return list }
        precondition(types.count <= filterConfigSlots.count, "a Swift plugin exports at most \(filterConfigSlots.count) filters")
        FilterTypes.types = types
        let array = UnsafeMutablePointer<fulcrum_filter>.allocate(capacity: max(1, types.count))
        for (slot, type) in types.enumerated() {
            array[slot] = fulcrum_filter(
                name: permanentCString(type.name), description: permanentCString(type.description),
                on_config_new: filterConfigSlots[slot], on_config_destroy: filterConfigDestroy,
                on_filter_new: filterNew, on_filter_destroy: filterDestroy,
                on_request_head: filterRequestHead,
                on_response_head: type.handlesResponses ? filterResponseHead : nil,
                on_complete: type.observesCompletions ? filterComplete : nil)
        }
        let list = UnsafeMutablePointer<fulcrum_filter_list>.allocate(capacity: 1)
        list.initialize(to: fulcrum_filter_list(
            abi_version: UInt32(FULCRUM_ABI_VERSION), filter_revision: UInt32(FULCRUM_FILTER_REVISION),
            filter_size: MemoryLayout<fulcrum_filter>.size, filters: UnsafePointer(array), filter_count: types.count))
        FilterTypes.list = UnsafePointer(list)
        return UnsafePointer(list)
    }
}

import Synchronization
private let exportFiltersLock = Mutex(())
