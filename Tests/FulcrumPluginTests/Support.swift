import CFulcrumPlugin
import Foundation
import FulcrumPluginHost
import FulcrumRegistry
import XCTest

/// The repository root (for SDK/include), from this file's path.
let repositoryRoot: String = {
    var url = URL(fileURLWithPath: #filePath)
    for _ in 0..<3 { url.deleteLastPathComponent() }
    return url.path
}()

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

    var all: TestBackendsView { TestBackendsView(source: self, indices: Array(weights.indices)) }

    deinit {
        for id in ids { BackendTable.shared.release(id) }
        cStrings.forEach { free($0) }
        array.deallocate()
    }
}

/// A subset of `TestBackends`, in order, as its own C array.
final class TestBackendsView {
    let source: TestBackends
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

/// Runs a command to completion (bounded), failing the test on a non-zero exit.
@discardableResult
func runCommand(_ executable: String, _ arguments: [String], timeout: TimeInterval = 300,
         file: StaticString = #filePath, line: UInt = #line) throws -> String {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
    process.arguments = [executable] + arguments
    let pipe = Pipe()
    process.standardOutput = pipe
    process.standardError = pipe
    try process.run()
    let deadline = Date().addingTimeInterval(timeout)
    final class Output: @unchecked Sendable { var data = Data(); let done = DispatchSemaphore(value: 0) }
    let output = Output()
    let handle = pipe.fileHandleForReading
    Thread {
        output.data = handle.readDataToEndOfFile()
        output.done.signal()
    }.start()
    while process.isRunning && Date() < deadline { usleep(20_000) }
    if process.isRunning { process.terminate(); XCTFail("\(executable) timed out", file: file, line: line) }
    process.waitUntilExit()
    _ = output.done.wait(timeout: .now() + 10)
    let text = String(decoding: output.data, as: UTF8.self)
    if process.terminationStatus != 0 {
        XCTFail("\(executable) \(arguments.joined(separator: " ")) failed: \(text)", file: file, line: line)
    }
    return text
}

/// A fresh temporary directory, removed at process exit is not guaranteed: callers remove it.
func temporaryDirectory(_ label: String) throws -> String {
    let path = NSTemporaryDirectory() + "fulcrum-\(label)-\(UUID().uuidString.prefix(8))"
    try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    return path
}

/// Compiles a C plugin from source with nothing but the SDK header.
@discardableResult
func compileCPlugin(_ source: String, named name: String, in directory: String) throws -> String {
    let c = directory + "/\(name).c"
    let so = directory + "/\(name).so"
    try source.write(toFile: c, atomically: true, encoding: .utf8)
    try runCommand("cc", ["-shared", "-fPIC", "-I", repositoryRoot + "/SDK/include", c, "-o", so])
    return so
}

/// A C strategy that always picks the last backend, with a configurable ABI and names.
func cStrategySource(name: String, aliases: String = "NULL", abi: String = "FULCRUM_ABI_VERSION", pick: String = "pick") -> String {
    """
    #include <fulcrum_plugin.h>
    #include <stdlib.h>
    typedef struct { size_t count; } state;
    static void *create(const fulcrum_host *h, const char *cfg) { (void)h; (void)cfg; return calloc(1, sizeof(state)); }
    static void destroy(void *s) { free(s); }
    static void update(void *s, const fulcrum_backend *b, size_t n) { (void)b; ((state *)s)->count = n; }
    static int64_t pick(void *s, const fulcrum_request *r) { (void)r; return (int64_t)((state *)s)->count - 1; }
    static const fulcrum_strategy strategies[] = {
        { "\(name)", \(aliases), "always the last backend", create, destroy, update, \(pick), NULL },
    };
    static const fulcrum_plugin plugin = { \(abi), "test-\(name)", "0.1", strategies, 1, NULL, 0 };
    const fulcrum_plugin *fulcrum_plugin_entry(void) { return &plugin; }
    """
}

/// Hands a non-Sendable value to threads the test itself keeps apart.
final class Unchecked<T>: @unchecked Sendable {
    let value: T
    init(_ value: T) { self.value = value }
}
