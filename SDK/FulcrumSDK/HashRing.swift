/// A consistent-hash ring with a bucket index, shared by source-ip-hash and
/// bounded-load-hash (so with no load the two place every key alike).
///
/// Each backend gets `pointsPerWeight` × weight points, hashed from its
/// address (not its id), so a key maps to the same backend after a restart or
/// a re-registration. The bucket index (about two buckets per point) finds a
/// key's point in O(1): one table read and, on average, under one step of
/// scan. When sum(weights) × pointsPerWeight exceeds `maxPoints`, the
/// per-weight count is scaled down to keep the ring small.
///
/// Immutable once built: share one ring between workers with `FulcrumSharedState`.
public final class FulcrumHashRing: @unchecked Sendable {
    public static let defaultPointsPerWeight = 160
    public static let defaultMaxPoints = 1 << 18

    /// Number of points.
    public let count: Int
    /// Number of backends (owners are 0..<backends).
    public let backends: Int
    /// Point hashes, ascending, and the backend index owning each.
    @usableFromInline let hashes: UnsafeMutablePointer<UInt64>
    @usableFromInline let owners: UnsafeMutablePointer<Int32>
    /// index[b] = first point whose hash's top `indexBits` bits are >= b.
    /// Sized to the ring (about 2 buckets per point, 256…65,536), so a small
    /// ring's index stays in L1.
    @usableFromInline let index: UnsafeMutablePointer<Int32>
    @usableFromInline let shift: UInt64

    public init(addresses: [String], weights: [Int], pointsPerWeight: Int = defaultPointsPerWeight,
                maxPoints: Int = defaultMaxPoints) {
        let total = weights.reduce(0, +)
        let perWeight = max(1, min(pointsPerWeight, maxPoints / max(total, 1)))
        var points: [(UInt64, Int32)] = []
        points.reserveCapacity(total * perWeight)
        for (owner, address) in addresses.enumerated() {
            let addressHash = FulcrumHash.hash(address)
            for replica in 0..<(weights[owner] * perWeight) {
                points.append((FulcrumHash.mix(addressHash ^ FulcrumHash.mix(UInt64(replica))), Int32(owner)))
            }
        }
        points.sort { $0.0 < $1.0 }
        backends = addresses.count
        count = points.count
        hashes = .allocate(capacity: max(1, count))
        owners = .allocate(capacity: max(1, count))
        for (i, p) in points.enumerated() {
            hashes[i] = p.0
            owners[i] = p.1
        }
        var bits: UInt64 = 8
        while bits < 16 && (1 << bits) < 2 * count { bits += 1 }
        shift = 64 - bits
        let buckets = 1 << Int(bits)
        index = .allocate(capacity: buckets)
        var p = 0
        for bucket in 0..<buckets {
            while p < count && Int(hashes[p] >> shift) < bucket { p += 1 }
            index[bucket] = Int32(p)
        }
    }

    deinit {
        hashes.deallocate()
        owners.deallocate()
        index.deallocate()
    }

    /// The position of the first point at or after `h`, wrapping around (ring not empty).
    @inlinable @inline(__always)
    public func point(of h: UInt64) -> Int {
        var i = Int(index[Int(h >> shift)])
        while i < count && hashes[i] < h { i += 1 }
        return i == count ? 0 : i
    }

    /// The backend owning point `position` (0..<count).
    @inlinable @inline(__always)
    public func owner(atPoint position: Int) -> Int { Int(owners[position]) }

    /// The backend owning the first point at or after `h`, wrapping around.
    @inlinable @inline(__always)
    public func owner(of h: UInt64) -> Int { Int(owners[point(of: h)]) }
}
