import FulcrumHTTP
import FulcrumHTTP2

/// The trailer section of a chunked response, for the final HEADERS frame.
/// `BodyTracker` validates and de-frames the body but keeps no trailer
/// bytes, so the stream keeps the last raw bytes of the body (at most
/// `capacity`: the trailer limit and a last-chunk line) and reads the
/// trailer lines back from the end once the body is complete.
struct ChunkedTrailers {
    static let capacity = HTTPLimits.maxTrailers + 256
    private(set) var tail: [UInt8] = []

    /// Raw body bytes just consumed (chunk framing included).
    mutating func saw(_ raw: UnsafeRawBufferPointer) {
        let keep = raw.count > Self.capacity ? UnsafeRawBufferPointer(rebasing: raw[(raw.count - Self.capacity)...]) : raw
        tail.append(contentsOf: keep)
        if tail.count > Self.capacity { tail.removeFirst(tail.count - Self.capacity) }
    }

    /// The trailer fields of a complete body ("0\r\n" fields "\r\n" at the end of `tail`), in order.
    func fields() -> HeaderList {
        var list = HeaderList()
        guard tail.count >= 5, tail[tail.count - 2] == 0x0D, tail[tail.count - 1] == 0x0A else { return list }
        var lines: [Range<Int>] = []
        var end = tail.count - 4  // the CR of the CRLF that ends the last line before the final CRLF
        while end >= 0, tail[end] == 0x0D {
            var start = end
            while start >= 2 && !(tail[start - 2] == 0x0D && tail[start - 1] == 0x0A) { start -= 1 }
            if start < 2 && !Self.isLastChunk(tail[0..<end]) { return HeaderList() }  // ran past what was kept
            if Self.isLastChunk(tail[start..<end]) { break }
            lines.append(start..<end)
            end = start - 2
        }
        for r in lines.reversed() {
            guard let colon = tail[r].firstIndex(of: 0x3A) else { continue }
            var v = colon + 1
            while v < r.upperBound, tail[v] == 0x20 || tail[v] == 0x09 { v += 1 }
            var e = r.upperBound
            while e > v, tail[e - 1] == 0x20 || tail[e - 1] == 0x09 { e -= 1 }
            list.append(name: tail[r.lowerBound..<colon], value: tail[v..<e])
        }
        return list
    }

    /// `last-chunk = 1*"0" [ chunk-ext ]`.
    static func isLastChunk(_ line: ArraySlice<UInt8>) -> Bool {
        guard line.first == 0x30 else { return false }
        for b in line {
            if b == 0x3B { return true }
            if b != 0x30 && b != 0x20 && b != 0x09 { return false }
        }
        return true
    }
}
