import Foundation
@_exported import FulcrumTestSupport
import XCTest

/// Where the built binaries and plugins are: next to the test bundle.
let buildDirectory: String = {
    var path = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent().path
    if !FileManager.default.fileExists(atPath: path + "/fulcrum") {
        // Fall back to /proc/self/exe when argv[0] is not a path.
        path = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")).map {
            URL(fileURLWithPath: $0).deletingLastPathComponent().path
        } ?? path
    }
    return path
}()

enum HarnessError: Error, CustomStringConvertible {
    case timeout(String)
    case failed(String)
    var description: String {
        switch self {
        case .timeout(let s): return "timed out: \(s)"
        case .failed(let s): return s
        }
    }
}

/// Polls `condition` until true or `seconds` pass (no blind sleeps).
@discardableResult
func eventually(_ seconds: Double = 10, every interval: Double = 0.02, _ what: String = "condition",
                file: StaticString = #filePath, line: UInt = #line, _ condition: () throws -> Bool) rethrows -> Bool {
    let deadline = Date().addingTimeInterval(seconds)
    while Date() < deadline {
        if try condition() { return true }
        Thread.sleep(forTimeInterval: interval)
    }
    if try condition() { return true }
    XCTFail("\(what) not reached within \(seconds) s", file: file, line: line)
    return false
}

/// A child process whose stdout and stderr lines are collected as they come.
final class ChildProcess: @unchecked Sendable {
    let process = Process()
    private let lock = NSLock()
    private var lines: [String] = []
    private var partial = Data()
    /// The pipe reached end of file: every line the child wrote is in `lines`.
    private var sawEOF = false
    let name: String

    init(_ executable: String, _ arguments: [String], name: String, environment: [String: String]? = nil) throws {
        self.name = name
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        if let environment { process.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 } }
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = pipe
        pipe.fileHandleForReading.readabilityHandler = { [weak self] handle in
            let data = handle.availableData
            guard let self else { return }
            self.lock.withLock {
                self.partial.append(data)
                while let nl = self.partial.firstIndex(of: 0x0A) {
                    self.lines.append(String(decoding: self.partial[self.partial.startIndex..<nl], as: UTF8.self))
                    self.partial.removeSubrange(self.partial.startIndex...nl)
                }
            }
            if data.isEmpty {
                handle.readabilityHandler = nil
                self.lock.withLock { self.sawEOF = true }
            }
        }
        try process.run()
    }

    var output: [String] { lock.withLock { lines } }
    var pid: Int32 { process.processIdentifier }
    var isRunning: Bool { process.isRunning }

    /// The first output line matching `pattern` (a regular expression), waiting up to `seconds`.
    func waitForLine(_ pattern: String, seconds: Double = 20) throws -> String {
        let regex = try NSRegularExpression(pattern: pattern)
        let deadline = Date().addingTimeInterval(seconds)
        repeat {
            if let hit = output.first(where: { regex.firstMatch(in: $0, range: NSRange($0.startIndex..., in: $0)) != nil }) { return hit }
            if !process.isRunning {
                Thread.sleep(forTimeInterval: 0.05)
                if let hit = output.first(where: { regex.firstMatch(in: $0, range: NSRange($0.startIndex..., in: $0)) != nil }) { return hit }
                throw HarnessError.failed("\(name) exited (\(process.terminationStatus)) before printing /\(pattern)/:\n" + output.joined(separator: "\n"))
            }
            Thread.sleep(forTimeInterval: 0.01)
        } while Date() < deadline
        throw HarnessError.timeout("\(name) did not print /\(pattern)/ within \(seconds) s:\n" + output.joined(separator: "\n"))
    }

    func signal(_ sig: Int32) { if process.isRunning { kill(process.processIdentifier, sig) } }

    /// Waits for exit (bounded); returns the exit status, or nil if still running.
    @discardableResult
    func waitForExit(seconds: Double = 40) -> Int32? {
        let deadline = Date().addingTimeInterval(seconds)
        while process.isRunning && Date() < deadline { Thread.sleep(forTimeInterval: 0.01) }
        if process.isRunning { return nil }
        process.waitUntilExit()
        // The output is read on another thread: let it drain to end of file
        // (bounded), so `output` is complete once the exit is reported.
        let drainDeadline = Date().addingTimeInterval(2)
        while !lock.withLock({ sawEOF }) && Date() < drainDeadline { Thread.sleep(forTimeInterval: 0.005) }
        return process.terminationStatus
    }

    func stop() {
        guard process.isRunning else { return }
        signal(SIGKILL)
        _ = waitForExit(seconds: 5)
    }

    deinit { stop() }
}

/// A demo/test backend process (fulcrum-backend) on an ephemeral port.
final class BackendServer: @unchecked Sendable {
    let child: ChildProcess
    let port: UInt16
    let name: String
    var url: String { "http://127.0.0.1:\(port)" }

    init(name: String = "backend", port: UInt16 = 0, mode: String = "normal") throws {
        self.name = name
        child = try ChildProcess(buildDirectory + "/fulcrum-backend",
                                 ["-listen", "127.0.0.1:\(port)", "-name", name, "-mode", mode], name: name)
        let line = try child.waitForLine("listening on")
        guard let p = UInt16(line.split(separator: ":").last ?? "") else { throw HarnessError.failed("bad line \(line)") }
        self.port = p
    }

    func kill() { child.stop() }
}

/// The real `fulcrum` binary, with its proxy and admin ports read from its banner.
final class FulcrumServer: @unchecked Sendable {
    let child: ChildProcess
    let port: UInt16
    let adminPort: UInt16
    var token: String?

    /// Starts fulcrum with `arguments` plus ephemeral -listen/-admin (unless given) and 2 workers.
    /// `limitDescriptors` runs it under that RLIMIT_NOFILE (through `sh -c 'ulimit -n N; exec …'`).
    init(_ arguments: [String] = [], environment: [String: String]? = nil, token: String? = nil, limitDescriptors: Int? = nil) throws {
        var args = arguments
        if !args.contains("-listen") && !args.contains("-port") { args += ["-listen", "127.0.0.1:0"] }
        if !args.contains("-admin") { args += ["-admin", "127.0.0.1:0"] }
        if !args.contains("-workers") { args += ["-workers", "2"] }
        if let token { args += ["-admin-token", token] }
        self.token = token
        if let limit = limitDescriptors {
            child = try ChildProcess("/bin/sh", ["-c", "ulimit -n \(limit) && exec \"$0\" \"$@\"", buildDirectory + "/fulcrum"] + args,
                                     name: "fulcrum", environment: environment)
        } else {
            child = try ChildProcess(buildDirectory + "/fulcrum", args, name: "fulcrum", environment: environment)
        }
        let banner = try child.waitForLine("proxy listening on")
        func port(after marker: String) -> UInt16? {
            guard let r = banner.range(of: marker) else { return nil }
            let rest = banner[r.upperBound...]
            let hostPort = rest.split(separator: " ").first ?? ""
            return UInt16(hostPort.split(separator: ":").last?.trimmingCharacters(in: CharacterSet(charactersIn: ",")) ?? "")
        }
        guard let p = port(after: "proxy listening on "), let a = port(after: "admin API on ") else {
            throw HarnessError.failed("cannot read ports from: \(banner)")
        }
        self.port = p
        adminPort = a
    }

    /// One request to the proxy on a fresh connection.
    func get(_ path: String = "/", headers: [(String, String)] = []) throws -> TestResponse {
        try TestHTTPConnection(port: port).request("GET", path, headers: headers, closing: true)
    }

    /// One request to the admin API (with the bearer token, if any).
    func admin(_ method: String, _ path: String, json: String? = nil, headers: [(String, String)] = []) throws -> TestResponse {
        var h = headers
        if let token { h.append(("Authorization", "Bearer \(token)")) }
        if json != nil { h.append(("Content-Type", "application/json")) }
        return try TestHTTPConnection(port: adminPort).request(method, path, headers: h, body: json.map { Array($0.utf8) }, closing: true)
    }

    func register(_ backend: BackendServer, weight: Int? = nil) throws -> TestResponse {
        let w = weight.map { ",\"weight\":\($0)" } ?? ""
        return try admin("POST", "/register", json: "{\"address\":\"\(backend.url)\"\(w)}")
    }

    /// The backends list from the admin API.
    func backends() throws -> [[String: Any]] {
        let r = try admin("GET", "/backends")
        let json = try JSONSerialization.jsonObject(with: Data(r.body)) as? [String: Any]
        return ((json?["data"] as? [String: Any])?["backends"] as? [[String: Any]]) ?? []
    }

    func backend(_ url: String) throws -> [String: Any]? { try backends().first { $0["address"] as? String == url } }

    /// Which backend answers (the X-Backend header), for `count` fresh requests.
    func answerers(_ count: Int, path: String = "/") throws -> [String] {
        try (0..<count).map { _ in try get(path).header("X-Backend") ?? "status \(try get(path).status)" }
    }

    func stop() { child.stop() }
}
