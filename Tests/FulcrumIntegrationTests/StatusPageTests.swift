import Foundation
import XCTest

/// Issue 8 (7): the status page's first HTML already lists everything (no JavaScript needed).
final class StatusPageTests: XCTestCase {
    func testFirstHTMLListsStrategyAndBackends() throws {
        let a = try BackendServer(name: "html-a"), b = try BackendServer(name: "html-b")
        defer { a.kill(); b.kill() }
        let f = try FulcrumServer(["-backend", a.url + "=3", "-backend", b.url, "-t", "60", "-algo", "LC"])
        defer { f.stop() }
        eventually(10, "both healthy") { (try? f.backends().allSatisfy { $0["healthy"] as? Bool == true }) == true }
        let page = try f.admin("GET", "/").text
        let withoutScript = page.replacingOccurrences(of: #"(?s)<script>.*</script>"#, with: "", options: .regularExpression)
        XCTAssertTrue(withoutScript.contains("<code>\(a.url)</code>"), withoutScript)
        XCTAssertTrue(withoutScript.contains("<code>\(b.url)</code>"))
        XCTAssertTrue(withoutScript.contains(">least-connections</option>") || withoutScript.contains("least-connections"))
        XCTAssertTrue(withoutScript.contains("badge up"))
        XCTAssertTrue(withoutScript.contains(#"<td class="num">3</td>"#), "weight rendered")
        XCTAssertFalse(withoutScript.contains("loading…"))
        XCTAssertTrue(withoutScript.contains("2 / 2"), "backends in rotation")
    }

    func testEmptyAndEscaped() throws {
        let dir = try temporaryDirectory("html-escape")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        // Names are restricted to [A-Za-z0-9._-] by the loader; descriptions are free text.
        let source = cStrategySource(name: "escape-me").replacingOccurrences(of: "\"always the last backend\"",
                                                                             with: #""<b>x</b>&amp;'\"""#)
        let so = try compileCPlugin(source, named: "esc", in: dir)
        let f = try FulcrumServer(["-t", "60"])
        defer { f.stop() }
        XCTAssertTrue(try f.admin("GET", "/").text.contains("No backends."), "empty list rendered")
        XCTAssertEqual(try f.admin("POST", "/plugins", json: #"{"path":"\#(so)"}"#).status, 200)
        XCTAssertEqual(try f.admin("PUT", "/strategy", json: #"{"name":"escape-me"}"#).status, 200)
        let page = try f.admin("GET", "/").text
        XCTAssertFalse(page.contains("<b>x</b>"), "not escaped")
        XCTAssertTrue(page.contains(#"title="&lt;b&gt;x&lt;/b&gt;&amp;amp;&#39;&quot;" selected>escape-me</option>"#), page)
    }
}
