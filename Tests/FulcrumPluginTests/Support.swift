import CFulcrumPlugin
import Foundation
import FulcrumPluginHost
import FulcrumRegistry
import FulcrumTestSupport
import XCTest

/// The built-in plugins, loaded once from the directory of the test binary
/// (where SwiftPM puts the .so files), through the real loader.
let builtIns: PluginCatalog = {
    let catalog = PluginCatalog()
    let path = PluginSearchPath(executableDirectory: PluginSearchPath.executableDirectory, pluginDirectories: [], environmentPath: nil)
    let (_, errors) = path.load(into: catalog)
    precondition(errors.isEmpty, "built-in plugins failed to load: \(errors)")
    return catalog
}()

/// A set of backends registered in the process-wide table, as a C array.
final class TestBackends {
    let ids: [UInt64]
    let weights: [UInt32]
    let addresses: [String]
    private var cStrings: [UnsafeMutablePointer<CChar>] = []
    let array: UnsafeMutablePointer<fulcrum_backend>

    init(weights: [UInt32], addresses: [String]? = nil) {
        self.weights = weights
        self.addresses = addresses ?? weights.indices.map { "http://127.0.0.1:\(20000 + $0)" }
        ids = weights.map { _ in BackendTable.shared.allocate()! }
        array = .allocate(capacity: max(1, weights.count))
        for i in weights.indices {
            let s = strdup(self.addresses[i])!
            cStrings.append(s)
            array[i] = fulcrum_backend(id: ids[i], address: UnsafePointer(s), weight: weights[i])
        }
    }

    convenience init(count: Int) { self.init(weights: Array(repeating: 1, count: count)) }

    /// The same backends minus the one at `index` (same ids, addresses and weights).
    func removing(_ index: Int) -> TestBackendsView {
        TestBackendsView(source: self, indices: weights.indices.filter { $0 != index })
    }

    /// All of them, as one array that lives as long as this object: plugins
    /// may keep the pointer `update` gives them until the next update (ABI rule).
    lazy var all = TestBackendsView(source: self, indices: Array(weights.indices))

    deinit {
        for id in ids { BackendTable.shared.release(id) }
        cStrings.forEach { free($0) }
        array.deallocate()
    }
}

/// A subset of `TestBackends`, in order, as its own C array (keep it alive
/// while an instance may still read it).
final class TestBackendsView {
    unowned let source: TestBackends
    let indices: [Int]
    let array: UnsafeMutablePointer<fulcrum_backend>
    init(source: TestBackends, indices: [Int]) {
        self.source = source
        self.indices = indices
        array = .allocate(capacity: max(1, indices.count))
        for (i, j) in indices.enumerated() { array[i] = source.array[j] }
    }
    deinit { array.deallocate() }
    var count: Int { indices.count }
    func id(at position: Int) -> UInt64 { source.ids[indices[position]] }
}

extension StrategyInstance {
    func update(_ view: TestBackendsView) { update(UnsafePointer(view.array), count: view.count) }

    /// Picks for a client at IPv4 `ip` (host order) with a fixed request line.
    func pick(clientIPv4 ip: UInt32 = 0x7F00_0001) -> Int? {
        var bytes = ip.bigEndian
        return withUnsafeBytes(of: &bytes) { ipBytes in
            "GET".withCString { method in
                "/".withCString { path in
                    var request = fulcrum_request(
                        client_ip: ipBytes.baseAddress!.assumingMemoryBound(to: UInt8.self), client_ip_len: 4,
                        method: method, method_len: 3, path: path, path_len: 1, host: path, host_len: 0,
                        context: nil, header: nil)
                    return pick(&request)
                }
            }
        }
    }
}

func strategy(_ name: String, config: String = "{}", file: StaticString = #filePath, line: UInt = #line) throws -> StrategyInstance {
    let descriptor = try XCTUnwrap(builtIns.strategy(named: name), "no strategy \(name)", file: file, line: line)
    return try XCTUnwrap(descriptor.makeInstance(config: config), "\(name) refused \(config)", file: file, line: line)
}

/// nginx's smooth weighted round robin, written independently of the plugin.
func referenceSmoothWRR(weights: [Int], picks: Int) -> [Int] {
    var current = Array(repeating: 0, count: weights.count)
    let total = weights.reduce(0, +)
    var out: [Int] = []
    for _ in 0..<picks {
        var best = -1
        for i in weights.indices {
            current[i] += weights[i]
            if best < 0 || current[i] > current[best] { best = i }
        }
        current[best] -= total
        out.append(best)
    }
    return out
}

/// Hands a non-Sendable value to threads the test itself keeps apart.
final class Unchecked<T>: @unchecked Sendable {
    let value: T
    init(_ value: T) { self.value = value }
}
