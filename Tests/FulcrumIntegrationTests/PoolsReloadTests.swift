import Foundation
import XCTest

/// CONTRACT §10: -check-config, live reload (POST /config/reload, SIGHUP), invalid reloads.
final class PoolsReloadTests: XCTestCase {
    var servers: [BackendServer] = []
    var fulcrum: FulcrumServer?

    override func tearDown() {
        fulcrum?.stop()
        for s in servers { s.kill() }
    }

    func backend(_ name: String) throws -> BackendServer {
        let b = try BackendServer(name: name)
        servers.append(b)
        return b
    }

    func testCheckConfigExitCodesAndMessages() throws {
        let good = try ConfigFileFixture(#"{"pools": {"api": {"backends": ["http://127.0.0.1:1"]}}, "routes": [{"pool": "api"}]}"#)
        // Binds no port: the proxy and admin ports given are in use by a backend, and it still succeeds.
        let busy = try backend("busy")
        let ok = try runFulcrum(["-check-config", "-config", good.path, "-listen", "127.0.0.1:\(busy.port)", "-admin", "127.0.0.1:\(busy.port)"])
        XCTAssertEqual(ok.status, 0, ok.stderr)
        XCTAssertTrue(ok.stdout.contains("\(good.path): valid"), ok.stdout)
        XCTAssertTrue(ok.stdout.contains("api (1 backend)"), ok.stdout)

        let bad = try ConfigFileFixture("""
        {"pools": {"api": {"strategy": "foo"}},
         "routes": [{"pool": "api"}, {"pool": "x", "hots": "a"}]}
        """)
        let r = try runFulcrum(["-check-config", "-config", bad.path])
        XCTAssertEqual(r.status, 2)
        let lines = r.stderr.split(separator: "\n").map(String.init)
        XCTAssertTrue(lines.contains("\(bad.path): pools.api.strategy: unknown strategy \"foo\""), r.stderr)
        XCTAssertTrue(lines.contains { $0.hasPrefix("\(bad.path): routes[1]: unknown key \"hots\"") }, r.stderr)
        XCTAssertTrue(lines.contains("\(bad.path): routes[1]: unknown pool \"x\""), r.stderr)
        XCTAssertEqual(lines.count, 3, "one line per problem, nothing else: \(r.stderr)")
        XCTAssertTrue(r.stdout.contains("invalid: 3 problems"), r.stdout)

        let syntax = try ConfigFileFixture("{\n  \"pools\": {\n    \"api\": {,}\n  }\n}\n")
        let s = try runFulcrum(["-check-config", "-config", syntax.path])
        XCTAssertEqual(s.status, 2)
        XCTAssertTrue(s.stderr.contains("\(syntax.path):3:13: "), s.stderr)

        // A bad file at start: exit 2 before serving, the same lines.
        let start = try runFulcrum(["-config", bad.path, "-listen", "127.0.0.1:0", "-admin", "127.0.0.1:0"])
        XCTAssertEqual(start.status, 2)
        XCTAssertTrue(start.stderr.contains("\(bad.path): routes[1]: unknown pool \"x\""), start.stderr)
        XCTAssertFalse(start.stderr.contains("proxy listening"), start.stderr)
        XCTAssertTrue(start.stderr.split(separator: "\n").allSatisfy { $0.hasPrefix(bad.path) }, start.stderr)
    }

    func testReloadSwapsRoutesKeepsPoolsAndDrainsDroppedBackends() throws {
        let a1 = try backend("a1"), a2 = try backend("a2"), b = try backend("b"), extra = try backend("extra")
        let file = try ConfigFileFixture("""
        {"pools": {"a": {"backends": ["\(a1.url)", "\(a2.url)"]}, "b": {"backends": ["\(b.url)"]}},
         "routes": [{"path_prefix": "/x/", "pool": "a"}], "default_pool": "b"}
        """)
        let f = try FulcrumServer(["-config", file.path, "-t", "60"])
        fulcrum = f
        XCTAssertEqual(try f.admin("POST", "/register", json: #"{"address":"\#(extra.url)","pool":"a"}"#).status, 200)
        XCTAssertEqual(Set(try f.answerers(6, "/x/1", headers: [])), ["a1", "a2", "extra"])
        // The new file: /x/ goes to b; a2 is no longer listed.
        try file.write("""
        {"pools": {"a": {"backends": ["\(a1.url)"]}, "b": {"backends": ["\(b.url)"]}},
         "routes": [{"path_prefix": "/x/", "pool": "b"}, {"path_prefix": "/a/", "pool": "a"}], "default_pool": "b"}
        """)
        let r = try f.admin("POST", "/config/reload")
        XCTAssertEqual(r.status, 200, r.text)
        XCTAssertEqual(try f.answerers(3, "/x/1", headers: []), ["b", "b", "b"])
        eventually(5, "a2 drained and gone") {
            let list = (try? f.data("GET", "/backends?pool=a")["backends"] as? [[String: Any]]) ?? []
            return Set(list.compactMap { $0["address"] as? String }) == [a1.url, extra.url]
        }
        XCTAssertEqual(Set(try f.answerers(4, "/a/1", headers: [])), ["a1", "extra"], "the API-registered backend stays")
    }

    func testReloadAppliesHealthAndStrategyAndPutStrategyLastsUntilThen() throws {
        let a = try backend("a")
        func config(_ path: String, _ strategy: String) -> String {
            #"{"pools": {"a": {"strategy": "\#(strategy)", "backends": ["\#(a.url)"], "health": {"path": "\#(path)", "interval": 0.2, "rise": 1, "fall": 1}}}, "default_pool": "a"}"#
        }
        let file = try ConfigFileFixture(config("/", "RR"))
        let f = try FulcrumServer(["-config", file.path])
        fulcrum = f
        XCTAssertEqual(try f.get("/x").header("X-Backend"), "a")
        XCTAssertEqual(try f.admin("PUT", "/strategy", json: #"{"name":"LC","pool":"a"}"#).status, 200)
        XCTAssertEqual(try f.pools()["a"]?["strategy"] as? String, "least-connections")
        try file.write(config("/status/500", "RR"))
        XCTAssertEqual(try f.admin("POST", "/config/reload").status, 200)
        XCTAssertEqual(try f.pools()["a"]?["strategy"] as? String, "round-robin", "the file's strategy applies again at reload")
        eventually(10, "the new health path takes a out of rotation") { (try? f.get("/x").status) == 503 }
    }

    func testInvalidReloadChangesNothing() throws {
        let a = try backend("a")
        let file = try ConfigFileFixture(#"{"pools": {"a": {"backends": ["\#(a.url)"]}}, "routes": [{"path_prefix": "/a/", "pool": "a"}]}"#)
        let f = try FulcrumServer(["-config", file.path, "-t", "60"])
        fulcrum = f
        XCTAssertEqual(try f.get("/a/x").header("X-Backend"), "a")
        try file.write(#"{"pools": {"a": {"strategy": "nope"}}, "routes": [{"pool": "zz"}, {"bad": 1}]}"#)
        let r = try f.admin("POST", "/config/reload")
        XCTAssertEqual(r.status, 422, r.text)
        XCTAssertEqual(r.json?["status"] as? String, "fail")
        let errors = ((r.json?["data"] as? [String: Any])?["errors"] as? [String]) ?? []
        XCTAssertTrue(errors.contains("\(file.path): pools.a.strategy: unknown strategy \"nope\""), "\(errors)")
        XCTAssertTrue(errors.contains("\(file.path): routes[0]: unknown pool \"zz\""), "\(errors)")
        XCTAssertTrue(errors.contains { $0.hasPrefix("\(file.path): routes[1]: unknown key \"bad\"") }, "\(errors)")
        // Nothing changed.
        XCTAssertEqual(try f.get("/a/x").header("X-Backend"), "a")
        XCTAssertEqual(try f.get("/other").status, 404)
        XCTAssertEqual(try f.routes().count, 1)
        // SIGHUP with the same bad file: logged, nothing changes.
        f.child.signal(SIGHUP)
        _ = try f.child.waitForLine("not reloaded")
        XCTAssertEqual(try f.get("/a/x").header("X-Backend"), "a")
        // SIGHUP with a good file: in force.
        try file.write(#"{"pools": {"a": {"backends": ["\#(a.url)"]}}, "routes": [{"path_prefix": "/b/", "pool": "a"}]}"#)
        f.child.signal(SIGHUP)
        eventually(5, "SIGHUP reload in force") { (try? f.get("/b/x").header("X-Backend")) == "a" }
        XCTAssertEqual(try f.get("/a/x").status, 404)
    }

    /// Reload under load, bounded for CI: 16 keep-alive clients for 10 s while
    /// the file alternates every 0.5 s between sending /x/ to pool p1 and to
    /// pool p2. Zero errors; every answer comes from a pool one of the two
    /// tables names; once the last reload has answered, requests follow it.
    func testReloadUnderLoad() throws {
        let p1 = try backend("p1"), p2 = try backend("p2")
        func config(_ pool: String) -> String {
            #"{"pools": {"p1": {"backends": ["\#(p1.url)"]}, "p2": {"backends": ["\#(p2.url)"]}}, "routes": [{"path_prefix": "/x/", "pool": "\#(pool)"}]}"#
        }
        let file = try ConfigFileFixture(config("p1"))
        let f = try FulcrumServer(["-config", file.path, "-t", "60"])
        fulcrum = f
        let stop = Date().addingTimeInterval(10)
        let tally = LoadTally()
        let group = DispatchGroup()
        for _ in 0..<16 {
            group.enter()
            Thread.detachNewThread {
                defer { group.leave() }
                do {
                    let conn = try TestHTTPConnection(port: f.port)
                    while Date() < stop {
                        let r = try conn.request("GET", "/x/y")
                        tally.record(status: r.status, backend: r.header("X-Backend") ?? "none")
                    }
                } catch {
                    tally.fail("\(error)")
                }
            }
        }
        var pool = "p1"
        var reloads = 0
        while Date() < stop.addingTimeInterval(-0.5) {
            Thread.sleep(forTimeInterval: 0.5)
            pool = pool == "p1" ? "p2" : "p1"
            try file.write(config(pool))
            let r = try f.admin("POST", "/config/reload")
            XCTAssertEqual(r.status, 200, r.text)
            reloads += 1
        }
        XCTAssertEqual(group.wait(timeout: .now() + 30), .success)
        let (errors, answered, seen) = tally.result
        XCTAssertEqual(errors, [])
        XCTAssertGreaterThan(answered, 100)
        // A reload probes nothing but takes a few hundred ms on a loaded 2-core
        // machine (seen: 7 in 10 s with the whole suite and builds running).
        XCTAssertGreaterThanOrEqual(reloads, 5)
        XCTAssertTrue(seen.isSubset(of: ["p1", "p2"]), "\(seen)")
        XCTAssertEqual(seen, ["p1", "p2"])
        XCTAssertEqual(try f.answerers(3, "/x/z", headers: []), [pool, pool, pool], "the table in force")
        // Counts survive reloads (same label).
        XCTAssertGreaterThanOrEqual((try f.routes().first?["requests"] as? Int) ?? 0, answered)
    }
}

/// What the load clients saw.
final class LoadTally: @unchecked Sendable {
    private let lock = NSLock()
    private var errors: [String] = []
    private var answered = 0
    private var seen = Set<String>()

    func record(status: Int, backend: String) {
        lock.withLock {
            answered += 1
            if status != 200 { errors.append("status \(status)") }
            seen.insert(backend)
        }
    }

    func fail(_ why: String) { lock.withLock { errors.append(why) } }

    var result: ([String], Int, Set<String>) { lock.withLock { (errors, answered, seen) } }
}
