import FulcrumEtcd
import Foundation
import XCTest

/// CONTRACT §10 with -registry: registrations carry their pool and are shared.
final class PoolsClusterTests: XCTestCase {
    func testRegistrationsIntoPoolsAreSharedAndUnknownPoolsIgnored() throws {
        let etcd = try EtcdProcess.start()
        defer { etcd.stop() }
        let registry = "etcd://\(etcd.endpoint)/p1"
        let seeded = try BackendServer(name: "seeded"), api = try BackendServer(name: "api")
        defer { seeded.kill(); api.kill() }
        let file = try ConfigFileFixture("""
        {"pools": {"api": {"backends": ["\(seeded.url)"]}}, "routes": [{"path_prefix": "/api/", "pool": "api"}], "default_pool": "api"}
        """)
        let other = try ConfigFileFixture(#"{"pools": {"web": {}}, "default_pool": "web"}"#)
        func instance(_ config: ConfigFileFixture, _ registry: String = registry) throws -> FulcrumServer {
            let f = try FulcrumServer(["-registry", registry, "-config", config.path, "-t", "60"], environment: ["FULCRUM_REGISTRY_LEASE_TTL": "2"])
            _ = try f.child.waitForLine("connected, watching", seconds: 45)
            return f
        }
        let a = try instance(file), b = try instance(file)
        defer { a.stop(); b.stop() }
        // The file's backend was written under the pool's prefix (only where never written) and reaches both.
        XCTAssertEqual(try a.get("/api/x").header("X-Backend"), "seeded")
        XCTAssertEqual(try b.get("/api/x").header("X-Backend"), "seeded")
        // default_pool is "api": with -registry it is the default pool, under PREFIX/backends/.
        let client = EtcdClient(url: try EtcdURL.parse(registry).get())
        XCTAssertTrue(try client.list(prefix: "/p1/backends/").kvs.contains { $0.key == "/p1/backends/\(seeded.url)" })
        // A named non-default pool (another cluster prefix): registered through D, shared to E within 1 s.
        let registry2 = "etcd://\(etcd.endpoint)/p2"
        let named = try ConfigFileFixture("""
        {"pools": {"api": {}, "web": {}}, "routes": [{"path_prefix": "/api/", "pool": "api"}], "default_pool": "web"}
        """)
        let d = try instance(named, registry2), e = try instance(named, registry2), c = try instance(other, registry2)
        defer { d.stop(); e.stop(); c.stop() }
        let r = try d.admin("POST", "/register", json: #"{"address":"\#(api.url)","pool":"api"}"#)
        XCTAssertEqual(r.status, 200, r.text)
        XCTAssertEqual((r.json?["data"] as? [String: Any])?["pool"] as? String, "api")
        eventually(1, "E routes /api/ to the backend registered into pool api through D") { (try? e.get("/api/x").header("X-Backend")) == "api" }
        XCTAssertEqual(try e.get("/other").status, 503, "the default pool (web) has no backend")
        XCTAssertTrue(try client.list(prefix: "/p2/pools/api/backends/").kvs.contains { $0.key == "/p2/pools/api/backends/\(api.url)" })
        // C has no pool "api": it ignores the registration, with a warning.
        _ = try c.child.waitForLine("ignoring registrations for pool api", seconds: 5)
        XCTAssertEqual(try c.get("/api/x").status, 503)
        // A drain through E reaches D.
        let encoded = api.url.addingPercentEncoding(withAllowedCharacters: .alphanumerics)!
        XCTAssertEqual(try e.admin("DELETE", "/backends?pool=api&address=\(encoded)").status, 200)
        eventually(2, "D drained it") { (try? d.get("/api/x").status) == 503 }
    }
}
