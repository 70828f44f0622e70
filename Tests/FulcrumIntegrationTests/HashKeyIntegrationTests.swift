import Foundation
import XCTest

/// Hash keys (CONTRACT §9) through the real binary: the same header, cookie or
/// query value reaches the same backend over fresh connections (spread over
/// two workers); a request without the key behaves as the client IP.
final class HashKeyIntegrationTests: XCTestCase {
    /// bounded-load-hash keeps a key on its backend only while that backend is
    /// below its bound, which at one request in flight is 1: a request picked
    /// before the proxy has counted the previous one finished would rightly
    /// spill to the next backend. So wait until nothing is in flight.
    func awaitIdle(_ server: FulcrumServer) throws {
        try eventually(5, every: 0.002, "no request in flight") {
            try server.backends().allSatisfy { ($0["active"] as? Int) == 0 }
        }
    }

    func testSameKeyValueSameBackendAcrossConnectionsAndWorkers() throws {
        let backends = try (1...4).map { try BackendServer(name: "k\($0)") }
        defer { backends.forEach { $0.kill() } }
        let flags = backends.flatMap { ["-backend", $0.url] }
        let cases: [(algo: String, key: String, request: (String) -> (String, [(String, String)]))] = [
            ("SIH", "header:X-User", { ("/", [("X-User", $0)]) }),
            ("BLH", "cookie:sid", { ("/", [("Cookie", "a=1; sid=\($0)")]) }),
            ("maglev", "query:u", { ("/x?z=1&u=\($0)", []) }),
        ]
        // The client-IP answer for 127.0.0.1, from a server hashing the IP.
        let byIP = try FulcrumServer(["-algo", "SIH"] + flags)
        defer { byIP.stop() }
        let ipBackend = try byIP.get().header("X-Backend")
        XCTAssertNotNil(ipBackend)

        for c in cases {
            let server = try FulcrumServer(["-algo", c.algo, "-algo-config", "{\"key\":\"\(c.key)\"}"] + flags)
            defer { server.stop() }
            var seen = Set<String>()
            for v in 0..<16 {
                let (path, headers) = c.request("user\(v)")
                let answers = try (0..<4).map { _ -> String in
                    let answer = try server.get(path, headers: headers).header("X-Backend") ?? "none"
                    if c.algo == "BLH" { try awaitIdle(server) }
                    return answer
                }
                XCTAssertEqual(Set(answers).count, 1, "\(c.algo) \(c.key) user\(v): \(answers)")
                seen.insert(answers[0])
            }
            XCTAssertGreaterThan(seen.count, 1, "\(c.algo): 16 key values spread over the backends")
            // Without the key: the client IP decides, as for the plain strategy.
            let absent = try (0..<6).map { _ -> String in
                let answer = try server.get("/x?z=1", headers: [("Cookie", "a=1")]).header("X-Backend") ?? "none"
                if c.algo == "BLH" { try awaitIdle(server) }
                return answer
            }
            XCTAssertEqual(Set(absent).count, 1, "\(c.algo) without key: \(absent)")
            if c.algo == "SIH" { XCTAssertEqual(absent[0], ipBackend) }
        }
    }
}
