/// Splits a watch response's payload into messages. The gateway writes one
/// JSON message per line, but TCP segments and HTTP chunks fall anywhere:
/// a chunk is not a message, so bytes wait here until their newline comes.
public struct WatchLines: Sendable {
    private var partial: [UInt8] = []
    /// A line longer than this is not a watch message we can hold (a 1,000
    /// backend change set is well under 1 MiB).
    public static let maxLine = 64 * 1024 * 1024

    public init() {}

    /// Adds bytes; returns every line they complete (without the newline).
    public mutating func feed(_ bytes: [UInt8]) -> [[UInt8]]? {
        var lines: [[UInt8]] = []
        var start = 0
        for i in bytes.indices where bytes[i] == 0x0A {
            var line = partial
            line += bytes[start..<i]
            partial.removeAll(keepingCapacity: true)
            if line.last == 0x0D { line.removeLast() }
            if !line.isEmpty { lines.append(line) }
            start = i + 1
        }
        partial += bytes[start...]
        return partial.count > Self.maxLine ? nil : lines
    }
}
