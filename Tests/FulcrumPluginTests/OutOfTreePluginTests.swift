import Foundation
import FulcrumPluginHost
import FulcrumTestSupport
import XCTest

/// A Swift plugin written outside this package, built with the one-line
/// command of docs/writing-a-plugin.md, and loaded without rebuilding the host.
final class OutOfTreePluginTests: XCTestCase {
    func testSwiftPluginBuiltWithTheDocumentedCommand() throws {
        let directory = try temporaryDirectory("swift-plugin")
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let source = directory + "/FirstHealthy.swift"
        try """
        import FulcrumSDK

        final class FirstHealthy: FulcrumStrategy {
            static let name = "first-healthy"
            static let aliases = ["FH"]
            static let description = "always the first eligible backend"
            static let observesCompletions = true
            var count = 0
            var completed = 0
            init?(host: FulcrumHost, config: String) {}
            func update(_ backends: FulcrumBackends) { count = backends.count }
            func pick(_ request: FulcrumRequest) -> Int? { count > 0 ? completed % 1 : nil }
            func complete(backendID: UInt64, status: Int32, durationMicros: UInt64) { completed += 1 }
        }

        @c public func fulcrum_plugin_entry() -> UnsafePointer<fulcrum_plugin> {
            fulcrumExport(name: "first-healthy", version: "0.1.0", strategies: [FirstHealthy.self])
        }
        """.write(toFile: source, atomically: true, encoding: .utf8)

        // The documented command, verbatim but for paths.
        let sdk = repositoryRoot + "/SDK"
        let sdkSources = try FileManager.default.contentsOfDirectory(atPath: sdk + "/FulcrumSDK")
            .filter { $0.hasSuffix(".swift") }.sorted().map { sdk + "/FulcrumSDK/" + $0 }
        let output = directory + "/libfirst-healthy.so"
        try runCommand("swiftc", ["-emit-library", "-parse-as-library", "-module-name", "FulcrumSDK", "-I", sdk + "/include"]
            + sdkSources + [source, "-Xlinker", "--version-script=\(sdk)/fulcrum-plugin.exports", "-o", output])

        let catalog = PluginCatalog()
        let (warnings, errors) = catalog.loadDirectory(directory)
        XCTAssertTrue(errors.isEmpty && warnings.isEmpty, "\(warnings) \(errors)")
        let descriptor = try XCTUnwrap(catalog.strategy(named: "fh"))
        XCTAssertEqual(descriptor.description, "always the first eligible backend")
        let instance = try XCTUnwrap(descriptor.makeInstance())
        XCTAssertTrue(instance.wantsCompletions)
        let backends = TestBackends(count: 3)
        instance.update(backends.all)
        XCTAssertEqual(instance.pick(), 0)
        instance.complete(backendID: backends.ids[0], status: 200, durationMicros: 10)
        // Only the entry point is exported.
        let symbols = try runCommand("nm", ["-D", "--defined-only", output])
        let globals = symbols.split(separator: "\n").filter { $0.contains(" T ") || $0.contains(" D ") || $0.contains(" B ") }
        XCTAssertEqual(globals.map { $0.split(separator: " ").last.map(String.init) ?? "" }, ["fulcrum_plugin_entry"])
    }

    func testSwiftFilterBuiltOutOfTree() throws {
        let directory = try temporaryDirectory("swift-filter")
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let source = directory + "/Tagger.swift"
        try """
        import FulcrumSDK

        /// Tags each request with its method, refuses DELETE.
        final class Tagger: FulcrumFilter {
            static let name = "tagger"
            static let handlesResponses = true
            let tag: String
            init(setup: FulcrumFilterSetup) throws(FulcrumFilterConfigError) {
                guard let t = (try? JSONValue.parse(setup.config))?["tag"]?.stringValue else { throw FulcrumFilterConfigError("tag is required") }
                tag = t
            }
            func requestHead(_ request: FulcrumFilterRequest) -> FulcrumFilterDecision {
                if request.method.elementsEqual("DELETE".utf8) { return .respond(status: 405, body: "no") }
                request.head.setHeader("X-Tag", tag)
                return .proceed
            }
            func responseHead(_ response: FulcrumFilterResponse) { response.head.setHeader("X-Tagged", tag) }
        }

        @c public func fulcrum_plugin_entry() -> UnsafePointer<fulcrum_plugin> {
            fulcrumExport(name: "tagger", version: "0.1.0")
        }
        @c public func fulcrum_plugin_filters(_ host: UnsafePointer<fulcrum_filter_host>?) -> UnsafePointer<fulcrum_filter_list>? {
            fulcrumExportFilters([Tagger.self])
        }
        """.write(toFile: source, atomically: true, encoding: .utf8)
        let sdk = repositoryRoot + "/SDK"
        let sdkSources = try FileManager.default.contentsOfDirectory(atPath: sdk + "/FulcrumSDK")
            .filter { $0.hasSuffix(".swift") }.sorted().map { sdk + "/FulcrumSDK/" + $0 }
        let output = directory + "/libtagger.so"
        try runCommand("swiftc", ["-emit-library", "-parse-as-library", "-module-name", "FulcrumSDK", "-I", sdk + "/include"]
            + sdkSources + [source, "-Xlinker", "--version-script=\(sdk)/fulcrum-plugin.exports", "-o", output])

        let catalog = PluginCatalog()
        let (warnings, errors) = catalog.loadDirectory(directory)
        XCTAssertTrue(errors.isEmpty && warnings.isEmpty, "\(warnings) \(errors)")
        guard case .failure(let refusal) = catalog.makeFilterFactory(name: "tagger", config: "{}") else { return XCTFail() }
        XCTAssertEqual(refusal.description, "filter \"tagger\": tag is required")
        let c = chain(try filterFactory("tagger", #"{"tag":"t1"}"#, catalog: catalog))
        let run = FilterRun()
        XCTAssertEqual(TestHead().run(c, run), .forward)
        XCTAssertEqual(run.requestEdits.setsForTest, ["x-tag": "t1"])
        c.runResponse(status: 200, head: .empty, run: run)
        XCTAssertEqual(run.responseEdits.setsForTest, ["x-tagged": "t1"])
        XCTAssertEqual(TestHead(method: "DELETE").run(c, run), .respond(status: 405))
        XCTAssertEqual(run.localBody, "no")
        let symbols = try runCommand("nm", ["-D", "--defined-only", output])
        let globals = symbols.split(separator: "\n").filter { $0.contains(" T ") || $0.contains(" D ") || $0.contains(" B ") }
        XCTAssertEqual(Set(globals.map { $0.split(separator: " ").last.map(String.init) ?? "" }), ["fulcrum_plugin_entry", "fulcrum_plugin_filters"])
    }
}
