/// The candidate index of a `RouteTable` with many routes (see there).
/// Everything read per request is plain memory (structs of pointers): no
/// reference counting on the request path.
final class RouteIndex: @unchecked Sendable {
    /// Routes narrowed by path within one host bucket.
    struct Bucket {
        let exactPaths: ByteKeyIndex
        let prefixes: ByteKeyIndex
        /// The distinct prefix lengths, ascending.
        let prefixLengths: UnsafeMutablePointer<Int>
        let prefixLengthCount: Int
        /// Routes with neither `path` nor `path_prefix`, in order.
        let rest: UnsafeMutablePointer<Int32>
        let restCount: Int
    }

    let exactHosts: ByteKeyIndex
    let suffixHosts: ByteKeyIndex
    /// Bucket ids: exact host buckets, then suffix ones, then the no-host one (last).
    let buckets: UnsafeMutablePointer<Bucket>
    let bucketCount: Int
    let anyHostBucket: Int

    deinit {
        exactHosts.deallocate()
        suffixHosts.deallocate()
        for i in 0..<bucketCount {
            let b = buckets[i]
            b.exactPaths.deallocate()
            b.prefixes.deallocate()
            b.prefixLengths.deallocate()
            b.rest.deallocate()
        }
        buckets.deallocate()
    }

    init(_ conditions: [Conditions], arena: [UInt8]) {
        func bytes(_ r: Range<Int>) -> [UInt8] { Array(arena[r]) }
        // Host key → routes, in order.
        var exactOrder: [[UInt8]] = [], exactRoutes: [[UInt8]: [Int]] = [:]
        var suffixOrder: [[UInt8]] = [], suffixRoutes: [[UInt8]: [Int]] = [:]
        var anyHost: [Int] = []
        for (i, c) in conditions.enumerated() {
            switch c.hostKind {
            case .any: anyHost.append(i)
            case .exact:
                let k = bytes(c.host)
                if exactRoutes[k] == nil { exactOrder.append(k) }
                exactRoutes[k, default: []].append(i)
            case .suffix:
                let k = bytes(c.host)
                if suffixRoutes[k] == nil { suffixOrder.append(k) }
                suffixRoutes[k, default: []].append(i)
            }
        }
        func bucket(_ routes: [Int]) -> Bucket {
            var exact: [([UInt8], Int32)] = [], prefix: [([UInt8], Int32)] = [], rest: [Int32] = []
            var lengths = Set<Int>()
            for i in routes {
                let c = conditions[i]
                if c.hasPath {
                    exact.append((bytes(c.path), Int32(i)))
                } else if c.hasPrefix {
                    prefix.append((bytes(c.prefix), Int32(i)))
                    lengths.insert(c.prefix.count)
                } else {
                    rest.append(Int32(i))
                }
            }
            let sorted = lengths.sorted()
            let l = UnsafeMutablePointer<Int>.allocate(capacity: max(1, sorted.count))
            _ = UnsafeMutableBufferPointer(start: l, count: sorted.count).initialize(from: sorted)
            let r = UnsafeMutablePointer<Int32>.allocate(capacity: max(1, rest.count))
            _ = UnsafeMutableBufferPointer(start: r, count: rest.count).initialize(from: rest)
            return Bucket(exactPaths: ByteKeyIndex(exact), prefixes: ByteKeyIndex(prefix), prefixLengths: l, prefixLengthCount: sorted.count,
                          rest: r, restCount: rest.count)
        }
        var buckets: [Bucket] = []
        var exactPairs: [([UInt8], Int32)] = []
        for k in exactOrder {
            exactPairs.append((k, Int32(buckets.count)))
            buckets.append(bucket(exactRoutes[k]!))
        }
        var suffixPairs: [([UInt8], Int32)] = []
        for k in suffixOrder {
            suffixPairs.append((k, Int32(buckets.count)))
            buckets.append(bucket(suffixRoutes[k]!))
        }
        anyHostBucket = buckets.count
        buckets.append(bucket(anyHost))
        exactHosts = ByteKeyIndex(exactPairs, caseInsensitive: true)
        suffixHosts = ByteKeyIndex(suffixPairs, caseInsensitive: true, reversed: true)
        bucketCount = buckets.count
        self.buckets = .allocate(capacity: buckets.count)
        self.buckets.initialize(from: buckets, count: buckets.count)
    }

    @inline(__always)
    func match(_ table: RouteTable, method: UnsafeRawBufferPointer, path: UnsafeRawBufferPointer, host: UnsafeRawBufferPointer,
               header: (UnsafeRawBufferPointer) -> UnsafeRawBufferPointer?) -> Int? {
        var best = Int.max
        search(anyHostBucket, table, method, path, host, header, &best)
        if host.count > 0, let base = host.baseAddress {
            if !exactHosts.isEmpty {
                var h = ByteKeyIndex.basis
                for b in host { h = ByteKeyIndex.step(h, ByteKeyIndex.lower(b)) }
                if let r = exactHosts.lookup(hash: h, base, host.count) {
                    search(Int(exactHosts.route(at: r.lowerBound)), table, method, path, host, header, &best)
                }
            }
            if !suffixHosts.isEmpty {
                // Back to front: at each dot, the hash so far is the hash of ".suffix".
                var h = ByteKeyIndex.basis
                var i = host.count - 1
                while i > 0 {
                    let b = ByteKeyIndex.lower(host[i])
                    h = ByteKeyIndex.step(h, b)
                    if b == 0x2E, let r = suffixHosts.lookup(hash: h, base + i, host.count - i) {
                        search(Int(suffixHosts.route(at: r.lowerBound)), table, method, path, host, header, &best)
                    }
                    i -= 1
                }
            }
        }
        return best == Int.max ? nil : best
    }

    /// Lowers `best` to the first route of `bucket` (before it) that matches.
    @inline(__always)
    private func search(_ id: Int, _ table: RouteTable, _ method: UnsafeRawBufferPointer, _ path: UnsafeRawBufferPointer,
                        _ host: UnsafeRawBufferPointer, _ header: (UnsafeRawBufferPointer) -> UnsafeRawBufferPointer?,
                        _ best: inout Int) {
        let bucket = buckets[id]
        for k in 0..<bucket.restCount {
            let i = Int(bucket.rest[k])
            if i >= best { break }
            if table.matches(i, method: method, path: path, host: host, header: header) { best = i; break }
        }
        guard path.count > 0, let base = path.baseAddress else { return }
        if !bucket.exactPaths.isEmpty {
            var h = ByteKeyIndex.basis
            for b in path { h = ByteKeyIndex.step(h, b) }
            if let range = bucket.exactPaths.lookup(hash: h, base, path.count) {
                scan(bucket.exactPaths, range, table, method, path, host, header, &best)
            }
        }
        if !bucket.prefixes.isEmpty {
            var h = ByteKeyIndex.basis
            var done = 0
            for k in 0..<bucket.prefixLengthCount {
                let length = bucket.prefixLengths[k]
                if length > path.count { break }
                while done < length { h = ByteKeyIndex.step(h, path[done]); done += 1 }
                if let range = bucket.prefixes.lookup(hash: h, base, length) {
                    scan(bucket.prefixes, range, table, method, path, host, header, &best)
                }
            }
        }
    }

    @inline(__always)
    private func scan(_ keys: ByteKeyIndex, _ range: Range<Int>, _ table: RouteTable, _ method: UnsafeRawBufferPointer,
                      _ path: UnsafeRawBufferPointer, _ host: UnsafeRawBufferPointer,
                      _ header: (UnsafeRawBufferPointer) -> UnsafeRawBufferPointer?, _ best: inout Int) {
        for j in range {
            let i = Int(keys.route(at: j))
            if i >= best { break }
            if table.matches(i, method: method, path: path, host: host, header: header) { best = i; break }
        }
    }
}
