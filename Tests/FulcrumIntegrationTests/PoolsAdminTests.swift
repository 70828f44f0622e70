import Foundation
import XCTest

/// CONTRACT §10's admin API and per-pool balancing and health.
final class PoolsAdminTests: XCTestCase {
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

    func testRegistrationIntoPoolsAndPerPoolAdminCalls() throws {
        let a = try backend("a"), b = try backend("b"), c = try backend("c")
        let file = try ConfigFileFixture("""
        {"pools": {"api": {}, "web": {}}, "routes": [{"path_prefix": "/api/", "pool": "api"}], "default_pool": "web"}
        """)
        let f = try FulcrumServer(["-config", file.path, "-t", "60"])
        fulcrum = f
        let r = try f.admin("POST", "/register", json: #"{"address":"\#(a.url)","pool":"api"}"#)
        XCTAssertEqual(r.status, 200, r.text)
        XCTAssertEqual((r.json?["data"] as? [String: Any])?["pool"] as? String, "api")
        // Without a pool: default_pool.
        XCTAssertEqual(try f.register(b).status, 200)
        let unknown = try f.admin("POST", "/register", json: #"{"address":"\#(c.url)","pool":"nope"}"#)
        XCTAssertEqual(unknown.status, 404, unknown.text)
        XCTAssertEqual(unknown.json?["status"] as? String, "fail")
        XCTAssertEqual(try f.admin("POST", "/register", json: #"{"address":"\#(c.url)","pool":5}"#).status, 400)
        XCTAssertEqual(try f.answerers(2, "/api/x", headers: []), ["a", "a"])
        XCTAssertEqual(try f.answerers(2, "/x", headers: []), ["b", "b"])
        // GET /backends per pool.
        XCTAssertEqual((try f.data("GET", "/backends?pool=api")["backends"] as? [[String: Any]])?.map { $0["address"] as? String }, [a.url])
        XCTAssertEqual((try f.data("GET", "/backends")["backends"] as? [[String: Any]])?.map { $0["address"] as? String }, [b.url])
        XCTAssertEqual(try f.admin("GET", "/backends?pool=nope").status, 404)
        // PUT /strategy per pool.
        XCTAssertEqual(try f.admin("PUT", "/strategy", json: #"{"name":"LC","pool":"api"}"#).status, 200)
        XCTAssertEqual(try f.pools()["api"]?["strategy"] as? String, "least-connections")
        XCTAssertEqual(try f.pools()["web"]?["strategy"] as? String, "round-robin")
        XCTAssertEqual(try f.admin("PUT", "/strategy", json: #"{"name":"LC","pool":"nope"}"#).status, 404)
        // DELETE /backends per pool: the same address in another pool is another backend.
        XCTAssertEqual(try f.admin("DELETE", "/backends?pool=web&address=\(a.url.addingPercentEncoding(withAllowedCharacters: .alphanumerics)!)").status, 404)
        XCTAssertEqual(try f.admin("DELETE", "/backends?pool=api&address=\(a.url.addingPercentEncoding(withAllowedCharacters: .alphanumerics)!)").status, 200)
        eventually(5, "a removed from api") { ((try? f.data("GET", "/backends?pool=api")["backends"] as? [[String: Any]])??.isEmpty) ?? false }
        XCTAssertEqual(try f.get("/api/x").status, 503)
    }

    func testFourPoolsWithTheirOwnStrategiesAndWeights() throws {
        let w1 = try backend("w1"), w2 = try backend("w2"), r1 = try backend("r1"), r2 = try backend("r2")
        let s1 = try backend("s1"), s2 = try backend("s2"), solo = try backend("solo")
        let file = try ConfigFileFixture("""
        {"pools": {
           "weighted": {"strategy": "WRR", "backends": [{"address": "\(w1.url)", "weight": 3}, "\(w2.url)"]},
           "rr": {"strategy": "round-robin", "backends": ["\(r1.url)", "\(r2.url)"]},
           "sticky": {"strategy": "SIH", "backends": ["\(s1.url)", "\(s2.url)"]},
           "one": {"backends": ["\(solo.url)"]}},
         "routes": [{"path_prefix": "/w/", "pool": "weighted"}, {"path_prefix": "/r/", "pool": "rr"},
                    {"path_prefix": "/s/", "pool": "sticky"}, {"pool": "one"}]}
        """)
        let f = try FulcrumServer(["-config", file.path, "-t", "60", "-workers", "1"])
        fulcrum = f
        let weighted = try f.answerers(8, "/w/x", headers: [])
        XCTAssertEqual(weighted.filter { $0 == "w1" }.count, 6, "\(weighted)")
        XCTAssertEqual(weighted.filter { $0 == "w2" }.count, 2, "\(weighted)")
        let rr = try f.answerers(6, "/r/x", headers: [])
        XCTAssertEqual(Set(rr), ["r1", "r2"])
        XCTAssertEqual(rr.filter { $0 == "r1" }.count, 3, "\(rr)")
        XCTAssertEqual(Set(try f.answerers(6, "/s/x", headers: [])).count, 1, "one client IP, one backend")
        XCTAssertEqual(Set(try f.answerers(3, "/other", headers: [])), ["solo"])
        let pools = try f.pools()
        XCTAssertEqual(pools["weighted"]?["strategy"] as? String, "weighted-round-robin")
        XCTAssertEqual(pools["sticky"]?["strategy"] as? String, "source-ip-hash")
        XCTAssertEqual(pools["one"]?["strategy"] as? String, "round-robin", "-algo's default")
        XCTAssertEqual(Set(pools.keys), ["weighted", "rr", "sticky", "one", "default"], "default is created when default_pool is not named")
    }

    func testHealthChecksArePerPool() throws {
        // One backend in two pools: pool "strict" probes a path that answers 500.
        let shared = try backend("shared")
        let file = try ConfigFileFixture("""
        {"pools": {"strict": {"backends": ["\(shared.url)"], "health": {"path": "/status/500", "interval": 0.2, "rise": 1, "fall": 1}},
                   "lenient": {"backends": ["\(shared.url)"], "health": {"path": "/", "interval": 0.2, "rise": 1, "fall": 1}}},
         "routes": [{"path_prefix": "/strict/", "pool": "strict"}, {"pool": "lenient"}]}
        """)
        let f = try FulcrumServer(["-config", file.path])
        fulcrum = f
        eventually(10, "strict's backend down") {
            ((try? f.data("GET", "/backends?pool=strict")["backends"] as? [[String: Any]])??.first?["healthy"] as? Bool) == false
        }
        XCTAssertEqual(try f.get("/strict/x").status, 503)
        XCTAssertEqual(try f.get("/x").header("X-Backend"), "shared")
        XCTAssertEqual((try f.data("GET", "/backends?pool=lenient")["backends"] as? [[String: Any]])?.first?["healthy"] as? Bool, true)
    }

    func testStateFileKeepsEachRegistrationsPool() throws {
        let a = try backend("a"), b = try backend("b")
        let dir = try ConfigFileFixture(#"{"pools": {"api": {}}, "routes": [{"path_prefix": "/api/", "pool": "api"}]}"#)
        let state = dir.directory.appendingPathComponent("state.json").path
        var f = try FulcrumServer(["-config", dir.path, "-state", state, "-t", "60"])
        XCTAssertEqual(try f.admin("POST", "/register", json: #"{"address":"\#(a.url)","pool":"api"}"#).status, 200)
        XCTAssertEqual(try f.register(b).status, 200)
        f.stop()
        f = try FulcrumServer(["-config", dir.path, "-state", state, "-t", "60"])
        fulcrum = f
        XCTAssertEqual(try f.get("/api/x").header("X-Backend"), "a")
        XCTAssertEqual((try f.data("GET", "/backends")["backends"] as? [[String: Any]])?.map { $0["address"] as? String }, [b.url])
        let text = try String(contentsOfFile: state, encoding: .utf8)
        XCTAssertTrue(text.contains("\"pool\":\"api\""), text)
    }
}
