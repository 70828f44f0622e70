// Shared by every fuzz target (compiled into each one): input splitting and
// oracle failure reporting. No parser code lives here.
import Glibc

/// The oracles (and unfiltered inputs) for the findings in the README. All of
/// them are fixed, so they are on; FUZZ_KNOWN_BUGS=0 turns them off, to look
/// past a finding that is reported and not fixed yet.
let knownBugs: Bool = getenv("FUZZ_KNOWN_BUGS").map { String(cString: $0) != "0" && String(cString: $0) != "" } ?? true

/// Stops the run with a message: libFuzzer records the input as a crash.
func oracleFailure(_ what: String, _ input: UnsafeRawBufferPointer) -> Never {
    let shown = input.prefix(200).map { b -> String in
        b >= 0x20 && b < 0x7F && b != 0x5C ? String(UnicodeScalar(b)) : "\\x" + String(b, radix: 16)
    }.joined()
    fatalError("oracle: \(what) (input \(input.count) bytes: \(shown))")
}

/// Cut points for delivering `count` bytes in pieces, chosen by `selector`
/// (the first byte of a fuzz input): 0 = one byte at a time, otherwise
/// 1…16 cuts at pseudo-random offsets derived from the selector and length.
/// Returns ascending offsets in 1..<count (possibly empty).
func cutPoints(selector: UInt8, count: Int) -> [Int] {
    guard count > 1 else { return [] }
    if selector == 0 { return Array(1..<count) }
    var state = UInt64(selector) &* 0x9E37_79B9_7F4A_7C15 ^ UInt64(count)
    var cuts = Set<Int>()
    for _ in 0..<(Int(selector >> 4) + 1) {
        state ^= state << 13; state ^= state >> 7; state ^= state << 17
        cuts.insert(1 + Int(state % UInt64(count - 1)))
    }
    return cuts.sorted()
}

/// The pieces `bytes` falls into at `cuts`.
func pieces(_ bytes: UnsafeRawBufferPointer, cuts: [Int]) -> [UnsafeRawBufferPointer] {
    var out: [UnsafeRawBufferPointer] = []
    var start = 0
    for c in cuts + [bytes.count] where c > start {
        out.append(UnsafeRawBufferPointer(rebasing: bytes[start..<c]))
        start = c
    }
    return out
}
