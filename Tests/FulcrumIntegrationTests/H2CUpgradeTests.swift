import Foundation
import XCTest

/// CONTRACT §12: an HTTP/1.1 `Upgrade: h2c` is served as plain HTTP/1.1 and
/// its `Upgrade` and `HTTP2-Settings` never reach the backend. Before, the
/// generic Upgrade path forwarded them, and a backend speaking h2c answered
/// 101, turning the connection into a tunnel past every route and filter
/// (h2c smuggling).
final class H2CUpgradeTests: XCTestCase {
    /// A backend that switches to h2c whenever it is offered, as an h2c
    /// server behind a proxy would; otherwise answers 200 and keeps the connection.
    func h2cBackend() throws -> ScriptedBackend {
        try ScriptedBackend { c, head in
            if head.lowercased().contains("\r\nupgrade: h2c") {
                c.send("HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: h2c\r\n\r\n")
                c.send([0, 0, 0, 4, 0, 0, 0, 0, 0])  // an h2 SETTINGS frame
                _ = c.readUntilQuiet(1)
            } else {
                c.send("HTTP/1.1 200 OK\r\nContent-Length: 5\r\nConnection: close\r\n\r\nplain")
            }
            c.close()
        }
    }

    func testUpgradeH2CIsServedAsPlainHTTP11AndNeverForwarded() throws {
        let backend = try h2cBackend()
        defer { backend.stop() }
        let f = try backend.proxy()
        defer { f.stop() }
        let offers = [
            "Connection: Upgrade, HTTP2-Settings\r\nUpgrade: h2c\r\nHTTP2-Settings: AAMAAABkAAQAAP__\r\n",
            "Connection: upgrade\r\nUpgrade: H2C\r\nHTTP2-Settings: AAMAAABkAAQAAP__\r\n",
            "Connection: Upgrade\r\nUpgrade: foo/2, h2c\r\n",
            "Connection: Upgrade\r\nUpgrade: h2c/1\r\n",
            "HTTP2-Settings: AAMAAABkAAQAAP__\r\n",
        ]
        for (n, offer) in offers.enumerated() {
            let c = try TestHTTPConnection(port: f.port, timeout: 5)
            try c.send("GET /h2c\(n) HTTP/1.1\r\nHost: x\r\n\(offer)\r\n")
            let r = try c.readResponse()
            XCTAssertEqual(r.status, 200, offer.debugDescription)
            XCTAssertEqual(String(decoding: r.body, as: UTF8.self), "plain", offer.debugDescription)
            // The client connection is an HTTP/1.1 keep-alive connection still.
            let again = try c.request("GET", "/again")
            XCTAssertEqual(again.status, 200, "after \(offer.debugDescription)")
        }
        let seen = backend.requests.filter { $0.hasPrefix("GET /h2c") }
        XCTAssertEqual(seen.count, offers.count)
        for head in seen {
            let lower = head.lowercased()
            XCTAssertFalse(lower.contains("\r\nupgrade:"), head)
            XCTAssertFalse(lower.contains("\r\nhttp2-settings:"), head)
            XCTAssertFalse(lower.contains("connection: upgrade"), head)
        }
    }

    /// The ordinary Upgrade (WebSocket) still opens a tunnel.
    func testWebSocketUpgradeStillTunnels() throws {
        let backend = try ScriptedBackend { c, head in
            guard head.lowercased().contains("\r\nupgrade: websocket") else { c.close(); return }
            c.send("HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n")
            let got = c.read(4)
            c.send(got)
            _ = c.readUntilQuiet(1)
        }
        defer { backend.stop() }
        let f = try backend.proxy()
        defer { f.stop() }
        let c = try TestHTTPConnection(port: f.port, timeout: 5)
        try c.send("GET /ws HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n")
        XCTAssertEqual(try c.readResponse().status, 101)
        try c.send("ping")
        XCTAssertEqual(String(decoding: try c.readExactly(4), as: UTF8.self), "ping")
    }
}
