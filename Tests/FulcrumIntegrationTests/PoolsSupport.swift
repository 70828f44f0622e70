import Foundation
import XCTest

/// A configuration file in a fresh temporary directory (CONTRACT §10).
final class ConfigFileFixture {
    let directory: URL
    let path: String

    init(_ text: String) throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("fulcrum-config-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        path = directory.appendingPathComponent("fulcrum.json").path
        try write(text)
    }

    func write(_ text: String) throws {
        // Written whole, then renamed: a reload never reads half a file.
        let temporary = path + ".tmp"
        try text.write(toFile: temporary, atomically: false, encoding: .utf8)
        _ = rename(temporary, path)
    }

    deinit { try? FileManager.default.removeItem(at: directory) }
}

extension FulcrumServer {
    /// A JSON admin call's `data`.
    func data(_ method: String, _ path: String, json: String? = nil) throws -> [String: Any] {
        (try admin(method, path, json: json).json?["data"] as? [String: Any]) ?? [:]
    }

    /// Which backend (X-Backend) answers each of `count` requests for `path` with `headers`.
    func answerers(_ count: Int, _ path: String, headers: [(String, String)]) throws -> [String] {
        try (0..<count).map { _ in
            let r = try get(path, headers: headers)
            return r.header("X-Backend") ?? "status \(r.status)"
        }
    }

    /// `GET /pools` as name → pool object.
    func pools() throws -> [String: [String: Any]] {
        let list = (try data("GET", "/pools")["pools"] as? [[String: Any]]) ?? []
        return Dictionary(uniqueKeysWithValues: list.map { ($0["name"] as? String ?? "", $0) })
    }

    /// `GET /routes`, in match order.
    func routes() throws -> [[String: Any]] { (try data("GET", "/routes")["routes"] as? [[String: Any]]) ?? [] }
}

/// Runs the fulcrum binary to completion (for -check-config), bounded.
func runFulcrum(_ arguments: [String], seconds: Double = 30) throws -> (status: Int32, stdout: String, stderr: String) {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: buildDirectory + "/fulcrum")
    process.arguments = arguments
    let out = Pipe(), err = Pipe()
    process.standardOutput = out
    process.standardError = err
    try process.run()
    let deadline = Date().addingTimeInterval(seconds)
    while process.isRunning && Date() < deadline { Thread.sleep(forTimeInterval: 0.01) }
    if process.isRunning { process.terminate() }
    process.waitUntilExit()
    let o = String(decoding: out.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
    let e = String(decoding: err.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
    return (process.terminationStatus, o, e)
}
