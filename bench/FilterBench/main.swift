// Measures what a worker pays per request for filters: nanoseconds per
// FilterChain.runRequest (+ runResponse + complete) through the dlopen'd
// built-ins, with 1 and 2 threads (each its own instance of one configured
// entry, as workers are), on one hot key and on many keys.
//
//   swift build -c release && .build/release/fulcrum-filter-bench
import FulcrumCore
import FulcrumPluginHost
import Glibc
import Synchronization

let catalog = PluginCatalog()
let (_, errors) = PluginSearchPath(executableDirectory: PluginSearchPath.executableDirectory, pluginDirectories: [],
                                   environmentPath: nil).load(into: catalog)
guard errors.isEmpty else { fatalError("\(errors)") }

func factory(_ name: String, _ config: String) -> FilterFactory {
    switch catalog.makeFilterFactory(name: name, config: config) {
    case .success(let f): return f
    case .failure(let e): fatalError("\(e)")
    }
}

/// A request head with a few headers, as byte ranges.
final class Fixture: @unchecked Sendable {
    let bytes: UnsafeMutablePointer<UInt8>
    let fields: UnsafeMutablePointer<FilterField>
    let count: Int
    let ip = UnsafeMutablePointer<UInt8>.allocate(capacity: 4)
    let names = UnsafeMutablePointer<UInt8>.allocate(capacity: 16)
    init() {
        let text = Array("GET /api/items?id=7 HTTP/1.1\r\nHost: example.com\r\nUser-Agent: bench\r\nAccept: */*\r\n".utf8)
        bytes = .allocate(capacity: text.count)
        bytes.initialize(from: text, count: text.count)
        let spans: [(Int32, Int32, Int32, Int32)] = [(30, 34, 36, 47), (49, 59, 61, 66), (68, 74, 76, 79)]
        fields = .allocate(capacity: spans.count)
        for (i, s) in spans.enumerated() { fields[i] = FilterField(nameStart: s.0, nameEnd: s.1, valueStart: s.2, valueEnd: s.3) }
        count = spans.count
        ip.initialize(from: [10, 0, 0, 1], count: 4)
        names.initialize(from: Array("routedefault".utf8) + [0, 0, 0, 0], count: 16)
    }
    func view() -> FilterRequestView {
        FilterRequestView(head: FilterHead(base: bytes, fields: fields, count: count, stride: MemoryLayout<FilterField>.stride),
                          method: 0..<3, target: 4..<19, clientIP: UnsafeRawBufferPointer(start: ip, count: 4),
                          route: UnsafeRawBufferPointer(start: names, count: 5), pool: UnsafeRawBufferPointer(start: names + 5, count: 7))
    }
}

/// ns per request over `n` requests on `threads` threads, each with its own chain from `factories`.
/// Optional argument: run only the rows whose label contains it.
let only = CommandLine.arguments.dropFirst().first

func measure(_ label: String, _ factories: @autoclosure () -> [FilterFactory], threads: Int, requests n: Int = 2_000_000, manyKeys: Bool = false) {
    if let only, !label.contains(only) { return }
    let factories = factories()
    let done = Atomic<Int>(0)
    let start = Atomic<Bool>(false)
    var nanos = [UInt64](repeating: 0, count: threads)
    nanos.withUnsafeMutableBufferPointer { out in
        let box = UncheckedBox(out.baseAddress!)
        var handles: [pthread_t] = []
        for t in 0..<threads {
            let chain = FilterChain(factories.map { $0.makeInstance(worker: UInt32(t))! })
            let work = UncheckedBox({
                let fixture = Fixture()
                let run = FilterRun()
                var view = fixture.view()
                while !start.load(ordering: .acquiring) {}
                let t0 = Clock.monotonicNanos()
                for i in 0..<n {
                    if manyKeys {
                        let k = UInt32(truncatingIfNeeded: i &* 2_654_435_761) % 50_000
                        fixture.ip[1] = UInt8(truncatingIfNeeded: k >> 16); fixture.ip[2] = UInt8(truncatingIfNeeded: k >> 8); fixture.ip[3] = UInt8(truncatingIfNeeded: k)
                        view = fixture.view()
                    }
                    _ = chain.runRequest(view, run: run)
                    chain.runResponse(status: 200, head: .empty, run: run)
                    chain.complete(run: run, status: 200, bytesIn: 100, bytesOut: 200, durationMicros: 50)
                }
                box.value[t] = Clock.monotonicNanos() - t0
                done.add(1, ordering: .releasing)
            })
            var handle = pthread_t()
            let context = Unmanaged.passRetained(work).toOpaque()
            pthread_create(&handle, nil, { p in
                let w = Unmanaged<UncheckedBox<() -> Void>>.fromOpaque(p!).takeRetainedValue()
                w.value()
                return nil
            }, context)
            handles.append(handle)
        }
        start.store(true, ordering: .releasing)
        for h in handles { pthread_join(h, nil) }
    }
    let perRequest = nanos.map { Double($0) / Double(n) }
    let text = perRequest.map { String(Int(($0 * 10).rounded()) / 10) + "." + String(Int(($0 * 10).rounded()) % 10) }.joined(separator: " / ")
    print("\(label + String(repeating: " ", count: max(0, 40 - label.count))) \(threads) thread(s): \(text) ns per request")
}

final class UncheckedBox<T>: @unchecked Sendable {
    let value: T
    init(_ value: T) { self.value = value }
}

let unlimited = #"{"rate": 1e9, "burst": 1000000000}"#
measure("no filters (empty chain)", [], threads: 1)
for threads in [1, 2] {
    measure("rate-limit, one hot key", [factory("rate-limit", unlimited)], threads: threads)
    measure("rate-limit, 50,000 keys", [factory("rate-limit", unlimited)], threads: threads, manyKeys: true)
}
measure("ip-filter (allow 2 / deny 2 CIDRs)", [factory("ip-filter", #"{"allow": ["10.0.0.0/8", "::1/128"], "deny": ["10.9.0.0/16", "2001:db8::/32"]}"#)], threads: 1)
measure("request-id", [factory("request-id", "{}")], threads: 1)
for threads in [1, 2] {
    measure("request-id + rate-limit", [factory("request-id", "{}"), factory("rate-limit", unlimited)], threads: threads)
}
