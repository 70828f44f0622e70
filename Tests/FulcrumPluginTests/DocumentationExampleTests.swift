import Foundation
import FulcrumPluginHost
import FulcrumRegistry
import FulcrumTestSupport
import XCTest

/// docs/writing-a-plugin.md compiles and works: its code blocks are written
/// out, built with the page's own `sh` commands (run verbatim), and loaded.
final class DocumentationExampleTests: XCTestCase {
    func testExamplesBuildAndLoad() throws {
        let page = try String(contentsOfFile: repositoryRoot + "/docs/writing-a-plugin.md", encoding: .utf8)
        let directory = try temporaryDirectory("docs")
        defer { try? FileManager.default.removeItem(atPath: directory) }
        try FileManager.default.createSymbolicLink(atPath: directory + "/SDK", withDestinationPath: repositoryRoot + "/SDK")

        var commands: [String] = []
        var sources = 0
        for block in codeBlocks(page) {
            switch block.language {
            case "c", "swift":
                // The first line names the file: /* name.c */ or // Name.swift
                let first = block.body.split(separator: "\n").first.map(String.init) ?? ""
                let name = first.replacingOccurrences(of: "/*", with: "").replacingOccurrences(of: "//", with: "")
                    .split(separator: ":").first!.split(separator: "*").first!.trimmingCharacters(in: .whitespaces)
                try block.body.write(toFile: directory + "/" + name, atomically: true, encoding: .utf8)
                sources += 1
            case "sh":
                commands += block.body.replacingOccurrences(of: "\\\n", with: " ").split(separator: "\n").map(String.init)
                    .filter { $0.hasPrefix("cc ") || $0.hasPrefix("swiftc ") }
            default:
                break
            }
        }
        XCTAssertEqual(sources, 5, "the page's C strategy, Swift strategy, C probe, C filter and Swift filter")
        XCTAssertEqual(commands.count, 4, "the page's cc and swiftc commands (strategies and filters)")
        for command in commands {
            try runCommand("bash", ["-c", "cd '\(directory)' && \(command)"])
        }
        // The probe has no build line of its own: the same cc command builds it.
        try runCommand("bash", ["-c", "cd '\(directory)' && cc -O2 -shared -fPIC -I SDK/include always_up.c -o always_up.so"])

        let catalog = PluginCatalog()
        let (warnings, errors) = catalog.loadDirectory(directory)
        XCTAssertTrue(errors.isEmpty, "\(errors)")
        XCTAssertTrue(warnings.isEmpty, "\(warnings)")
        let backends = TestBackends(count: 3)

        let ll = try XCTUnwrap(catalog.strategy(named: "LL")?.makeInstance())
        ll.update(backends.all)
        for _ in 0..<3 { BackendTable.shared.begin(backends.ids[0]) }
        XCTAssertNotEqual(ll.pick(), 0, "the busy backend is avoided")
        for _ in 0..<3 { BackendTable.shared.end(backends.ids[0]) }

        let first = try XCTUnwrap(catalog.strategy(named: "first")?.makeInstance())
        first.update(backends.all)
        XCTAssertEqual(first.pick(), 0)
        XCTAssertTrue(first.wantsCompletions)

        let probe = try XCTUnwrap(catalog.probe(named: "always-up")?.makeInstance())
        XCTAssertNil(probe.check(address: "http://127.0.0.1:1", timeoutMilliseconds: 100))

        // The filters.
        guard case .failure(let refused) = catalog.makeFilterFactory(name: "deny-prefix", config: "{}") else { return XCTFail() }
        XCTAssertTrue(refused.description.contains("prefix must be"), refused.description)
        let c = chain(try filterFactory("deny-prefix", #"{"prefix":"/admin"}"#, catalog: catalog),
                      try filterFactory("pool-header", catalog: catalog))
        let run = FilterRun()
        XCTAssertEqual(TestHead(target: "/admin/x").run(c, run), .respond(status: 403))
        XCTAssertEqual(run.localBody, "forbidden\n")
        XCTAssertEqual(run.annotation("denied"), "prefix")
        XCTAssertEqual(TestHead(target: "/home", route: "web", pool: "blue").run(c, run), .forward)
        XCTAssertEqual(run.requestEdits.setsForTest, ["x-route": "web"])
        c.runResponse(status: 200, head: .empty, run: run)
        XCTAssertEqual(run.responseEdits.setsForTest, ["x-pool": "blue"])
    }

    struct Block { let language: String; let body: String }

    func codeBlocks(_ markdown: String) -> [Block] {
        var blocks: [Block] = []
        var language: String?
        var lines: [String] = []
        for line in markdown.split(separator: "\n", omittingEmptySubsequences: false).map(String.init) {
            if line.hasPrefix("```") {
                if let l = language {
                    blocks.append(Block(language: l, body: lines.joined(separator: "\n") + "\n"))
                    language = nil
                } else {
                    language = String(line.dropFirst(3))
                    lines = []
                }
            } else if language != nil {
                lines.append(line)
            }
        }
        return blocks
    }
}
