import FulcrumRouting
import XCTest

/// CONTRACT §10: every spelling of a path meets the route its normal form meets.
final class PathNormalizerTests: XCTestCase {
    func n(_ p: String) -> String {
        let (outcome, normal) = PathNormalizer.normalize(p)
        return outcome == .ok ? normal : "\(outcome)"
    }

    func testSpellingsOfAdmin() {
        for spelling in ["/admin/", "/%61dmin/", "/%61%64%6D%69%6E/", "//admin/", "///admin//", "/x/../admin/", "/./admin/",
                         "/admin/.", "/admin/./", "/x/y/../../admin/", "/%2e/admin/", "/x/%2e%2e/admin/", "/x/%2E%2E/admin/",
                         "/admin//.//", "/a/b/%2e%2e/../admin/"] {
            XCTAssertEqual(n(spelling), "/admin/", spelling)
        }
        XCTAssertEqual(n("/./admin"), "/admin")
        XCTAssertEqual(n("/admin/."), "/admin/")
        XCTAssertEqual(n("/admin/.."), "/")
        XCTAssertEqual(n("/admin/x/.."), "/admin/")
    }

    func testUnreservedAreDecodedOthersUppercased() {
        XCTAssertEqual(n("/%7Euser/%41%5a%30-%2d_%5F.%2E"), "/~user/AZ0--__..")
        XCTAssertEqual(n("/a%2fb"), "/a%2Fb")  // an encoded slash stays data
        XCTAssertEqual(n("/a%2Fb/../c"), "/c")
        XCTAssertEqual(n("/a%2F..%2Fb"), "/a%2F..%2Fb")  // not a dot segment
        XCTAssertEqual(n("/%e2%82%ac"), "/%E2%82%AC")
        XCTAssertEqual(n("/%20x"), "/%20x")
        XCTAssertEqual(n("/..."), "/...")
        XCTAssertEqual(n("/.well-known/x"), "/.well-known/x")
    }

    func testRefusals() {
        for climbing in ["/..", "/../admin", "/a/../..", "/%2e%2e/admin", "/./../x", "//../x"] {
            XCTAssertEqual(n(climbing), "climbsAboveRoot", climbing)
        }
        XCTAssertEqual(n("/a%00b"), "nul")
        for bad in ["/%zz", "/%4", "/a%", "/%G0", "/%0g"] { XCTAssertEqual(n(bad), "badEscape", bad) }
    }

    func testRootAndPlainPaths() {
        XCTAssertEqual(n("/"), "/")
        XCTAssertEqual(n("//"), "/")
        XCTAssertEqual(n("/a/b/c"), "/a/b/c")
        XCTAssertEqual(n("/a/b/"), "/a/b/")
    }

    func testFastPathDetection() {
        func needs(_ s: String) -> Bool { Array(s.utf8).withUnsafeBytes { PathNormalizer.needsWork($0) } }
        XCTAssertFalse(needs("/api/v1/users"))
        XCTAssertFalse(needs("/a.b/c.d"))
        for s in ["/%61", "//a", "/./a", "/a/..", "/a/.b"] { XCTAssertTrue(needs(s), s) }
        // Whatever needs no work is already normal.
        for s in ["/api/v1/users", "/a.b/c.d", "/", "/a/"] { XCTAssertEqual(n(s), s) }
    }

    /// Idempotent, never above the root, never longer: random inputs over an alphabet that makes trouble.
    func testPropertiesOnRandomPaths() {
        var rng = SystemRandomNumberGenerator()
        let alphabet = ["/", "/", ".", "..", "%2e", "%2E", "%2f", "%61", "a", "b", "%", "%4", "%00", "~", "%7e"]
        for _ in 0..<20_000 {
            var p = "/"
            for _ in 0..<Int.random(in: 0...10, using: &rng) { p += alphabet.randomElement(using: &rng)! }
            let (outcome, once) = PathNormalizer.normalize(p)
            guard outcome == .ok else { continue }
            XCTAssertTrue(once.hasPrefix("/"), p)
            XCTAssertLessThanOrEqual(once.utf8.count, p.utf8.count, p)
            let (again, twice) = PathNormalizer.normalize(once)
            XCTAssertEqual(again, .ok, p)
            XCTAssertEqual(twice, once, p)
            XCTAssertFalse(once.split(separator: "/").contains { $0 == "." || $0 == ".." }, p)
            XCTAssertFalse(once.contains("//"), p)
        }
    }

    func testTargetSplitting() {
        func split(_ t: String) -> (String, String) {
            let bytes = Array(t.utf8)
            let (s, e) = bytes.withUnsafeBytes { RouteRequest.pathRange(of: $0) }
            return (String(decoding: bytes[s..<e], as: UTF8.self), String(decoding: bytes[e...], as: UTF8.self))
        }
        XCTAssertTrue(split("/a/b?x=/../y") == ("/a/b", "?x=/../y"))
        XCTAssertTrue(split("http://h:80/a?q") == ("/a", "?q"))
        XCTAssertTrue(split("http://h?q") == ("", "?q"))
        XCTAssertTrue(split("*") == ("", "*"))
        XCTAssertTrue(split("h:443") == ("", "h:443"))
        func host(_ h: String) -> String {
            let bytes = Array(h.utf8)
            return String(decoding: bytes[0..<bytes.withUnsafeBytes { RouteRequest.hostName(of: $0) }], as: UTF8.self)
        }
        XCTAssertEqual(host("Example.COM:8080"), "Example.COM")
        XCTAssertEqual(host("example.com."), "example.com")
        XCTAssertEqual(host("[::1]:80"), "[::1]")
        XCTAssertEqual(host(""), "")
    }
}
