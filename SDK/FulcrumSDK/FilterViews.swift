/// Result of a header edit or annotation (FULCRUM_FILTER_OK / _ERR_*).
public enum FulcrumEditResult: Int32, Sendable {
    case ok = 0, refused = -1, invalid = -2, tooLarge = -3, notNow = -4
    init(_ code: Int32) { self = FulcrumEditResult(rawValue: code) ?? .invalid }
}

/// A head (request or response) through the host's callbacks.
public struct FulcrumHeadAccess: @unchecked Sendable {
    let fh: UnsafePointer<fulcrum_filter_host>
    let head: UnsafeMutableRawPointer?

    /// First value of `name` (case-insensitive), valid during the hook.
    public func header(_ name: String) -> UnsafeRawBufferPointer? {
        var n = name
        var v = fulcrum_str()
        let found = n.withUTF8 { u in fh.pointee.header_get(head, UnsafeRawPointer(u.baseAddress)?.assumingMemoryBound(to: CChar.self), u.count, &v) }
        guard found == 1 else { return nil }
        return UnsafeRawBufferPointer(start: v.ptr, count: v.len)
    }

    /// Every field, in order, after edits so far.
    public func forEachHeader(_ body: (UnsafeRawBufferPointer, UnsafeRawBufferPointer) -> Void) {
        let count = fh.pointee.header_count(head)
        var name = fulcrum_str(), value = fulcrum_str()
        for i in 0..<count where fh.pointee.header_at(head, i, &name, &value) == 1 {
            body(UnsafeRawBufferPointer(start: name.ptr, count: name.len), UnsafeRawBufferPointer(start: value.ptr, count: value.len))
        }
    }

    /// Replaces every `name` field with `name: value`. Framing and hop-by-hop
    /// names (and Host on requests) are `.refused`, and nothing changes.
    @discardableResult
    public func setHeader(_ name: String, _ value: some StringProtocol) -> FulcrumEditResult {
        var n = name
        var v = String(value)
        return n.withUTF8 { nu in
            v.withUTF8 { vu in
                FulcrumEditResult(fh.pointee.header_set(head, cchar(nu), nu.count, cchar(vu), vu.count))
            }
        }
    }

    /// The same with raw bytes.
    @discardableResult
    public func setHeader(_ name: String, bytes value: UnsafeRawBufferPointer) -> FulcrumEditResult {
        var n = name
        return n.withUTF8 { nu in
            FulcrumEditResult(fh.pointee.header_set(head, cchar(nu), nu.count, value.baseAddress?.assumingMemoryBound(to: CChar.self), value.count))
        }
    }

    @discardableResult
    public func removeHeader(_ name: String) -> FulcrumEditResult {
        var n = name
        return n.withUTF8 { nu in FulcrumEditResult(fh.pointee.header_remove(head, cchar(nu), nu.count)) }
    }

    /// Adds `key=value` to this request's access-log line (readable by later hooks).
    @discardableResult
    public func annotate(_ key: String, _ value: UnsafeRawBufferPointer) -> FulcrumEditResult {
        var k = key
        return k.withUTF8 { ku in
            FulcrumEditResult(fh.pointee.annotate(head, cchar(ku), ku.count, value.baseAddress?.assumingMemoryBound(to: CChar.self), value.count))
        }
    }

    /// An annotation made for this request, or nil.
    public func annotation(_ key: String) -> UnsafeRawBufferPointer? {
        var k = key
        var v = fulcrum_str()
        let found = k.withUTF8 { ku in fh.pointee.annotation(head, cchar(ku), ku.count, &v) }
        return found == 1 ? UnsafeRawBufferPointer(start: v.ptr, count: v.len) : nil
    }
}

@inline(__always)
func cchar(_ u: UnsafeBufferPointer<UInt8>) -> UnsafePointer<CChar>? {
    UnsafeRawPointer(u.baseAddress)?.assumingMemoryBound(to: CChar.self)
}

@inline(__always)
func bytes(_ s: fulcrum_str) -> UnsafeRawBufferPointer { UnsafeRawBufferPointer(start: s.ptr, count: s.ptr == nil ? 0 : s.len) }

/// The request, during `requestHead` only.
public struct FulcrumFilterRequest: @unchecked Sendable {
    public let raw: UnsafePointer<fulcrum_filter_request>
    /// Headers: read, set, remove; annotations.
    public let head: FulcrumHeadAccess

    /// 4 (IPv4, v4-mapped clients included) or 16 bytes, network order.
    public var clientIP: UnsafeRawBufferPointer { UnsafeRawBufferPointer(start: raw.pointee.client_ip, count: Int(raw.pointee.client_ip_len)) }
    public var method: UnsafeRawBufferPointer { bytes(raw.pointee.method) }
    public var target: UnsafeRawBufferPointer { bytes(raw.pointee.target) }
    public var route: UnsafeRawBufferPointer { bytes(raw.pointee.route) }
    public var pool: UnsafeRawBufferPointer { bytes(raw.pointee.pool) }
    /// This filter's 16 bytes for this request (zeroed at first).
    public var state: UnsafeMutablePointer<fulcrum_filter_state> { raw.pointee.state }
    public func header(_ name: String) -> UnsafeRawBufferPointer? { head.header(name) }
}

/// The response head, during `responseHead` only.
public struct FulcrumFilterResponse: @unchecked Sendable {
    public let raw: UnsafePointer<fulcrum_filter_response>
    public let head: FulcrumHeadAccess
    public var status: Int { Int(raw.pointee.status) }
    /// Made by the host or a filter, not by a backend.
    public var isLocal: Bool { raw.pointee.local != 0 }
    public var state: UnsafeMutablePointer<fulcrum_filter_state> { raw.pointee.state }
}

/// The end of a request, during `complete` only.
public struct FulcrumFilterCompletion: @unchecked Sendable {
    public let raw: UnsafePointer<fulcrum_filter_completion>
    let access: FulcrumHeadAccess
    public var status: Int { Int(raw.pointee.status) }
    public var bytesIn: UInt64 { raw.pointee.bytes_in }
    public var bytesOut: UInt64 { raw.pointee.bytes_out }
    public var durationMicros: UInt64 { raw.pointee.duration_us }
    public var state: UnsafeMutablePointer<fulcrum_filter_state> { raw.pointee.state }
    public func annotation(_ key: String) -> UnsafeRawBufferPointer? { access.annotation(key) }
}
