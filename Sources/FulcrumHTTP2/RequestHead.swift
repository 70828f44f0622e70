/// A validated HTTP/2 request as the HTTP/1.1 side needs it: the request
/// line's parts, the Host, and the other fields (cookie crumbs joined,
/// pseudo-headers and `host` removed), plus body framing facts.
public struct RequestHead: Equatable, Sendable {
    public var method: [UInt8]
    /// `:path` (origin-form, or `*` for OPTIONS).
    public var target: [UInt8]
    /// `:authority`, or the `host` field when there is no `:authority`.
    public var host: [UInt8]
    public var scheme: [UInt8]
    /// Regular fields in arrival order (lower-case names), one `cookie` at the place of the first crumb.
    public var fields: HeaderList
    /// The single `content-length` value, if the request has one.
    public var contentLength: Int?
    /// HEADERS did not end the stream: DATA (or trailers) follow.
    public var hasBody: Bool

    /// The HTTP/1.1 request head (RFC 9112) for the existing proxy path: `Host`
    /// first; a body without `content-length` goes chunked (the driver then
    /// chunk-encodes DATA and writes trailers as the chunked trailer section).
    public func http1Head() -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(64 + fields.bytes.count + 4 * fields.count)
        out += method
        out.append(0x20)
        out += target
        out += Array(" HTTP/1.1\r\nhost: ".utf8)
        out += host
        out += [0x0D, 0x0A]
        for i in 0..<fields.count {
            out += fields.name(i)
            out += [0x3A, 0x20]
            out += fields.value(i)
            out += [0x0D, 0x0A]
        }
        if hasBody && contentLength == nil { out += Array("transfer-encoding: chunked\r\n".utf8) }
        out += [0x0D, 0x0A]
        return out
    }

    /// Whether the HTTP/1.1 body is chunked (see `http1Head`).
    public var chunkedBody: Bool { hasBody && contentLength == nil }
}
