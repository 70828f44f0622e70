import FulcrumSDK

/// `rate-limit`: a token bucket per key (`ip`, `header:NAME`, `route`), `rate`
/// per second and at most `burst`, held across every worker of the process
/// (one bucket table per configured entry, shared). Over the limit: 429 with
/// Retry-After in whole seconds (at least 1). At most 100,000 keys; the least
/// recently used go first.
///
/// The bucket is kept as GCRA's theoretical arrival time (one integer, ns):
/// a request at `now` is allowed when `max(tat, now) + interval - burst × interval <= now`.
final class RateLimit: FulcrumFilter {
    static let name = "rate-limit"
    static let description = "token bucket per client IP, header or route, across all workers; 429 + Retry-After"
    static let maxKeys = 100_000

    enum Key: Equatable { case ip, header(String), route }

    /// What every worker's instance of one configured entry shares.
    final class Buckets: @unchecked Sendable {
        let map = FulcrumShardedLRUMap(capacity: RateLimit.maxKeys)
        let seedA: UInt64, seedB: UInt64
        init(seedA: UInt64, seedB: UInt64) { self.seedA = seedA; self.seedB = seedB }
    }

    let interval: UInt64
    let burstSpan: UInt64
    let key: Key
    let buckets: Buckets
    let host: FulcrumHost

    init(setup: FulcrumFilterSetup) throws(FulcrumFilterConfigError) {
        guard let config = try? JSONValue.parse(setup.config), let members = config.objectMembers else {
            throw FulcrumFilterConfigError("configuration must be a JSON object")
        }
        for (k, _) in members where !["rate", "burst", "key"].contains(k) {
            throw FulcrumFilterConfigError("unknown key \"\(k)\" (expected rate, burst, key)")
        }
        guard let rate = config["rate"]?.doubleValue, rate > 0, rate <= 1e9 else {
            throw FulcrumFilterConfigError("rate must be a number of requests per second, above 0 and at most 1e9")
        }
        let burst: Double
        if let b = config["burst"] {
            guard let v = b.doubleValue, v >= 1, v <= 1e9, v == v.rounded() else {
                throw FulcrumFilterConfigError("burst must be a whole number from 1 to 1e9")
            }
            burst = v
        } else {
            burst = max(1, rate.rounded(.up))
        }
        interval = max(1, UInt64((1e9 / rate).rounded()))
        guard Double(interval) * burst < 4e18 else { throw FulcrumFilterConfigError("burst / rate is too long a window") }
        burstSpan = interval * UInt64(burst)
        switch config["key"] {
        case nil: key = .ip
        case .some(let v):
            guard let text = v.stringValue else { throw FulcrumFilterConfigError("key must be \"ip\", \"route\" or \"header:NAME\"") }
            if text == "ip" { key = .ip }
            else if text == "route" { key = .route }
            else if text.lowercased().hasPrefix("header:"), text.count > 7,
                    text.dropFirst(7).utf8.allSatisfy({ $0 > 0x20 && $0 < 0x7F && $0 != UInt8(ascii: ":") }) {
                key = .header(String(text.dropFirst(7)))
            } else {
                throw FulcrumFilterConfigError("key must be \"ip\", \"route\" or \"header:NAME\", not \"\(text)\"")
            }
        }
        let host = setup.host
        self.host = host
        buckets = setup.shared { Buckets(seedA: host.randomU64(), seedB: host.randomU64()) }
    }

    /// The verdict for key (k0, k1) at `now`: 0 when allowed, else the
    /// nanoseconds until a request would be.
    @inline(__always)
    func take(_ k0: UInt64, _ k1: UInt64, now: UInt64) -> UInt64 {
        let interval = interval, span = burstSpan
        return buckets.map.withValue(k0, k1, now: now, initial: 0) { tat in
            let next = max(tat, now) &+ interval
            if next <= now &+ span {
                tat = next
                return 0
            }
            return next - span - now
        }
    }

    func requestHead(_ request: FulcrumFilterRequest) -> FulcrumFilterDecision {
        let (k0, k1) = keyOf(request)
        let wait = take(k0, k1, now: host.monotonicNanos())
        guard wait > 0 else { return .proceed }
        let seconds = max(1, (wait + 999_999_999) / 1_000_000_000)
        return .respond(status: 429, headers: [("Retry-After", String(seconds)), ("Content-Type", "application/json")],
                        body: #"{"status":"error","message":"too many requests"}"#)
    }

    @inline(__always)
    func keyOf(_ request: FulcrumFilterRequest) -> (UInt64, UInt64) {
        let bytes: UnsafeRawBufferPointer
        var tag: UInt64 = 1
        switch key {
        case .ip: bytes = request.clientIP
        case .route: bytes = request.route; tag = 2
        case .header(let name):
            if let v = request.header(name) { bytes = v; tag = 3 } else { bytes = request.clientIP }
        }
        return (FulcrumHash.hash(bytes, seed: buckets.seedA ^ tag), FulcrumHash.hash(bytes, seed: buckets.seedB &+ tag))
    }
}

@c public func fulcrum_plugin_entry() -> UnsafePointer<fulcrum_plugin> {
    fulcrumExport(name: "fulcrum-rate-limit", version: "1.0.0")
}

@c public func fulcrum_plugin_filters(_ host: UnsafePointer<fulcrum_filter_host>?) -> UnsafePointer<fulcrum_filter_list>? {
    fulcrumExportFilters([RateLimit.self])
}
