import FulcrumEventLoop
import FulcrumHTTP
@testable import FulcrumProxy
import FulcrumRouting
import XCTest

/// A route's strip_prefix and header rules as HeadRewriter applies them.
final class RouteRewriteTests: XCTestCase {
    func route(_ json: String) throws -> (RouteTable, Route) {
        let context = ValidationContext(canonicalStrategy: { $0 }, probeExists: { _ in true })
        guard case .valid(let c) = ConfigFile.load(json, path: "t", context: context) else { throw XCTSkip("invalid test config") }
        let t = RouteTable(c.routes, pools: c.effectivePools.map(\.name), defaultPool: c.defaultPoolName)
        return (t, t.routes[0])
    }

    func rewrite(_ request: String, target: String?, rules: CompiledHeaderRules?) -> String {
        let pool = BufferPool(bufferSize: 8192, maxFree: 1)
        var out = pool.take()
        defer { pool.give(out) }
        let parsed = ParsedHead()
        var facts = RequestFacts()
        return Array(request.utf8).withUnsafeBytes { head in
            XCTAssertNil(HeadParser.parseRequest(head, into: parsed))
            let ok: Bool = Array((target ?? "").utf8).withUnsafeBytes { t in
                HeadRewriter.writeRequest(parsed, head: head, clientIP: "10.0.0.1", target: target == nil ? nil : t, rules: rules,
                                          into: &out, facts: &facts)
            }
            XCTAssertTrue(ok)
            let text = String(decoding: out.readable, as: UTF8.self)
            // The pick sees the forwarded target.
            let bytes = Array(out.readable)
            XCTAssertEqual(String(decoding: bytes[facts.targetRange], as: UTF8.self), target ?? "/v1/users?q=1")
            return text
        }
    }

    func testStripPrefixAndRequestRules() throws {
        let (_, r) = try route(#"{"routes":[{"path_prefix":"/v1/","strip_prefix":true,"request_headers":{"set":{"X-Route":"v1"},"remove":["x-debug"]}}]}"#)
        let text = rewrite("GET /v1/users?q=1 HTTP/1.1\r\nHost: a\r\nX-Debug: 1\r\nX-Route: client\r\nX-Keep: k\r\n\r\n",
                           target: "/users?q=1", rules: r.requestHeaders)
        let lines = text.components(separatedBy: "\r\n")
        XCTAssertEqual(lines[0], "GET /users?q=1 HTTP/1.1")
        XCTAssertEqual(lines.filter { $0.lowercased().hasPrefix("x-route") }, ["X-Route: v1"])
        XCTAssertFalse(text.lowercased().contains("x-debug"))
        XCTAssertTrue(lines.contains("X-Keep: k"))
        XCTAssertTrue(lines.contains("Host: a"))
        XCTAssertTrue(text.hasSuffix("\r\n\r\n"))
    }

    func testNoRouteLeavesTheHeadAsBefore() {
        let text = rewrite("GET /v1/users?q=1 HTTP/1.1\r\nHost: a\r\nX-Debug: 1\r\n\r\n", target: nil, rules: nil)
        XCTAssertTrue(text.hasPrefix("GET /v1/users?q=1 HTTP/1.1\r\nHost: a\r\nX-Debug: 1\r\n"), text)
    }

    func testResponseRules() throws {
        let (_, r) = try route(#"{"routes":[{"response_headers":{"set":{"X-Served-By":"fulcrum"},"remove":["Server"]}}]}"#)
        let pool = BufferPool(bufferSize: 8192, maxFree: 1)
        var out = pool.take()
        defer { pool.give(out) }
        let parsed = ParsedHead()
        let text: String = Array("HTTP/1.1 200 OK\r\nServer: x\r\nContent-Length: 0\r\nX-Served-By: old\r\n\r\n".utf8).withUnsafeBytes { head in
            XCTAssertNil(HeadParser.parseResponse(head, into: parsed))
            XCTAssertTrue(HeadRewriter.writeResponse(parsed, head: head, .init(), rules: r.responseHeaders, into: &out))
            return String(decoding: out.readable, as: UTF8.self)
        }
        XCTAssertEqual(text, "HTTP/1.1 200 OK\r\nContent-Length: 0\r\nX-Served-By: fulcrum\r\n\r\n")
    }
}
