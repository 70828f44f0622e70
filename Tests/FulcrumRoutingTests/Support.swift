import FulcrumRouting
import FulcrumSDK

/// Strategies and probes as a validation context sees them, for tests.
let testContext = ValidationContext(
    canonicalStrategy: { name in
        let table = ["rr": "round-robin", "round-robin": "round-robin", "lc": "least-connections",
                     "least-connections": "least-connections", "wrr": "weighted-round-robin", "weighted-round-robin": "weighted-round-robin"]
        return table[name.lowercased()]
    },
    strategyRefusal: { name, config in config["bad"] != nil ? "strategy \(name ?? "RR") refused its configuration \(config.serialized)" : nil },
    probeExists: { ["http", "tcp"].contains($0) })

func load(_ text: String, context: ValidationContext = testContext) -> ConfigFile.Outcome {
    ConfigFile.load(text, path: "f.json", context: context)
}

func valid(_ text: String, file: StaticString = #filePath, line: UInt = #line) -> RoutingConfig? {
    switch load(text) {
    case .valid(let c): return c
    case .invalid(let problems):
        print("unexpected problems: \(problems)")
        return nil
    }
}

func problems(_ text: String) -> [String] {
    if case .invalid(let p) = load(text) { return p }
    return []
}

/// A request for matching tests.
struct TestRequest {
    var method = "GET"
    var target = "/"
    var host = "example.com"
    var headers: [String: String] = [:]
}

extension RouteTable {
    /// Routes a test request.
    func route(_ r: TestRequest, scratch: RouteScratch = RouteScratch(capacity: 4096)) -> RouteOutcome {
        let method = Array(r.method.utf8), target = Array(r.target.utf8), host = Array(r.host.utf8)
        // Header values in memory that outlives the lookups.
        let values: [([UInt8], UnsafeMutableRawBufferPointer)] = r.headers.map { k, v in
            let bytes = Array(v.utf8)
            let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: max(1, bytes.count), alignment: 1)
            buffer.copyBytes(from: bytes)
            return (Array(k.lowercased().utf8), UnsafeMutableRawBufferPointer(rebasing: buffer[0..<bytes.count]))
        }
        defer { for (_, b) in values { UnsafeMutableRawBufferPointer(start: b.baseAddress, count: max(1, b.count)).deallocate() } }
        return method.withUnsafeBytes { m in
            target.withUnsafeBytes { t in
                host.withUnsafeBytes { h in
                    route(RouteRequest(method: m, target: t, host: h), scratch: scratch) { name in
                        values.first { $0.0.elementsEqual(name) }.map { UnsafeRawBufferPointer($0.1) }
                    }
                }
            }
        }
    }
}
