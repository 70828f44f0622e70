/// What a hashing strategy (source-ip-hash, bounded-load-hash, maglev) hashes:
/// the `"key"` member of its configuration (CONTRACT §9):
///
///     "ip"            the client address (the default)
///     "header:NAME"   the first value of request header NAME
///     "cookie:NAME"   the value of cookie NAME in the first Cookie header
///     "path"          the request target up to the first '?'
///     "query:NAME"    the value of query parameter NAME
///
/// A request without the key (no such header, cookie or parameter, or an
/// empty value) falls back to the client address, so it still sticks to one
/// backend. Values are hashed as received: no percent-decoding, no case folding.
///
/// Extraction reads the request view in place: the header name is a C string
/// made once at configuration; cookies and the query are scanned byte by byte,
/// so a pick allocates nothing.
public final class FulcrumRequestKey: @unchecked Sendable {
    public enum Kind: Equatable, Sendable { case ip, header, cookie, path, query }

    public let kind: Kind
    /// kind == .ip, as a stored flag the inlined `hash` can test.
    public let isClientIP: Bool
    /// NAME, for header, cookie and query keys ("" otherwise).
    public let name: String
    /// NUL-terminated header name to ask the host for ("Cookie" for cookie keys).
    private let headerName: UnsafeMutablePointer<CChar>?
    /// NAME's bytes, for cookie and query keys.
    private let nameBytes: UnsafeRawBufferPointer
    private let nameStorage: UnsafeMutableRawBufferPointer

    /// The default key: the client address.
    public static let clientIP = FulcrumRequestKey(kind: .ip, name: "")!

    /// Parses a key specification ("ip", "header:X-User", …); nil when malformed.
    public convenience init?(specification: String) {
        if specification == "ip" { self.init(kind: .ip, name: "")!; return }
        if specification == "path" { self.init(kind: .path, name: "")!; return }
        guard let colon = specification.firstIndex(of: ":") else { return nil }
        let name = String(specification[specification.index(after: colon)...])
        switch specification[..<colon] {
        case "header": self.init(kind: .header, name: name)
        case "cookie": self.init(kind: .cookie, name: name)
        case "query": self.init(kind: .query, name: name)
        default: return nil
        }
    }

    /// The key of a strategy configuration object: its `"key"` member, or
    /// the client address when there is none. Nil when `key` is not a valid
    /// specification (the strategy should then refuse its configuration).
    public convenience init?(config: JSONValue) {
        guard let member = config["key"] else { self.init(kind: .ip, name: "")!; return }
        guard let text = member.stringValue else { return nil }
        self.init(specification: text)
    }

    private init?(kind: Kind, name: String) {
        let needsName = kind == .header || kind == .cookie || kind == .query
        guard needsName == !name.isEmpty else { return nil }
        // A name is a token (RFC 9110): no separators, no spaces, no controls.
        guard name.utf8.allSatisfy({ $0 > 0x20 && $0 < 0x7F && !"\"(),/:;<=>?@[\\]{}".utf8.contains($0) }) else { return nil }
        self.kind = kind
        isClientIP = kind == .ip
        self.name = name
        let asked = kind == .header ? name : kind == .cookie ? "Cookie" : nil
        if let asked {
            let utf8 = Array(asked.utf8)
            let p = UnsafeMutablePointer<CChar>.allocate(capacity: utf8.count + 1)
            for (i, b) in utf8.enumerated() { p[i] = CChar(bitPattern: b) }
            p[utf8.count] = 0
            headerName = p
        } else {
            headerName = nil
        }
        nameStorage = .allocate(byteCount: max(1, name.utf8.count), alignment: 1)
        for (i, b) in name.utf8.enumerated() { nameStorage[i] = b }
        nameBytes = UnsafeRawBufferPointer(start: nameStorage.baseAddress, count: name.utf8.count)
    }

    deinit {
        headerName?.deallocate()
        nameStorage.deallocate()
    }

    /// The bytes the key names in `request`, or nil when the request has no
    /// (or an empty) value for it. For `.ip`, the client address. The buffer
    /// is valid during `pick` only.
    @inline(__always)
    public func value(in request: FulcrumRequest) -> UnsafeRawBufferPointer? {
        switch kind {
        case .ip:
            return request.clientIP
        case .path:
            let target = request.path
            guard let q = target.firstIndex(of: UInt8(ascii: "?")) else { return nonEmpty(target) }
            return nonEmpty(UnsafeRawBufferPointer(rebasing: target[..<q]))
        case .header:
            return header(request).flatMap(nonEmpty)
        case .cookie:
            guard let cookies = header(request) else { return nil }
            return Self.field(named: nameBytes, in: cookies, separator: UInt8(ascii: ";"), trimSpaces: true)
        case .query:
            let target = request.path
            guard let q = target.firstIndex(of: UInt8(ascii: "?")) else { return nil }
            var query = UnsafeRawBufferPointer(rebasing: target[(q + 1)...])
            if let hash = query.firstIndex(of: UInt8(ascii: "#")) { query = UnsafeRawBufferPointer(rebasing: query[..<hash]) }
            return Self.field(named: nameBytes, in: query, separator: UInt8(ascii: "&"), trimSpaces: false)
        }
    }

    /// The 64-bit hash a strategy places on its ring or table: of the key's
    /// value, or of the client address when the request lacks the key. For
    /// the `ip` key this is exactly `FulcrumHash.hash(clientIP)`, the hash
    /// source-ip-hash always used, so its mapping did not change; that case
    /// is inlined into the plugin (no call into the SDK on the default path).
    @inlinable @inline(__always)
    public func hash(_ request: FulcrumRequest) -> UInt64 {
        if isClientIP { return FulcrumHash.hash(request.clientIP) }
        return hashOfValue(request)
    }

    @usableFromInline
    func hashOfValue(_ request: FulcrumRequest) -> UInt64 {
        FulcrumHash.hash(value(in: request) ?? request.clientIP)
    }

    @inline(__always)
    private func header(_ request: FulcrumRequest) -> UnsafeRawBufferPointer? {
        guard let lookup = request.raw.pointee.header, let headerName else { return nil }
        var len = 0
        guard let p = lookup(request.raw.pointee.context, headerName, &len) else { return nil }
        return UnsafeRawBufferPointer(start: p, count: len)
    }

    @inline(__always)
    private func nonEmpty(_ b: UnsafeRawBufferPointer) -> UnsafeRawBufferPointer? { b.isEmpty ? nil : b }

    /// The value of the first `name=value` member of `list` (members split by
    /// `separator`, optionally with spaces around them), or nil when absent or empty.
    /// `a; b=1` and `b` without '=' are members with no value.
    static func field(named name: UnsafeRawBufferPointer, in list: UnsafeRawBufferPointer,
                      separator: UInt8, trimSpaces: Bool) -> UnsafeRawBufferPointer? {
        let n = list.count
        var start = 0
        while start < n {
            var end = start
            while end < n && list[end] != separator { end += 1 }
            var s = start, e = end
            if trimSpaces {
                while s < e && (list[s] == 0x20 || list[s] == 0x09) { s += 1 }
                while e > s && (list[e - 1] == 0x20 || list[e - 1] == 0x09) { e -= 1 }
            }
            // Member s..<e: does it start with name followed by '='?
            if e - s > name.count && list[s + name.count] == UInt8(ascii: "=") {
                var same = true
                for i in 0..<name.count where list[s + i] != name[i] { same = false; break }
                if same {
                    let valueStart = s + name.count + 1
                    guard valueStart < e else { return nil }
                    return UnsafeRawBufferPointer(rebasing: list[valueStart..<e])
                }
            }
            start = end + 1
        }
        return nil
    }
}
