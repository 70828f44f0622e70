// Route matching cost (CONTRACT §10, issue 15): ns per request routed with
// 1, 10 and 1,000 routes, through the table's own choice (linear scan up to
// RouteTable.linearLimit routes, the host/path index above) and through each
// way forced, plus path normalisation's fast and slow paths.
//
//   swift run -c release fulcrum-route-bench [iterations]
import FulcrumRouting
import FulcrumSDK
import Glibc

func now() -> UInt64 {
    var ts = timespec()
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return UInt64(ts.tv_sec) * 1_000_000_000 + UInt64(ts.tv_nsec)
}

/// `n` routes the way a large deployment writes them: a host per service,
/// a few path prefixes each, some exact paths and method/header conditions.
func routes(_ n: Int) -> [RouteConfig] {
    (0..<n).map { i in
        var r = RouteConfig()
        r.pool = "p\(i % 4)"
        switch i % 5 {
        case 0: r.host = "svc\(i / 5).example.com"; r.pathPrefix = "/api/v\(i % 3)/"
        case 1: r.host = "*.tenant\(i / 5).example.net"
        case 2: r.pathPrefix = "/static/\(i)/"
        case 3: r.path = "/health/\(i)"; r.methods = ["GET", "HEAD"]
        default: r.host = "svc\(i / 5).example.com"; r.headers = [HeaderCondition(name: "x-canary", value: "1")]
        }
        if n == 1 { r = RouteConfig(); r.pathPrefix = "/api/"; r.pool = "p0" }
        return r
    }
}

func f1(_ d: Double) -> String { let t = Int((d * 10).rounded()); return "\(t / 10).\(t % 10)" }
func pad(_ s: String, _ n: Int) -> String { String(repeating: " ", count: max(0, n - s.count)) + s }

/// 256 requests in memory that outlives the run (no reference counting in the timed loop).
func requests(_ n: Int) -> UnsafeMutableBufferPointer<RouteRequest> {
    let out = UnsafeMutableBufferPointer<RouteRequest>.allocate(capacity: 256)
    var rng = SystemRandomNumberGenerator()
    func bytes(_ s: String) -> UnsafeRawBufferPointer {
        let a = Array(s.utf8)
        let p = UnsafeMutableRawBufferPointer.allocate(byteCount: a.count, alignment: 1)
        p.copyBytes(from: a)
        return UnsafeRawBufferPointer(p)
    }
    let get = bytes("GET")
    for k in 0..<256 {
        let i = Int.random(in: 0..<max(1, n), using: &rng)
        let target: String
        let host: String
        switch k % 4 {
        case 0: target = "/api/v\(i % 3)/users/\(k)?page=2"; host = "svc\(i / 5).example.com"
        case 1: target = "/static/\(i)/app.js"; host = "www.a\(k).tenant\(i / 5).example.net:8080"
        case 2: target = "/health/\(i)"; host = "unknown.org"
        default: target = "/nothing/here/\(k)"; host = "svc\(i / 5).example.com"
        }
        out[k] = RouteRequest(method: get, target: bytes(target), host: bytes(host))
    }
    return out
}

func measure(_ table: RouteTable, _ reqs: UnsafeMutableBufferPointer<RouteRequest>, iterations: Int) -> (Double, Int) {
    let scratch = RouteScratch(capacity: 65_536)
    var matched = 0
    let start = now()
    for it in 0..<iterations {
        if case .route = table.route(reqs[it & 255], scratch: scratch, header: { _ in nil }) { matched += 1 }
    }
    return (Double(now() - start) / Double(iterations), matched)
}

let iterations = CommandLine.arguments.count > 1 ? Int(CommandLine.arguments[1]) ?? 2_000_000 : 2_000_000
print("route matching, ns per request (\(iterations) requests each, 256 distinct)")
print("routes  table's choice  linear  indexed  matched")
for n in [1, 10, 1000] {
    let config = routes(n)
    let pools = ["p0", "p1", "p2", "p3"]
    let reqs = requests(n)
    let auto = RouteTable(config, pools: pools, defaultPool: "p0")
    let linear = RouteTable(config, pools: pools, defaultPool: "p0", indexed: false)
    let indexed = RouteTable(config, pools: pools, defaultPool: "p0", indexed: true)
    _ = measure(auto, reqs, iterations: iterations / 10)  // warm up
    let (a, matched) = measure(auto, reqs, iterations: iterations)
    let (l, _) = measure(linear, reqs, iterations: n >= 1000 ? iterations / 20 : iterations)
    let (x, _) = measure(indexed, reqs, iterations: iterations)
    print(pad("\(n)", 6) + pad(f1(a), 16) + pad(f1(l), 8) + pad(f1(x), 9) + pad("\(matched * 100 / iterations)%", 9))
}

// Normalisation: an already-normal path (fast check only) and one that needs rewriting.
let out = UnsafeMutablePointer<UInt8>.allocate(capacity: 256)
for (label, path) in [("normal  /api/v1/users/42", "/api/v1/users/42"), ("rewrite //api/./v1/%75sers/../users/42", "//api/./v1/%75sers/../users/42")] {
    let bytes = Array(path.utf8)
    var sink = 0
    let start = now()
    for _ in 0..<iterations {
        bytes.withUnsafeBytes { p in
            if PathNormalizer.needsWork(p) { sink &+= PathNormalizer.normalize(p, into: out).1 } else { sink &+= p.count }
        }
    }
    print("normalise \(label): \(f1(Double(now() - start) / Double(iterations))) ns (\(sink % 7))")
}

// Calibration: the same 16 bytes summed (what a byte loop costs on this machine now).
do {
    let bytes = Array("/api/v1/users/42".utf8)
    var sink = 0
    let start = now()
    for i in 0..<iterations {
        bytes.withUnsafeBytes { p in for b in p { sink &+= Int(b) ^ i } }
    }
    print("calibration: a 16-byte loop: \(f1(Double(now() - start) / Double(iterations))) ns (\(sink % 7))")
}
