import Foundation
import XCTest

/// Issue 7's framing and smuggling defects, each reproduced from outside:
/// the real binary between a raw client and a scripted backend.
final class FramingDefectTests: XCTestCase {
    var backend: BackendServer!
    var fulcrum: FulcrumServer!

    override func setUpWithError() throws {
        backend = try BackendServer(name: "b1")
        fulcrum = try FulcrumServer(["-backend", backend.url])
    }

    override func tearDown() {
        fulcrum?.stop()
        backend?.kill()
    }

    /// Sends `raw`, expects `status` and a closed connection.
    func expectRefused(_ raw: String, _ status: Int = 400, port: UInt16? = nil, file: StaticString = #filePath, line: UInt = #line) throws {
        let c = try TestHTTPConnection(port: port ?? fulcrum.port, timeout: 5)
        try c.send(raw)
        let r = try c.readResponse()
        XCTAssertEqual(r.status, status, raw.debugDescription, file: file, line: line)
        _ = try? c.readToEnd()
        XCTAssertTrue(c.closedByPeer, "closed after \(raw.debugDescription)", file: file, line: line)
    }

    /// Defect 1 (request side): a Connection header naming a framing header or Host.
    func testConnectionNamingAFramingHeaderIs400() throws {
        let recorder = try ScriptedBackend.answeringOK()
        defer { recorder.stop() }
        let f = try recorder.proxy()
        defer { f.stop() }
        for named in ["Content-Length", "content-length", "Transfer-Encoding", "Host", "keep-alive, Content-Length"] {
            let body = "GET /smuggled HTTP/1.1\r\nHost: x\r\n\r\n"
            try expectRefused("POST / HTTP/1.1\r\nHost: x\r\nConnection: \(named)\r\nContent-Length: \(body.utf8.count)\r\n\r\n\(body)", port: f.port)
        }
        try expectRefused("POST / HTTP/1.1\r\nHost: x\r\nConnection: Transfer-Encoding\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", port: f.port)
        XCTAssertEqual(recorder.requests, [], "a refused request reached the backend")
    }

    /// Defect 1 (response side): a backend's `Connection: Content-Length` is 502, not an unframed response.
    func testResponseConnectionNamingContentLengthIs502() throws {
        let bad = try ScriptedBackend { c, _ in
            c.send("HTTP/1.1 200 OK\r\nConnection: Content-Length\r\nContent-Length: 5\r\n\r\nhello")
            c.close()
        }
        defer { bad.stop() }
        let f = try bad.proxy()
        defer { f.stop() }
        let c = try TestHTTPConnection(port: f.port, timeout: 5)
        XCTAssertEqual(try c.request("GET", "/").status, 502)
    }

    /// Defect 2: empty Transfer-Encoding members are not "no body".
    func testEmptyTransferEncodingMembersAre400() throws {
        for te in [";chunked", ",", ", chunked", "chunked,", "chunked, ", " ", "chunked;x=1", "\"chunked\""] {
            try expectRefused("POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: \(te)\r\n\r\nGET /smuggled HTTP/1.1\r\nHost: x\r\n\r\n")
        }
    }

    /// Defect 3: chunk lines outside RFC 9112 §7.1.1, and trailers that are not fields.
    func testChunkLinesOutsideTheGrammarAre400() throws {
        let bad = [
            "5 GET /x HTTP/1.1\r\nhello\r\n0\r\n\r\n",
            "5 \r\nhello\r\n0\r\n\r\n",
            "5\t\r\nhello\r\n0\r\n\r\n",
            "5;\r\nhello\r\n0\r\n\r\n",
            "5;=v\r\nhello\r\n0\r\n\r\n",
            "5;a=\"b\r\nhello\r\n0\r\n\r\n",
            "5;a=b c\r\nhello\r\n0\r\n\r\n",
            "5;a=\r\nhello\r\n0\r\n\r\n",
            "5;a@b\r\nhello\r\n0\r\n\r\n",
            "5\nhello\r\n0\r\n\r\n",
            "0\r\nnot a field\r\n\r\n",
            "0\r\n: empty name\r\n\r\n",
            "0\r\nX-A : b\r\n\r\n",
            "0\r\nX-A: b\r\n folded\r\n\r\n",
            "0\r\nX-A: b\u{1}\r\n\r\n",
        ]
        for body in bad {
            try expectRefused("POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n" + body)
        }
        // The grammar's own forms still pass.
        let good = ["5;a=b\r\nhello\r\n0\r\n\r\n", "5 ;a=\"q\\\"x\"\r\nhello\r\n0\r\n\r\n", "5;a;b=c\r\nhello\r\n0\r\nX-T: 1\r\n\r\n",
                    "5\t; a = b\r\nhello\r\n0\r\n\r\n", "005\r\nhello\r\n0\r\n\r\n"]
        for body in good {
            let c = try TestHTTPConnection(port: fulcrum.port, timeout: 5)
            try c.send("POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n" + body)
            let r = try c.readResponse()
            XCTAssertEqual(r.status, 200, body.debugDescription)
            XCTAssertEqual(r.text, "hello", body.debugDescription)
        }
    }

    /// Defect 4: `Content-Length: 5, 5` (or two equal lines) reaches the backend as one value.
    func testContentLengthListIsForwardedAsOneValue() throws {
        let recorder = try ScriptedBackend { c, _ in
            _ = c.read(5)
            c.send("HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok")
            c.close()
        }
        defer { recorder.stop() }
        let f = try recorder.proxy()
        defer { f.stop() }
        for cl in ["Content-Length: 5, 5", "Content-Length: 5,5", "Content-Length: 5\r\nContent-Length: 5"] {
            let c = try TestHTTPConnection(port: f.port, timeout: 5)
            try c.send("POST / HTTP/1.1\r\nHost: x\r\n\(cl)\r\n\r\nhello")
            XCTAssertEqual(try c.readResponse().status, 200, cl)
        }
        XCTAssertEqual(recorder.requests.count, 3)
        for head in recorder.requests {
            let lines = head.split(separator: "\r\n").filter { $0.lowercased().hasPrefix("content-length") }
            XCTAssertEqual(lines, ["Content-Length: 5"], head)
        }
    }

    /// Defect 5: an HTTP/1.0 client gets a de-chunked body delimited by close.
    func testHTTP10ClientNeverReceivesChunked() throws {
        for size in [10, 200_000] {
            let c = try TestHTTPConnection(port: fulcrum.port, timeout: 10)
            try c.send("GET /bytes/\(size)?chunked=1 HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")
            let r = try c.readResponse()
            XCTAssertEqual(r.status, 200)
            XCTAssertNil(r.header("Transfer-Encoding"), "size \(size)")
            XCTAssertEqual(r.version, "HTTP/1.1")
            XCTAssertTrue(r.body == backendPattern(size), "size \(size): \(r.body.count) bytes")
            XCTAssertTrue(c.closedByPeer, "delimited by close")
        }
        // Keep-alive HTTP/1.0 still works for bodies that have a length.
        let k = try TestHTTPConnection(port: fulcrum.port)
        XCTAssertEqual(try k.request("GET", "/bytes/10", headers: [("Connection", "keep-alive")], version: "HTTP/1.0").body, backendPattern(10))
        XCTAssertEqual(try k.request("GET", "/bytes/10", headers: [("Connection", "keep-alive")], version: "HTTP/1.0").body, backendPattern(10))
    }

    /// Defect 9: methods are tokens; `M-SEARCH` and other tchar methods are forwarded.
    func testAnyTokenMethodIsForwarded() throws {
        let c = try TestHTTPConnection(port: fulcrum.port)
        for method in ["M-SEARCH", "X_Y.Z~1", "BREW!"] {
            let r = try c.request(method, "/headers")
            XCTAssertEqual(r.status, 200, method)
            XCTAssertTrue(r.text.hasPrefix("\(method) /headers HTTP/1.1\r\n"), r.text)
        }
        let star = try TestHTTPConnection(port: fulcrum.port)
        XCTAssertEqual(try star.request("M-SEARCH", "*").status, 200, "M-SEARCH * (SSDP's asterisk form)")
    }

    /// RFC 9112 §3.2.2: an absolute-form target's authority wins over Host, for the backend too.
    func testAbsoluteFormAuthorityWinsOverHost() throws {
        let recorder = try ScriptedBackend.answeringOK()
        defer { recorder.stop() }
        let f = try recorder.proxy()
        defer { f.stop() }
        let c = try TestHTTPConnection(port: f.port, timeout: 5)
        try c.send("GET http://a.example:81/p?q HTTP/1.1\r\nHost: b.example\r\n\r\n")
        XCTAssertEqual(try c.readResponse().status, 200)
        let head = try XCTUnwrap(recorder.requests.first)
        let lines = head.split(separator: "\r\n").map(String.init)
        XCTAssertTrue(lines.contains("Host: a.example:81"), head)
        XCTAssertFalse(lines.contains("Host: b.example"), head)
        XCTAssertTrue(lines.contains("X-Forwarded-Host: a.example:81"), head)
        try expectRefused("GET http://user@a.example/ HTTP/1.1\r\nHost: a.example\r\n\r\n", port: f.port)
    }

    /// Requests split anywhere: head and body in separate writes, and byte by byte.
    func testRequestsSplitAnywhereAreAnswered() throws {
        let request = Array("POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5;e=1\r\nhello\r\n0\r\nX-T: 1\r\n\r\n".utf8)
        let c = try TestHTTPConnection(port: fulcrum.port)
        var one: Int32 = 1
        setsockopt(c.fd, Int32(IPPROTO_TCP), TCP_NODELAY, &one, socklen_t(MemoryLayout<Int32>.size))
        for split in stride(from: 1, to: request.count, by: 7) {
            try c.send(Array(request[..<split]))
            usleep(2000)
            try c.send(Array(request[split...]))
            XCTAssertEqual(try c.readResponse().text, "hello", "split at \(split)")
        }
        for byte in request {
            try c.send([byte])
            usleep(200)
        }
        XCTAssertEqual(try c.readResponse().text, "hello", "byte by byte")
    }
}
