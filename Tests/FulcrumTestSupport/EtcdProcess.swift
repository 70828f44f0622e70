import Foundation
import XCTest

/// A real etcd server for tests: 127.0.0.1, free ports, a temporary data
/// directory; stopped by PID (SIGKILL), restartable on the same data.
/// Tests call `EtcdProcess.start()`, which throws XCTSkip when no etcd
/// binary is installed (.ci/run installs Debian's etcd-server).
public final class EtcdProcess: @unchecked Sendable {
    public let binary: String
    public let dataDirectory: String
    public let clientPort: UInt16
    public let peerPort: UInt16
    private var process: Process?
    public var endpoint: String { "127.0.0.1:\(clientPort)" }

    /// The etcd binary: $FULCRUM_ETCD, else the first `etcd` on PATH.
    public static func findBinary() -> String? {
        if let e = ProcessInfo.processInfo.environment["FULCRUM_ETCD"], FileManager.default.isExecutableFile(atPath: e) { return e }
        let path = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin"
        for dir in path.split(separator: ":") + ["/usr/bin", "/usr/local/bin"] {
            let candidate = "\(dir)/etcd"
            if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
        }
        return nil
    }

    /// Starts etcd on `clientPort` (default: a free one).
    public static func start(clientPort: UInt16? = nil) throws -> EtcdProcess {
        guard let binary = findBinary() else {
            throw XCTSkip("etcd is not installed (apt-get install etcd-server, or set FULCRUM_ETCD): etcd tests skipped")
        }
        let etcd = EtcdProcess(binary: binary, dataDirectory: try temporaryDirectory("etcd"),
                               clientPort: try clientPort ?? freePort(), peerPort: try freePort())
        try etcd.launch()
        return etcd
    }

    private init(binary: String, dataDirectory: String, clientPort: UInt16, peerPort: UInt16) {
        self.binary = binary
        self.dataDirectory = dataDirectory
        self.clientPort = clientPort
        self.peerPort = peerPort
    }

    /// Starts etcd (again, on the same data and ports) and waits until it answers.
    public func launch() throws {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: binary)
        let client = "http://127.0.0.1:\(clientPort)", peer = "http://127.0.0.1:\(peerPort)"
        p.arguments = ["--name", "test", "--data-dir", dataDirectory,
                       "--listen-client-urls", client, "--advertise-client-urls", client,
                       "--listen-peer-urls", peer, "--initial-advertise-peer-urls", peer,
                       "--initial-cluster", "test=\(peer)", "--initial-cluster-state", "new",
                       "--log-level", "error", "--logger", "zap"]
        p.standardOutput = FileHandle.nullDevice
        p.standardError = FileHandle(forWritingAtPath: "/dev/null")
        try p.run()
        process = p
        let deadline = Date().addingTimeInterval(20)
        while Date() < deadline {
            if (try? etcdctl(["endpoint", "health"], check: false))?.contains("is healthy") == true { return }
            guard p.isRunning else { throw XCTSkip("etcd exited at start (status \(p.terminationStatus))") }
            usleep(50_000)
        }
        throw NSError(domain: "etcd", code: 1, userInfo: [NSLocalizedDescriptionKey: "etcd did not become healthy within 20 s"])
    }

    public var pid: Int32 { process?.processIdentifier ?? 0 }

    /// Kills etcd (SIGKILL, by PID) and waits for it to exit.
    public func stop() {
        guard let p = process, p.isRunning else { return }
        kill(p.processIdentifier, SIGKILL)
        p.waitUntilExit()
    }

    /// Freezes etcd (SIGSTOP): its sockets still accept, nothing answers — a hung etcd.
    public func freeze() { if pid > 0 { kill(pid, SIGSTOP) } }
    public func thaw() { if pid > 0 { kill(pid, SIGCONT) } }

    /// Runs etcdctl against this server; returns its output.
    @discardableResult
    public func etcdctl(_ arguments: [String], check: Bool = true, file: StaticString = #filePath, line: UInt = #line) throws -> String {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        p.arguments = ["etcdctl", "--endpoints=\(endpoint)", "--dial-timeout=2s", "--command-timeout=5s"] + arguments
        p.environment = ProcessInfo.processInfo.environment.merging(["ETCDCTL_API": "3"]) { $1 }
        let pipe = Pipe()
        p.standardOutput = pipe
        p.standardError = pipe
        try p.run()
        let data = pipe.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        let text = String(decoding: data, as: UTF8.self)
        if check && p.terminationStatus != 0 {
            XCTFail("etcdctl \(arguments.joined(separator: " ")) failed: \(text)", file: file, line: line)
        }
        return text
    }

    /// The store's current revision.
    public func revision() throws -> Int {
        let out = try etcdctl(["endpoint", "status", "-w", "json"])
        guard let r = out.range(of: "\"revision\":") else { return 0 }
        return Int(out[r.upperBound...].prefix { $0.isNumber }) ?? 0
    }

    deinit {
        thaw()
        stop()
        try? FileManager.default.removeItem(atPath: dataDirectory)
    }
}

/// A port nobody listens on right now (bound to port 0, then released).
public func freePort() throws -> UInt16 {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    defer { close(fd) }
    var addr = sockaddr_in()
    addr.sin_family = sa_family_t(AF_INET)
    addr.sin_addr.s_addr = inet_addr("127.0.0.1")
    var len = socklen_t(MemoryLayout<sockaddr_in>.size)
    let ok = withUnsafeMutablePointer(to: &addr) { ptr in
        ptr.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, len) == 0 && getsockname(fd, $0, &len) == 0 }
    }
    guard ok else { throw NSError(domain: "freePort", code: Int(errno)) }
    return UInt16(bigEndian: addr.sin_port)
}
