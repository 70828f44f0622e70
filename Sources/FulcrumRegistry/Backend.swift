import CFulcrumPlugin
import FulcrumCore
import FulcrumSDK
import Glibc

/// One registered backend as a snapshot sees it: immutable. A change of
/// weight or health makes a new `Backend` with the same id in a new snapshot.
public final class Backend: @unchecked Sendable {
    public let id: UInt64
    /// Canonical "http://host:port".
    public let address: String
    public let endpoint: FulcrumAddress
    /// Resolved once at registration.
    public let socketAddress: SocketAddress
    public let weight: UInt32
    public let healthy: Bool
    public let draining: Bool
    /// NUL-terminated copy of `address` for `fulcrum_backend.address`.
    let cAddress: UnsafeMutablePointer<CChar>

    public var eligible: Bool { healthy && !draining }

    init(id: UInt64, endpoint: FulcrumAddress, socketAddress: SocketAddress, weight: UInt32, healthy: Bool, draining: Bool) {
        self.id = id
        self.endpoint = endpoint
        self.address = endpoint.description
        self.socketAddress = socketAddress
        self.weight = weight
        self.healthy = healthy
        self.draining = draining
        cAddress = strdup(endpoint.description)
    }

    deinit { free(cAddress) }
}

/// The registry as workers see it: every backend in registration order,
/// the eligible ones, and those as the C array strategies receive.
public final class BackendSnapshot: @unchecked Sendable {
    public let all: [Backend]
    public let eligible: [Backend]
    /// `eligible` as `fulcrum_backend`s; valid as long as this snapshot lives.
    public let cEligible: UnsafeMutablePointer<fulcrum_backend>
    /// The unit of `cEligible`'s weights: ×`SlowStart.weightScale` while slow start is on.
    public let weightScale: UInt32

    /// With `slowStart`, strategies see its effective weights instead of the registered ones.
    public init(all: [Backend], slowStart: SlowStart? = nil) {
        self.all = all
        eligible = all.filter(\.eligible)
        cEligible = .allocate(capacity: max(1, eligible.count))
        weightScale = slowStart == nil ? 1 : SlowStart.weightScale
        let weights = slowStart?.effectiveWeights(eligible) ?? eligible.map(\.weight)
        for (i, b) in eligible.enumerated() {
            cEligible[i] = fulcrum_backend(id: b.id, address: UnsafePointer(b.cAddress), weight: weights[i])
        }
    }

    /// Each eligible backend's weight as strategies see it, in registered units (for the admin API).
    public func effectiveWeights() -> [UInt64: Double] {
        var out: [UInt64: Double] = [:]
        out.reserveCapacity(eligible.count)
        for i in eligible.indices { out[cEligible[i].id] = Double(cEligible[i].weight) / Double(weightScale) }
        return out
    }

    deinit { cEligible.deallocate() }
}
