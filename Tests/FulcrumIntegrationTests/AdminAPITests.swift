import Foundation
import XCTest

/// Every row of CONTRACT §3, with its exact status and body shape.
final class AdminAPITests: XCTestCase {
    var backend: BackendServer!
    var fulcrum: FulcrumServer!

    override func setUpWithError() throws {
        backend = try BackendServer(name: "api")
        fulcrum = try FulcrumServer(["-t", "60"])
    }

    override func tearDown() {
        fulcrum?.stop()
        backend?.kill()
    }

    func testRegisterSucceedsAndTakesTrafficAtOnce() throws {
        let r = try fulcrum.register(backend, weight: 5)
        XCTAssertEqual(r.status, 200)
        XCTAssertEqual(r.header("Content-Type"), "application/json")
        XCTAssertEqual(r.text.trimmingCharacters(in: .whitespacesAndNewlines),
                       #"{"status":"success","data":{"server":"\#(backend.url)","weight":5}}"#)
        // No wait for the next health-check round.
        XCTAssertEqual(try fulcrum.get().header("X-Backend"), "api")
        // Default weight, and re-registering updates the weight.
        let other = try BackendServer(name: "other")
        defer { other.kill() }
        XCTAssertEqual(try fulcrum.register(other).json?["data"] as? NSDictionary, ["server": other.url, "weight": 1])
        XCTAssertEqual(try fulcrum.register(backend, weight: 9).status, 200)
        XCTAssertEqual(try fulcrum.backend(backend.url)?["weight"] as? Int, 9)
        XCTAssertEqual(try fulcrum.backends().count, 2)
    }

    func testRegisterRejectsBadInputWith400() throws {
        let bad: [(String?, String)] = [
            (nil, "missing body"),
            ("not json", "not JSON"),
            ("[1,2]", "not an object"),
            ("{}", "no address"),
            (#"{"address": 5}"#, "address not a string"),
            (#"{"address":"127.0.0.1:9000"}"#, "no scheme"),
            (#"{"address":"ftp://127.0.0.1:9000"}"#, "other scheme (https:// is a TLS backend, CONTRACT §8)"),
            (#"{"address":"http://127.0.0.1"}"#, "no port"),
            (#"{"address":"http://127.0.0.1:0"}"#, "port 0"),
            (#"{"address":"http://127.0.0.1:70000"}"#, "port too big"),
            (#"{"address":"http://127.0.0.1:80/path"}"#, "path"),
            (#"{"address":"\#(backend.url)","weight":0}"#, "weight 0"),
            (#"{"address":"\#(backend.url)","weight":1001}"#, "weight 1001"),
            (#"{"address":"\#(backend.url)","weight":"5"}"#, "weight string"),
            (#"{"address":"\#(backend.url)","weight":2.5}"#, "weight fraction"),
            (#"{"address":"\#(backend.url)","weight":null}"#, "weight null"),
            (#"{"address":"\#(backend.url)"} trailing"#, "trailing data"),
        ]
        for (body, label) in bad {
            let r = try fulcrum.admin("POST", "/register", json: body)
            XCTAssertEqual(r.status, 400, label)
            XCTAssertEqual(r.json?["status"] as? String, "fail", label)
            XCTAssertNotNil((r.json?["data"] as? [String: Any])?["title"] as? String, label)
        }
        XCTAssertEqual(try fulcrum.backends().count, 0, "nothing was registered")
    }

    func testRegisterWithUnknownFieldIs403() throws {
        let r = try fulcrum.admin("POST", "/register", json: #"{"address":"\#(backend.url)","weight":2,"name":"x"}"#)
        XCTAssertEqual(r.status, 403)
        XCTAssertEqual(r.json?["status"] as? String, "fail")
        XCTAssertTrue(((r.json?["data"] as? [String: Any])?["title"] as? String ?? "").contains("name"))
        XCTAssertEqual(try fulcrum.backends().count, 0)
    }

    func testRegisterDeadBackendIs422AndNotStored() throws {
        let dead = try BackendServer(name: "dead")
        let url = dead.url
        dead.kill()
        let r = try fulcrum.admin("POST", "/register", json: #"{"address":"\#(url)"}"#)
        XCTAssertEqual(r.status, 422)
        XCTAssertEqual(r.text.trimmingCharacters(in: .whitespacesAndNewlines),
                       #"{"status":"fail","data":{"title":"\#(url) not alive, registration failed."}}"#)
        XCTAssertNil(try fulcrum.backend(url))
    }

    func testBackendsListShape() throws {
        XCTAssertEqual(try fulcrum.register(backend, weight: 3).status, 200)
        for _ in 0..<4 { XCTAssertEqual(try fulcrum.get().status, 200) }
        let r = try fulcrum.admin("GET", "/backends")
        XCTAssertEqual(r.status, 200)
        let data = r.json?["data"] as? [String: Any]
        XCTAssertEqual(data?["strategy"] as? String, "round-robin")
        let b = try XCTUnwrap((data?["backends"] as? [[String: Any]])?.first)
        XCTAssertEqual(b["address"] as? String, backend.url)
        XCTAssertEqual(b["weight"] as? Int, 3)
        XCTAssertEqual(b["healthy"] as? Bool, true)
        XCTAssertEqual(b["draining"] as? Bool, false)
        XCTAssertEqual(b["active"] as? Int, 0)
        XCTAssertEqual(b["requests"] as? Int, 4)
        XCTAssertEqual(b["failures"] as? Int, 0)
    }

    func testDeleteDrainsAndUnknownIs404() throws {
        XCTAssertEqual(try fulcrum.register(backend).status, 200)
        let encoded = backend.url.addingPercentEncoding(withAllowedCharacters: .alphanumerics)!
        let r = try fulcrum.admin("DELETE", "/backends?address=\(encoded)")
        XCTAssertEqual(r.status, 200)
        XCTAssertEqual(r.json?["status"] as? String, "success")
        eventually(3, "the idle drained backend is removed") { (try? fulcrum.backends().isEmpty) == true }
        XCTAssertEqual(try fulcrum.get().status, 503)
        let missing = try fulcrum.admin("DELETE", "/backends?address=\(encoded)")
        XCTAssertEqual(missing.status, 404)
        XCTAssertEqual(missing.json?["status"] as? String, "fail")
        XCTAssertEqual(try fulcrum.admin("DELETE", "/backends").status, 400)
    }

    func testStrategySwitchAndUnknownStrategy() throws {
        let r = try fulcrum.admin("PUT", "/strategy", json: #"{"name":"LC"}"#)
        XCTAssertEqual(r.status, 200)
        XCTAssertEqual((r.json?["data"] as? [String: Any])?["strategy"] as? String, "least-connections")
        XCTAssertEqual((try fulcrum.admin("GET", "/backends").json?["data"] as? [String: Any])?["strategy"] as? String, "least-connections")
        let unknown = try fulcrum.admin("PUT", "/strategy", json: #"{"name":"no-such-thing"}"#)
        XCTAssertEqual(unknown.status, 404)
        XCTAssertEqual(unknown.json?["status"] as? String, "fail")
        XCTAssertEqual(try fulcrum.admin("PUT", "/strategy", json: "{").status, 400)
        XCTAssertEqual(try fulcrum.admin("PUT", "/strategy", json: #"{"name":"RR","x":1}"#).status, 403)
        for name in ["round-robin", "WRR", "srr", "Least-Connections", "PTC", "sih", "pewma", "BLH", "Maglev"] {
            XCTAssertEqual(try fulcrum.admin("PUT", "/strategy", json: #"{"name":"\#(name)"}"#).status, 200, name)
        }
    }

    func testPluginsListAndRuntimeLoadErrors() throws {
        let list = try fulcrum.admin("GET", "/plugins")
        XCTAssertEqual(list.status, 200)
        let plugins = try XCTUnwrap((list.json?["data"] as? [String: Any])?["plugins"] as? [[String: Any]])
        XCTAssertEqual(plugins.count, 14, "nine strategies, two probes and three filters, each its own .so")
        XCTAssertEqual(Set(plugins.flatMap { ($0["filters"] as? [String]) ?? [] }), ["ip-filter", "rate-limit", "request-id"])
        let rr = try XCTUnwrap(plugins.first { ($0["strategies"] as? [String]) == ["round-robin"] })
        XCTAssertEqual(rr["abi"] as? Int, 1)
        XCTAssertTrue((rr["file"] as? String ?? "").hasSuffix("libFulcrumRoundRobin.so"))
        XCTAssertEqual(rr["probes"] as? [String], [])

        let dir = try temporaryDirectory("admin-plugins")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let future = try compileCPlugin(cStrategySource(name: "future", abi: "999"), named: "future", in: dir)
        let dup = try compileCPlugin(cStrategySource(name: "dup-rr", aliases: "\"RR\""), named: "dup", in: dir)
        _ = FileManager.default.createFile(atPath: dir + "/junk.so", contents: Data("not elf".utf8))
        for (path, expect) in [(future, "ABI version 999"), (dup, "already provided"), (dir + "/junk.so", "not a loadable"),
                               (dir + "/missing.so", "no such file"), ("relative.so", "absolute")] {
            let r = try fulcrum.admin("POST", "/plugins", json: #"{"path":"\#(path)"}"#)
            XCTAssertEqual(r.status, 400, path)
            XCTAssertEqual(r.json?["status"] as? String, "fail")
            XCTAssertTrue(((r.json?["data"] as? [String: Any])?["title"] as? String ?? "").contains(expect), "\(path): \(r.text)")
        }
    }

    func testHealthzMetricsAndStatusPage() throws {
        XCTAssertEqual(try fulcrum.admin("GET", "/healthz").status, 200)
        // HEAD has no body, and the keep-alive connection stays in step.
        let c = try TestHTTPConnection(port: fulcrum.adminPort)
        XCTAssertEqual(try c.request("HEAD", "/healthz").status, 200)
        XCTAssertEqual(try c.request("GET", "/healthz").json?["status"] as? String, "success")
        let metrics = try fulcrum.admin("GET", "/metrics")
        XCTAssertEqual(metrics.status, 200)
        XCTAssertTrue(metrics.header("Content-Type")?.hasPrefix("text/plain") == true)
        let page = try fulcrum.admin("GET", "/")
        XCTAssertEqual(page.status, 200)
        XCTAssertTrue(page.header("Content-Type")?.hasPrefix("text/html") == true)
        XCTAssertTrue(page.text.contains("<title>Fulcrum</title>"))
        for external in ["src=\"http", "href=\"http", "src=\"//", "href=\"//", "@import", "url(http"] {
            XCTAssertFalse(page.text.contains(external), "no external assets: \(external)")
        }
        XCTAssertEqual(try fulcrum.admin("GET", "/nope").status, 404)
        XCTAssertEqual(try fulcrum.admin("PATCH", "/backends").status, 405)
    }

    func testAdminListenerIsNotTheProxyPort() throws {
        XCTAssertNotEqual(fulcrum.port, fulcrum.adminPort)
        let r = try fulcrum.get("/backends")
        XCTAssertEqual(r.status, 503, "the proxy port proxies; it does not serve the admin API")
    }
}

/// `-admin-token`.
final class AdminTokenTests: XCTestCase {
    func testEveryCallNeedsTheBearerToken() throws {
        let backend = try BackendServer(name: "t")
        defer { backend.kill() }
        let f = try FulcrumServer(["-backend", backend.url], token: "s3cret-token")
        defer { f.stop() }
        for (method, path) in [("GET", "/backends"), ("GET", "/metrics"), ("GET", "/healthz"), ("GET", "/"), ("GET", "/plugins"),
                               ("POST", "/register"), ("PUT", "/strategy"), ("DELETE", "/backends?address=x")] {
            let none = try TestHTTPConnection(port: f.adminPort).request(method, path, closing: true)
            XCTAssertEqual(none.status, 401, "\(method) \(path) without a token")
            XCTAssertEqual(none.json?["status"] as? String, "fail")
            let wrong = try TestHTTPConnection(port: f.adminPort).request(method, path, headers: [("Authorization", "Bearer s3cret-tokeN")], closing: true)
            XCTAssertEqual(wrong.status, 401, "\(method) \(path) with a wrong token")
        }
        XCTAssertEqual(try f.admin("GET", "/backends").status, 200)
        XCTAssertEqual(try f.admin("PUT", "/strategy", json: #"{"name":"WRR"}"#).status, 200)
        // The proxy itself needs no token.
        XCTAssertEqual(try f.get().status, 200)
    }

    func testNonLoopbackAdminWithoutTokenIsRefusedAtStart() throws {
        let child = try ChildProcess(buildDirectory + "/fulcrum", ["-listen", "127.0.0.1:0", "-admin", "0.0.0.0:0"], name: "fulcrum")
        XCTAssertEqual(child.waitForExit(seconds: 10), 2)
        XCTAssertTrue(child.output.joined().contains("-admin-token"), child.output.joined(separator: "\n"))
    }
}
