import Foundation
import FulcrumPluginHost
import FulcrumTestSupport
import XCTest

/// The chain runner through a C filter compiled here from the header alone.
final class FilterChainTests: XCTestCase {
    nonisolated(unsafe) static var catalog: PluginCatalog?
    nonisolated(unsafe) static var directory = ""

    override class func setUp() {
        directory = (try? temporaryDirectory("filters"))!
        _ = try? compileCPlugin(cTracerFilterSource, named: "tracer", in: directory)
        let c = PluginCatalog()
        let (warnings, errors) = c.loadDirectory(directory)
        precondition(errors.isEmpty && warnings.isEmpty, "\(warnings) \(errors)")
        catalog = c
    }
    override class func tearDown() { try? FileManager.default.removeItem(atPath: directory) }

    func tracer(_ config: String) throws -> FilterFactory { try filterFactory("c-tracer", config, catalog: Self.catalog!) }

    func testChainRunsInOrderAndResponsesInReverse() throws {
        let c = chain(try tracer(#"{"tag":"a"}"#), try tracer(#"{"tag":"b"}"#), try tracer(#"{"tag":"c"}"#))
        let run = FilterRun()
        XCTAssertEqual(TestHead().run(c, run), .forward)
        XCTAssertEqual(run.ranCount, 3)
        c.runResponse(status: 200, head: .empty, run: run)
        c.complete(run: run, status: 200, bytesIn: 10, bytesOut: 20, durationMicros: 5)
        XCTAssertEqual(run.annotation("trace"), "a>b>c><c<b<ac.b.a.")
        // Per-request state survived from the request hook to the response hook.
        XCTAssertEqual(run.responseEdits.setsForTest, ["x-seen-a": "state", "x-seen-b": "state", "x-seen-c": "state"])
    }

    func testARespondingFilterStopsTheChainAndEarlierFiltersSeeTheAnswer() throws {
        let c = chain(try tracer(#"{"tag":"a"}"#), try tracer(#"{"tag":"b","respond":1}"#), try tracer(#"{"tag":"c"}"#))
        let run = FilterRun()
        XCTAssertEqual(TestHead().run(c, run), .respond(status: 403))
        XCTAssertEqual(run.ranCount, 2, "c never ran")
        XCTAssertEqual(run.localBody, "no")
        // Content-Length from the filter is dropped: the host frames the answer.
        XCTAssertEqual(run.responseEdits.setsForTest, ["x-why": "refused"])
        c.runResponse(status: 403, head: nil, run: run)
        c.complete(run: run, status: 403, bytesIn: 1, bytesOut: 1, durationMicros: 1)
        XCTAssertEqual(run.annotation("trace"), "a>b><b<ab.a.")
        XCTAssertEqual(run.responseEdits.setsForTest["x-seen-a"], "state")
        XCTAssertEqual(run.responseEdits.setsForTest["x-why"], "refused")
    }

    func testFramingAndHopByHopEditsAreRefusedAndTheRequestIsUnchanged() throws {
        let c = chain(try tracer(#"{"tag":"e","edits":1}"#))
        let run = FilterRun()
        let head = TestHead(headers: [("Content-Length", "5"), ("Host", "example.com")])
        XCTAssertEqual(head.run(c, run), .forward)
        // CL, TE, Connection, Host, Keep-Alive, Upgrade: refused (-1); remove CL refused;
        // CRLF in a value and a space in a name: invalid (-2); X-Ok: fine.
        XCTAssertEqual(run.annotation("codes"), "-1,-1,-1,-1,-1,-1,-1,-2,-2,0")
        XCTAssertEqual(run.requestEdits.setsForTest, ["x-ok": "yes"])
        XCTAssertFalse("content-length".utf8CString.withUnsafeBytes { run.requestEdits.touches(UnsafeRawBufferPointer(rebasing: $0.dropLast())) })
    }

    func testChoosingAPoolGoesOn() throws {
        let c = chain(try tracer(#"{"tag":"p","pool":1}"#), try tracer(#"{"tag":"q"}"#))
        let run = FilterRun()
        XCTAssertEqual(TestHead().run(c, run), .forwardToPool)
        XCTAssertEqual(run.chosenPool, "other")
        XCTAssertEqual(run.ranCount, 2)
    }

    func testARefusedConfigurationNamesTheFilterAndTheReason() {
        guard case .failure(let e) = Self.catalog!.makeFilterFactory(name: "c-tracer", config: "{}") else { return XCTFail() }
        XCTAssertEqual(e.description, "filter \"c-tracer\": tag is required")
        guard case .failure(let u) = Self.catalog!.makeFilterFactory(name: "nope", config: "{}") else { return XCTFail() }
        XCTAssertTrue(u.description.contains("unknown filter"), u.description)
    }

    func testRunsAreReusedWithoutLeakingState() throws {
        let c = chain(try tracer(#"{"tag":"a"}"#))
        let run = FilterRun()
        for _ in 0..<3 {
            XCTAssertEqual(TestHead().run(c, run), .forward)
            c.runResponse(status: 200, head: .empty, run: run)
            c.complete(run: run, status: 200, bytesIn: 0, bytesOut: 0, durationMicros: 0)
            XCTAssertEqual(run.annotation("trace"), "a><aa.")
        }
    }
}
