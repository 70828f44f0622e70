import Foundation
import XCTest

/// CONTRACT §11 black-box: the built-in filters (ip-filter, rate-limit,
/// request-id) configured in a file, on the real binary.
final class FilterBuiltinsIntegrationTests: XCTestCase {
    var servers: [BackendServer] = []
    var fulcrum: FulcrumServer?

    override func tearDown() {
        fulcrum?.stop()
        for s in servers { s.kill() }
    }

    func start(_ config: (BackendServer) -> String, extra: [String] = []) throws -> FulcrumServer {
        let b = try BackendServer(name: "b")
        servers.append(b)
        let file = try ConfigFileFixture(config(b))
        let f = try FulcrumServer(["-config", file.path] + extra)
        fulcrum = f
        return f
    }

    func testIPFilterAllowsListedClientsAndRefusesOthersWith403() throws {
        let f = try start { b in
            """
            {"pools": {"p": {"backends": ["\(b.url)"]}},
             "routes": [{"path_prefix": "/open/", "pool": "p", "filters": [{"name": "ip-filter", "config": {"allow": ["127.0.0.0/8"]}}]},
                        {"path_prefix": "/closed/", "pool": "p", "filters": [{"name": "ip-filter", "config": {"allow": []}}]},
                        {"path_prefix": "/denied/", "pool": "p",
                         "filters": [{"name": "ip-filter", "config": {"allow": ["0.0.0.0/0"], "deny": ["127.0.0.1/32"]}}]}]}
            """
        }
        let open = try f.get("/open/x")
        XCTAssertEqual(open.status, 200)
        XCTAssertEqual(open.header("X-Backend"), "b")
        for path in ["/closed/x", "/denied/x"] {
            let r = try f.get(path)
            XCTAssertEqual(r.status, 403, path)
            XCTAssertNil(r.header("X-Backend"), "no backend saw \(path)")
            XCTAssertEqual(r.json?["message"] as? String, "forbidden", r.text)
        }
    }

    func testRequestIDIsAddedEchoedKeptAndLogged() throws {
        let dir = try temporaryDirectoryURL()
        defer { try? FileManager.default.removeItem(at: dir) }
        let log = dir.appendingPathComponent("access.log").path
        let f = try start({ b in
            """
            {"pools": {"p": {"backends": ["\(b.url)"]}},
             "filters": [{"name": "request-id"}],
             "routes": [{"path_prefix": "/gone/", "pool": "p", "filters": [{"name": "ip-filter", "config": {"allow": []}}]},
                        {"pool": "p"}]}
            """
        }, extra: ["-access-log", log])
        // Without an id: a fresh UUID, the same on the backend and on the response.
        let r = try f.get("/headers")
        XCTAssertEqual(r.status, 200)
        let id = try XCTUnwrap(r.header("X-Request-Id"))
        XCTAssertNotNil(id.range(of: "^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$", options: .regularExpression), id)
        XCTAssertTrue(r.text.contains("X-Request-Id: \(id)\r\n"), r.text)
        XCTAssertNotEqual(try f.get("/").header("X-Request-Id"), id, "a fresh id per request")
        // With one: kept, and not duplicated.
        let mine = try f.get("/headers", headers: [("X-Request-Id", "client-chosen-42")])
        XCTAssertEqual(mine.headers("X-Request-Id"), ["client-chosen-42"])
        XCTAssertEqual(mine.text.components(separatedBy: "X-Request-Id:").count, 2, mine.text)
        XCTAssertTrue(mine.text.contains("X-Request-Id: client-chosen-42\r\n"), mine.text)
        // On a later filter's refusal too.
        let refused = try f.get("/gone/x", headers: [("X-Request-Id", "refused-7")])
        XCTAssertEqual(refused.status, 403)
        XCTAssertEqual(refused.header("X-Request-Id"), "refused-7")
        // And in the access log.
        var text = ""
        eventually(5, "ids in the access log") {
            text = (try? String(contentsOfFile: log, encoding: .utf8)) ?? ""
            return text.contains("request_id=\(id)") && text.contains("request_id=client-chosen-42") && text.contains("request_id=refused-7")
        }
        XCTAssertTrue(text.contains(" /headers 200 ") && text.contains("request_id=\(id)\n"), text)
        XCTAssertTrue(text.contains(" /gone/x 403 - "), text)
    }

    func testRateLimitAnswers429WithRetryAfter() throws {
        let f = try start { b in
            """
            {"pools": {"p": {"backends": ["\(b.url)"]}},
             "routes": [{"pool": "p", "filters": [{"name": "rate-limit", "config": {"rate": 0.01, "burst": 3}}]}]}
            """
        }
        let statuses = try (0..<6).map { _ in try f.get("/") }
        XCTAssertEqual(statuses.map(\.status), [200, 200, 200, 429, 429, 429])
        let limited = statuses[3]
        let retry = try XCTUnwrap(limited.header("Retry-After").flatMap(Int.init), "Retry-After in whole seconds")
        XCTAssertGreaterThanOrEqual(retry, 1)
        XCTAssertLessThanOrEqual(retry, 100)
        XCTAssertNil(limited.header("X-Backend"))
    }

    /// Each configured entry is its own instance set: a top-level entry is one
    /// limit over every route; two routes' own entries are two limits.
    func testEachConfiguredEntryHasItsOwnBuckets() throws {
        let f = try start { b in
            """
            {"pools": {"p": {"backends": ["\(b.url)"]}},
             "filters": [{"name": "rate-limit", "config": {"rate": 0.01, "burst": 4}}],
             "routes": [{"path_prefix": "/a/", "pool": "p", "filters": [{"name": "rate-limit", "config": {"rate": 0.01, "burst": 1}}]},
                        {"path_prefix": "/b/", "pool": "p", "filters": [{"name": "rate-limit", "config": {"rate": 0.01, "burst": 1}}]},
                        {"path_prefix": "/c/", "pool": "p"}]}
            """
        }
        // /a/ and /b/ each pass once (their own bucket of 1) and use the shared top-level bucket.
        XCTAssertEqual(try f.get("/a/").status, 200)
        XCTAssertEqual(try f.get("/a/").status, 429)
        XCTAssertEqual(try f.get("/b/").status, 200)
        XCTAssertEqual(try f.get("/b/").status, 429)
        // The top-level bucket (4) has given 4 tokens: /a/ twice and /b/ twice took one each.
        XCTAssertEqual(try f.get("/c/").status, 429)
    }

    /// The limit is one bucket per key for the whole process, whichever
    /// worker takes the connection.
    func testRateLimitHoldsAcrossWorkers() throws {
        for workers in [2, 4] {
            let burst = 5
            let f = try start({ b in
                """
                {"pools": {"p": {"backends": ["\(b.url)"]}},
                 "routes": [{"pool": "p", "filters": [{"name": "rate-limit", "config": {"rate": 0.01, "burst": \(burst)}}]}]}
                """
            }, extra: ["-workers", "\(workers)"])
            // Fresh connections spread over the workers; 60 of them against a burst of 5.
            let statuses = try (0..<60).map { _ in try f.get("/").status }
            let passed = statuses.filter { $0 == 200 }.count
            XCTAssertEqual(statuses.filter { $0 != 200 && $0 != 429 }, [], "\(workers) workers")
            // One token may refill during the run (0.01/s): tolerance of one.
            XCTAssertTrue((burst...(burst + 1)).contains(passed), "\(workers) workers: \(passed) passed, burst \(burst)")
            f.stop()
            for s in servers { s.kill() }
            servers.removeAll()
        }
    }

    func temporaryDirectoryURL() throws -> URL {
        let d = FileManager.default.temporaryDirectory.appendingPathComponent("fulcrum-filters-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: d, withIntermediateDirectories: true)
        return d
    }
}
