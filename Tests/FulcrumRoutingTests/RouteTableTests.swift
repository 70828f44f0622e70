import FulcrumRouting
import FulcrumSDK
import XCTest

final class RouteTableTests: XCTestCase {
    func table(_ routes: String, indexed: Bool? = nil) -> RouteTable {
        let text = "{\"pools\":{\"a\":{},\"b\":{},\"c\":{}},\"routes\":\(routes)}"
        guard let c = valid(text) else { XCTFail("invalid: \(problems(text))"); return RouteTable([], pools: [], defaultPool: "default") }
        return RouteTable(c.routes, pools: c.effectivePools.map(\.name), defaultPool: c.defaultPoolName, indexed: indexed)
    }

    func both(_ routes: String) -> [RouteTable] { [table(routes, indexed: false), table(routes, indexed: true)] }

    func testFirstMatchInFileOrderWins() {
        for t in both(#"[{"path_prefix":"/api/","pool":"a"},{"path_prefix":"/api/v1/","pool":"b"},{"pool":"c"}]"#) {
            XCTAssertEqual(t.route(TestRequest(target: "/api/v1/x")), .route(0))
            XCTAssertEqual(t.route(TestRequest(target: "/apiv1")), .route(2))
        }
        for t in both(#"[{"path_prefix":"/api/v1/","pool":"b"},{"path_prefix":"/api/","pool":"a"}]"#) {
            XCTAssertEqual(t.route(TestRequest(target: "/api/v1/x")), .route(0))
            XCTAssertEqual(t.route(TestRequest(target: "/api/v2/x")), .route(1))
            XCTAssertEqual(t.route(TestRequest(target: "/other")), .noRoute)
        }
    }

    func testHosts() {
        for t in both(#"[{"host":"API.example.com","pool":"a"},{"host":"*.example.com","pool":"b"},{"host":"example.com","pool":"c"}]"#) {
            XCTAssertEqual(t.route(TestRequest(host: "api.EXAMPLE.com:8080")), .route(0))
            XCTAssertEqual(t.route(TestRequest(host: "www.example.com")), .route(1))
            XCTAssertEqual(t.route(TestRequest(host: "a.b.example.com")), .route(1))
            XCTAssertEqual(t.route(TestRequest(host: "example.com")), .route(2), "*.x does not match x itself")
            XCTAssertEqual(t.route(TestRequest(host: "example.com.")), .route(2))
            XCTAssertEqual(t.route(TestRequest(host: "badexample.com")), .noRoute)
            XCTAssertEqual(t.route(TestRequest(host: "")), .noRoute)
        }
    }

    func testPrefixVersusExactPath() {
        for t in both(#"[{"path":"/api","pool":"a"},{"path_prefix":"/api","pool":"b"}]"#) {
            XCTAssertEqual(t.route(TestRequest(target: "/api")), .route(0))
            XCTAssertEqual(t.route(TestRequest(target: "/api?x=1")), .route(0))
            XCTAssertEqual(t.route(TestRequest(target: "/api/")), .route(1))
            XCTAssertEqual(t.route(TestRequest(target: "/apix")), .route(1), "a plain prefix")
            XCTAssertEqual(t.route(TestRequest(target: "/ap")), .noRoute)
            XCTAssertEqual(t.route(TestRequest(target: "http://h/api")), .route(0), "absolute-form")
        }
    }

    func testEverySpellingMeetsTheAdminRoute() {
        for t in both(#"[{"path_prefix":"/admin/","pool":"a"},{"pool":"b"}]"#) {
            for s in ["/admin/", "/%61dmin/", "//admin/", "/x/../admin/", "/./admin/x", "/admin/.", "/%2e/admin/", "/x/%2e%2e/admin/",
                      "/%61%64%6d%69%6e/", "///admin///x", "/admin//"] {
                XCTAssertEqual(t.route(TestRequest(target: s)), .route(0), s)
            }
            XCTAssertEqual(t.route(TestRequest(target: "/admin%2Fx")), .route(1), "%2F is not a separator")
            XCTAssertEqual(t.route(TestRequest(target: "/admin")), .route(1))
            XCTAssertEqual(t.route(TestRequest(target: "/?/admin/")), .route(1), "the query is not the path")
            XCTAssertEqual(t.route(TestRequest(target: "/../admin/")), .refused(.climbsAboveRoot))
            XCTAssertEqual(t.route(TestRequest(target: "/admin/%00")), .refused(.nul))
            XCTAssertEqual(t.route(TestRequest(target: "/admin/%zz")), .refused(.badEscape))
            XCTAssertEqual(t.route(TestRequest(target: "/admin/%4")), .refused(.badEscape))
        }
    }

    func testMethodsAndHeaders() {
        for t in both(#"[{"methods":["POST","PUT"],"pool":"a"},{"headers":{"X-Canary":"1","X-Any":"*"},"pool":"b"},{"headers":{"X-Canary":"1"},"pool":"c"}]"#) {
            XCTAssertEqual(t.route(TestRequest(method: "POST")), .route(0))
            XCTAssertEqual(t.route(TestRequest(method: "post")), .noRoute, "methods are case-sensitive")
            XCTAssertEqual(t.route(TestRequest(headers: ["x-canary": "1", "X-ANY": ""])), .route(1))
            XCTAssertEqual(t.route(TestRequest(headers: ["x-canary": "1"])), .route(2))
            XCTAssertEqual(t.route(TestRequest(headers: ["x-canary": "11"])), .noRoute)
            XCTAssertEqual(t.route(TestRequest(headers: ["x-canary": "2", "x-any": "y"])), .noRoute)
        }
    }

    func testRouteWithoutConditionsMatchesEverything() {
        for t in both(#"[{"pool":"a"}]"#) {
            XCTAssertEqual(t.route(TestRequest(method: "OPTIONS", target: "*", host: "")), .route(0))
            XCTAssertEqual(t.route(TestRequest(method: "CONNECT", target: "h:443")), .route(0))
        }
    }

    func strip(_ prefix: String, _ target: String) -> String {
        let t = table(#"[{"path_prefix":"\#(prefix)","strip_prefix":true,"pool":"a"}]"#)
        let scratch = RouteScratch(capacity: 4096)
        guard t.route(TestRequest(target: target), scratch: scratch) == .route(0) else { return "no match" }
        return Array(target.utf8).withUnsafeBytes { tb in
            String(decoding: t.strippedTarget(t.routes[0], target: tb, scratch: scratch), as: UTF8.self)
        }
    }

    func testStripPrefix() {
        XCTAssertEqual(strip("/v1/", "/v1/users"), "/users")
        XCTAssertEqual(strip("/v1", "/v1"), "/")
        XCTAssertEqual(strip("/v1", "/v1/users"), "/users")
        XCTAssertEqual(strip("/v1/", "/v1/"), "/")
        XCTAssertEqual(strip("/v1/", "/v1/?a=1&b=/x"), "/?a=1&b=/x")
        XCTAssertEqual(strip("/api", "/api?x"), "/?x")
        XCTAssertEqual(strip("/api", "/apix/y"), "/x/y")
        XCTAssertEqual(strip("/v1/", "//v1//a/../users?q=%2e%2e"), "/users?q=%2e%2e", "the normalised path, the query as received")
        XCTAssertEqual(strip("/v1/", "http://h/v1/u?q"), "/u?q")
    }

    func testHeaderRulesDropCaseInsensitively() {
        let t = table(#"[{"pool":"a","request_headers":{"set":{"X-Route":"canary"},"remove":["X-Debug"]}}]"#)
        let rules = t.routes[0].requestHeaders
        func drops(_ s: String) -> Bool { Array(s.utf8).withUnsafeBytes { rules.drops($0.baseAddress!, $0.count) } }
        XCTAssertTrue(drops("x-debug"))
        XCTAssertTrue(drops("X-ROUTE"))
        XCTAssertFalse(drops("X-Debugx"))
        XCTAssertEqual(String(decoding: rules.append, as: UTF8.self), "X-Route: canary\r\n")
    }

    /// The index answers exactly as the linear scan, on random tables and requests.
    func testIndexAgreesWithLinearScan() {
        var rng = SystemRandomNumberGenerator()
        let hosts = ["a.com", "b.a.com", "*.a.com", "*.com", "c.org", nil, nil]
        let paths = ["/", "/x", "/x/", "/x/y", "/y", "/xy"]
        for _ in 0..<200 {
            var routes: [String] = []
            for _ in 0..<Int.random(in: 1...40, using: &rng) {
                var r: [String] = ["\"pool\":\"a\""]
                if let h = hosts.randomElement(using: &rng)! { r.append("\"host\":\"\(h)\"") }
                switch Int.random(in: 0...2, using: &rng) {
                case 0: r.append("\"path\":\"\(paths.randomElement(using: &rng)!)\"")
                case 1: r.append("\"path_prefix\":\"\(paths.randomElement(using: &rng)!)\"")
                default: break
                }
                if Int.random(in: 0...4, using: &rng) == 0 { r.append("\"methods\":[\"POST\"]") }
                if Int.random(in: 0...4, using: &rng) == 0 { r.append("\"headers\":{\"x-h\":\"1\"}") }
                routes.append("{" + r.joined(separator: ",") + "}")
            }
            let text = "[" + routes.joined(separator: ",") + "]"
            let linear = table(text, indexed: false), indexed = table(text, indexed: true)
            for _ in 0..<50 {
                var req = TestRequest()
                req.host = ["a.com", "b.a.com", "x.b.a.com", "com", "c.org", "d.com", ""].randomElement(using: &rng)!
                req.target = (paths + ["/x/y/z", "/q", "//x/./y"]).randomElement(using: &rng)!
                req.method = ["GET", "POST"].randomElement(using: &rng)!
                if Bool.random(using: &rng) { req.headers["x-h"] = "1" }
                XCTAssertEqual(linear.route(req), indexed.route(req), "\(text) \(req)")
            }
        }
    }
}
