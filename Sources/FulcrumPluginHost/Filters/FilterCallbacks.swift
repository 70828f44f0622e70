import CFulcrumPlugin

/// The `fulcrum_filter_host` every filter config receives: C-callable
/// functions over `FilterHeadContext` (the opaque `head` / `exchange`).
enum FilterCallbacks {
    /// Runs `body` on the context behind `p` without retaining it (the
    /// chain keeps it alive for the hook): no reference counting per call.
    @inline(__always)
    static func with<R>(_ p: UnsafeRawPointer?, _ absent: R, _ body: (FilterHeadContext) -> R) -> R {
        guard let p else { return absent }
        return Unmanaged<FilterHeadContext>.fromOpaque(p)._withUnsafeGuaranteedRef(body)
    }

    static func bytes(_ p: UnsafePointer<CChar>?, _ n: Int) -> UnsafeRawBufferPointer {
        UnsafeRawBufferPointer(start: n > 0 ? UnsafeRawPointer(p) : nil, count: p == nil ? 0 : n)
    }

    static func str(_ b: UnsafeRawBufferPointer) -> fulcrum_str {
        fulcrum_str(ptr: b.baseAddress?.assumingMemoryBound(to: CChar.self), len: b.count)
    }

    /// A filter host whose general services are `host` (tests pass a fake clock).
    static func make(host: UnsafePointer<fulcrum_host>) -> UnsafePointer<fulcrum_filter_host> {
        let p = UnsafeMutablePointer<fulcrum_filter_host>.allocate(capacity: 1)
        p.initialize(to: fulcrum_filter_host(
            struct_size: UInt32(MemoryLayout<fulcrum_filter_host>.size),
            revision: UInt32(FULCRUM_FILTER_REVISION),
            host: host,
            header_count: { head in
                FilterCallbacks.with(head, 0) { c in
                    var n = 0
                    c.forEachField { _, _ in n += 1; return true }
                    return n
                }
            },
            header_at: { head, index, name, value in FilterCallbacks.with(head, 0) { c in
                var i = 0
                var found: Int32 = 0
                c.forEachField { n, v in
                    if i == index {
                        name?.pointee = FilterCallbacks.str(n)
                        value?.pointee = FilterCallbacks.str(v)
                        found = 1
                        return false
                    }
                    i += 1
                    return true
                }
                return found
            } },
            header_get: { head, name, len, value in FilterCallbacks.with(head, 0) { c in
                guard let v = c.get(FilterCallbacks.bytes(name, len)) else { return 0 }
                value?.pointee = FilterCallbacks.str(v)
                return 1
            } },
            header_set: { head, name, nameLen, value, valueLen in FilterCallbacks.with(head, FilterStatus.state) { c in
                guard c.writable else { return FilterStatus.state }
                let n = FilterCallbacks.bytes(name, nameLen), v = FilterCallbacks.bytes(value, valueLen)
                let a = HeaderRules.check(name: n, request: c.isRequest)
                guard a == FilterStatus.ok else { return a }
                let b = HeaderRules.check(value: v)
                guard b == FilterStatus.ok else { return b }
                return c.edits.record(set: true, name: n, value: v)
            } },
            header_remove: { head, name, nameLen in FilterCallbacks.with(head, FilterStatus.state) { c in
                guard c.writable else { return FilterStatus.state }
                let n = FilterCallbacks.bytes(name, nameLen)
                let a = HeaderRules.check(name: n, request: c.isRequest)
                guard a == FilterStatus.ok else { return a }
                return c.edits.record(set: false, name: n, value: UnsafeRawBufferPointer(start: nil, count: 0))
            } },
            annotate: { exchange, key, keyLen, value, valueLen in FilterCallbacks.with(exchange, FilterStatus.state) { c in
                guard !c.run.completed else { return FilterStatus.state }
                return c.run.annotate(FilterCallbacks.bytes(key, keyLen), FilterCallbacks.bytes(value, valueLen))
            } },
            annotation: { exchange, key, keyLen, value in FilterCallbacks.with(exchange, 0) { c in
                guard let v = c.run.annotation(FilterCallbacks.bytes(key, keyLen)) else { return 0 }
                value?.pointee = FilterCallbacks.str(v)
                return 1
            } }))
        return UnsafePointer(p)
    }

    /// The process's filter host, over HostServices.host.
    nonisolated(unsafe) static let shared: UnsafePointer<fulcrum_filter_host> = make(host: HostServices.host)
}
