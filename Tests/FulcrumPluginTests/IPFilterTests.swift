import FulcrumPluginHost
import XCTest

/// ip-filter through its .so: CIDR edge cases and the allow/deny rules.
final class IPFilterTests: XCTestCase {
    func verdict(_ config: String, _ ip: [UInt8]) throws -> FilterVerdict {
        let c = chain(try filterFactory("ip-filter", config))
        return TestHead(ip: ip).run(c, FilterRun())
    }

    let v4 = { (a: UInt8, b: UInt8, c: UInt8, d: UInt8) -> [UInt8] in [a, b, c, d] }
    func mapped(_ a: UInt8, _ b: UInt8, _ c: UInt8, _ d: UInt8) -> [UInt8] { [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xFF, 0xFF, a, b, c, d] }
    let loopback6: [UInt8] = Array(repeating: 0, count: 15) + [1]
    let doc6: [UInt8] = [0x20, 0x01, 0x0d, 0xb8] + Array(repeating: 0, count: 11) + [7]

    func testDenyWinsAndAllowListsAreExclusive() throws {
        let config = #"{"allow": ["10.0.0.0/8"], "deny": ["10.1.0.0/16"]}"#
        XCTAssertEqual(try verdict(config, v4(10, 2, 3, 4)), .forward)
        XCTAssertEqual(try verdict(config, v4(10, 1, 3, 4)), .respond(status: 403), "deny wins over allow")
        XCTAssertEqual(try verdict(config, v4(11, 0, 0, 1)), .respond(status: 403), "outside allow")
        XCTAssertEqual(try verdict(#"{"allow": []}"#, v4(127, 0, 0, 1)), .respond(status: 403), "allow [] lets nobody in")
        XCTAssertEqual(try verdict(#"{"deny": ["192.168.0.0/16"]}"#, v4(127, 0, 0, 1)), .forward, "no allow: all but denied")
        XCTAssertEqual(try verdict("{}", loopback6), .forward)
    }

    func testPrefixEdges() throws {
        // /0 matches every address of its family, and only that family.
        XCTAssertEqual(try verdict(#"{"deny": ["0.0.0.0/0"]}"#, v4(8, 8, 8, 8)), .respond(status: 403))
        XCTAssertEqual(try verdict(#"{"deny": ["0.0.0.0/0"]}"#, loopback6), .forward)
        XCTAssertEqual(try verdict(#"{"deny": ["::/0"]}"#, doc6), .respond(status: 403))
        XCTAssertEqual(try verdict(#"{"deny": ["::/0"]}"#, v4(8, 8, 8, 8)), .forward)
        // /32 and /128: exactly one address; a bare address is the same.
        XCTAssertEqual(try verdict(#"{"allow": ["10.0.0.5/32"]}"#, v4(10, 0, 0, 5)), .forward)
        XCTAssertEqual(try verdict(#"{"allow": ["10.0.0.5/32"]}"#, v4(10, 0, 0, 4)), .respond(status: 403))
        XCTAssertEqual(try verdict(#"{"allow": ["10.0.0.5"]}"#, v4(10, 0, 0, 6)), .respond(status: 403))
        XCTAssertEqual(try verdict(#"{"allow": ["::1/128"]}"#, loopback6), .forward)
        XCTAssertEqual(try verdict(#"{"allow": ["::1/128"]}"#, Array(repeating: 0, count: 15) + [2]), .respond(status: 403))
        XCTAssertEqual(try verdict(#"{"allow": ["2001:db8::/32"]}"#, doc6), .forward)
        // Odd prefixes cut inside a byte.
        XCTAssertEqual(try verdict(#"{"allow": ["192.168.2.0/23"]}"#, v4(192, 168, 3, 255)), .forward)
        XCTAssertEqual(try verdict(#"{"allow": ["192.168.2.0/23"]}"#, v4(192, 168, 4, 0)), .respond(status: 403))
        // Bits past the prefix are ignored, as HAProxy and nginx do.
        XCTAssertEqual(try verdict(#"{"allow": ["10.9.9.9/8"]}"#, v4(10, 0, 0, 1)), .forward)
    }

    func testV4MappedIPv6IsTreatedAsIPv4() throws {
        XCTAssertEqual(try verdict(#"{"allow": ["127.0.0.0/8"]}"#, mapped(127, 0, 0, 1)), .forward)
        XCTAssertEqual(try verdict(#"{"deny": ["127.0.0.1/32"]}"#, mapped(127, 0, 0, 1)), .respond(status: 403))
        // A v4-mapped network in the configuration is the IPv4 network.
        XCTAssertEqual(try verdict(#"{"deny": ["::ffff:10.0.0.0/104"]}"#, v4(10, 20, 30, 40)), .respond(status: 403))
        XCTAssertEqual(try verdict(#"{"deny": ["::ffff:10.0.0.0/104"]}"#, v4(11, 20, 30, 40)), .forward)
    }

    func testBadCIDRsAreRefusedWithAReason() {
        for (config, expected) in [
            (#"{"allow": ["10.0.0.0/33"]}"#, "prefix length \"33\" is not a number from 0 to 32"),
            (#"{"deny": ["::1/129"]}"#, "from 0 to 128"),
            (#"{"deny": ["10.0.0/8"]}"#, "\"10.0.0\" is not an IPv4 or IPv6 address"),
            (#"{"deny": ["10.0.0.0/"]}"#, "prefix length"),
            (#"{"deny": ["10.0.0.0/-1"]}"#, "prefix length"),
            (#"{"deny": ["10.0.0.0/8/9"]}"#, "expected ADDRESS"),
            (#"{"deny": [""]}"#, "expected ADDRESS"),
            (#"{"deny": [8]}"#, "array of CIDR strings"),
            (#"{"deny": "10.0.0.0/8"}"#, "array of CIDR strings"),
            (#"{"block": []}"#, "unknown key \"block\""),
            ("[]", "JSON object"),
        ] {
            let reason = refusal("ip-filter", config)
            XCTAssertNotNil(reason, config)
            XCTAssertTrue(reason?.contains(expected) ?? false, "\(config): \(reason ?? "accepted")")
            XCTAssertTrue(reason?.hasPrefix("filter \"ip-filter\"") ?? false, reason ?? "")
        }
    }
}
