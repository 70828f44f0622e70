@testable import FulcrumPluginHost
import XCTest

/// The edit buffer's semantics: the newest operation on a name wins, names
/// compare case-insensitively, and reads see the edited head.
final class HeaderEditsTests: XCTestCase {
    func edit(_ context: FilterHeadContext, set name: String, _ value: String? = nil) {
        var n = name, v = value ?? ""
        n.withUTF8 { nu in v.withUTF8 { vu in
            XCTAssertEqual(context.edits.record(set: value != nil, name: UnsafeRawBufferPointer(nu), value: UnsafeRawBufferPointer(vu)), 0)
        } }
    }

    func fields(_ c: FilterHeadContext) -> [String] {
        var out: [String] = []
        c.forEachField { n, v in out.append(String(decoding: n, as: UTF8.self) + "=" + String(decoding: v, as: UTF8.self)); return true }
        return out
    }

    func testNewestOperationWinsAndReadsSeeEdits() {
        let head = TestHead(headers: [("Accept", "a"), ("X-Old", "1"), ("x-old", "2"), ("Cookie", "c")])
        let run = FilterRun()
        head.bytes.withUnsafeBytes { b in
            head.fields.withUnsafeBytes { f in
                let c = run.request
                c.head = FilterHead(base: b.baseAddress, fields: f.baseAddress, count: head.fields.count, stride: 16)
                XCTAssertEqual(fields(c), ["Accept=a", "X-Old=1", "x-old=2", "Cookie=c"])
                edit(c, set: "X-OLD", "new")           // replaces both lines
                edit(c, set: "cookie")                 // remove
                edit(c, set: "X-Add", "1")
                edit(c, set: "x-add")                  // added then removed: gone
                edit(c, set: "X-Late")                 // removed then set: present
                edit(c, set: "x-late", "yes")
                XCTAssertEqual(fields(c), ["Accept=a", "X-OLD=new", "x-late=yes"])
                XCTAssertEqual(c.get(UnsafeRawBufferPointer(start: "x-old", count: 5)).map { String(decoding: $0, as: UTF8.self) }, "new")
                XCTAssertNil(c.get(UnsafeRawBufferPointer(start: "COOKIE", count: 6)))
                XCTAssertTrue(c.edits.touches(UnsafeRawBufferPointer(start: "x-add", count: 5)), "the original line, if any, is dropped")
                XCTAssertEqual(c.edits.setsForTest, ["x-old": "new", "x-late": "yes"])
            }
        }
    }

    func testValueAndNameRules() {
        func name(_ s: String, request: Bool = true) -> Int32 {
            var s = s
            return s.withUTF8 { HeaderRules.check(name: UnsafeRawBufferPointer($0), request: request) }
        }
        func value(_ s: String) -> Int32 { var s = s; return s.withUTF8 { HeaderRules.check(value: UnsafeRawBufferPointer($0)) } }
        for refused in ["Content-Length", "TRANSFER-ENCODING", "connection", "Keep-Alive", "Proxy-Connection", "TE", "Trailer", "Upgrade", "Host"] {
            XCTAssertEqual(name(refused), -1, refused)
        }
        XCTAssertEqual(name("Host", request: false), 0, "Host means nothing on a response")
        XCTAssertEqual(name(""), -2)
        XCTAssertEqual(name("a:b"), -2)
        XCTAssertEqual(name("X-Fine_1"), 0)
        XCTAssertEqual(value("tab\tok"), 0)
        XCTAssertEqual(value("a\rb"), -2)
        XCTAssertEqual(value("a\nb"), -2)
        XCTAssertEqual(value("a\u{0}b"), -2)
        XCTAssertEqual(value(String(repeating: "x", count: 9000)), -3)
    }
}
