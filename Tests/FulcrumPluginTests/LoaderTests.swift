import Foundation
import FulcrumPluginHost
import FulcrumTestSupport
import XCTest

/// The loader against real files: C plugins compiled here from the SDK
/// header alone, broken files, ABI mismatches and name clashes.
final class LoaderTests: XCTestCase {
    var directory = ""

    override func setUpWithError() throws { directory = try temporaryDirectory("loader") }
    override func tearDownWithError() throws { try? FileManager.default.removeItem(atPath: directory) }

    func testCPluginBuiltFromTheHeaderAloneIsFoundAndUsed() throws {
        try compileCPlugin(cStrategySource(name: "always-last", aliases: "\"LAST,al\""), named: "last", in: directory)
        let catalog = PluginCatalog()
        let (warnings, errors) = catalog.loadDirectory(directory)
        XCTAssertEqual(warnings, [])
        XCTAssertTrue(errors.isEmpty, "\(errors)")
        let descriptor = try XCTUnwrap(catalog.strategy(named: "Last"))
        XCTAssertEqual(descriptor.name, "always-last")
        XCTAssertTrue(catalog.strategy(named: "AL") === descriptor)
        XCTAssertEqual(catalog.libraries.first?.name, "test-always-last")
        let instance = try XCTUnwrap(descriptor.makeInstance())
        let backends = TestBackends(count: 4)
        instance.update(backends.all)
        XCTAssertEqual(instance.pick(), 3)
    }

    func testPluginSearchPathOrderAndEnvironment() throws {
        let path = PluginSearchPath(executableDirectory: "/opt/f/bin", pluginDirectories: ["/a", "/b"], environmentPath: "/c::/d")
        XCTAssertEqual(path.directories.map(\.path), ["/opt/f/bin", "/opt/f/bin/../lib/fulcrum/plugins", "/a", "/b", "/c", "/d"])
        XCTAssertEqual(path.directories.map(\.builtIn), [true, true, false, false, false, false])
    }

    func testABIMismatchIsRefusedNamingTheFile() throws {
        let so = try compileCPlugin(cStrategySource(name: "from-the-future", abi: "999"), named: "future", in: directory)
        let catalog = PluginCatalog()
        XCTAssertThrowsError(try catalog.load(file: so, strict: true)) { error in
            let e = error as! PluginLoadError
            XCTAssertEqual(e.kind, .invalid)
            XCTAssertTrue(e.description.contains("future.so"), e.description)
            XCTAssertTrue(e.description.contains("999"), e.description)
        }
        let (_, errors) = catalog.loadDirectory(directory)
        XCTAssertEqual(errors.count, 1)
        XCTAssertNil(catalog.strategy(named: "from-the-future"))
    }

    func testMissingRequiredFunctionIsRefused() throws {
        let so = try compileCPlugin(cStrategySource(name: "no-pick", pick: "NULL"), named: "nopick", in: directory)
        XCTAssertThrowsError(try PluginCatalog().load(file: so, strict: true)) { error in
            XCTAssertTrue("\(error)".contains("pick must not be NULL"), "\(error)")
        }
    }

    func testFilesThatAreNotPluginsAreSkippedWithAWarning() throws {
        // Random bytes named .so.
        var bytes = [UInt8](repeating: 0, count: 4096)
        for i in bytes.indices { bytes[i] = UInt8.random(in: 0...255) }
        _ = FileManager.default.createFile(atPath: directory + "/random.so", contents: Data(bytes))
        // A real shared library without the entry symbol.
        let c = directory + "/plain.c"
        try "int answer(void) { return 42; }\n".write(toFile: c, atomically: true, encoding: .utf8)
        try runCommand("cc", ["-shared", "-fPIC", c, "-o", directory + "/plain.so"])
        // And one good plugin beside them.
        try compileCPlugin(cStrategySource(name: "good-one"), named: "good", in: directory)

        let catalog = PluginCatalog()
        let (warnings, errors) = catalog.loadDirectory(directory)
        XCTAssertTrue(errors.isEmpty, "\(errors)")
        XCTAssertEqual(warnings.count, 2, "\(warnings)")
        XCTAssertTrue(warnings.contains { $0.contains("random.so") && $0.contains("not a loadable shared library") }, "\(warnings)")
        XCTAssertTrue(warnings.contains { $0.contains("plain.so") && $0.contains("no fulcrum_plugin_entry") }, "\(warnings)")
        XCTAssertNotNil(catalog.strategy(named: "good-one"))
    }

    func testDuplicateNamesKeepTheFirstAndSayWhichWon() throws {
        try compileCPlugin(cStrategySource(name: "twin", aliases: "\"TW\""), named: "a-first", in: directory)
        try compileCPlugin(cStrategySource(name: "TWIN"), named: "b-second", in: directory)
        let catalog = PluginCatalog()
        let (warnings, errors) = catalog.loadDirectory(directory)
        XCTAssertTrue(errors.isEmpty)
        XCTAssertEqual(warnings.count, 1)
        XCTAssertTrue(warnings[0].contains("b-second.so") && warnings[0].contains("a-first.so") && warnings[0].contains("wins"), warnings[0])
        XCTAssertTrue(catalog.strategy(named: "twin")!.file.hasSuffix("a-first.so"))
        // At run time a clash refuses the whole plugin.
        let third = try compileCPlugin(cStrategySource(name: "other", aliases: "\"tw\""), named: "c-third", in: directory)
        XCTAssertThrowsError(try catalog.load(file: third, strict: true)) { error in
            XCTAssertEqual((error as! PluginLoadError).kind, .duplicate)
            XCTAssertTrue("\(error)".contains("a-first.so"), "\(error)")
        }
        XCTAssertNil(catalog.strategy(named: "other"))
        // The same file twice is recognised.
        XCTAssertThrowsError(try catalog.load(file: directory + "/a-first.so", strict: true)) { error in
            XCTAssertEqual((error as! PluginLoadError).kind, .alreadyLoaded)
        }
    }

    func testInvalidNamesAreRefused() throws {
        let so = try compileCPlugin(cStrategySource(name: "has space"), named: "space", in: directory)
        XCTAssertThrowsError(try PluginCatalog().load(file: so, strict: true)) { error in
            XCTAssertTrue("\(error)".contains("may contain only"), "\(error)")
        }
    }

    func testProbePluginsReportDetail() throws {
        let tcp = try XCTUnwrap(builtIns.probe(named: "tcp")?.makeInstance())
        let http = try XCTUnwrap(builtIns.probe(named: "http")?.makeInstance(config: #"{"path":"/health"}"#))
        // A port nobody listens on: bind one, close it.
        let port = try closedPort()
        XCTAssertEqual(tcp.check(address: "http://127.0.0.1:\(port)", timeoutMilliseconds: 1000), "connection refused")
        XCTAssertEqual(http.check(address: "http://127.0.0.1:\(port)", timeoutMilliseconds: 1000), "connection refused")
        XCTAssertNil(builtIns.probe(named: "http")!.makeInstance(config: #"{"path":"no-slash"}"#))

        // A listener that accepts but never answers: a timeout, on time.
        let silent = try Listener()
        XCTAssertNil(tcp.check(address: "http://127.0.0.1:\(silent.port)", timeoutMilliseconds: 1000))
        let start = Date()
        XCTAssertEqual(http.check(address: "http://127.0.0.1:\(silent.port)", timeoutMilliseconds: 300), "timeout after 300 ms")
        XCTAssertLessThan(Date().timeIntervalSince(start), 1.0)

        // Answers with a status: 2xx/3xx pass, others fail with the status.
        for (status, expected) in [(200, nil), (302, nil), (503, "status 503"), (404, "status 404")] as [(Int, String?)] {
            let server = try Listener(reply: "HTTP/1.1 \(status) X\r\nContent-Length: 0\r\n\r\n")
            XCTAssertEqual(http.check(address: "http://127.0.0.1:\(server.port)", timeoutMilliseconds: 2000), expected, "\(status)")
            XCTAssertTrue(server.lastRequest().hasPrefix("GET /health HTTP/1.1\r\n"), server.lastRequest())
        }
    }
}

/// A port that was just free (bound then closed).
func closedPort() throws -> UInt16 {
    let l = try Listener()
    let p = l.port
    l.close()
    return p
}

/// A tiny blocking TCP listener on 127.0.0.1 that answers each connection
/// with `reply` (or never, when nil), for probe tests.
final class Listener: @unchecked Sendable {
    let fd: Int32
    let port: UInt16
    private let lock = NSLock()
    private var requests: [String] = []
    private var closed = false

    init(reply: String? = nil) throws {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        self.fd = fd
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_addr.s_addr = UInt32(0x7F00_0001).bigEndian
        var len = socklen_t(MemoryLayout<sockaddr_in>.size)
        let ok = withUnsafeMutablePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, len) == 0 && getsockname(fd, $0, &len) == 0 }
        }
        guard ok, listen(fd, 16) == 0 else { throw NSError(domain: "listener", code: Int(errno)) }
        port = UInt16(bigEndian: addr.sin_port)
        Thread { [self] in
            while true {
                let c = accept(fd, nil, nil)
                if c < 0 { return }
                guard let reply else { continue }  // never answer, keep it open
                var buffer = [UInt8](repeating: 0, count: 4096)
                let n = recv(c, &buffer, buffer.count, 0)
                lock.withLock { requests.append(String(decoding: buffer.prefix(max(0, n)), as: UTF8.self)) }
                _ = reply.withCString { send(c, $0, strlen($0), Int32(MSG_NOSIGNAL)) }
                Glibc.close(c)
            }
        }.start()
    }

    func lastRequest() -> String { lock.withLock { requests.last ?? "" } }

    func close() {
        lock.withLock {
            if !closed { shutdown(fd, Int32(SHUT_RDWR)); Glibc.close(fd); closed = true }
        }
    }

    deinit { close() }
}
