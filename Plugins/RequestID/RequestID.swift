import FulcrumSDK

/// `request-id`: a request without the header (default X-Request-Id) gets a
/// fresh id — 128 random bits as a version-4 UUID (122 random bits after
/// the version and variant); the id, fresh or the client's, is returned on
/// the response and annotated `request_id` for the access log. A client's
/// id is kept when it is 1…128 printable characters without spaces, quotes
/// or backslashes; otherwise it is replaced by a fresh one.
final class RequestID: FulcrumFilter {
    static let name = "request-id"
    static let description = "adds a random id (UUID) to requests without one; echoes it on the response and in the access log"
    static let handlesResponses = true

    let header: String
    let host: FulcrumHost

    init(setup: FulcrumFilterSetup) throws(FulcrumFilterConfigError) {
        guard let config = try? JSONValue.parse(setup.config), let members = config.objectMembers else {
            throw FulcrumFilterConfigError("configuration must be a JSON object")
        }
        for (k, _) in members where k != "header" { throw FulcrumFilterConfigError("unknown key \"\(k)\" (expected header)") }
        if let h = config["header"] {
            guard let name = h.stringValue, !name.isEmpty, name.utf8.allSatisfy(Self.isToken) else {
                throw FulcrumFilterConfigError("header must be a header name")
            }
            header = name
        } else {
            header = "X-Request-Id"
        }
        host = setup.host
    }

    static func isToken(_ c: UInt8) -> Bool {
        (c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x5A) || (c >= 0x61 && c <= 0x7A) || "!#$%&'*+-.^_`|~".utf8.contains(c)
    }

    static func acceptable(_ id: UnsafeRawBufferPointer) -> Bool {
        (1...128).contains(id.count) && id.allSatisfy { $0 > 0x20 && $0 < 0x7F && $0 != 0x22 && $0 != 0x5C }
    }

    func requestHead(_ request: FulcrumFilterRequest) -> FulcrumFilterDecision {
        if let given = request.header(header), Self.acceptable(given) {
            request.head.annotate("request_id", given)
            return .proceed
        }
        // 36 bytes on the stack: no allocation.
        withUnsafeTemporaryAllocation(of: UInt8.self, capacity: 36) { buffer in
            Self.uuid(host.randomU64(), host.randomU64(), into: buffer)
            let id = UnsafeRawBufferPointer(buffer)
            request.head.setHeader(header, bytes: id)
            request.head.annotate("request_id", id)
        }
        return .proceed
    }

    func responseHead(_ response: FulcrumFilterResponse) {
        guard let id = response.head.annotation("request_id") else { return }
        response.head.setHeader(header, bytes: id)
    }

    /// The UUID text (8-4-4-4-12 lowercase hex, version 4, variant 10xx).
    static func uuid(_ a: UInt64, _ b: UInt64, into out: UnsafeMutableBufferPointer<UInt8>) {
        let hi = (a & ~0xF000) | 0x4000  // version nibble (bits 12-15 of the third group)
        let lo = (b & ~(UInt64(0xC) << 60)) | (UInt64(0x8) << 60)
        let hex: StaticString = "0123456789abcdef"
        var j = 0
        for i in 0..<32 {
            if i == 8 || i == 12 || i == 16 || i == 20 { out[j] = UInt8(ascii: "-"); j += 1 }
            let word = i < 16 ? hi : lo
            let nibble = Int((word >> UInt64(60 - 4 * (i % 16))) & 0xF)
            out[j] = hex.utf8Start[nibble]
            j += 1
        }
    }
}

@c public func fulcrum_plugin_entry() -> UnsafePointer<fulcrum_plugin> {
    fulcrumExport(name: "fulcrum-request-id", version: "1.0.0")
}

@c public func fulcrum_plugin_filters(_ host: UnsafePointer<fulcrum_filter_host>?) -> UnsafePointer<fulcrum_filter_list>? {
    fulcrumExportFilters([RequestID.self])
}
