/// One route's conditions in the form matching reads: offsets into the
/// table's byte arena, no references (so scanning routes retains nothing).
struct Conditions {
    enum HostKind: UInt8 { case any, exact, suffix }
    var hostKind = HostKind.any
    /// Lower-case host, or the suffix with its leading dot (`.example.com`).
    var host = 0..<0
    var hasPrefix = false
    var prefix = 0..<0
    var hasPath = false
    var path = 0..<0
    /// Into `RouteTable.methodRanges` (each an arena range).
    var methods = 0..<0
    /// Into `RouteTable.headerConditions`.
    var headers = 0..<0
}

/// A header condition: name (lower-case) and value (nil range: any value).
struct HeaderTest {
    var name: Range<Int>
    var value: Range<Int>
    var anyValue: Bool
}

/// What a matched route tells the proxy to do, and how it is shown. A
/// class: an exchange keeps a reference to its route, not a copy.
public final class Route: Sendable {
    /// 0-based position in the file.
    public let index: Int
    /// `name`, else `routes[N]` (the metrics label and the admin API's key).
    public let label: String
    public let pool: String
    /// The pool's position in the table's `pools` list.
    public let poolIndex: Int
    /// Strip the matched prefix before forwarding (`prefixLength` bytes of the normalised path).
    public let stripPrefix: Bool
    public let prefixLength: Int
    public let requestHeaders: CompiledHeaderRules
    public let responseHeaders: CompiledHeaderRules
    /// The route as the file wrote it (`GET /routes`).
    public let config: RouteConfig

    init(index: Int, label: String, pool: String, poolIndex: Int, stripPrefix: Bool, prefixLength: Int,
         requestHeaders: CompiledHeaderRules, responseHeaders: CompiledHeaderRules, config: RouteConfig) {
        self.index = index
        self.label = label
        self.pool = pool
        self.poolIndex = poolIndex
        self.stripPrefix = stripPrefix
        self.prefixLength = prefixLength
        self.requestHeaders = requestHeaders
        self.responseHeaders = responseHeaders
        self.config = config
    }
}

/// Header rules ready for a head rewriter: the names whose fields are
/// dropped (removed ones and replaced ones, lower-case) and the lines
/// appended (`Name: value\r\n` for every set).
public struct CompiledHeaderRules: Sendable {
    public let drop: [[UInt8]]
    public let append: [UInt8]
    public var isEmpty: Bool { drop.isEmpty && append.isEmpty }

    init(_ rules: HeaderRules?) {
        var drop: [[UInt8]] = []
        var append: [UInt8] = []
        for h in rules?.set ?? [] {
            drop.append(Array(h.name.lowercased().utf8))
            append += Array(h.name.utf8) + Array(": ".utf8) + Array(h.value.utf8) + [0x0D, 0x0A]
        }
        for name in rules?.remove ?? [] { drop.append(Array(name.lowercased().utf8)) }
        self.drop = drop
        self.append = append
    }

    /// Whether a field named `name` (any case) is dropped.
    @inline(__always)
    public func drops(_ name: UnsafeRawPointer, _ length: Int) -> Bool {
        for d in drop where d.count == length {
            var same = true
            d.withUnsafeBufferPointer { dp in
                for i in 0..<length where dp[i] != ByteKeyIndex.lower(name.load(fromByteOffset: i, as: UInt8.self)) {
                    same = false
                    break
                }
            }
            if same { return true }
        }
        return false
    }
}
