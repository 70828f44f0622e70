/// Small, fast, well-mixed hashes for keying plugin state on request data.
/// Stable across processes and releases (unlike Swift's `Hasher`, which is
/// seeded per process), so a consistent-hash ring maps the same client to the
/// same backend after a restart.
public enum FulcrumHash {
    /// The splitmix64 finaliser: a bijective avalanche of one word.
    @inlinable @inline(__always)
    public static func mix(_ x: UInt64) -> UInt64 {
        var z = x &+ 0x9E37_79B9_7F4A_7C15
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// A 64-bit hash of `bytes`, reading eight bytes per step.
    @inlinable @inline(__always)
    public static func hash(_ bytes: UnsafeRawBufferPointer, seed: UInt64 = 0) -> UInt64 {
        var h = mix(seed ^ UInt64(bytes.count))
        var i = 0
        let n = bytes.count
        while i + 8 <= n {
            h = mix(h ^ bytes.loadUnaligned(fromByteOffset: i, as: UInt64.self))
            i += 8
        }
        if i < n {
            var tail: UInt64 = 0
            var shift: UInt64 = 0
            while i < n {
                tail |= UInt64(bytes[i]) << shift
                shift += 8
                i += 1
            }
            h = mix(h ^ tail ^ 0xFF)
        }
        return h
    }

    /// The hash of a string's UTF-8 bytes.
    public static func hash(_ string: String, seed: UInt64 = 0) -> UInt64 {
        var s = string
        return s.withUTF8 { hash(UnsafeRawBufferPointer($0), seed: seed) }
    }
}

/// Load comparison shared by the least-loaded strategies: is `a/wa` below `b/wb`?
/// Cross-multiplied in 64 bits, so there is no division and no rounding.
@inlinable @inline(__always)
public func fulcrumLessLoaded(_ a: UInt32, weight wa: UInt32, than b: UInt32, weight wb: UInt32) -> Bool {
    UInt64(a) &* UInt64(wb) < UInt64(b) &* UInt64(wa)
}
