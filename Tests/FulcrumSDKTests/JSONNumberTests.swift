import FulcrumSDK
import XCTest

/// Numbers at and beyond every limit: Double's range, the exact-integer
/// range (2^53) behind `intValue`, and Int64's (2^63) behind serialisation.
final class JSONNumberTests: XCTestCase {
    func number(_ text: String) throws -> JSONValue { try JSONValue.parse(text) }

    func testIntValueIsExactOrNil() throws {
        XCTAssertEqual(try number("9007199254740991").intValue, 9_007_199_254_740_991)
        XCTAssertEqual(try number("-9007199254740991").intValue, -9_007_199_254_740_991)
        for inexact in ["9007199254740992", "9007199254740993", "-9007199254740993", "4294967297000000000000",
                        "99999999999999999999", "18446744073709551617"] {
            XCTAssertNil(try number(inexact).intValue, inexact)
        }
        XCTAssertEqual(try number("4294967297").intValue, 4_294_967_297, "fits an Int; range checks are the caller's")
        for notInteger in ["1.5", "1e2", "1.0", "1e30", "-0.0", "1E0"] {
            XCTAssertNil(try number(notInteger).intValue, "\(notInteger) was not written as an integer")
        }
        XCTAssertEqual(try number("-0").intValue, 0)
    }

    /// Re-serialising never traps (it used to on Int64(d) beyond ±2^63) and stays valid JSON.
    func testSerialisationAtTheLimits() throws {
        let inputs = ["0", "-0", "42", "-42", "9223372036854775807", "99999999999999999999", "-99999999999999999999",
                      "1e308", "1.5", "5e-324", "1e-400", "-1e-400"]
        for input in inputs {
            let value = try number(input)
            let text = value.serialized
            let again = try JSONValue.parse(text)
            XCTAssertEqual(again.doubleValue, value.doubleValue, "\(input) → \(text) round-trips")
        }
        XCTAssertEqual(try number("99999999999999999999").serialized, "1e+20")
        XCTAssertEqual(try number("9223372036854775808").serialized, "9.223372036854776e+18")
        XCTAssertEqual(try number("-9223372036854775808").serialized, "-9223372036854775808")
        XCTAssertEqual(try number("1e15").serialized, "1000000000000000")
        XCTAssertEqual(JSONValue.number(.infinity, isInteger: true).serialized, "null")
        XCTAssertEqual(JSONValue.number(.nan, isInteger: false).serialized, "null")
        XCTAssertEqual(try JSONValue.parse(#"{"a":99999999999999999999,"b":[1e300,-0,0.1]}"#).serialized,
                       #"{"a":1e+20,"b":[1e+300,0,0.1]}"#)
    }

    func testOutOfDoubleRangeIsRefused() {
        for text in ["1e309", "-1e309", "1e400", "1" + String(repeating: "0", count: 400)] {
            XCTAssertThrowsError(try JSONValue.parse(text), text)
        }
        XCTAssertEqual(try JSONValue.parse("1.7976931348623157e308").doubleValue, .greatestFiniteMagnitude)
    }
}
