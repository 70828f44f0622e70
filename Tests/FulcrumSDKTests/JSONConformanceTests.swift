import FulcrumSDK
import XCTest

/// RFC 8259 accept/reject tables for `JSONValue.parse` (cases in the
/// spirit of JSONTestSuite's y_/n_ files), plus the choices RFC 8259 leaves
/// to the implementation, each stated where it is tested.
final class JSONConformanceTests: XCTestCase {
    func parses(_ text: String) -> Bool { (try? JSONValue.parse(text)) != nil }
    func parses(bytes: [UInt8]) -> Bool { (try? bytes.withUnsafeBytes { raw throws(JSONError) in try JSONValue.parse(raw) }) != nil }

    func testAccepted() {
        let accepted = [
            "{}", "[]", "null", "true", "false", "0", "-0", "1", "-1", "0.5", "-0.5", "1e5", "1E5", "1e+5", "1e-5", "1.5e+10",
            "\"\"", "\" \"", " [1] ", "\t\n\r [1]\n", "[1,2,3]", #"{"a":1,"b":[true,false,null],"c":{"d":"e"}}"#,
            #"["\"\\\/\b\f\n\r\t"]"#, #"["\u0000"]"#, #"["\u00e9\u4e2d"]"#, #"["\uD83D\uDE00"]"#, #"["\uDBFF\uDFFF"]"#,
            "[\"é中😀\"]", "[\"\u{7F}\"]", "[1e-400]", "[123456789012345678901234567890]", "[-1e308]", "[1.7976931348623157e308]",
            #"{"":0}"#, "[[[[[]]]]]", "[ 1 , 2 ]", "{ \"a\" : 1 }",
        ]
        for text in accepted { XCTAssertTrue(parses(text), "should accept: \(text)") }
    }

    func testRejected() {
        let rejected = [
            "", " ", "[", "]", "{", "}", "[1,]", "[,1]", "[1,,2]", "{\"a\":1,}", "{,}", "{\"a\"}", "{\"a\":}", "{a:1}", "{'a':1}",
            "['a']", "[1 2]", "{\"a\":1 \"b\":2}", "[01]", "[-01]", "[+1]", "[.5]", "[1.]", "[1.e5]", "[1e]", "[1e+]", "[-]", "[--1]",
            "[0x10]", "[1_000]", "[NaN]", "[Infinity]", "[-Infinity]", "[1e400]", "[-1e400]", "[tru]", "[True]", "[nul]", "[nulll]",
            "\"abc", "[\"a\\\"]", #"["\x41"]"#, #"["\a"]"#, #"["\u12"]"#, #"["\u12G4"]"#, #"["\U0041"]"#,
            "[\"a\u{01}b\"]", "[\"tab\there\"]", "[\"new\nline\"]", "[\"\u{1F}\"]",
            "[1] [2]", "[1]x", "{} {}", "1 2", "[1]\u{0}", "/* c */ 1", "[1] // c", "\u{A0}[1]", "\u{FEFF}[1]",
        ]
        for text in rejected { XCTAssertFalse(parses(text), "should reject: \(text.debugDescription)") }
    }

    /// A BOM is refused (RFC 8259 §8.1 lets a parser ignore it; our inputs come
    /// from programs that never write one, and a clear error beats guessing).
    func testLeadingBOMIsRefusedWithAReason() {
        XCTAssertThrowsError(try JSONValue.parse("\u{FEFF}{}")) { XCTAssertTrue("\($0)".contains("byte order mark")) }
    }

    /// Lone surrogates cannot become a String (they are not Unicode scalars): refused, not replaced.
    func testSurrogates() {
        XCTAssertEqual(try JSONValue.parse(#""\uD83D\uDE00""#), .string("😀"))
        XCTAssertEqual(try JSONValue.parse(#""\ud834\udd1e""#), .string("𝄞"))
        for lone in [#""\uD83D""#, #""\uDE00""#, #""\uD83Dx""#, #""\uD83D\u0041""#, #""\uDE00\uD83D""#, #""\uD83D\uD83D""#,
                     #""\uD83D\""#, #""\uD83D\n""#] {
            XCTAssertThrowsError(try JSONValue.parse(lone), lone)
        }
    }

    /// Raw bytes must be UTF-8 (RFC 8259 §8.1): invalid sequences are refused, not repaired to U+FFFD.
    func testInvalidUTF8IsRefused() {
        let bad: [[UInt8]] = [
            [0x22, 0xFF, 0x22], [0x22, 0xC3, 0x22], [0x22, 0xC0, 0xAF, 0x22], [0x22, 0xE0, 0x80, 0xAF, 0x22],
            [0x22, 0xED, 0xA0, 0x80, 0x22], [0x22, 0xF4, 0x90, 0x80, 0x80, 0x22], [0x22, 0x80, 0x22], [0xFF], [0x5B, 0xC3, 0xA9, 0x5D],
        ]
        for bytes in bad { XCTAssertFalse(parses(bytes: bytes), "\(bytes)") }
        XCTAssertTrue(parses(bytes: [0x22, 0xC3, 0xA9, 0x22]))
        XCTAssertTrue(parses(bytes: [0x22, 0xF0, 0x9F, 0x98, 0x80, 0x22]))
    }

    /// Duplicate keys are refused: RFC 8259 §4 leaves them undefined, and
    /// parsers disagree (first wins, last wins), so a body that means one
    /// thing to a proxy or WAF in front and another to us is a smuggling
    /// vector; "last wins" would also let a field slip past a check that
    /// read the first.
    func testDuplicateKeysAreRefused() {
        XCTAssertFalse(parses(#"{"a":1,"a":2}"#))
        XCTAssertFalse(parses(#"{"a":1,"b":{"c":1,"c":1}}"#))
        XCTAssertFalse(parses(#"{"a":1,"\u0061":2}"#), "the same key after unescaping")
        XCTAssertTrue(parses(#"{"a":1,"b":{"a":2}}"#), "the same key in different objects")
    }

    func testDepthLimit() {
        let ok = String(repeating: "[", count: 64) + String(repeating: "]", count: 64)
        let deep = String(repeating: "[", count: 65) + String(repeating: "]", count: 65)
        XCTAssertTrue(parses(ok))
        XCTAssertThrowsError(try JSONValue.parse(deep)) { XCTAssertTrue("\($0)".contains("nesting")) }
        XCTAssertFalse(parses(String(repeating: "{\"a\":", count: 65) + "1" + String(repeating: "}", count: 65)))
        // Far deeper input fails the same way, without exhausting the stack.
        XCTAssertFalse(parses(String(repeating: "[", count: 1_000_000)))
    }

    /// No size limit in the parser itself (callers bound their input: 1 MiB
    /// admin bodies, 64 MiB state file); large inputs parse in linear time.
    func testLargeInputs() throws {
        let big = "[\"" + String(repeating: "x", count: 1 << 20) + "\"]"
        XCTAssertEqual(try JSONValue.parse(big).arrayValue?.first?.stringValue?.utf8.count, 1 << 20)
        let many = "[" + Array(repeating: "1", count: 100_000).joined(separator: ",") + "]"
        XCTAssertEqual(try JSONValue.parse(many).arrayValue?.count, 100_000)
        let digits = "[" + String(repeating: "9", count: 100_000) + "]"
        XCTAssertThrowsError(try JSONValue.parse(digits), "1e100000 is beyond Double")
    }

    func testControlCharacters() {
        for c in 0..<0x20 {
            XCTAssertFalse(parses(bytes: [0x22, UInt8(c), 0x22]), "raw U+\(String(c, radix: 16)) in a string")
        }
        XCTAssertTrue(parses(bytes: [0x22, 0x7F, 0x22]), "DEL is allowed")
        XCTAssertEqual(try JSONValue.parse(#""\u001f""#).serialized, #""\u001f""#)
        XCTAssertEqual(JSONValue.string("a\u{0}b\u{1F}<").serialized, #""a\u0000b\u001f\u003c""#)
    }
}
