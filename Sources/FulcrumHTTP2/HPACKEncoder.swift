/// Encodes field blocks without a dynamic table, as HAProxy does: a full
/// static-table match is indexed, a static name is referenced, everything
/// else is a literal without indexing. No state, so nothing to keep in step
/// with the peer (our SETTINGS_HEADER_TABLE_SIZE toward the peer stays
/// irrelevant) and nothing a client can make us remember.
public struct HPACKEncoder: Sendable {
    /// Huffman-code string literals when that is shorter (costs CPU; off by default).
    public var huffman: Bool

    public init(huffman: Bool = false) { self.huffman = huffman }

    /// Appends one field's representation.
    public func encode(name: some Collection<UInt8>, value: some Collection<UInt8>, into out: inout [UInt8]) {
        if let i = HPACKStaticTable.index(name: name, value: value) {
            HPACKPrimitives.encodeInteger(i, prefixBits: 7, firstByte: 0x80, into: &out)
            return
        }
        if let i = HPACKStaticTable.index(name: name) {
            HPACKPrimitives.encodeInteger(i, prefixBits: 4, firstByte: 0, into: &out)
        } else {
            out.append(0)
            string(name, into: &out)
        }
        string(value, into: &out)
    }

    /// The `:status` pseudo-header: indexed for the seven statuses the static table has.
    public func encodeStatus(_ status: Int, into out: inout [UInt8]) {
        precondition(status >= 100 && status <= 999)
        let digits: [UInt8] = [UInt8(0x30 + status / 100), UInt8(0x30 + status / 10 % 10), UInt8(0x30 + status % 10)]
        encode(name: HPACKStaticTable.names[7], value: digits, into: &out)
    }

    public func encode(_ list: HeaderList, into out: inout [UInt8]) {
        for i in 0..<list.count { encode(name: list.name(i), value: list.value(i), into: &out) }
    }

    private func string(_ s: some Collection<UInt8>, into out: inout [UInt8]) {
        HPACKPrimitives.encodeString(s, huffman: huffman && Huffman.encodedLength(s) < s.count, into: &out)
    }
}
