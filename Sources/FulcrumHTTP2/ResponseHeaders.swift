/// HTTP/1.1 response heads and trailers → HTTP/2 field blocks (RFC 9113
/// §8.2.2, §8.3.2): names lower-cased, hop-by-hop fields dropped (`connection`
/// and every field it names, `keep-alive`, `proxy-connection`,
/// `transfer-encoding`, `upgrade`, `te`, `trailer`), `:status` first.
/// Encoded with the stateless `HPACKEncoder`, so blocks can be produced in any
/// order relative to one another (HPACK state would forbid that).
public struct ResponseHeaders: Sendable {
    public var encoder: HPACKEncoder

    public init(encoder: HPACKEncoder = HPACKEncoder()) { self.encoder = encoder }

    /// A final or informational (1xx other than 101) response head. `fields`
    /// are as the backend wrote them (any case).
    public func encodeHead(status: Int, fields: HeaderList, into block: inout [UInt8]) {
        precondition(status >= 100 && status <= 999 && status != 101, "status \(status) cannot travel over HTTP/2")
        encoder.encodeStatus(status, into: &block)
        encodeFields(fields, into: &block)
    }

    /// A trailer section: the same filtering, no pseudo-header.
    public func encodeTrailers(_ fields: HeaderList, into block: inout [UInt8]) {
        encodeFields(fields, into: &block)
    }

    private func encodeFields(_ fields: HeaderList, into block: inout [UInt8]) {
        let named = connectionNamed(fields)
        var lowered: [UInt8] = []
        for i in 0..<fields.count {
            lowered.removeAll(keepingCapacity: true)
            for b in fields.name(i) { lowered.append(FieldRules.lower(b)) }
            let n = lowered[...]
            if Self.isHopByHop(n) || named.contains(where: { $0[...] == n }) { continue }
            // An empty or colon-led name cannot come from a valid HTTP/1.1 head; never send it on.
            guard !n.isEmpty, n.first != 0x3A else { continue }
            encoder.encode(name: n, value: fields.value(i), into: &block)
        }
    }

    static func isHopByHop(_ n: ArraySlice<UInt8>) -> Bool {
        FieldRules.isConnectionSpecific(n) || FieldRules.equal(n, "te") || FieldRules.equal(n, "trailer")
    }

    /// The lower-cased tokens listed in every `connection` field.
    private func connectionNamed(_ fields: HeaderList) -> [[UInt8]] {
        var out: [[UInt8]] = []
        for i in 0..<fields.count where FieldRules.equalIgnoringCase(fields.name(i), Array("connection".utf8)[...]) {
            var token: [UInt8] = []
            for b in fields.value(i) + [0x2C] {
                if b == 0x2C {
                    if !token.isEmpty { out.append(token) }
                    token = []
                } else if b != 0x20 && b != 0x09 {
                    token.append(FieldRules.lower(b))
                }
            }
        }
        return out
    }
}
