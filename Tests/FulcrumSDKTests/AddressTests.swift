import FulcrumSDK
import XCTest

/// `FulcrumAddress`: http:// and https:// backends (CONTRACT §3, §8).
final class AddressTests: XCTestCase {
    func testHTTPAndHTTPSParseAndPrintCanonically() throws {
        let plain = try FulcrumAddress.parse("HTTP://Example.com:8080/").get()
        XCTAssertEqual(plain.description, "http://example.com:8080")
        XCTAssertFalse(plain.isTLS)
        let tls = try FulcrumAddress.parse("https://[::1]:8443").get()
        XCTAssertTrue(tls.isTLS)
        XCTAssertEqual(tls.description, "https://[::1]:8443")
        XCTAssertEqual(tls.host, "::1")
        XCTAssertNotEqual(try FulcrumAddress.parse("http://a:1").get(), try FulcrumAddress.parse("https://a:1").get())
    }

    func testOtherSchemesAndMissingPortsAreRefused() {
        for bad in ["ftp://a:1", "a:1", "https://a", "https://:1", "httpss://a:1", "https://a:0"] {
            guard case .failure = FulcrumAddress.parse(bad) else { return XCTFail("\(bad) accepted") }
        }
    }
}
