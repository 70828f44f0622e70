/// A parsed head as plain byte ranges, which is what the proxy already has:
/// `base` is the head's first byte and `fields` a table of `count` entries,
/// `stride` bytes apart, each beginning with four Int32 offsets from `base`:
/// name start, name end, value start, value end (the value without
/// surrounding whitespace). FulcrumHTTP's `FieldRef` has exactly that
/// prefix, so the proxy passes its own table without copying:
/// `FilterHead(base:, fields: parsed.fields, count: parsed.fieldCount, stride: MemoryLayout<FieldRef>.stride)`.
public struct FilterHead: @unchecked Sendable {
    public var base: UnsafeRawPointer?
    public var fields: UnsafeRawPointer?
    public var count: Int
    public var stride: Int

    public init(base: UnsafeRawPointer?, fields: UnsafeRawPointer?, count: Int, stride: Int) {
        self.base = base
        self.fields = fields
        self.count = count
        self.stride = stride
    }

    /// A head without fields (a local answer).
    public static let empty = FilterHead(base: nil, fields: nil, count: 0, stride: 16)

    @inline(__always)
    func name(_ i: Int) -> UnsafeRawBufferPointer {
        let f = fields! + i * stride
        let s = Int(f.load(as: Int32.self)), e = Int(f.load(fromByteOffset: 4, as: Int32.self))
        return UnsafeRawBufferPointer(start: base! + s, count: e - s)
    }

    @inline(__always)
    func value(_ i: Int) -> UnsafeRawBufferPointer {
        let f = fields! + i * stride
        let s = Int(f.load(fromByteOffset: 8, as: Int32.self)), e = Int(f.load(fromByteOffset: 12, as: Int32.self))
        return UnsafeRawBufferPointer(start: base! + s, count: e - s)
    }
}

/// One field as offsets, for callers that build a table themselves (tests,
/// HTTP/2 streams): the layout FilterHead expects, stride 16.
public struct FilterField {
    public var nameStart: Int32
    public var nameEnd: Int32
    public var valueStart: Int32
    public var valueEnd: Int32
    public init(nameStart: Int32, nameEnd: Int32, valueStart: Int32, valueEnd: Int32) {
        self.nameStart = nameStart
        self.nameEnd = nameEnd
        self.valueStart = valueStart
        self.valueEnd = valueEnd
    }
}

/// What the proxy passes to `FilterChain.runRequest`, all borrowed for the call.
public struct FilterRequestView {
    public var head: FilterHead
    /// Offsets into `head.base`.
    public var method: Range<Int>
    public var target: Range<Int>
    /// 4 or 16 bytes, network order (a v4-mapped address may be given either way: it is passed on as IPv4).
    public var clientIP: UnsafeRawBufferPointer
    /// The route's name and the routed pool's name.
    public var route: UnsafeRawBufferPointer
    public var pool: UnsafeRawBufferPointer

    public init(head: FilterHead, method: Range<Int>, target: Range<Int>, clientIP: UnsafeRawBufferPointer,
                route: UnsafeRawBufferPointer, pool: UnsafeRawBufferPointer) {
        self.head = head
        self.method = method
        self.target = target
        self.clientIP = clientIP
        self.route = route
        self.pool = pool
    }
}
