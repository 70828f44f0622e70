import Glibc

/// An IPv4 or IPv6 network ("10.0.0.0/8", "::1/128"; a bare address is a
/// single host). Bits beyond the prefix are ignored ("10.1.2.3/8" is
/// 10.0.0.0/8), as HAProxy and nginx do. A v4-mapped IPv6 network of prefix
/// 96 or more ("::ffff:10.0.0.0/104") is the IPv4 network it maps.
public struct FulcrumCIDR: Equatable, Sendable, CustomStringConvertible {
    public let isIPv4: Bool
    public let prefix: Int
    /// The address as 128 bits (IPv4: in the low 32 bits of `low`), masked.
    let high: UInt64, low: UInt64
    let maskHigh: UInt64, maskLow: UInt64

    init(isIPv4: Bool, high: UInt64, low: UInt64, prefix: Int) {
        self.isIPv4 = isIPv4
        self.prefix = prefix
        let bits = isIPv4 ? prefix + 96 : prefix
        maskHigh = bits >= 64 ? .max : (bits == 0 ? 0 : ~(UInt64.max >> UInt64(bits)))
        maskLow = bits <= 64 ? 0 : (bits >= 128 ? .max : ~(UInt64.max >> UInt64(bits - 64)))
        self.high = high & maskHigh
        self.low = low & maskLow
    }

    public var description: String {
        if isIPv4 {
            let a = UInt32(truncatingIfNeeded: low)
            return "\(a >> 24).\((a >> 16) & 255).\((a >> 8) & 255).\(a & 255)/\(prefix)"
        }
        var bytes = [UInt8](repeating: 0, count: 16)
        for i in 0..<8 { bytes[i] = UInt8(truncatingIfNeeded: high >> UInt64(56 - 8 * i)); bytes[8 + i] = UInt8(truncatingIfNeeded: low >> UInt64(56 - 8 * i)) }
        var text = [CChar](repeating: 0, count: 64)
        _ = inet_ntop(AF_INET6, bytes, &text, 64)
        return text.withUnsafeBufferPointer { String(cString: $0.baseAddress!) } + "/\(prefix)"
    }

    /// Parses `text`, or says why it is not a network.
    public static func parse(_ text: String) -> Result<FulcrumCIDR, FulcrumCIDRError> {
        func fail(_ why: String) -> Result<FulcrumCIDR, FulcrumCIDRError> { .failure(FulcrumCIDRError(text: text, reason: why)) }
        let parts = text.split(separator: "/", omittingEmptySubsequences: false)
        guard parts.count <= 2, let addressText = parts.first, !addressText.isEmpty else { return fail("expected ADDRESS or ADDRESS/PREFIX") }
        var v4 = in_addr()
        var v6 = in6_addr()
        let isV4 = inet_pton(AF_INET, String(addressText), &v4) == 1
        guard isV4 || inet_pton(AF_INET6, String(addressText), &v6) == 1 else { return fail("\"\(addressText)\" is not an IPv4 or IPv6 address") }
        let maxPrefix = isV4 ? 32 : 128
        var prefix = maxPrefix
        if parts.count == 2 {
            guard let p = Int(parts[1]), parts[1].allSatisfy(\.isASCII), parts[1].allSatisfy(\.isNumber), (0...maxPrefix).contains(p) else {
                return fail("prefix length \"\(parts[1])\" is not a number from 0 to \(maxPrefix)")
            }
            prefix = p
        }
        if isV4 {
            return .success(FulcrumCIDR(isIPv4: true, high: 0, low: UInt64(UInt32(bigEndian: v4.s_addr)), prefix: prefix))
        }
        let (hi, lo) = withUnsafeBytes(of: &v6) { Self.words($0) }
        if hi == 0, lo >> 32 == 0xFFFF, prefix >= 96 {
            return .success(FulcrumCIDR(isIPv4: true, high: 0, low: lo & 0xFFFF_FFFF, prefix: prefix - 96))
        }
        return .success(FulcrumCIDR(isIPv4: false, high: hi, low: lo, prefix: prefix))
    }

    static func words(_ b: UnsafeRawBufferPointer) -> (UInt64, UInt64) {
        var hi: UInt64 = 0, lo: UInt64 = 0
        for i in 0..<8 { hi = hi << 8 | UInt64(b[i]); lo = lo << 8 | UInt64(b[8 + i]) }
        return (hi, lo)
    }

    /// Whether the client at `ip` (4 or 16 bytes, network order; a v4-mapped
    /// IPv6 address counts as IPv4) is in this network.
    @inline(__always)
    public func contains(_ ip: FulcrumIP) -> Bool {
        ip.isIPv4 == isIPv4 && ip.high & maskHigh == high && ip.low & maskLow == low
    }
}

/// A client address, normalised: v4-mapped IPv6 becomes IPv4.
public struct FulcrumIP: Equatable, Sendable {
    public let isIPv4: Bool
    public let high: UInt64, low: UInt64

    public init?(_ bytes: UnsafeRawBufferPointer) {
        if bytes.count == 4 {
            isIPv4 = true
            high = 0
            low = UInt64(bytes[0]) << 24 | UInt64(bytes[1]) << 16 | UInt64(bytes[2]) << 8 | UInt64(bytes[3])
        } else if bytes.count == 16 {
            let (h, l) = FulcrumCIDR.words(bytes)
            if h == 0, l >> 32 == 0xFFFF {
                isIPv4 = true
                high = 0
                low = l & 0xFFFF_FFFF
            } else {
                isIPv4 = false
                high = h
                low = l
            }
        } else {
            return nil
        }
    }
}

public struct FulcrumCIDRError: Error, Equatable, Sendable, CustomStringConvertible {
    public let text: String
    public let reason: String
    public var description: String { "\"\(text)\" is not a valid CIDR: \(reason)" }
}
