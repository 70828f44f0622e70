/// The set/remove operations filters made on one head, in order, over a
/// byte arena that is reused request after request: a filter that only
/// reads never touches it, so reading costs no allocation, and one that
/// edits allocates only until the arena has grown to its working size.
///
/// Semantics: the newest operation on a name wins; `set` replaces every
/// field of that name, `remove` drops them all.
public struct HeaderEdits {
    struct Op {
        var isSet: Bool
        var name: Range<Int>
        var value: Range<Int>
    }
    private(set) var ops: [Op] = []
    private(set) var bytes: [UInt8] = []
    /// Bytes of names and values one request may add to a head.
    public static let capacity = 16 * 1024

    public init() {}

    public var isEmpty: Bool { ops.isEmpty }

    mutating func reset() {
        ops.removeAll(keepingCapacity: true)
        bytes.removeAll(keepingCapacity: true)
    }

    mutating func record(set: Bool, name: UnsafeRawBufferPointer, value: UnsafeRawBufferPointer) -> Int32 {
        guard bytes.count + name.count + value.count <= Self.capacity else { return FilterStatus.tooLarge }
        let n = bytes.count
        bytes.append(contentsOf: name)
        let v = bytes.count
        bytes.append(contentsOf: value)
        ops.append(Op(isSet: set, name: n..<v, value: v..<bytes.count))
        return FilterStatus.ok
    }

    /// The newest operation on `name` (case-insensitive), if any.
    func latest(_ name: UnsafeRawBufferPointer) -> Op? {
        var i = ops.count - 1
        while i >= 0 {
            if nameEquals(ops[i].name, name) { return ops[i] }
            i -= 1
        }
        return nil
    }

    func nameEquals(_ range: Range<Int>, _ name: UnsafeRawBufferPointer) -> Bool {
        guard range.count == name.count else { return false }
        return bytes.withUnsafeBytes { b in
            for i in 0..<name.count where lowerASCII(b[range.lowerBound + i]) != lowerASCII(name[i]) { return false }
            return true
        }
    }

    /// Whether an original field called `name` is replaced or removed: the
    /// proxy leaves such lines out of the forwarded head.
    public func touches(_ name: UnsafeRawBufferPointer) -> Bool { latest(name) != nil }

    /// Calls `body(name, value)` once per name whose newest operation is a
    /// set: the lines the proxy appends to the forwarded head.
    public func forEachSet(_ body: (UnsafeRawBufferPointer, UnsafeRawBufferPointer) -> Void) {
        bytes.withUnsafeBytes { b in
            for (i, op) in ops.enumerated() where op.isSet {
                let name = UnsafeRawBufferPointer(rebasing: b[op.name])
                // Only the newest operation on this name counts.
                var newer = false
                for j in (i + 1)..<ops.count where ops[j].name.count == name.count {
                    if nameEquals(ops[j].name, name) { newer = true; break }
                }
                if !newer { body(name, UnsafeRawBufferPointer(rebasing: b[op.value])) }
            }
        }
    }

    func withBytes<R>(_ range: Range<Int>, _ body: (UnsafeRawBufferPointer) -> R) -> R {
        bytes.withUnsafeBytes { body(UnsafeRawBufferPointer(rebasing: $0[range])) }
    }
}

@inline(__always)
func lowerASCII(_ b: UInt8) -> UInt8 { b &- 0x41 < 26 ? b | 0x20 : b }

/// Return codes of the filter host callbacks (FULCRUM_FILTER_OK / _ERR_*).
enum FilterStatus {
    static let ok: Int32 = 0
    static let refused: Int32 = -1
    static let invalid: Int32 = -2
    static let tooLarge: Int32 = -3
    static let state: Int32 = -4
}

/// Which header names filters may never set or remove, and what a name and
/// a value may hold (CONTRACT §11: a filter cannot make a request ambiguous).
public enum HeaderRules {
    /// FilterStatus.ok, or why `name` may not be edited on a request/response head.
    /// Dispatches on the length and compares against static bytes: no global
    /// arrays (their lazy initialisation check and retains were ~13% of a
    /// request-id + rate-limit chain's host time under perf).
    public static func check(name: UnsafeRawBufferPointer, request: Bool) -> Int32 {
        guard !name.isEmpty, name.count <= 256 else { return FilterStatus.invalid }
        for b in name where !isTokenByte(b) { return FilterStatus.invalid }
        @inline(__always) func eq(_ lower: StaticString) -> Bool {
            let l = lower.utf8Start
            for i in 0..<name.count where lowerASCII(name[i]) != l[i] { return false }
            return true
        }
        let refused: Bool
        switch name.count {
        case 2: refused = eq("te")
        case 4: refused = request && eq("host")
        case 7: refused = eq("trailer") || eq("upgrade")
        case 10: refused = eq("connection") || eq("keep-alive")
        case 14: refused = eq("content-length")
        case 16: refused = eq("proxy-connection")
        case 17: refused = eq("transfer-encoding")
        default: refused = false
        }
        return refused ? FilterStatus.refused : FilterStatus.ok
    }

    /// Field values: no CR, LF, NUL or other control bytes but HTAB.
    public static func check(value: UnsafeRawBufferPointer) -> Int32 {
        guard value.count <= 8192 else { return FilterStatus.tooLarge }
        for b in value where (b < 0x20 && b != 0x09) || b == 0x7F { return FilterStatus.invalid }
        return FilterStatus.ok
    }

    static func equalsLower(_ a: UnsafeRawBufferPointer, _ lower: [UInt8]) -> Bool {
        guard a.count == lower.count else { return false }
        for i in 0..<a.count where lowerASCII(a[i]) != lower[i] { return false }
        return true
    }

    /// RFC 9110 tchar.
    static func isTokenByte(_ c: UInt8) -> Bool {
        switch c {
        case 0x30...0x39, 0x41...0x5A, 0x61...0x7A: return true
        case UInt8(ascii: "!"), UInt8(ascii: "#"), UInt8(ascii: "$"), UInt8(ascii: "%"), UInt8(ascii: "&"), UInt8(ascii: "'"),
             UInt8(ascii: "*"), UInt8(ascii: "+"), UInt8(ascii: "-"), UInt8(ascii: "."), UInt8(ascii: "^"), UInt8(ascii: "_"),
             UInt8(ascii: "`"), UInt8(ascii: "|"), UInt8(ascii: "~"): return true
        default: return false
        }
    }
}
