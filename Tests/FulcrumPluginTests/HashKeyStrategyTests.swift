import FulcrumPluginHost
import FulcrumRegistry
import XCTest

/// The `"key"` configuration of the hashing strategies (CONTRACT §9), through the built plugins.
final class HashKeyStrategyTests: XCTestCase {
    static let hashing = ["source-ip-hash", "bounded-load-hash", "maglev"]
    static let keyed: [(config: String, request: @Sendable (String, UInt32) -> KeyedRequest)] = [
        (#"{"key":"header:X-User"}"#, { v, ip in KeyedRequest(ip: ip, headers: [("x-user", v)]) }),
        (#"{"key":"cookie:sid"}"#, { v, ip in KeyedRequest(ip: ip, headers: [("Cookie", "theme=dark; sid=\(v)")]) }),
        (#"{"key":"query:u"}"#, { v, ip in KeyedRequest(target: "/p?a=1&u=\(v)", ip: ip) }),
        (#"{"key":"path"}"#, { v, ip in KeyedRequest(target: "/items/\(v)?ip=\(ip)", ip: ip) }),
    ]

    func testSameValueSameBackendFromAnyClientAndInstance() throws {
        let backends = TestBackends(count: 8)
        for name in Self.hashing {
            for (config, request) in Self.keyed {
                // Two instances, as two workers have.
                let a = try strategy(name, config: config), b = try strategy(name, config: config)
                a.update(backends.all)
                b.update(backends.all)
                var used = Set<Int>()
                for v in 0..<200 {
                    let first = try XCTUnwrap(request("v\(v)", 0x0A00_0001).pick(a))
                    used.insert(first)
                    for ip: UInt32 in [0x0A00_0002, 0xC0A8_0101, 0x7F00_0001] {
                        XCTAssertEqual(request("v\(v)", ip).pick(b), first, "\(name) \(config) value v\(v)")
                    }
                }
                XCTAssertGreaterThan(used.count, 4, "\(name) \(config): values spread over backends")
            }
        }
    }

    func testRequestWithoutTheKeyBehavesAsClientIP() throws {
        let backends = TestBackends(count: 8)
        for name in Self.hashing {
            let byIP = try strategy(name)
            byIP.update(backends.all)
            for config in [#"{"key":"header:X-User"}"#, #"{"key":"cookie:sid"}"#, #"{"key":"query:u"}"#] {
                let keyed = try strategy(name, config: config)
                keyed.update(backends.all)
                var r = TestRandom(seed: 5)
                for _ in 0..<300 {
                    let ip = UInt32(truncatingIfNeeded: r.next())
                    let without = KeyedRequest(target: "/p?x=1", ip: ip, headers: [("Cookie", "other=1"), ("X-Other", "1")])
                    XCTAssertEqual(without.pick(keyed), byIP.pick(clientIPv4: ip), "\(name) \(config)")
                }
            }
        }
    }
}
