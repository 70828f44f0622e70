// Measures what a worker pays per `pick`: nanoseconds per call through the
// dlopen'd C function pointer, for each built-in strategy with 3 and with 100
// backends, plus the source-ip-hash and maglev balance and remap figures
// (MaglevFigures.swift).
//
//   swift build -c release && .build/release/fulcrum-pick-bench
import CFulcrumPlugin
import FulcrumCore
import FulcrumPluginHost
import FulcrumRegistry
import Glibc

let catalog = PluginCatalog()
let (_, errors) = PluginSearchPath(executableDirectory: PluginSearchPath.executableDirectory, pluginDirectories: [],
                                   environmentPath: nil).load(into: catalog)
guard errors.isEmpty else { fatalError("\(errors)") }

func makeBackends(_ n: Int, weights: (Int) -> UInt32 = { _ in 1 }) -> (UnsafeMutablePointer<fulcrum_backend>, [UInt64]) {
    let array = UnsafeMutablePointer<fulcrum_backend>.allocate(capacity: n)
    var ids: [UInt64] = []
    for i in 0..<n {
        let id = BackendTable.shared.allocate()!
        ids.append(id)
        array[i] = fulcrum_backend(id: id, address: strdup("http://10.0.\(i / 250).\(i % 250 + 1):8080"), weight: weights(i))
    }
    return (array, ids)
}

/// A request view whose client IP changes per call (as real traffic does).
/// Plain pointers, so the harness adds no exclusivity checks of its own.
struct RequestFixture {
    /// Distinct client addresses the picks are drawn from (0: a new one every pick).
    let population: UInt32
    var state = UnsafeMutablePointer<UInt32>.allocate(capacity: 1)
    let ipBytes = UnsafeMutablePointer<UInt8>.allocate(capacity: 4)
    let request = UnsafeMutablePointer<fulcrum_request>.allocate(capacity: 1)
    let text = strdup("GET/x")!
    init(population: UInt32 = 10_000) {
        self.population = population
        state.initialize(to: 12345)
        request.initialize(to: fulcrum_request(client_ip: UnsafePointer(ipBytes), client_ip_len: 4, method: text, method_len: 3,
                                               path: text + 3, path_len: 1, host: text + 4, host_len: 1, context: nil, header: nil))
        set(0x0A00_0001)
    }
    var ip: UInt32 { UnsafeMutableRawPointer(ipBytes).load(as: UInt32.self) }
    @inline(__always) func set(_ ip: UInt32) { UnsafeMutableRawPointer(ipBytes).storeBytes(of: ip, as: UInt32.self) }
    @inline(__always) func next() {
        state.pointee = state.pointee &* 1_664_525 &+ 1_013_904_223
        set(population == 0 ? state.pointee : 0x0A00_0000 &+ (state.pointee >> 8) % population)
    }
}

func measure(_ name: String, backends n: Int, picks: Int = 2_000_000, population: UInt32 = 10_000, loaded: Bool = true) -> Double {
    let (array, ids) = makeBackends(n, weights: { UInt32($0 % 5 + 1) })
    // Some load, so LC/PTC compare real numbers.
    for (i, id) in ids.enumerated() where loaded { for _ in 0..<(i % 7) { BackendTable.shared.begin(id) } }
    let instance = catalog.strategy(named: name)!.makeInstance()!
    instance.update(array, count: n)
    // Latency samples, so peak-ewma compares measured costs (not the cold median).
    for (i, id) in ids.enumerated() where instance.wantsCompletions {
        instance.complete(backendID: id, status: 200, durationMicros: UInt64(1000 + 37 * i))
    }
    let fixture = RequestFixture(population: population)
    var sink = 0
    for _ in 0..<10_000 { fixture.next(); sink &+= instance.pick(fixture.request) ?? 0 }
    var best = Double.infinity
    for _ in 0..<5 {
        let start = Clock.monotonicNanos()
        for _ in 0..<picks {
            fixture.next()
            sink &+= instance.pick(fixture.request) ?? 0
        }
        best = min(best, Double(Clock.monotonicNanos() - start) / Double(picks))
    }
    if sink == -1 { print(sink) }
    return best
}

print("ns per pick through the plugin's C function pointer (best of 5 x 2,000,000 picks; clients drawn at random from 10,000 addresses)")
print("| strategy | 3 backends | 100 backends |")
print("|---|---:|---:|")
let only = Array(CommandLine.arguments.dropFirst())  // optional: strategy names to measure
for name in ["round-robin", "weighted-round-robin", "sticky-round-robin", "least-connections", "power-of-two-choices", "source-ip-hash",
             "peak-ewma", "bounded-load-hash", "maglev"]
    where only.isEmpty || only.contains(name) {
    let a = measure(name, backends: 3), b = measure(name, backends: 100)
    print("| \(name) | \(String(format1(a))) | \(String(format1(b))) |")
}

func format1(_ v: Double) -> String { String(Double(Int(v * 10)) / 10) }

if only.isEmpty || only.contains("sticky-round-robin") {
    let worst = measure("sticky-round-robin", backends: 3, population: 0)
    print("sticky-round-robin worst case, a client never seen before on every pick (table miss + eviction): \(format1(worst)) ns")
}

if only.isEmpty || only.contains("bounded-load-hash") {
    let idle3 = measure("bounded-load-hash", backends: 3, loaded: false), idle100 = measure("bounded-load-hash", backends: 100, loaded: false)
    print("bounded-load-hash with nothing in flight (the key's backend is below any bound, no total read): \(format1(idle3)) / \(format1(idle100)) ns")
}

// Source-IP-hash balance and remap: 10 backends, 10,000 random IPv4 clients.
do {
    let n = 10
    let (array, ids) = makeBackends(n)
    let sih = catalog.strategy(named: "SIH")!.makeInstance()!
    sih.update(array, count: n)
    let fixture = RequestFixture(population: 0)
    var before: [UInt64] = []
    var ips: [UInt32] = []
    for _ in 0..<10_000 {
        fixture.next()
        ips.append(fixture.ip)
        before.append(ids[sih.pick(fixture.request)!])
    }
    var share: [UInt64: Int] = [:]
    for id in before { share[id, default: 0] += 1 }
    let maxShare = Double(share.values.max()!) / 1000, minShare = Double(share.values.min()!) / 1000
    // Remove each backend in turn; count moved clients and wrong moves.
    var worstMoved = 0.0
    var wrongMoves = 0
    for removed in 0..<n {
        let reduced = UnsafeMutablePointer<fulcrum_backend>.allocate(capacity: n - 1)
        var k = 0
        for i in 0..<n where i != removed { reduced[k] = array[i]; k += 1 }
        let reducedIDs = ids.enumerated().filter { $0.offset != removed }.map(\.element)
        sih.update(reduced, count: n - 1)
        var moved = 0
        for (j, ip) in ips.enumerated() {
            fixture.set(ip)
            let now = reducedIDs[sih.pick(fixture.request)!]
            if now != before[j] { moved += 1; if before[j] != ids[removed] { wrongMoves += 1 } }
        }
        worstMoved = max(worstMoved, Double(moved) / 10_000)
        sih.update(array, count: n)
    }
    print("")
    print("source-ip-hash, 10 backends, 10,000 random IPv4 clients: share min \(minShare)x max \(maxShare)x of fair;"
          + " removing one backend moved at most \(Double(Int(worstMoved * 1000)) / 10)% of clients; clients moved that were not on it: \(wrongMoves)")
}

if only.isEmpty || only.contains("maglev") { maglevFigures() }
