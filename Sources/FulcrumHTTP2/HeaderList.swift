/// A decoded field section, stored flat: one byte buffer and the offsets of
/// each name and value, so decoding a request allocates a couple of arrays
/// (reused when the caller keeps the list) instead of two per field.
public struct HeaderList: Equatable, Sendable {
    public struct Field: Equatable, Sendable {
        public var nameStart: Int32
        public var nameEnd: Int32
        public var valueEnd: Int32
    }

    public private(set) var bytes: [UInt8] = []
    public private(set) var fields: [Field] = []

    public init() {}

    public init(_ pairs: [(String, String)]) {
        for (n, v) in pairs { append(name: Array(n.utf8), value: Array(v.utf8)) }
    }

    public var count: Int { fields.count }

    public mutating func removeAll() {
        bytes.removeAll(keepingCapacity: true)
        fields.removeAll(keepingCapacity: true)
    }

    public mutating func append(name: some Collection<UInt8>, value: some Collection<UInt8>) {
        let ns = Int32(bytes.count)
        bytes.append(contentsOf: name)
        let ne = Int32(bytes.count)
        bytes.append(contentsOf: value)
        fields.append(Field(nameStart: ns, nameEnd: ne, valueEnd: Int32(bytes.count)))
    }

    public func name(_ i: Int) -> ArraySlice<UInt8> { bytes[Int(fields[i].nameStart)..<Int(fields[i].nameEnd)] }
    public func value(_ i: Int) -> ArraySlice<UInt8> { bytes[Int(fields[i].nameEnd)..<Int(fields[i].valueEnd)] }

    /// For tests and logs.
    public var pairs: [(String, String)] {
        (0..<count).map { (String(decoding: name($0), as: UTF8.self), String(decoding: value($0), as: UTF8.self)) }
    }

    /// The size SETTINGS_MAX_HEADER_LIST_SIZE counts (RFC 9113 §6.5.2): name + value + 32 per field.
    public var listSize: Int { bytes.count + 32 * fields.count }

    public static func == (a: HeaderList, b: HeaderList) -> Bool {
        a.count == b.count && (0..<a.count).allSatisfy { a.name($0) == b.name($0) && a.value($0) == b.value($0) }
    }
}

extension HeaderList {
    /// Replaces field `i`'s value (the joined cookie; rare, so a rebuild is fine).
    mutating func replaceValue(_ i: Int, with value: [UInt8]) {
        var rebuilt = HeaderList()
        for k in 0..<count { rebuilt.append(name: name(k), value: k == i ? value[...] : self.value(k)) }
        self = rebuilt
    }
}
