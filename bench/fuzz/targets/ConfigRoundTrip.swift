// Fuzz target `config`: the configuration file (FulcrumRouting, over the
// SDK's JSON parser).
//
// Oracle: loading never crashes; a valid file, rendered back to JSON and
// loaded again, is valid and equal; its routes compile, and the indexed
// table answers exactly as the linear scan for requests made from the
// file's own hosts and paths.
import FulcrumRouting
import FulcrumSDK

let context = ValidationContext(
    canonicalStrategy: { ["rr": "round-robin", "lc": "least-connections", "round-robin": "round-robin"][$0.lowercased()] },
    strategyRefusal: { _, config in config["bad"] != nil ? "refused" : nil },
    probeExists: { $0 == "http" || $0 == "tcp" },
    filterRefusal: { $0.name == "ip-filter" ? nil : "unknown filter \"\($0.name)\"" })

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzConfig(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let input = UnsafeRawBufferPointer(start: data, count: size)
    guard case .valid(let config) = ConfigFile.load(input, path: "f", context: context) else { return 0 }
    let text = config.json.serialized
    guard case .valid(let again) = ConfigFile.load(text, path: "f", context: context) else {
        oracleFailure("rendered config does not load: \(text.prefix(300))", input)
    }
    if again != config { oracleFailure("round trip changed the config: \(text.prefix(300))", input) }
    let pools = config.effectivePools.map(\.name)
    let linear = RouteTable(config.routes, pools: pools, defaultPool: config.defaultPoolName, indexed: false)
    let indexed = RouteTable(config.routes, pools: pools, defaultPool: config.defaultPoolName, indexed: true)
    let scratch = RouteScratch(capacity: 4096)
    var hosts = ["", "x"], paths = ["/", "*"]
    for r in config.routes {
        if let h = r.host { hosts.append(h.replacingStars()); hosts.append("a." + h.replacingStars()) }
        if let p = r.pathPrefix { paths.append(p); paths.append(p + "x/y") }
        if let p = r.path { paths.append(p) }
    }
    for host in hosts.prefix(8) {
        for path in paths.prefix(8) {
            for method in ["GET", "POST"] {
                let a = route(linear, method, path, host, scratch), b = route(indexed, method, path, host, scratch)
                if a != b { oracleFailure("index \(b) and linear scan \(a) disagree on \(method) \(path) \(host)", input) }
            }
        }
    }
    return 0
}

func route(_ t: RouteTable, _ method: String, _ path: String, _ host: String, _ scratch: RouteScratch) -> RouteOutcome {
    Array(method.utf8).withUnsafeBytes { m in
        Array(path.utf8).withUnsafeBytes { p in
            Array(host.utf8).withUnsafeBytes { h in
                t.route(RouteRequest(method: m, target: p, host: h), scratch: scratch) { _ in nil }
            }
        }
    }
}

extension String {
    func replacingStars() -> String { String(map { $0 == "*" ? "w" : $0 }) }
}
