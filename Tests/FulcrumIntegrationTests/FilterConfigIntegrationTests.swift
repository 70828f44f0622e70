import Foundation
import FulcrumTestSupport
import XCTest

/// CONTRACT §11 with §10's rules: a filter that refuses its configuration
/// makes the file invalid (-check-config exit 2, a start that exits 2, a
/// reload answering 422), the message naming the place and the filter;
/// reloads swap chains; `GET /plugins` lists filters and `POST /plugins`
/// loads one for the next reload.
final class FilterConfigIntegrationTests: XCTestCase {
    var servers: [BackendServer] = []
    var fulcrum: FulcrumServer?

    override func tearDown() {
        fulcrum?.stop()
        for s in servers { s.kill() }
    }

    func testCheckConfigNamesTheRefusingFilterAndItsReason() throws {
        let bad = try ConfigFileFixture("""
        {"filters": [{"name": "request-id"}, {"name": "rate-limit", "config": {"rate": -1}}],
         "routes": [{"path_prefix": "/a/", "filters": [{"name": "ip-filter", "config": {"allow": ["10.0.0.0/33"]}}]},
                    {"name": "named", "filters": [{"name": "no-such-filter"}]}]}
        """)
        let r = try runFulcrum(["-check-config", "-config", bad.path])
        XCTAssertEqual(r.status, 2, r.stderr)
        let lines = r.stderr.split(separator: "\n").map(String.init)
        XCTAssertEqual(lines.count, 3, r.stderr)
        XCTAssertTrue(lines.contains { $0.hasPrefix("\(bad.path): filters[1]: filter \"rate-limit\": rate must be") }, r.stderr)
        XCTAssertTrue(lines.contains { $0.hasPrefix("\(bad.path): routes[0].filters[0]: filter \"ip-filter\": allow: \"10.0.0.0/33\"") }, r.stderr)
        XCTAssertTrue(lines.contains { $0.hasPrefix("\(bad.path): routes[1].filters[0]: filter \"no-such-filter\": unknown filter") }, r.stderr)
        // A start with that file exits 2 before serving.
        let start = try runFulcrum(["-config", bad.path, "-listen", "127.0.0.1:0", "-admin", "127.0.0.1:0"])
        XCTAssertEqual(start.status, 2)
        XCTAssertFalse(start.stderr.contains("proxy listening"), start.stderr)

        let good = try ConfigFileFixture(#"{"filters": [{"name": "request-id"}], "routes": [{"filters": [{"name": "ip-filter", "config": {"deny": ["10.0.0.0/8"]}}]}]}"#)
        let ok = try runFulcrum(["-check-config", "-config", good.path])
        XCTAssertEqual(ok.status, 0, ok.stderr)
        XCTAssertTrue(ok.stdout.contains("2 filter entries (1 top-level)"), ok.stdout)
    }

    func testAReloadWithARefusedFilterAnswers422AndChangesNothing() throws {
        let b = try BackendServer(name: "b")
        servers.append(b)
        let file = try ConfigFileFixture("""
        {"pools": {"p": {"backends": ["\(b.url)"]}}, "routes": [{"pool": "p", "filters": [{"name": "request-id"}]}]}
        """)
        let f = try FulcrumServer(["-config", file.path, "-plugins", try TestFilterPlugin.directory()])
        fulcrum = f
        XCTAssertNotNil(try f.get("/").header("X-Request-Id"))
        try file.write("""
        {"pools": {"p": {"backends": ["\(b.url)"]}},
         "routes": [{"pool": "p", "filters": [{"name": "t-filter", "config": {"refuse": 1}}]}]}
        """)
        let r = try f.admin("POST", "/config/reload")
        XCTAssertEqual(r.status, 422, r.text)
        let errors = ((r.json?["data"] as? [String: Any])?["errors"] as? [String]) ?? []
        XCTAssertEqual(errors, ["\(file.path): routes[0].filters[0]: filter \"t-filter\": told to refuse"], r.text)
        XCTAssertNotNil(try f.get("/").header("X-Request-Id"), "the previous chain stays in force")
        // A valid file swaps the chain in.
        try file.write("""
        {"pools": {"p": {"backends": ["\(b.url)"]}},
         "routes": [{"pool": "p", "filters": [{"name": "t-filter", "config": {"tag": "N"}}]}]}
        """)
        XCTAssertEqual(try f.admin("POST", "/config/reload").status, 200)
        let after = try f.get("/")
        XCTAssertNil(after.header("X-Request-Id"))
        XCTAssertEqual(after.header("X-Resp-Order"), "N")
    }

    func testPostPluginsLoadsAFilterForTheNextReloadAndGetPluginsListsIt() throws {
        let b = try BackendServer(name: "b")
        servers.append(b)
        let file = try ConfigFileFixture(#"{"pools": {"p": {"backends": ["\#(b.url)"]}}, "routes": [{"pool": "p"}]}"#)
        let f = try FulcrumServer(["-config", file.path])
        fulcrum = f
        let listed = (try f.data("GET", "/plugins")["plugins"] as? [[String: Any]]) ?? []
        let builtIn = Set(listed.flatMap { ($0["filters"] as? [String]) ?? [] })
        XCTAssertTrue(builtIn.isSuperset(of: ["ip-filter", "rate-limit", "request-id"]), "\(listed)")
        // Not loaded yet: a file naming it is refused.
        try file.write(#"{"pools": {"p": {"backends": ["\#(b.url)"]}}, "routes": [{"pool": "p", "filters": [{"name": "t-filter", "config": {"tag": "L"}}]}]}"#)
        XCTAssertEqual(try f.admin("POST", "/config/reload").status, 422)
        // Loaded through the admin API, then usable by the next reload.
        let dir = try temporaryDirectory("filter-post")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let so = try compileCPlugin(cTestFilterSource, named: "t-filter", in: dir)
        let loaded = try f.admin("POST", "/plugins", json: #"{"path":"\#(so)"}"#)
        XCTAssertEqual(loaded.status, 200, loaded.text)
        XCTAssertEqual((loaded.json?["data"] as? [String: Any])?["filters"] as? [String], ["t-filter"])
        let again = (try f.data("GET", "/plugins")["plugins"] as? [[String: Any]]) ?? []
        XCTAssertTrue(again.contains { $0["file"] as? String == so && ($0["filters"] as? [String]) == ["t-filter"] }, "\(again)")
        XCTAssertEqual(try f.admin("POST", "/config/reload").status, 200)
        XCTAssertEqual(try f.get("/").header("X-Resp-Order"), "L")
    }
}
