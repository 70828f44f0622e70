import Foundation
import XCTest

/// The status page in a real browser (headless Chromium, when installed):
/// its script runs, fetches the JSON API and renders every backend.
final class StatusPageBrowserTests: XCTestCase {
    func testStatusPageRendersInHeadlessChromium() throws {
        guard let chromium = ["/usr/bin/chromium", "/usr/bin/chromium-browser", "/usr/bin/google-chrome"]
            .first(where: { FileManager.default.isExecutableFile(atPath: $0) }) else {
            throw XCTSkip("no headless Chromium installed (.ci/run installs it)")
        }
        let a = try BackendServer(name: "page-a"), b = try BackendServer(name: "page-b")
        defer { a.kill(); b.kill() }
        let f = try FulcrumServer(["-backend", a.url + "=3", "-backend", b.url, "-t", "60"], token: "page-token")
        defer { f.stop() }
        for _ in 0..<5 { XCTAssertEqual(try f.get().status, 200) }
        let dir = try temporaryDirectory("chromium")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let url = "http://127.0.0.1:\(f.adminPort)/?token=page-token"
        let common = ["--headless", "--no-sandbox", "--disable-gpu", "--user-data-dir=\(dir)/profile",
                      "--virtual-time-budget=4000", "--window-size=1280,720"]
        let dom = try runCommand(chromium, common + ["--dump-dom", url], timeout: 90)
        XCTAssertTrue(dom.contains("<code>\(a.url)</code>") && dom.contains("<code>\(b.url)</code>"), "backends not rendered:\n\(dom.suffix(2000))")
        XCTAssertTrue(dom.contains("badge up"), "health badges rendered")
        XCTAssertTrue(dom.contains(">round-robin</option>"), "strategies listed")
        XCTAssertTrue(dom.contains(#"<div id="error" role="status"></div>"#), "the page reported an error")
        try runCommand(chromium, common + ["--screenshot=\(dir)/status.png", url], timeout: 90)
        let png = try Data(contentsOf: URL(fileURLWithPath: dir + "/status.png"))
        XCTAssertEqual(Array(png.prefix(4)), [0x89, 0x50, 0x4E, 0x47])
        XCTAssertGreaterThan(png.count, 10_000, "a blank screenshot")
    }
}
