import FulcrumRouting
import FulcrumSDK
import XCTest

final class ConfigFileTests: XCTestCase {
    /// CONTRACT §10's example file, whole.
    static let example = """
    {
      "pools": {
        "api": {
          "strategy": "LC", "strategy_config": {},
          "backends": ["http://127.0.0.1:9001", {"address": "http://127.0.0.1:9002", "weight": 3}],
          "health": {"probe": "http", "path": "/healthz", "interval": 2, "timeout": 1, "rise": 2, "fall": 2},
          "slow_start": 0
        },
        "web": {"backends": ["http://127.0.0.1:9101"]}
      },
      "routes": [
        {"host": "api.example.com", "path_prefix": "/v1/", "strip_prefix": true, "pool": "api"},
        {"host": "*.example.com", "methods": ["GET", "HEAD"], "pool": "web"},
        {"headers": {"X-Canary": "1"}, "pool": "api",
         "request_headers": {"set": {"X-Route": "canary"}, "remove": ["X-Debug"]},
         "response_headers": {"set": {"X-Served-By": "fulcrum"}, "remove": ["Server"]}}
      ],
      "default_pool": "web"
    }
    """

    func testContractExampleIsValid() throws {
        let c = try XCTUnwrap(valid(Self.example))
        XCTAssertEqual(c.pools.map(\.name), ["api", "web"])
        XCTAssertEqual(c.defaultPoolName, "web")
        XCTAssertEqual(c.effectivePools.map(\.name), ["api", "web"], "no implicit default pool when default_pool is named")
        XCTAssertEqual(c.pools[0].backends, [BackendEntry(address: "http://127.0.0.1:9001"),
                                             BackendEntry(address: "http://127.0.0.1:9002", weight: 3, asObject: true)])
        XCTAssertEqual(c.pools[0].health.rise, 2)
        XCTAssertEqual(c.routes.count, 3)
        XCTAssertEqual(c.routes[0].stripPrefix, true)
    }

    func testDefaultPoolIsCreatedWhenUnnamed() throws {
        let c = try XCTUnwrap(valid(#"{"pools":{"api":{}}}"#))
        XCTAssertEqual(c.effectivePools.map(\.name), ["api", "default"])
        XCTAssertEqual(try XCTUnwrap(valid("{}")).effectivePools.map(\.name), ["default"])
    }

    func testJSONErrorsHaveLineAndColumn() {
        XCTAssertEqual(problems("{\n  \"pools\": {,}\n}"), ["f.json:2:13: expected a string key"])
        XCTAssertEqual(problems(""), ["f.json:1:1: unexpected end of input"])
        XCTAssertEqual(problems("{\"a\":1,\"a\":2}").count, 1)
        XCTAssertTrue(problems("{\"é\": x}").first?.hasPrefix("f.json:1:7: ") ?? false, "\(problems("{\"é\": x}"))")
    }

    func testUnknownKeysAreNamedEverywhere() {
        let p = problems(#"{"pool":{},"pools":{"a":{"stratgy":"RR","health":{"pth":"/"}}},"routes":[{"hots":"x","pool":"a"}],"filters":[{"nam":"x"}]}"#)
        XCTAssertTrue(p.contains { $0.hasPrefix("f.json: unknown key \"pool\"") }, "\(p)")
        XCTAssertTrue(p.contains { $0.hasPrefix("f.json: pools.a: unknown key \"stratgy\"") }, "\(p)")
        XCTAssertTrue(p.contains { $0.hasPrefix("f.json: pools.a.health: unknown key \"pth\"") }, "\(p)")
        XCTAssertTrue(p.contains { $0.hasPrefix("f.json: routes[0]: unknown key \"hots\"") }, "\(p)")
        XCTAssertTrue(p.contains { $0.hasPrefix("f.json: filters[0]: unknown key \"nam\"") }, "\(p)")
        XCTAssertTrue(p.contains { $0 == "f.json: filters[0]: \"name\" is required" }, "\(p)")
    }

    func testEveryProblemIsReportedOnceWithItsPlace() {
        let p = problems("""
        {"pools": {"api": {"strategy": "foo", "backends": ["ftp://x", {"address": "http://127.0.0.1:1", "weight": 0}, "http://127.0.0.1:2", "http://127.0.0.1:2/"],
                           "health": {"probe": "smtp", "rise": 0, "interval": -1, "path": "x"}, "slow_start": "1"},
                   "b c": {}},
         "routes": [{"pool": "api"}, {"pool": "x"}, {"host": "a.com:80", "path_prefix": "/a//b", "path": "x", "methods": [], "pool": "api"},
                    {"strip_prefix": true}, {"methods": ["G T"], "headers": {"X Y": "1"}},
                    {"request_headers": {"set": {"Content-Length": "1"}, "remove": ["Connection", "Transfer-Encoding", "Host"]},
                     "response_headers": {"set": {"X-A": "a\\r\\nb"}, "remove": ["Upgrade"]}},
                    {"name": "n"}, {"name": "n"}, {"filters": [{"name": "ip-filter", "config": {}}]}],
         "default_pool": "nope"}
        """)
        let expected = [
            "f.json: pools.api.backends[0]: invalid address \"ftp://x\"",
            "f.json: pools.api.backends[1].weight: must be an integer from 1 to 1000",
            "f.json: pools.api.health.probe: unknown probe \"smtp\"",
            "f.json: pools.api.health.rise: must be an integer from 1 to 100",
            "f.json: pools.api.health.interval: must be a number",
            "f.json: pools.api.health.path: \"x\" must start with /",
            "f.json: pools.api.slow_start: must be a number",
            "f.json: pools.api.strategy: unknown strategy \"foo\"",
            "f.json: pools.api.backends[3]: duplicate backend http://127.0.0.1:2",
            "f.json: pools.b c: invalid pool name \"b c\"",
            "f.json: default_pool: unknown pool \"nope\"",
            "f.json: routes[1]: unknown pool \"x\"",
            "f.json: routes[2]: host \"a.com:80\": must be a name without a port",
            "f.json: routes[2]: path_prefix \"/a//b\": is not in normal form (requests are matched normalised): write \"/a/b\"",
            "f.json: routes[2]: path \"x\": must start with /",
            "f.json: routes[2]: methods is empty",
            "f.json: routes[3]: strip_prefix needs a path_prefix",
            "f.json: routes[4]: invalid method \"G T\"",
            "f.json: routes[4]: invalid header name \"X Y\" in headers",
            "f.json: routes[5]: request_headers.set: header \"Content-Length\" cannot be set or removed (a framing header)",
            "f.json: routes[5]: request_headers.remove: header \"Connection\" cannot be set or removed (a hop-by-hop header)",
            "f.json: routes[5]: request_headers.remove: header \"Transfer-Encoding\" cannot be set or removed (a framing header)",
            "f.json: routes[5]: request_headers.remove: header \"Host\" cannot be set or removed (written by the proxy itself)",
            "f.json: routes[5]: response_headers.set: invalid value for header \"X-A\"",
            "f.json: routes[5]: response_headers.remove: header \"Upgrade\" cannot be set or removed (a hop-by-hop header)",
            "f.json: routes[7]: duplicate route name \"n\"",
            "f.json: routes[8].filters[0]: unknown filter \"ip-filter\"",
        ]
        for e in expected {
            XCTAssertEqual(p.filter { $0.hasPrefix(e) }.count, 1, "expected once: \(e)\nin:\n\(p.joined(separator: "\n"))")
        }
        // Routes without a pool go to default_pool: here unknown, reported for each route that relies on it.
        XCTAssertEqual(p.count, expected.count + 6, p.joined(separator: "\n"))
    }

    func testStrategyConfigIsCheckedByTheStrategy() {
        XCTAssertEqual(problems(#"{"pools":{"a":{"strategy":"RR","strategy_config":{"bad":1}}}}"#),
                       [#"f.json: pools.a.strategy_config: strategy round-robin refused its configuration {"bad":1}"#])
        XCTAssertEqual(problems(#"{"pools":{"a":{"strategy_config":[]}}}"#), ["f.json: pools.a.strategy_config: must be a JSON object"])
    }

    func testFilterHookIsPluggable() {
        let context = ValidationContext(canonicalStrategy: { _ in "round-robin" }, probeExists: { _ in true },
                                        filterRefusal: { f in f.name == "ip-filter" && f.config?["allow"] == nil ? "ip-filter: allow must be a list" : nil })
        let text = #"{"filters":[{"name":"ip-filter","config":{"allow":[]}}],"routes":[{"filters":[{"name":"ip-filter","config":{}}]}]}"#
        guard case .invalid(let p) = load(text, context: context) else { return XCTFail("should be invalid") }
        XCTAssertEqual(p, ["f.json: routes[0].filters[0]: ip-filter: allow must be a list"])
    }

    func testAChainHoldsAtMost32FiltersWithTheTopLevelOnes() {
        let context = ValidationContext(canonicalStrategy: { _ in "round-robin" }, probeExists: { _ in true }, filterRefusal: { _ in nil })
        func entries(_ n: Int) -> String { Array(repeating: #"{"name":"f"}"#, count: n).joined(separator: ",") }
        guard case .valid = load(#"{"filters":[\#(entries(30))],"routes":[{"filters":[\#(entries(2))]}]}"#, context: context) else {
            return XCTFail("32 is allowed")
        }
        guard case .invalid(let p) = load(#"{"filters":[\#(entries(30))],"routes":[{},{"filters":[\#(entries(3))]}]}"#, context: context) else {
            return XCTFail("33 is not")
        }
        XCTAssertEqual(p, ["f.json: routes[1].filters: 33 filters with the top-level ones: a chain holds at most 32"])
    }

    func testRenderParsesBackEqual() throws {
        let c = try XCTUnwrap(valid(Self.example))
        let again = try XCTUnwrap(valid(c.json.serialized))
        XCTAssertEqual(again, c)
    }
}
