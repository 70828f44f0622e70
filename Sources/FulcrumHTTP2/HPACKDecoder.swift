/// Decodes HPACK field blocks (RFC 7541) with the dynamic table, the
/// connection's one decoding context: every block must be decoded, in order,
/// even one whose stream is refused, or the table goes out of step.
///
/// Limits (the HPACK-bomb defence): a decoded list larger than
/// `maxHeaderListSize` is not stored (decoding goes on for the table's sake,
/// costing CPU per input byte only) and is reported `.tooLarge`; the table is
/// bounded by our SETTINGS_HEADER_TABLE_SIZE; every integer, length and index
/// is checked. Any malformed block is a COMPRESSION_ERROR (a connection error).
public struct HPACKDecoder: Sendable {
    public private(set) var table: HPACKDynamicTable
    /// The SETTINGS_HEADER_TABLE_SIZE we advertised: the ceiling for size updates.
    public let maxTableSize: Int
    /// Our SETTINGS_MAX_HEADER_LIST_SIZE (name + value + 32 per field).
    public var maxHeaderListSize: Int

    private var name: [UInt8] = []
    private var value: [UInt8] = []

    public init(maxTableSize: Int = H2.defaultHeaderTableSize, maxHeaderListSize: Int = 64 * 1024) {
        self.maxTableSize = maxTableSize
        self.maxHeaderListSize = maxHeaderListSize
        table = HPACKDynamicTable(maxSize: maxTableSize)
    }

    public enum Outcome: Equatable, Sendable {
        case complete
        /// The list passed `maxHeaderListSize`: what is in it is partial; refuse the request.
        case tooLarge
        /// COMPRESSION_ERROR: the decoding context is lost, end the connection.
        case compressionError(String)
    }

    /// Decodes one whole field block (HEADERS + CONTINUATION payloads joined) into `list` (cleared first).
    public mutating func decode(_ b: UnsafeRawBufferPointer, into list: inout HeaderList) -> Outcome {
        list.removeAll()
        var at = 0
        var listSize = 0
        var tooLarge = false
        var fieldsSeen = false
        while at < b.count {
            let first = b[at]
            if first & 0x80 != 0 {
                // Indexed field (§6.1).
                guard let index = HPACKPrimitives.decodeInteger(b, &at, prefixBits: 7) else { return .compressionError("truncated index") }
                guard index != 0 else { return .compressionError("index 0") }
                fieldsSeen = true
                if index <= HPACKStaticTable.count {
                    listSize += HPACKStaticTable.names[index - 1].count + HPACKStaticTable.values[index - 1].count + 32
                    if !tooLarge && listSize <= maxHeaderListSize {
                        list.append(name: HPACKStaticTable.names[index - 1], value: HPACKStaticTable.values[index - 1])
                    }
                } else {
                    guard let e = table.entry(index - HPACKStaticTable.count - 1) else { return .compressionError("index \(index) beyond the tables") }
                    listSize += e.size
                    if !tooLarge && listSize <= maxHeaderListSize { list.append(name: e.name, value: e.value) }
                }
            } else if first & 0xE0 == 0x20 {
                // Dynamic table size update (§6.3): only before the first field (§4.2).
                guard !fieldsSeen else { return .compressionError("table size update after a field") }
                guard let size = HPACKPrimitives.decodeInteger(b, &at, prefixBits: 5) else { return .compressionError("truncated size update") }
                guard size <= maxTableSize else { return .compressionError("table size \(size) over SETTINGS_HEADER_TABLE_SIZE") }
                table.setMaxSize(size)
                continue
            } else {
                // Literal: with incremental indexing (01, 6-bit), without (0000) or never indexed (0001), 4-bit.
                let indexing = first & 0xC0 == 0x40
                guard let nameIndex = HPACKPrimitives.decodeInteger(b, &at, prefixBits: indexing ? 6 : 4) else { return .compressionError("truncated name index") }
                fieldsSeen = true
                name.removeAll(keepingCapacity: true)
                value.removeAll(keepingCapacity: true)
                if nameIndex == 0 {
                    guard HPACKPrimitives.decodeString(b, &at, into: &name) else { return .compressionError("bad name literal") }
                } else if nameIndex <= HPACKStaticTable.count {
                    name.append(contentsOf: HPACKStaticTable.names[nameIndex - 1])
                } else {
                    guard let e = table.entry(nameIndex - HPACKStaticTable.count - 1) else { return .compressionError("name index \(nameIndex) beyond the tables") }
                    name.append(contentsOf: e.name)
                }
                guard HPACKPrimitives.decodeString(b, &at, into: &value) else { return .compressionError("bad value literal") }
                listSize += name.count + value.count + 32
                if !tooLarge && listSize <= maxHeaderListSize { list.append(name: name, value: value) }
                if indexing { table.add(name: name, value: value) }
            }
            if listSize > maxHeaderListSize { tooLarge = true }
        }
        return tooLarge ? .tooLarge : .complete
    }
}
