import Foundation
import XCTest

/// Issue 8 (1): admin requests arriving in any number of TCP segments.
final class AdminSegmentTests: XCTestCase {
    var fulcrum: FulcrumServer!

    override func setUpWithError() throws { fulcrum = try FulcrumServer(["-t", "60"]) }
    override func tearDown() { fulcrum?.stop() }

    /// What Python's http.client does: the head in one write, the body in the next.
    func testHeadThenBodyInTwoWritesFortyTimes() throws {
        let backend = try BackendServer(name: "seg")
        defer { backend.kill() }
        for i in 0..<40 {
            let c = try TestHTTPConnection(port: fulcrum.adminPort, timeout: 5)
            let body = i % 4 == 0 ? #"{"address":"\#(backend.url)","weight":\#(i + 1)}"# : #"{"name":"\#(i % 2 == 0 ? "LC" : "RR")"}"#
            let bytes = requestBytes(i % 4 == 0 ? "POST" : "PUT", i % 4 == 0 ? "/register" : "/strategy", body: body,
                                     headers: [("Connection", "close")])
            try c.send(bytes, cuttingAt: [bytes.count - body.utf8.count])
            XCTAssertEqual(try c.readResponse().status, 200, "request \(i)")
        }
    }

    /// One keep-alive connection; the same request cut in two at every offset.
    func testRequestCutAtEveryOffset() throws {
        let c = try TestHTTPConnection(port: fulcrum.adminPort, timeout: 5)
        let bytes = requestBytes("PUT", "/strategy", body: #"{"name":"LC"}"#)
        for cut in 1..<bytes.count {
            try c.send(bytes, cuttingAt: [cut], gapMicros: 1000)
            let r = try c.readResponse()
            XCTAssertEqual(r.status, 200, "cut at \(cut)")
            XCTAssertEqual((r.json?["data"] as? [String: Any])?["strategy"] as? String, "least-connections", "cut at \(cut)")
        }
    }

    func testOneBytePerWrite() throws {
        let c = try TestHTTPConnection(port: fulcrum.adminPort, timeout: 10)
        for (method, path, body) in [("PUT", "/strategy", #"{"name":"WRR"}"#), ("GET", "/strategy", nil), ("GET", "/healthz", nil)] {
            try c.sendByteByByte(requestBytes(method, path, body: body))
            XCTAssertEqual(try c.readResponse().status, 200, "\(method) \(path)")
        }
    }

    /// Several requests in one write, then a last one split: all answered, in order.
    func testPipelinedRequestsAnsweredInOrder() throws {
        let c = try TestHTTPConnection(port: fulcrum.adminPort, timeout: 5)
        let batch = requestBytes("PUT", "/strategy", body: #"{"name":"LC"}"#) + requestBytes("GET", "/nope")
            + requestBytes("PUT", "/strategy", body: #"{"name":"PTC"}"#) + requestBytes("GET", "/strategy")
        let tail = requestBytes("PUT", "/strategy", body: #"{"name":"SIH"}"#)
        try c.send(batch + tail, cuttingAt: [batch.count + 7, batch.count + tail.count - 3])
        let strategy = { (r: TestResponse) in (r.json?["data"] as? [String: Any])?["strategy"] as? String }
        let first = try c.readResponse(), second = try c.readResponse(), third = try c.readResponse()
        let fourth = try c.readResponse(), fifth = try c.readResponse()
        XCTAssertEqual(first.status, 200)
        XCTAssertEqual(strategy(first), "least-connections")
        XCTAssertEqual(second.status, 404)
        XCTAssertEqual(strategy(third), "power-of-two-choices")
        XCTAssertEqual(strategy(fourth), "power-of-two-choices")
        XCTAssertEqual(strategy(fifth), "source-ip-hash")
    }

    /// A client that half-closes after its request still gets the answer.
    func testHalfCloseAfterRequestIsAnswered() throws {
        let c = try TestHTTPConnection(port: fulcrum.adminPort, timeout: 5)
        try c.send(requestBytes("GET", "/healthz") + requestBytes("GET", "/strategy"))
        shutdown(c.fd, Int32(SHUT_WR))
        XCTAssertEqual(try c.readResponse().status, 200)
        XCTAssertEqual(try c.readResponse().status, 200)
        _ = try c.readToEnd()
        XCTAssertTrue(c.closedByPeer)
    }

    /// The report itself: Python's http.client (head and body in two writes), 40 sequential registrations.
    func testPythonHTTPClient() throws {
        guard FileManager.default.isExecutableFile(atPath: "/usr/bin/python3") else { throw XCTSkip("no python3") }
        let backend = try BackendServer(name: "py")
        defer { backend.kill() }
        let script = """
            import http.client, json
            ok = 0
            for i in range(40):
                c = http.client.HTTPConnection("127.0.0.1", \(fulcrum.adminPort), timeout=5)
                c.request("POST", "/register", body=json.dumps({"address": "\(backend.url)", "weight": i + 1}),
                          headers={"Content-Type": "application/json"})
                r = c.getresponse()
                r.read()
                ok += r.status == 200
                c.close()
            print("answered", ok)
            """
        let out = try runCommand("/usr/bin/python3", ["-c", script], timeout: 60)
        XCTAssertTrue(out.contains("answered 40"), out)
    }
}
