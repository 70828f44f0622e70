import Foundation
import XCTest

/// Issue 8 (4), CONTRACT §3: cross-site requests and DNS rebinding.
final class AdminBrowserSafetyTests: XCTestCase {
    func send(_ f: FulcrumServer, _ method: String, _ path: String, json: String? = nil, _ headers: [(String, String)]) throws -> TestResponse {
        var h = headers
        if let token = f.token { h.append(("Authorization", "Bearer \(token)")) }
        if json != nil { h.append(("Content-Type", "application/json")) }
        return try TestHTTPConnection(port: f.adminPort, timeout: 5).request(method, path, headers: h, body: json.map { Array($0.utf8) }, closing: true)
    }

    func strategy(_ f: FulcrumServer) throws -> String? {
        (try f.admin("GET", "/strategy", headers: [("Host", "127.0.0.1")]).json?["data"] as? [String: Any])?["strategy"] as? String
    }

    func testCrossSiteStateChangesAre403() throws {
        for token in [nil, "tok"] as [String?] {
            let f = try FulcrumServer(["-t", "60"], token: token)
            defer { f.stop() }
            let own = "127.0.0.1:\(f.adminPort)"
            let refused: [[(String, String)]] = [
                [("Host", own), ("Origin", "http://evil.example")],
                [("Host", own), ("Origin", "null")],
                [("Host", own), ("Origin", "http://127.0.0.1:1")],
                [("Host", own), ("Origin", "https://\(own)")],
                [("Host", own), ("Sec-Fetch-Site", "cross-site")],
                [("Host", own), ("Sec-Fetch-Site", "same-site")],
                [("Host", own), ("Origin", "http://\(own)"), ("Sec-Fetch-Site", "cross-site")],
            ]
            for headers in refused {
                for (method, path, json) in [("PUT", "/strategy", #"{"name":"LC"}"#), ("POST", "/register", #"{"address":"http://127.0.0.1:1"}"#),
                                             ("DELETE", "/backends?address=http%3A%2F%2F127.0.0.1%3A1", nil), ("POST", "/plugins", #"{"path":"/x.so"}"#)] {
                    let r = try send(f, method, path, json: json, headers)
                    XCTAssertEqual(r.status, 403, "\(method) \(path) \(headers) token \(token ?? "-")")
                    XCTAssertEqual(r.json?["status"] as? String, "fail")
                }
            }
            XCTAssertEqual(try strategy(f), "round-robin", "nothing changed")
            // Reads stay open cross-site (the browser keeps the answer from the page).
            XCTAssertEqual(try send(f, "GET", "/healthz", [("Host", own), ("Sec-Fetch-Site", "cross-site")]).status, 200)
            // Same-origin calls, as the status page makes them, and curl without Origin.
            let allowed: [[(String, String)]] = [
                [("Host", own)],
                [("Host", own), ("Origin", "http://\(own)"), ("Sec-Fetch-Site", "same-origin")],
                [("Host", "localhost:\(f.adminPort)"), ("Origin", "http://LocalHost:\(f.adminPort)")],
                [("Host", own), ("Sec-Fetch-Site", "none")],
            ]
            for headers in allowed {
                XCTAssertEqual(try send(f, "PUT", "/strategy", json: #"{"name":"LC"}"#, headers).status, 200, "\(headers)")
            }
            XCTAssertEqual(try strategy(f), "least-connections")
        }
    }

    /// The status page's buttons act same-origin, so no other site may frame it.
    func testNoFraming() throws {
        let f = try FulcrumServer(["-t", "60"])
        defer { f.stop() }
        let page = try f.admin("GET", "/")
        XCTAssertEqual(page.header("X-Frame-Options"), "DENY")
        XCTAssertEqual(page.header("Content-Security-Policy"), "frame-ancestors 'none'")
    }

    func testDNSRebindingHostIs403WithoutToken() throws {
        let f = try FulcrumServer(["-t", "60"])
        defer { f.stop() }
        let p = f.adminPort
        for host in ["evil.example", "evil.example:\(p)", "127.0.0.1.evil.example", "localhost.evil.example", "", "[::1", "local host"] {
            for (method, path) in [("GET", "/backends"), ("GET", "/"), ("PUT", "/strategy")] {
                let r = try send(f, method, path, json: method == "PUT" ? #"{"name":"LC"}"# : nil, [("Host", host)])
                XCTAssertTrue(r.status == 403 || (host.isEmpty || host.contains(" ") || host == "[::1") && r.status == 400,
                              "\(method) \(path) Host: \(host) → \(r.status)")
            }
        }
        for host in ["127.0.0.1", "127.0.0.1:\(p)", "localhost", "LOCALHOST:\(p)", "localhost.", "localhost.:\(p)", "[::1]:\(p)", "[::1]",
                     "10.0.0.7:\(p)", "[2001:db8::1]"] {
            XCTAssertEqual(try send(f, "GET", "/backends", [("Host", host)]).status, 200, "Host: \(host)")
        }
        XCTAssertEqual(try strategy(f), "round-robin")
        // curl -d '{…}' sends Host: 127.0.0.1:port and no Origin.
        XCTAssertEqual(try send(f, "PUT", "/strategy", json: #"{"name":"LC"}"#, [("Host", "127.0.0.1:\(p)"), ("User-Agent", "curl/8")]).status, 200)
    }

    /// The -admin host is accepted by name; with a token, any Host is (a rebinding page cannot know the token).
    func testAdminHostAndTokenRelaxTheHostRule() throws {
        let f = try FulcrumServer(["-t", "60", "-admin", "localhost:0"])
        defer { f.stop() }
        XCTAssertEqual(try send(f, "GET", "/backends", [("Host", "Localhost:\(f.adminPort)")]).status, 200)
        let t = try FulcrumServer(["-t", "60"], token: "tok")
        defer { t.stop() }
        XCTAssertEqual(try send(t, "GET", "/backends", [("Host", "fulcrum.internal.example:8090")]).status, 200)
        XCTAssertEqual(try send(t, "PUT", "/strategy", json: #"{"name":"LC"}"#, [("Host", "fulcrum.internal.example:8090"),
                                                                                  ("Origin", "http://fulcrum.internal.example:8090")]).status, 200)
    }
}
