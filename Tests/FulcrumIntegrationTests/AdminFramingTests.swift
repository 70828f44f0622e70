import Foundation
import XCTest

/// Size limits and framing on the admin port; refusals are readable before the close.
final class AdminFramingTests: XCTestCase {
    var f: FulcrumServer!
    override func setUpWithError() throws { f = try FulcrumServer(["-t", "60"]) }
    override func tearDown() { f?.stop() }

    func testOversizedBodyIs413AndTheAnswerArrives() throws {
        let c = try TestHTTPConnection(port: f.adminPort, timeout: 5)
        try c.send("PUT /strategy HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: \(2 << 20)\r\n\r\n")
        try c.send([UInt8](repeating: 0x20, count: 256 * 1024))
        let r = try c.readResponse()
        XCTAssertEqual(r.status, 413)
        XCTAssertEqual(r.header("Connection"), "close")
        XCTAssertEqual(try f.admin("GET", "/healthz").status, 200)
    }

    func testHeadTooLargeIs431() throws {
        let c = try TestHTTPConnection(port: f.adminPort, timeout: 5)
        try c.send("GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n")
        for i in 0..<800 { try c.send("X-Filler-\(i): \(String(repeating: "x", count: 90))\r\n") }
        XCTAssertEqual(try c.readResponse().status, 431)
    }

    func testChunkedBodyIs411() throws {
        let r = try TestHTTPConnection(port: f.adminPort, timeout: 5)
            .request("PUT", "/strategy", headers: [("Content-Type", "application/json")], body: Array(#"{"name":"LC"}"#.utf8), chunked: true)
        XCTAssertEqual(r.status, 411)
    }

    /// curl sends `Expect: 100-continue` for bodies over 1 KiB and waits for the interim answer.
    func testExpectContinue() throws {
        let c = try TestHTTPConnection(port: f.adminPort, timeout: 5)
        let body = #"{"name":"LC"}"#
        try c.send("PUT /strategy HTTP/1.1\r\nHost: 127.0.0.1\r\nExpect: 100-continue\r\nContent-Length: \(body.utf8.count)\r\n\r\n")
        XCTAssertEqual(try c.readResponse().status, 100)
        try c.send(body)
        XCTAssertEqual(try c.readResponse().status, 200)
    }

    /// A refused head with a body the server will not read: the 401 still arrives.
    func testRefusalBeforeTheBodyIsReadable() throws {
        let t = try FulcrumServer(["-t", "60"], token: "tok")
        defer { t.stop() }
        let c = try TestHTTPConnection(port: t.adminPort, timeout: 5)
        try c.send("POST /register HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 100000\r\n\r\n" + String(repeating: "x", count: 60_000))
        let r = try c.readResponse()
        XCTAssertEqual(r.status, 401)
        XCTAssertEqual(r.header("WWW-Authenticate"), #"Bearer realm="fulcrum""#)
    }
}
