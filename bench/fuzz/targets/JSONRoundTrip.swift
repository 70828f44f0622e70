// Fuzz target `json`: the SDK's JSON parser and serialiser, compiled together
// with SDK/FulcrumSDK/JSON.swift (the file has no dependencies).
//
// Oracle: parsing must not crash; if the input parses, its serialisation must
// parse to an equal value, and serialising that must give the same text
// (serialisation is a fixed point after one round).

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzJSON(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let input = UnsafeRawBufferPointer(start: data, count: size)
    let value: JSONValue
    do { value = try JSONValue.parse(input) } catch { return 0 }
    // Finding F1: serialising an integer-written number outside Int64 traps.
    if !knownBugs && hasHugeInteger(value) { return 0 }
    let text = value.serialized
    let again: JSONValue
    do { again = try JSONValue.parse(text) } catch {
        oracleFailure("serialisation \(text.prefix(200)) does not parse: \(error)", input)
    }
    if again != value { oracleFailure("round trip changed the value: \(text.prefix(200))", input) }
    let text2 = again.serialized
    if text2 != text { oracleFailure("serialisation not stable: \(text.prefix(100)) vs \(text2.prefix(100))", input) }
    // The accessors the admin API and state file use.
    _ = value.intValue; _ = value["version"]; _ = value.arrayValue?.first?.doubleValue
    return 0
}

/// Whether `v` holds a number that F1 makes serialisation trap on:
/// Int64(d) for an integral |d| ≥ 2^63 (written as an integer, or as a
/// fraction that rounds to one below 9e15 — the latter cannot overflow).
func hasHugeInteger(_ v: JSONValue) -> Bool {
    switch v {
    case .number(let d, let isInteger): return isInteger && !(d >= -9.223372036854775808e18 && d < 9.223372036854775808e18)
    case .array(let a): return a.contains(where: hasHugeInteger)
    case .object(let m): return m.contains(where: { hasHugeInteger($0.1) })
    default: return false
    }
}
