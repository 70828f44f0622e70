// Fuzz target `hpack`: HPACKDecoder (Sources/FulcrumHTTP2, compiled in) over a
// sequence of field blocks sharing one dynamic table.
//
// Input: byte 0 picks the limits (SETTINGS_HEADER_TABLE_SIZE 0…4096 and the
// header-list limit); the rest is blocks, each led by a one-byte length.
// Oracles:
//  - differential: the reference decoder (H2Reference.swift) agrees on every
//    block: compression error or not, and the same fields when the list is
//    within the limit (a list over it must be reported `.tooLarge`);
//  - limits: the stored list never exceeds the header-list limit; the table
//    never exceeds its maximum, which never exceeds SETTINGS_HEADER_TABLE_SIZE;
//  - round trip: what was decoded, encoded by HPACKEncoder (raw and Huffman)
//    and decoded by a fresh decoder, is the same list.

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzHPACK(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    guard size >= 1 else { return 0 }
    let all = UnsafeRawBufferPointer(start: data, count: size)
    let tableSize = [0, 64, 256, 4096][Int(all[0] & 3)]
    let listLimit = [256, 1024, 4096, 65536][Int(all[0] >> 2 & 3)]
    var decoder = HPACKDecoder(maxTableSize: tableSize, maxHeaderListSize: listLimit)
    var reference = RefHPACK(max: tableSize)
    var list = HeaderList()
    var at = 1
    while at < size {
        let n = min(Int(all[at]), size - at - 1)
        let block = Array(all[(at + 1)..<(at + 1 + n)])
        at += 1 + n
        let outcome = block.withUnsafeBytes { decoder.decode($0, into: &list) }
        let expected = reference.decode(block)
        if decoder.table.maxSize > tableSize || decoder.table.size > decoder.table.maxSize { oracleFailure("table over its limits", all) }
        if list.listSize > listLimit { oracleFailure("stored list \(list.listSize) over the limit \(listLimit)", all) }
        switch (outcome, expected) {
        case (.compressionError, nil):
            return 0  // both refuse; the context is gone
        case (.compressionError(let why), _?):
            oracleFailure("decoder refused (\(why)), reference accepted", all)
        case (_, nil):
            oracleFailure("decoder accepted \(outcome), reference refused", all)
        case (let o, let fields?):
            if decoder.table.size != reference.size { oracleFailure("table sizes \(decoder.table.size) vs \(reference.size)", all) }
            let refSize = fields.reduce(0) { $0 + $1.0.count + $1.1.count + 32 }
            if (refSize > listLimit) != (o == .tooLarge) { oracleFailure("list size \(refSize), limit \(listLimit), outcome \(o)", all) }
            if o == .complete {
                if list.count != fields.count { oracleFailure("field counts differ", all) }
                for i in 0..<list.count where Array(list.name(i)) != fields[i].0 || Array(list.value(i)) != fields[i].1 {
                    oracleFailure("field \(i) differs", all)
                }
                for huffman in [false, true] {
                    var encoded: [UInt8] = []
                    HPACKEncoder(huffman: huffman).encode(list, into: &encoded)
                    var fresh = HPACKDecoder(maxHeaderListSize: 1 << 20)
                    var back = HeaderList()
                    let r = encoded.withUnsafeBytes { fresh.decode($0, into: &back) }
                    if r != .complete || back != list { oracleFailure("encode → decode round trip (huffman \(huffman)): \(r)", all) }
                }
            }
        }
    }
    return 0
}
