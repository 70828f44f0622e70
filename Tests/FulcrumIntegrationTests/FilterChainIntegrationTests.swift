import Foundation
import XCTest

/// CONTRACT §11 black-box: filter chains on the request path of the real
/// binary, with a C filter compiled by the test (`t-filter`) and a real backend.
final class FilterChainIntegrationTests: XCTestCase {
    var servers: [BackendServer] = []
    var fulcrum: FulcrumServer?

    override func tearDown() {
        fulcrum?.stop()
        for s in servers { s.kill() }
    }

    func start(_ config: (BackendServer) -> String, workers: Int = 2, extra: [String] = []) throws -> (FulcrumServer, ConfigFileFixture) {
        let b = try BackendServer(name: "b")
        servers.append(b)
        let file = try ConfigFileFixture(config(b))
        let f = try FulcrumServer(["-config", file.path, "-plugins", try TestFilterPlugin.directory(), "-workers", "\(workers)"] + extra)
        fulcrum = f
        return (f, file)
    }

    static func tagged(_ tag: String, _ extra: String = "") -> String {
        #"{"name": "t-filter", "config": {"tag": "\#(tag)"\#(extra)}}"#
    }

    func testTopLevelFiltersRunBeforeTheRoutesOwnInOrderAndResponseHooksInReverse() throws {
        let (f, _) = try start { b in
            """
            {"pools": {"p": {"backends": ["\(b.url)"]}}, "default_pool": "p",
             "filters": [\(Self.tagged("A")), \(Self.tagged("B"))],
             "routes": [{"path_prefix": "/headers", "pool": "p", "filters": [\(Self.tagged("C")), \(Self.tagged("D"))]},
                        {"path_prefix": "/plain", "pool": "p"}]}
            """
        }
        let r = try f.get("/headers")
        XCTAssertEqual(r.status, 200)
        XCTAssertEqual(r.header("X-Backend"), "b")
        // The backend received the head the chain edited, in chain order.
        XCTAssertTrue(r.text.contains("X-Chain: ABCD\r\n"), r.text)
        XCTAssertEqual(r.headers("X-Chain"), [], "a request header is not a response header")
        XCTAssertEqual(r.header("X-Resp-Order"), "DCBA")
        // A route without its own filters still gets the top-level ones.
        let plain = try f.get("/plain")
        XCTAssertEqual(plain.header("X-Resp-Order"), "BA")
        // So does an unmatched request that default_pool catches.
        let unmatched = try f.get("/elsewhere")
        XCTAssertEqual(unmatched.status, 200)
        XCTAssertEqual(unmatched.header("X-Resp-Order"), "BA")
    }

    func testARespondingFilterStopsTheChainButEarlierResponseHooksRun() throws {
        let (f, _) = try start { b in
            """
            {"pools": {"p": {"backends": ["\(b.url)"]}},
             "routes": [{"pool": "p", "filters": [\(Self.tagged("A")), \(Self.tagged("R", #", "respond": 1"#)), \(Self.tagged("Z"))]}]}
            """
        }
        for _ in 0..<3 {
            let r = try f.get("/headers")
            XCTAssertEqual(r.status, 418)
            XCTAssertNil(r.header("X-Backend"), "no backend saw the request")
            XCTAssertEqual(r.text, "teapot")
            XCTAssertEqual(r.header("X-Answered-By"), "R")
            // Z never ran; R's and A's response hooks did, R first.
            XCTAssertEqual(r.header("X-Resp-Order"), "RA")
            // The filter's Content-Length was dropped: the proxy frames the answer.
            XCTAssertEqual(r.headers("Content-Length"), ["6"])
        }
        // Keep-alive holds across local answers (a bodyless GET).
        let c = try TestHTTPConnection(port: f.port)
        XCTAssertEqual(try c.request("GET", "/").status, 418)
        XCTAssertEqual(try c.request("GET", "/").status, 418)
    }

    func testAFilterCannotSetFramingOrHopByHopHeaders() throws {
        let (f, _) = try start { b in
            """
            {"pools": {"p": {"backends": ["\(b.url)"]}},
             "routes": [{"pool": "p", "filters": [\(Self.tagged("F", #", "framing": 1"#))]}]}
            """
        }
        let body = Array("hello".utf8)
        let r = try TestHTTPConnection(port: f.port).request("POST", "/headers", body: body, closing: true)
        XCTAssertEqual(r.status, 200)
        // Every call failed with FULCRUM_FILTER_ERR_REFUSED (-1)...
        XCTAssertTrue(r.text.contains("X-Codes: -1,-1,-1,-1\r\n"), r.text)
        // ...and the request reached the backend with its own framing, unchanged.
        XCTAssertTrue(r.text.contains("Content-Length: 5\r\n"), r.text)
        XCTAssertFalse(r.text.lowercased().contains("transfer-encoding"), r.text)
        XCTAssertFalse(r.text.contains("Content-Length: 0"), r.text)
        XCTAssertFalse(r.text.lowercased().contains("connection: close"), r.text)
        let echo = try TestHTTPConnection(port: f.port).request("POST", "/echo", body: body, closing: true)
        XCTAssertEqual(echo.text, "hello")
    }

    func testCompletionHooksLearnStatusAndBytesAndProxyAnswersCarryResponseHeaders() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("fulcrum-filter-log-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let log = dir.appendingPathComponent("access.log").path
        let (f, _) = try start({ b in
            """
            {"pools": {"p": {"backends": ["\(b.url)"]}, "empty": {}},
             "routes": [{"path_prefix": "/none/", "pool": "empty", "filters": [\(Self.tagged("E"))]},
                        {"pool": "p", "filters": [\(Self.tagged("A"))]}]}
            """
        }, extra: ["-access-log", log])
        let r = try TestHTTPConnection(port: f.port).request("POST", "/bytes/1000", body: Array("12345".utf8), closing: true)
        XCTAssertEqual(r.status, 200)
        XCTAssertEqual(r.body.count, 1000)
        // The proxy's own 503 (no backend in the pool) still runs the response hooks.
        let none = try f.get("/none/x")
        XCTAssertEqual(none.status, 503)
        XCTAssertEqual(none.header("X-Resp-Order"), "E")
        XCTAssertEqual(none.json?["message"] as? String, "no available server")
        var text = ""
        eventually(5, "completion annotations in the access log") {
            text = (try? String(contentsOfFile: log, encoding: .utf8)) ?? ""
            return text.contains("t-done=200/") && text.contains("t-done=503/")
        }
        // Status, the request's head plus its 5 body bytes, the response's head plus 1000 bytes.
        let line = try XCTUnwrap(text.split(separator: "\n").first { $0.contains("t-done=200/") })
        let numbers = try XCTUnwrap(line.split(separator: "=").last).split(separator: "/").compactMap { Int($0) }
        XCTAssertEqual(numbers.count, 3, String(line))
        XCTAssertGreaterThan(numbers[1], 5 + 30, String(line))
        XCTAssertLessThan(numbers[1], 400, String(line))
        XCTAssertGreaterThan(numbers[2], 1000 + 30, String(line))
        XCTAssertLessThan(numbers[2], 1400, String(line))
    }

    func testFiltersSeeRouteAndPoolAndMayChooseAnotherPool() throws {
        let other = try BackendServer(name: "other")
        servers.append(other)
        let (f, _) = try start { b in
            """
            {"pools": {"p": {"backends": ["\(b.url)"]}, "q": {"backends": ["\(other.url)"]}},
             "routes": [{"name": "api", "path_prefix": "/headers", "pool": "p", "request_headers": {"set": {"X-Chain": "route", "X-Route": "api"}},
                         "filters": [\(Self.tagged("W", #", "where": 1"#))]},
                        {"path_prefix": "/switch/", "strip_prefix": true, "pool": "p",
                         "filters": [\(Self.tagged("S", #", "choose": "q""#)), \(Self.tagged("V", #", "where": 1"#))]},
                        {"path_prefix": "/nowhere/", "pool": "p", "filters": [\(Self.tagged("X", #", "choose": "zz""#))]}]}
            """
        }
        let r = try f.get("/headers?x=1")
        XCTAssertEqual(r.header("X-Backend"), "b")
        XCTAssertTrue(r.text.contains("X-Seen: GET /headers?x=1 api p 4\r\n"), r.text)
        // The route's set of X-Chain gives way to the filter's (which runs later); its other sets stay.
        XCTAssertTrue(r.text.contains("X-Chain: W\r\n") && !r.text.contains("X-Chain: route"), r.text)
        XCTAssertTrue(r.text.contains("X-Route: api\r\n"), r.text)
        // X-Forwarded-For is the proxy's: one line, the real client.
        XCTAssertEqual(r.text.components(separatedBy: "X-Forwarded-For").count, 2, r.text)
        XCTAssertTrue(r.text.contains("X-Forwarded-For: 127.0.0.1\r\n"), r.text)
        // A pool choice: the pick happens in q, and later filters see q.
        let s = try f.get("/switch/headers")
        XCTAssertEqual(s.header("X-Backend"), "other")
        XCTAssertTrue(s.text.contains("X-Seen: GET /switch/headers routes[1] q 4\r\n"), s.text)
        // A pool that does not exist: 500, nothing forwarded, the response hooks still run.
        let bad = try f.get("/nowhere/x")
        XCTAssertEqual(bad.status, 500)
        XCTAssertNil(bad.header("X-Backend"))
        XCTAssertEqual(bad.header("X-Resp-Order"), "X")
    }
}
