import FulcrumPluginHost
import XCTest

/// request-id through its .so.
final class RequestIDTests: XCTestCase {
    func testFreshIDsAreUUIDsUniqueAndEchoed() throws {
        let c = chain(try filterFactory("request-id"))
        let run = FilterRun()
        var seen = Set<String>()
        let uuid = try Regex("^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$")
        for _ in 0..<10_000 {
            XCTAssertEqual(TestHead().run(c, run), .forward)
            let id = try XCTUnwrap(run.requestEdits.setsForTest["x-request-id"])
            XCTAssertNotNil(id.wholeMatch(of: uuid), id)
            XCTAssertEqual(run.annotation("request_id"), id)
            c.runResponse(status: 200, head: .empty, run: run)
            XCTAssertEqual(run.responseEdits.setsForTest["x-request-id"], id, "the same id on the response")
            c.complete(run: run, status: 200, bytesIn: 0, bytesOut: 0, durationMicros: 0)
            seen.insert(id)
        }
        XCTAssertEqual(seen.count, 10_000)
    }

    func testAClientIDIsKeptAndABadOneReplaced() throws {
        let c = chain(try filterFactory("request-id", #"{"header": "X-Trace"}"#))
        let run = FilterRun()
        XCTAssertEqual(TestHead(headers: [("x-trace", "abc-123")]).run(c, run), .forward)
        XCTAssertEqual(run.requestEdits.setsForTest, [:], "the request is forwarded unchanged")
        XCTAssertEqual(run.annotation("request_id"), "abc-123")
        c.runResponse(status: 200, head: .empty, run: run)
        XCTAssertEqual(run.responseEdits.setsForTest["x-trace"], "abc-123")

        XCTAssertEqual(TestHead(headers: [("X-Trace", "has \"quotes\"")]).run(c, run), .forward)
        XCTAssertEqual(run.requestEdits.setsForTest["x-trace"]?.count, 36)
    }

    func testTheIDIsOnLocalAnswersToo() throws {
        // request-id before ip-filter: the 403 carries the id.
        let c = chain(try filterFactory("request-id"), try filterFactory("ip-filter", #"{"allow": []}"#))
        let run = FilterRun()
        XCTAssertEqual(TestHead().run(c, run), .respond(status: 403))
        c.runResponse(status: 403, head: nil, run: run)
        XCTAssertEqual(run.responseEdits.setsForTest["x-request-id"], run.annotation("request_id"))
        XCTAssertEqual(run.responseEdits.setsForTest["content-type"], "application/json")
    }

    func testBadConfigurationIsRefused() {
        XCTAssertTrue(refusal("request-id", #"{"header": "bad name"}"#)?.contains("header name") ?? false)
        XCTAssertTrue(refusal("request-id", #"{"prefix": "x"}"#)?.contains("unknown key") ?? false)
    }
}
