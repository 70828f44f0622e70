import Foundation
import XCTest

/// Certificates for the TLS tests, made once per test run with the
/// `openssl` command-line tool: a CA, server certificates for a.test and
/// b.test signed by it (both also valid for localhost and 127.0.0.1), a
/// wildcard certificate "wild" for *.w.test, and a self-signed "rogue"
/// certificate the CA did not sign.
final class TLSFixture: @unchecked Sendable {
    let dir: String
    var ca: String { dir + "/ca.pem" }
    func cert(_ name: String) -> String { dir + "/\(name).pem" }
    func key(_ name: String) -> String { dir + "/\(name).key" }

    nonisolated(unsafe) private static var shared: TLSFixture?
    private static let lock = NSLock()

    /// The fixture, or a skip when `openssl` or `curl` is missing (.ci/run installs both).
    static func get() throws -> TLSFixture {
        for tool in ["openssl", "curl"] where which(tool) == nil {
            throw XCTSkip("\(tool) is not installed: TLS tests skipped")
        }
        return try lock.withLock {
            if let f = shared { return f }
            let f = try TLSFixture()
            shared = f
            return f
        }
    }

    private init() throws {
        dir = try temporaryDirectory("tls")
        let days = ["-days", "2"]
        try openssl(["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", key("ca"), "-out", ca, "-subj", "/CN=Fulcrum Test CA"] + days)
        // "wild": a wildcard certificate for *.w.test only.
        for (name, names) in [("a.test", "DNS:a.test,DNS:localhost,IP:127.0.0.1"), ("b.test", "DNS:b.test,DNS:localhost,IP:127.0.0.1"),
                              ("wild", "DNS:*.w.test")] {
            try openssl(["req", "-newkey", "rsa:2048", "-nodes", "-keyout", key(name), "-out", dir + "/\(name).csr", "-subj", "/CN=\(name)"])
            try "subjectAltName=\(names)\n".write(toFile: dir + "/\(name).ext", atomically: true, encoding: .utf8)
            try openssl(["x509", "-req", "-in", dir + "/\(name).csr", "-CA", ca, "-CAkey", key("ca"), "-CAcreateserial",
                         "-out", cert(name), "-extfile", dir + "/\(name).ext"] + days)
        }
        try openssl(["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", key("rogue"), "-out", cert("rogue"),
                     "-subj", "/CN=rogue", "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1"] + days)
    }

    private func openssl(_ args: [String]) throws {
        let (status, out) = runTool("openssl", args, timeout: 60)
        guard status == 0 else { throw HarnessError.failed("openssl \(args.joined(separator: " ")): \(out)") }
    }
}

func which(_ tool: String) -> String? {
    for dir in (ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin").split(separator: ":") {
        let path = "\(dir)/\(tool)"
        if FileManager.default.isExecutableFile(atPath: path) { return path }
    }
    return nil
}

/// Runs a tool to completion within `timeout` (then kills it); exit status and output (stdout + stderr).
func runTool(_ tool: String, _ args: [String], stdin: String? = nil, timeout: Double = 30) -> (Int32, String) {
    let p = Process()
    p.executableURL = URL(fileURLWithPath: which(tool) ?? "/usr/bin/\(tool)")
    p.arguments = args
    let out = Pipe()
    p.standardOutput = out
    p.standardError = out
    let input = Pipe()
    p.standardInput = stdin == nil ? FileHandle.nullDevice : input
    final class Box: @unchecked Sendable { var data = Data(); let done = DispatchSemaphore(value: 0) }
    let box = Box()
    do { try p.run() } catch { return (-1, "\(error)") }
    Thread {
        box.data = out.fileHandleForReading.readDataToEndOfFile()
        box.done.signal()
    }.start()
    if let stdin {
        input.fileHandleForWriting.write(Data(stdin.utf8))
        try? input.fileHandleForWriting.close()
    }
    let deadline = Date().addingTimeInterval(timeout)
    while p.isRunning && Date() < deadline { usleep(10_000) }
    if p.isRunning { kill(p.processIdentifier, SIGKILL) }
    p.waitUntilExit()
    _ = box.done.wait(timeout: .now() + 5)
    return (p.terminationStatus, String(decoding: box.data, as: UTF8.self))
}

/// An `openssl s_client` kept open: requests are written on its stdin, its output collected.
final class HeldTLSConnection: @unchecked Sendable {
    let child: ChildProcessWithInput

    init(port: UInt16, serverName: String, ca: String) throws {
        child = try ChildProcessWithInput(which("openssl") ?? "/usr/bin/openssl",
                                          ["s_client", "-quiet", "-connect", "127.0.0.1:\(port)", "-servername", serverName, "-CAfile", ca])
    }

    func send(_ text: String) { child.write(text) }
    var output: String { child.output }
    func close() { child.stop() }
}

/// A child whose stdin we write to and whose output we read as it comes.
final class ChildProcessWithInput: @unchecked Sendable {
    let process = Process()
    private let input = Pipe()
    private let lock = NSLock()
    private var collected = Data()

    init(_ executable: String, _ arguments: [String]) throws {
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = pipe
        process.standardInput = input
        pipe.fileHandleForReading.readabilityHandler = { [weak self] handle in
            let data = handle.availableData
            if data.isEmpty { handle.readabilityHandler = nil }
            self?.lock.withLock { self?.collected.append(data) }
        }
        try process.run()
    }

    func write(_ text: String) { input.fileHandleForWriting.write(Data(text.utf8)) }
    var output: String { lock.withLock { String(decoding: collected, as: UTF8.self) } }

    func stop() {
        if process.isRunning { kill(process.processIdentifier, SIGKILL) }
        process.waitUntilExit()
    }

    deinit { stop() }
}

extension FulcrumServer {
    /// The HTTPS port from the banner ("HTTPS on 127.0.0.1:PORT").
    func tlsPort() throws -> UInt16 {
        let line = try child.waitForLine("HTTPS on ")
        guard let r = line.range(of: "HTTPS on "),
              let p = UInt16(line[r.upperBound...].split(separator: " ").first?.split(separator: ":").last ?? "")
        else { throw HarnessError.failed("no HTTPS port in: \(line)") }
        return p
    }

    /// A metric's value from GET /metrics (0 when absent).
    func metric(_ series: String) throws -> Double {
        let text = String(decoding: try admin("GET", "/metrics").body, as: UTF8.self)
        for line in text.split(separator: "\n") where line.hasPrefix(series + " ") {
            return Double(line.dropFirst(series.count + 1)) ?? 0
        }
        return 0
    }
}

/// `curl` against a Fulcrum HTTPS port; returns (exit status, output).
func curl(_ args: [String], timeout: Double = 60) -> (Int32, String) {
    runTool("curl", ["-sS", "--max-time", String(Int(timeout))] + args, timeout: timeout + 5)
}
