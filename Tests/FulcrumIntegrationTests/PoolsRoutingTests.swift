import Foundation
import XCTest

/// CONTRACT §10 from outside: pools, routes, path spellings, strip_prefix, header rules.
final class PoolsRoutingTests: XCTestCase {
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

    func start(_ config: String, _ extra: [String] = []) throws -> (FulcrumServer, ConfigFileFixture) {
        let file = try ConfigFileFixture(config)
        let f = try FulcrumServer(["-config", file.path, "-t", "60"] + extra)
        fulcrum = f
        return (f, file)
    }

    func testTwoPoolsByHostAndPathWithCountsPerRoute() throws {
        let api = try backend("api"), web = try backend("web")
        let (f, _) = try start("""
        {"pools": {"api": {"strategy": "LC", "backends": ["\(api.url)"]}, "web": {"backends": ["\(web.url)"]}},
         "routes": [{"name": "api-v1", "host": "api.example.com", "path_prefix": "/v1/", "pool": "api"},
                    {"host": "*.example.com", "methods": ["GET", "HEAD"], "pool": "web"},
                    {"headers": {"X-Canary": "1"}, "pool": "api"}],
         "default_pool": "web"}
        """)
        XCTAssertEqual(try f.answerers(3, "/v1/x", headers: [("Host", "API.example.com:8080")]), ["api", "api", "api"])
        XCTAssertEqual(try f.answerers(2, "/v2/x", headers: [("Host", "api.example.com")]), ["web", "web"], "*.example.com")
        XCTAssertEqual(try f.answerers(2, "/", headers: [("Host", "other.org"), ("X-Canary", "1")]), ["api", "api"])
        XCTAssertEqual(try f.answerers(2, "/", headers: [("Host", "other.org")]), ["web", "web"], "default_pool catches the rest")
        let routes = try f.routes()
        XCTAssertEqual(routes.map { $0["route"] as? String }, ["api-v1", "routes[1]", "routes[2]"])
        XCTAssertEqual(routes.map { $0["requests"] as? Int }, [3, 2, 2])
        XCTAssertEqual(routes.map { $0["pool"] as? String }, ["api", "web", "api"])
        let pools = try f.pools()
        XCTAssertEqual(Set(pools.keys), ["api", "web"])
        XCTAssertEqual(pools["api"]?["strategy"] as? String, "least-connections", "canonical names")
        XCTAssertEqual((pools["web"]?["backends"] as? [[String: Any]])?.first?["address"] as? String, web.url)
        // The status page: the default pool's table, a section per other pool, the route table.
        let page = try f.admin("GET", "/").text
        XCTAssertTrue(page.contains("Pool api"), page)
        XCTAssertTrue(page.contains("The table above is pool <b>web</b>"), page)
        XCTAssertTrue(page.contains("<td>api-v1</td>"), page)
        let metrics = try f.admin("GET", "/metrics").text
        XCTAssertTrue(metrics.contains("fulcrum_route_requests_total{route=\"api-v1\",pool=\"api\"} 3"), metrics)
        XCTAssertTrue(metrics.contains("fulcrum_backend_up{backend=\"\(api.url)\",pool=\"api\"} 1"), metrics)
        XCTAssertTrue(metrics.contains("fulcrum_requests_total{backend=\"\(web.url)\",code=\"200\",pool=\"web\"} 4"), metrics)
    }

    func testEverySpellingOfAdminReachesTheAdminRoute() throws {
        let admin = try backend("admin"), web = try backend("web")
        let (f, _) = try start("""
        {"pools": {"admin": {"backends": ["\(admin.url)"]}, "web": {"backends": ["\(web.url)"]}},
         "routes": [{"path_prefix": "/admin/", "pool": "admin"}], "default_pool": "web"}
        """)
        for spelling in ["/admin/", "/%61dmin/", "/%61%64%6D%69%6E/x", "//admin/", "///admin//x", "/x/../admin/", "/./admin/",
                         "/admin/./x", "/%2e/admin/", "/x/%2e%2e/admin/", "/x/%2E%2E/admin/y", "/a/b/../../admin/"] {
            XCTAssertEqual(try f.get(spelling).header("X-Backend"), "admin", spelling)
        }
        for other in ["/admin", "/admin%2Fx", "/administrator", "/?/admin/"] {
            XCTAssertEqual(try f.get(other).header("X-Backend"), "web", other)
        }
        for refused in ["/../admin/", "/admin/../../x", "/%2e%2e/admin/", "/admin/%00", "/admin/%zz", "/admin/%4"] {
            let r = try f.get(refused)
            XCTAssertEqual(r.status, 400, refused)
            XCTAssertNil(r.header("X-Backend"), refused)
        }
    }

    func testNoRouteWithoutDefaultPoolIs404() throws {
        let api = try backend("api")
        let (f, _) = try start(#"{"pools": {"api": {"backends": ["\#(api.url)"]}}, "routes": [{"path_prefix": "/api/", "pool": "api"}]}"#)
        XCTAssertEqual(try f.get("/api/x").header("X-Backend"), "api")
        let r = try f.get("/other")
        XCTAssertEqual(r.status, 404)
        XCTAssertEqual(r.header("Content-Type"), "application/json")
        XCTAssertEqual(r.text, #"{"status":"error","message":"no route"}"#)
        // A matched pool without backends: 503 as in §4.
        let (g, _) = try start(#"{"pools": {"empty": {}}, "routes": [{"pool": "empty"}]}"#)
        XCTAssertEqual(try g.get("/").status, 503)
        XCTAssertEqual(try g.get("/").text, #"{"status":"error","message":"no available server"}"#)
        g.stop()
    }

    func testStripPrefixAndHeaderRules() throws {
        let api = try backend("api")
        let (f, _) = try start("""
        {"pools": {"api": {"backends": ["\(api.url)"]}},
         "routes": [{"path_prefix": "/v1/", "strip_prefix": true, "pool": "api",
                     "request_headers": {"set": {"X-Route": "v1"}, "remove": ["X-Debug"]},
                     "response_headers": {"set": {"X-Served-By": "fulcrum"}, "remove": ["X-Backend-Only"]}},
                    {"path_prefix": "/headers", "pool": "api"}]}
        """)
        // The backend's /headers answers with the request head it received.
        let r = try f.get("/v1/headers?a=1&b=/../x", headers: [("X-Debug", "yes"), ("X-Route", "client"), ("X-Keep", "k")])
        XCTAssertEqual(r.status, 200)
        let lines = r.text.components(separatedBy: "\r\n")
        XCTAssertEqual(lines.first, "GET /headers?a=1&b=/../x HTTP/1.1", r.text)
        XCTAssertFalse(lines.contains { $0.lowercased().hasPrefix("x-debug:") }, r.text)
        XCTAssertEqual(lines.filter { $0.lowercased().hasPrefix("x-route:") }, ["X-Route: v1"], r.text)
        XCTAssertTrue(lines.contains("X-Keep: k"), r.text)
        XCTAssertEqual(r.header("X-Served-By"), "fulcrum")
        // The normalised path minus the prefix.
        let n = try f.get("//v1/./x/../headers")
        XCTAssertEqual(n.text.components(separatedBy: "\r\n").first, "GET /headers HTTP/1.1", n.text)
        // Without strip_prefix the path goes as received, and no rule applies.
        let p = try f.get("/headers/../headers?x", headers: [("X-Debug", "yes")])
        XCTAssertEqual(p.text.components(separatedBy: "\r\n").first, "GET /headers/../headers?x HTTP/1.1", p.text)
        XCTAssertTrue(p.text.contains("X-Debug: yes"), p.text)
        XCTAssertNil(p.header("X-Served-By"))
    }
}
