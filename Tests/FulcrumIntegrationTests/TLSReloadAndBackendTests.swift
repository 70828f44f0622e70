import Foundation
import XCTest

/// Certificate reloads, start-up errors, and https:// backends (CONTRACT §8).
final class TLSReloadAndBackendTests: XCTestCase {

    func subject(_ port: UInt16, _ f: TLSFixture) -> String {
        let (_, out) = runTool("openssl", ["s_client", "-connect", "127.0.0.1:\(port)", "-noservername", "-CAfile", f.ca, "-ign_eof"],
                               stdin: "GET / HTTP/1.0\r\nHost: x\r\n\r\n", timeout: 20)
        return out.split(separator: "\n").first { $0.hasPrefix("subject=") }.map(String.init) ?? out
    }

    func testReloadSwapsTheCertificateForNewConnectionsAndKeepsOldOnes() throws {
        let f = try TLSFixture.get()
        let backend = try BackendServer()
        let dir = try temporaryDirectory("tls-reload")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let fm = FileManager.default
        func install(_ name: String) throws {
            for (from, to) in [(f.cert(name), dir + "/cert.pem"), (f.key(name), dir + "/key.pem")] {
                try? fm.removeItem(atPath: to)
                try fm.copyItem(atPath: from, toPath: to)
            }
        }
        try install("a.test")
        let proxy = try FulcrumServer(["-tls-listen", "127.0.0.1:0", "-tls-cert", dir + "/cert.pem", "-tls-key", dir + "/key.pem",
                                       "-backend", backend.url, "-t", "0.2"])
        defer { proxy.stop() }
        let port = try proxy.tlsPort()
        XCTAssertTrue(subject(port, f).contains("a.test"))

        // An old connection, one request in.
        let held = try HeldTLSConnection(port: port, serverName: "a.test", ca: f.ca)
        defer { held.close() }
        held.send("GET /headers HTTP/1.1\r\nHost: one\r\n\r\n")
        eventually(10, "first response on the held connection") { held.output.contains("Host: one") }

        try install("b.test")
        let ok = try proxy.admin("POST", "/tls/reload")
        XCTAssertEqual(ok.status, 200, String(decoding: ok.body, as: UTF8.self))
        XCTAssertTrue(subject(port, f).contains("b.test"), "new connections get the new certificate")
        held.send("GET /headers HTTP/1.1\r\nHost: two\r\n\r\n")
        eventually(10, "second response on the old connection") { held.output.contains("Host: two") }

        // A bad key: the reload fails, says which file, and the current certificate stays.
        try "not a key\n".write(toFile: dir + "/key.pem", atomically: true, encoding: .utf8)
        let bad = try proxy.admin("POST", "/tls/reload")
        XCTAssertEqual(bad.status, 422)
        XCTAssertTrue(String(decoding: bad.body, as: UTF8.self).contains("key.pem"), String(decoding: bad.body, as: UTF8.self))
        XCTAssertTrue(subject(port, f).contains("b.test"))

        // SIGHUP does the same as POST /tls/reload.
        try install("a.test")
        proxy.child.signal(SIGHUP)
        eventually(10, "SIGHUP reload") { subject(port, f).contains("a.test") }
        XCTAssertEqual(try proxy.metric("fulcrum_tls_reloads_total{result=\"failed\"}"), 1)
        XCTAssertTrue(proxy.child.isRunning)
    }

    func testBadCertificateFilesStopTheStartWithOneLineNamingTheFile() throws {
        let f = try TLSFixture.get()
        let dir = try temporaryDirectory("tls-bad")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try "garbage\n".write(toFile: dir + "/garbage.pem", atomically: true, encoding: .utf8)
        let cases: [([String], String)] = [
            (["-tls-cert", dir + "/missing.pem", "-tls-key", f.key("a.test")], "cannot read \(dir)/missing.pem"),
            (["-tls-cert", dir + "/garbage.pem", "-tls-key", f.key("a.test")], "cannot load certificate \(dir)/garbage.pem"),
            (["-tls-cert", f.cert("a.test"), "-tls-key", dir + "/garbage.pem"], "cannot load private key \(dir)/garbage.pem"),
            (["-tls-cert", f.cert("a.test"), "-tls-key", f.key("b.test")], "private key \(f.key("b.test")) does not match certificate \(f.cert("a.test"))"),
            (["-tls-cert", f.cert("a.test")], "-tls-cert and -tls-key come in pairs"),
        ]
        for (args, expected) in cases {
            let child = try ChildProcess(buildDirectory + "/fulcrum", ["-listen", "127.0.0.1:0", "-admin", "127.0.0.1:0",
                                                                       "-tls-listen", "127.0.0.1:0"] + args, name: "fulcrum")
            let status = child.waitForExit(seconds: 20)
            XCTAssertNotNil(status)
            XCTAssertNotEqual(status, 0)
            let lines = child.output.filter { $0.hasPrefix("fulcrum:") }
            XCTAssertEqual(lines.count, 1, child.output.joined(separator: "\n"))
            XCTAssertTrue(lines.first?.contains(expected) ?? false, "expected \"\(expected)\" in \(child.output)")
            XCTAssertFalse(child.output.contains { $0.contains("proxy listening") }, "nothing is served")
        }
        // No OpenSSL 3 on the machine (simulated by pointing the loader at a missing file).
        let child = try ChildProcess(buildDirectory + "/fulcrum", ["-listen", "127.0.0.1:0", "-admin", "127.0.0.1:0", "-tls-listen", "127.0.0.1:0",
                                                                   "-tls-cert", f.cert("a.test"), "-tls-key", f.key("a.test")],
                                     name: "fulcrum", environment: ["FULCRUM_LIBSSL": dir + "/libssl.so.3"])
        XCTAssertEqual(child.waitForExit(seconds: 20).map { $0 != 0 }, true)
        XCTAssertTrue(child.output.contains { $0.hasPrefix("fulcrum: cannot load \(dir)/libssl.so.3") }, child.output.joined(separator: "\n"))
    }

    /// Fulcrum B terminates TLS with a certificate for a.test in front of a
    /// plain backend; Fulcrum A uses B as an https:// backend.
    func testHTTPSBackendsVerifiedPooledAndProbed() throws {
        let f = try TLSFixture.get()
        let backend = try BackendServer()
        let inner = try FulcrumServer(["-tls-listen", "127.0.0.1:0", "-tls-cert", f.cert("a.test"), "-tls-key", f.key("a.test"),
                                       "-backend", backend.url, "-t", "0.2"])
        defer { inner.stop() }
        let innerTLS = try inner.tlsPort()
        let upstream = "https://127.0.0.1:\(innerTLS)"
        let outer = try FulcrumServer(["-tls-listen", "127.0.0.1:0", "-tls-cert", f.cert("b.test"), "-tls-key", f.key("b.test"),
                                       "-backend-ca", f.ca, "-backend", upstream, "-t", "30"])
        defer { outer.stop() }
        let outerTLS = try outer.tlsPort()
        eventually(10, "https backend healthy") { (try? outer.backend(upstream)?["healthy"] as? Bool) == true }

        // POST /register takes https:// too (probed over TLS at once).
        let again = try outer.admin("POST", "/register", json: "{\"address\":\"\(upstream)\",\"weight\":2}")
        XCTAssertEqual(again.status, 200, String(decoding: again.body, as: UTF8.self))
        XCTAssertTrue(String(decoding: again.body, as: UTF8.self).contains("\"server\":\"\(upstream)\""))

        // Plain client → HTTPS backend, and HTTPS client → HTTPS backend, keep-alive.
        let plain = try outer.get("/headers")
        XCTAssertEqual(plain.status, 200)
        XCTAssertTrue(String(decoding: plain.body, as: UTF8.self).contains("X-Forwarded-Proto: https"), "inner proxy got TLS")
        let base = "https://localhost:\(outerTLS)"
        // Pooled: six requests on one client connection (one worker) cost at most one backend handshake.
        let before = try outer.metric("fulcrum_tls_handshakes_total{side=\"backend\",result=\"ok\"}")
        let urls = (0..<6).map { "\(base)/bytes/\($0 + 1)" }
        let (status, out) = curl(["--cacert", f.ca] + urls + ["-w", "\n"])
        XCTAssertEqual(status, 0, out)
        XCTAssertLessThanOrEqual(try outer.metric("fulcrum_tls_handshakes_total{side=\"backend\",result=\"ok\"}") - before, 1)

        // 10 MiB each way through two TLS hops.
        let dir = try temporaryDirectory("tls-backend")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let size = 10 * 1024 * 1024
        XCTAssertEqual(curl(["--cacert", f.ca, "-o", dir + "/down", "\(base)/bytes/\(size)"]).0, 0)
        XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: dir + "/down")).count, size)
        var upload = Data(count: size)
        for i in stride(from: 0, to: size, by: 1021) { upload[i] = UInt8(truncatingIfNeeded: i) }
        try upload.write(to: URL(fileURLWithPath: dir + "/up"))
        XCTAssertEqual(curl(["--cacert", f.ca, "--data-binary", "@" + dir + "/up", "-o", dir + "/echo", "\(base)/echo"]).0, 0)
        XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: dir + "/echo")), upload)

        XCTAssertGreaterThanOrEqual(try outer.metric("fulcrum_requests_total{backend=\"\(upstream)\",code=\"200\"}"), 9)
        XCTAssertLessThanOrEqual(try outer.metric("fulcrum_tls_handshakes_total{side=\"backend\",result=\"failed\"}"), 0)
    }

    func testAnHTTPSBackendWhoseCertificateTheCADidNotSignIsNotUsed() throws {
        let f = try TLSFixture.get()
        let backend = try BackendServer()
        let rogue = try FulcrumServer(["-tls-listen", "127.0.0.1:0", "-tls-cert", f.cert("rogue"), "-tls-key", f.key("rogue"),
                                       "-backend", backend.url, "-t", "0.2"])
        defer { rogue.stop() }
        let upstream = "https://127.0.0.1:\(try rogue.tlsPort())"
        let proxy = try FulcrumServer(["-backend-ca", f.ca, "-backend", upstream, "-t", "0.2"])
        defer { proxy.stop() }
        eventually(10, "probe detail") { ((try? proxy.backend(upstream)?["last_check"] as? String) ?? "").contains("certificate verify failed") }
        XCTAssertEqual(try proxy.backend(upstream)?["healthy"] as? Bool, false)
        XCTAssertEqual(try proxy.get("/").status, 503)
        let r = try proxy.admin("POST", "/register", json: "{\"address\":\"\(upstream)\"}")
        XCTAssertEqual(r.status, 422)
    }
}
