import Foundation
import XCTest

/// The repository root (for SDK/include), from this file's path.
public let repositoryRoot: String = {
    var url = URL(fileURLWithPath: #filePath)
    for _ in 0..<3 { url.deleteLastPathComponent() }
    return url.path
}()

/// Runs a command to completion (bounded), failing the test on a non-zero exit.
@discardableResult
public func runCommand(_ executable: String, _ arguments: [String], timeout: TimeInterval = 300,
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
public func temporaryDirectory(_ label: String) throws -> String {
    let path = NSTemporaryDirectory() + "fulcrum-\(label)-\(UUID().uuidString.prefix(8))"
    try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    return path
}

/// Compiles a C plugin from source with nothing but the SDK header.
@discardableResult
public func compileCPlugin(_ source: String, named name: String, in directory: String) throws -> String {
    let c = directory + "/\(name).c"
    let so = directory + "/\(name).so"
    try source.write(toFile: c, atomically: true, encoding: .utf8)
    try runCommand("cc", ["-shared", "-fPIC", "-I", repositoryRoot + "/SDK/include", c, "-o", so])
    return so
}

/// A C strategy that always picks the last backend, with a configurable ABI and names.
public func cStrategySource(name: String, aliases: String = "NULL", abi: String = "FULCRUM_ABI_VERSION", pick: String = "pick") -> String {
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

