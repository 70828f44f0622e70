import FulcrumSDK
import Glibc
import XCTest

/// A `fulcrum_request` with headers, built for one call of `body`.
final class FakeRequest {
    let headers: [(String, [UInt8])]
    let target: [UInt8]
    let ip: [UInt8]

    init(target: String = "/", ip: [UInt8] = [10, 0, 0, 1], headers: [(String, String)] = []) {
        self.target = Array(target.utf8)
        self.ip = ip
        self.headers = headers.map { ($0.0.lowercased(), Array($0.1.utf8)) }
    }

    func with<R>(_ body: (FulcrumRequest) -> R) -> R {
        let lookup: @convention(c) (UnsafeRawPointer?, UnsafePointer<CChar>?, UnsafeMutablePointer<Int>?) -> UnsafePointer<CChar>? = { ctx, name, len in
            let me = Unmanaged<FakeRequest>.fromOpaque(ctx!).takeUnretainedValue()
            let wanted = String(cString: name!).lowercased()
            guard let i = me.headers.firstIndex(where: { $0.0 == wanted }) else { return nil }
            len!.pointee = me.headers[i].1.count
            return me.headers[i].1.withUnsafeBufferPointer { UnsafeRawPointer($0.baseAddress!).assumingMemoryBound(to: CChar.self) }
        }
        return ip.withUnsafeBufferPointer { ipBytes in
            target.withUnsafeBufferPointer { t in
                "GET".withCString { method in
                    var raw = fulcrum_request(
                        client_ip: ipBytes.baseAddress, client_ip_len: UInt32(ip.count), method: method, method_len: 3,
                        path: UnsafeRawPointer(t.baseAddress!).assumingMemoryBound(to: CChar.self), path_len: t.count,
                        host: method, host_len: 0, context: Unmanaged.passUnretained(self).toOpaque(), header: lookup)
                    return withUnsafePointer(to: &raw) { body(FulcrumRequest($0)) }
                }
            }
        }
    }

    /// The key's value as a string, or nil.
    func value(_ key: FulcrumRequestKey) -> String? {
        with { r in key.value(in: r).map { String(decoding: $0, as: UTF8.self) } }
    }
    func hash(_ key: FulcrumRequestKey) -> UInt64 { with { key.hash($0) } }
}

final class RequestKeyTests: XCTestCase {
    func key(_ spec: String) throws -> FulcrumRequestKey { try XCTUnwrap(FulcrumRequestKey(specification: spec), spec) }

    func testSpecificationsParseAndBadOnesAreRefused() throws {
        XCTAssertEqual(try key("ip").kind, .ip)
        XCTAssertEqual(try key("path").kind, .path)
        XCTAssertEqual(try key("header:X-User").kind, .header)
        XCTAssertEqual(try key("cookie:session").name, "session")
        XCTAssertEqual(try key("query:id").kind, .query)
        for bad in ["", "IP", "header", "header:", "cookie:a b", "query:a=b", "path:x", "ip:x", "body:x", "header:a;b"] {
            XCTAssertNil(FulcrumRequestKey(specification: bad), bad)
        }
        XCTAssertEqual(FulcrumRequestKey(config: try JSONValue.parse("{}"))?.kind, .ip)
        XCTAssertEqual(FulcrumRequestKey(config: try JSONValue.parse(#"{"key":"query:u"}"#))?.kind, .query)
        XCTAssertNil(FulcrumRequestKey(config: try JSONValue.parse(#"{"key":5}"#)))
        XCTAssertNil(FulcrumRequestKey(config: try JSONValue.parse(#"{"key":"nope"}"#)))
    }

    func testHeaderKey() throws {
        let k = try key("header:X-User")
        XCTAssertEqual(FakeRequest(headers: [("x-user", "alice")]).value(k), "alice")
        XCTAssertNil(FakeRequest(headers: [("x-other", "alice")]).value(k))
        XCTAssertNil(FakeRequest(headers: [("X-User", "")]).value(k), "an empty value is no key")
    }

    func testCookieKey() throws {
        let k = try key("cookie:session")
        XCTAssertEqual(FakeRequest(headers: [("Cookie", "session=abc")]).value(k), "abc")
        XCTAssertEqual(FakeRequest(headers: [("Cookie", "a=1; session=abc; b=2")]).value(k), "abc")
        XCTAssertEqual(FakeRequest(headers: [("Cookie", "a=1;session=x=y")]).value(k), "x=y")
        XCTAssertEqual(FakeRequest(headers: [("Cookie", "mysession=no; session=yes")]).value(k), "yes")
        XCTAssertEqual(FakeRequest(headers: [("Cookie", "sessionx=no;session=yes ")]).value(k), "yes")
        XCTAssertNil(FakeRequest(headers: [("Cookie", "Session=abc")]).value(k), "cookie names are case-sensitive")
        XCTAssertNil(FakeRequest(headers: [("Cookie", "session")]).value(k))
        XCTAssertNil(FakeRequest(headers: [("Cookie", "session=")]).value(k))
        XCTAssertNil(FakeRequest(headers: [("Cookie", "")]).value(k))
        XCTAssertNil(FakeRequest().value(k))
    }

    func testQueryKey() throws {
        let k = try key("query:u")
        XCTAssertEqual(FakeRequest(target: "/a?u=7").value(k), "7")
        XCTAssertEqual(FakeRequest(target: "/a?x=1&u=7&y=2").value(k), "7")
        XCTAssertEqual(FakeRequest(target: "/a?uu=1&u=%20b").value(k), "%20b", "values are not decoded")
        XCTAssertEqual(FakeRequest(target: "/a?u=7#frag").value(k), "7")
        XCTAssertNil(FakeRequest(target: "/a?uu=7").value(k))
        XCTAssertNil(FakeRequest(target: "/a?u=").value(k))
        XCTAssertNil(FakeRequest(target: "/a?u").value(k))
        XCTAssertNil(FakeRequest(target: "/a/u=7").value(k))
        XCTAssertNil(FakeRequest(target: "/a?").value(k))
    }

    func testPathKeyStopsAtQuery() throws {
        let k = try key("path")
        XCTAssertEqual(FakeRequest(target: "/a/b?c=d").value(k), "/a/b")
        XCTAssertEqual(FakeRequest(target: "/a/b").value(k), "/a/b")
        XCTAssertEqual(FakeRequest(target: "/a/b?x").hash(k), FakeRequest(target: "/a/b?y").hash(k))
        XCTAssertEqual(FakeRequest(target: "*").value(k), "*")
    }

    func testAbsentKeyFallsBackToClientIP() throws {
        let ipHash = FakeRequest(ip: [192, 168, 1, 9]).hash(.clientIP)
        XCTAssertEqual(ipHash, FulcrumHash.hash(UnsafeRawBufferPointer(start: [UInt8]([192, 168, 1, 9]), count: 4)))
        for spec in ["header:X-User", "cookie:s", "query:u"] {
            XCTAssertEqual(FakeRequest(target: "/x", ip: [192, 168, 1, 9]).hash(try key(spec)), ipHash, spec)
        }
        // Same value, different clients: same hash.
        let k = try key("header:X-User")
        XCTAssertEqual(FakeRequest(ip: [1, 2, 3, 4], headers: [("X-User", "bob")]).hash(k),
                       FakeRequest(ip: [5, 6, 7, 8], headers: [("X-User", "bob")]).hash(k))
        XCTAssertNotEqual(FakeRequest(headers: [("X-User", "bob")]).hash(k), FakeRequest(headers: [("X-User", "eve")]).hash(k))
    }
}
