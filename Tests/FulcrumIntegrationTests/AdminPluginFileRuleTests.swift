import Foundation
import XCTest

/// Issue 8 (6): POST /plugins refuses files others could have written (as sshd's StrictModes).
final class AdminPluginFileRuleTests: XCTestCase {
    func title(_ r: TestResponse) -> String { (r.json?["data"] as? [String: Any])?["title"] as? String ?? r.text }

    func testWritableByOthersIsRefusedNamingThePath() throws {
        let f = try FulcrumServer(["-t", "60"])
        defer { f.stop() }
        let root = try temporaryDirectory("plugin-rule")
        defer { try? FileManager.default.removeItem(atPath: root) }
        let dir = root + "/lib"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        chmod(root, 0o700)
        chmod(dir, 0o755)
        var n = 0
        func plugin() throws -> String {
            n += 1
            return try compileCPlugin(cStrategySource(name: "rule-\(n)"), named: "rule\(n)", in: dir)
        }
        func load(_ path: String) throws -> TestResponse { try f.admin("POST", "/plugins", json: #"{"path":"\#(path)"}"#) }

        let fileWorld = try plugin()
        chmod(fileWorld, 0o757)
        var r = try load(fileWorld)
        XCTAssertEqual(r.status, 400)
        XCTAssertTrue(title(r).contains(fileWorld) && title(r).contains("writable"), title(r))

        let fileGroup = try plugin()
        chmod(fileGroup, 0o775)
        r = try load(fileGroup)
        XCTAssertEqual(r.status, 400)
        XCTAssertTrue(title(r).contains(fileGroup) && title(r).contains("group"), title(r))

        let byOther = try plugin()
        chown(byOther, 65534, 65534)
        r = try load(byOther)
        XCTAssertEqual(r.status, 400)
        XCTAssertTrue(title(r).contains(byOther) && title(r).contains("owned by"), title(r))

        // A directory above it, group- or world-writable, or owned by another user.
        let good = try plugin()
        chmod(dir, 0o775)
        r = try load(good)
        XCTAssertEqual(r.status, 400)
        XCTAssertTrue(title(r).contains("directory \(dir)") && title(r).contains("writable"), title(r))
        chmod(dir, 0o755)
        chown(root, 65534, 65534)
        r = try load(good)
        XCTAssertEqual(r.status, 400)
        XCTAssertTrue(title(r).contains(root) && title(r).contains("owned by"), title(r))
        chown(root, getuid(), getgid())
        // Sticky and world-writable like /tmp: others cannot replace what is ours inside it.
        chmod(root, 0o1777)
        r = try load(good)
        XCTAssertEqual(r.status, 200, title(r))
        chmod(root, 0o777)
        let other = try plugin()
        r = try load(other)
        XCTAssertEqual(r.status, 400)
        XCTAssertTrue(title(r).contains(root) && title(r).contains("world-writable"), title(r))
        chmod(root, 0o700)
        XCTAssertEqual(try load(other).status, 200)
    }

    /// A symbolic link is judged by what it points to, and by every directory on the way there.
    func testSymlinkIsFollowed() throws {
        let f = try FulcrumServer(["-t", "60"])
        defer { f.stop() }
        let root = try temporaryDirectory("plugin-link")
        defer { try? FileManager.default.removeItem(atPath: root) }
        let unsafe = root + "/unsafe"
        try FileManager.default.createDirectory(atPath: unsafe, withIntermediateDirectories: true)
        chmod(unsafe, 0o777)
        let so = try compileCPlugin(cStrategySource(name: "linked"), named: "linked", in: unsafe)
        let link = root + "/linked.so"
        try FileManager.default.createSymbolicLink(atPath: link, withDestinationPath: so)
        let r = try f.admin("POST", "/plugins", json: #"{"path":"\#(link)"}"#)
        XCTAssertEqual(r.status, 400)
        XCTAssertTrue(title(r).contains(unsafe), title(r))
    }
}
