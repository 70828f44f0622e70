import FulcrumSDK

/// Source IP hash on a consistent-hash ring.
///
/// Why a ring: the contract promises that removing one of N backends moves
/// only the clients that were on it. A ring (and rendezvous hashing) keep
/// that promise exactly; Maglev does not (it reshuffles a few percent more).
/// Rendezvous costs O(N) hashes per pick (~300 ns at 100 backends), while a
/// ring with a 65,536-bucket index finds the point in O(1): one table read
/// and, on average, under one step of scan.
///
/// Each backend gets `pointsPerWeight` × weight points, hashed from its
/// address (not its id), so a client maps to the same backend after a
/// restart or a re-registration. Measured (bench/sih-balance, 10 backends,
/// 10,000 random IPv4 clients, 160 points per weight): max share 1.0x of fair
/// TBD, removing one backend moved only its own clients (TBD %).
/// When sum(weights) × 160 exceeds 2^18 points the per-weight count is
/// scaled down to keep the ring small; strictness then holds for equal weights.
final class SourceIPHash: FulcrumStrategy {
    static let name = "source-ip-hash"
    static let aliases = ["SIH", "IP-HASH"]
    static let description = "consistent hash of the client IP (ring): a client stays on its backend while the set is unchanged"

    static let pointsPerWeight = 160
    static let maxPoints = 1 << 18

    final class Ring: Sendable {
        /// Point hashes, ascending, and the backend index owning each.
        let hashes: [UInt64]
        let owners: [Int32]
        /// index[b] = first point whose hash has top 16 bits >= b; index[65536] = count.
        let index: [Int32]

        init(addresses: [String], weights: [Int]) {
            let total = weights.reduce(0, +)
            let perWeight = max(1, min(SourceIPHash.pointsPerWeight, SourceIPHash.maxPoints / max(total, 1)))
            var points: [(UInt64, Int32)] = []
            points.reserveCapacity(total * perWeight)
            for (owner, address) in addresses.enumerated() {
                let addressHash = FulcrumHash.hash(address)
                for replica in 0..<(weights[owner] * perWeight) {
                    points.append((FulcrumHash.mix(addressHash ^ FulcrumHash.mix(UInt64(replica))), Int32(owner)))
                }
            }
            points.sort { $0.0 < $1.0 }
            hashes = points.map(\.0)
            owners = points.map(\.1)
            var index = [Int32](repeating: Int32(points.count), count: 65537)
            var p = 0
            for bucket in 0..<65536 {
                while p < points.count && Int(points[p].0 >> 48) < bucket { p += 1 }
                index[bucket] = Int32(p)
            }
            self.index = index
        }

        /// The backend owning the first point at or after `h`, wrapping around.
        @inline(__always)
        func owner(of h: UInt64) -> Int {
            var i = Int(index[Int(h >> 48)])
            let n = hashes.count
            while i < n && hashes[i] < h { i += 1 }
            return Int(owners[i == n ? 0 : i])
        }
    }

    private static let rings = FulcrumSharedState<Ring>()
    private var ring: Ring?

    init?(host: FulcrumHost, config: String) {}

    func update(_ backends: FulcrumBackends) {
        guard !backends.isEmpty else { ring = nil; return }
        let addresses = backends.map(\.address)
        let weights = backends.map { Int(max($0.weight, 1)) }
        var key = fulcrumSignature(of: backends)
        for a in addresses { key = FulcrumHash.mix(key ^ FulcrumHash.hash(a)) }
        ring = Self.rings.value(for: key) { Ring(addresses: addresses, weights: weights) }
    }

    func pick(_ request: FulcrumRequest) -> Int? {
        guard let ring else { return nil }
        return ring.owner(of: FulcrumHash.hash(request.clientIP))
    }
}

@c public func fulcrum_plugin_entry() -> UnsafePointer<fulcrum_plugin> {
    fulcrumExport(name: "fulcrum-source-ip-hash", version: "1.0.0", strategies: [SourceIPHash.self])
}
