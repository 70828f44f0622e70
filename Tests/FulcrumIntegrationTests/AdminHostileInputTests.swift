import Foundation
import XCTest

/// Issue 8 (2, 3): inputs that used to kill the process.
final class AdminHostileInputTests: XCTestCase {
    /// Empty query pairs, before and after authentication.
    func testEmptyQueryPairsDoNotCrash() throws {
        for token in [nil, "tok"] as [String?] {
            let f = try FulcrumServer(["-t", "60"], token: token)
            defer { f.stop() }
            for (method, target) in [("GET", "/?="), ("GET", "/backends?=&="), ("DELETE", "/backends?="), ("GET", "/?&&=&a&=b&c="),
                                     ("GET", "/?token="), ("GET", "/?%=%zz"), ("DELETE", "/backends?address=%"), ("GET", "/%")] {
                let none = try TestHTTPConnection(port: f.adminPort, timeout: 5).request(method, target, headers: [("Host", "127.0.0.1")], closing: true)
                XCTAssertTrue([200, 400, 401, 404].contains(none.status), "\(method) \(target): \(none.status)")
                if token != nil { XCTAssertEqual(none.status, 401, "\(method) \(target) without the token") }
                let authed = try f.admin(method, target, headers: [("Host", "127.0.0.1")])
                XCTAssertNotEqual(authed.status, 401, "\(method) \(target) with the token")
            }
            XCTAssertTrue(f.child.isRunning, "fulcrum still running")
            XCTAssertEqual(try f.admin("GET", "/healthz").status, 200)
        }
    }

    /// `<img src="http://127.0.0.1:8090/?=">` from any web page.
    func testImageTagFromAWebPage() throws {
        let f = try FulcrumServer(["-t", "60"])
        defer { f.stop() }
        let r = try TestHTTPConnection(port: f.adminPort, timeout: 5).request(
            "GET", "/?=", headers: [("Host", "127.0.0.1:\(f.adminPort)"), ("Referer", "https://evil.example/"),
                                    ("Sec-Fetch-Site", "cross-site"), ("Sec-Fetch-Mode", "no-cors"), ("Sec-Fetch-Dest", "image")], closing: true)
        XCTAssertEqual(r.status, 200)
        XCTAssertTrue(f.child.isRunning)
    }

    /// Numbers beyond Int64 in a strategy configuration are re-serialised, not trapped on.
    func testLargeNumbersInConfigAndWeights() throws {
        let backend = try BackendServer(name: "num")
        defer { backend.kill() }
        let f = try FulcrumServer(["-t", "60"])
        defer { f.stop() }
        for config in [#"{"a":99999999999999999999}"#, #"{"a":-99999999999999999999}"#, #"{"a":9223372036854775807}"#,
                       #"{"a":9223372036854775808}"#, #"{"a":1e308}"#, #"{"a":[1e300,-0,0.1,5e-324]}"#] {
            let r = try f.admin("PUT", "/strategy", json: #"{"name":"RR","config":\#(config)}"#)
            XCTAssertEqual(r.status, 200, "\(config): \(r.text)")
        }
        XCTAssertEqual(try f.admin("PUT", "/strategy", json: #"{"name":"RR","config":{"a":1e400}}"#).status, 400, "out of range")
        for weight in ["1e30", "4294967297", "1.5", "-1", "9007199254740993", "18446744073709551617", "1e2", "1000.0", "99999999999999999999"] {
            let r = try f.admin("POST", "/register", json: #"{"address":"\#(backend.url)","weight":\#(weight)}"#)
            XCTAssertEqual(r.status, 400, "weight \(weight): \(r.text)")
        }
        XCTAssertEqual(try f.admin("POST", "/register", json: #"{"address":"\#(backend.url)","weight":1000}"#).status, 200)
        XCTAssertTrue(f.child.isRunning)
    }
}
