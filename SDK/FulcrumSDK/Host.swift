@_exported import CFulcrumPlugin
import Glibc

/// Severity for `FulcrumHost.log`, mirroring `FULCRUM_LOG_*`.
public enum FulcrumLogLevel: Int32, Sendable {
    case debug = 0, info = 1, warn = 2, error = 3
}

/// The host's services, as a Swift value. The function pointers are copied
/// out of `fulcrum_host` once, so a call is one indirect call with no
/// optional unwrapping on the request path.
public struct FulcrumHost: @unchecked Sendable {
    public let raw: UnsafePointer<fulcrum_host>
    @usableFromInline let activeRequestsFn: @convention(c) (UInt64) -> UInt32
    @usableFromInline let randomFn: @convention(c) () -> UInt64
    private let logFn: @convention(c) (Int32, UnsafePointer<CChar>?) -> Void
    private let monotonicFn: (@convention(c) () -> UInt64)?
    private let latencyFn: (@convention(c) (UInt64) -> UInt64)?
    @usableFromInline let batchFn: (@convention(c) (UnsafePointer<UInt64>?, Int, UnsafeMutablePointer<UInt32>?) -> Void)?

    public init(_ raw: UnsafePointer<fulcrum_host>) {
        self.raw = raw
        let h = raw.pointee
        activeRequestsFn = h.active_requests
        randomFn = h.random_u64
        logFn = h.log
        let rev1 = h.revision >= 1
        monotonicFn = rev1 ? h.monotonic_ns : nil
        latencyFn = rev1 ? h.latency_ewma_us : nil
        batchFn = rev1 ? h.active_requests_batch : nil
        weightScale = h.revision >= 2 ? max(1, h.weight_scale) : 1
    }

    /// The factor the host scales backend weights by (`fulcrum_host.weight_scale`,
    /// revision 2): 10 when it runs slow start, else 1.
    public let weightScale: UInt32

    /// `out[i] = activeRequests(ids[i])` for `count` backends, in one host
    /// call when the host offers it.
    @inlinable @inline(__always)
    public func activeRequests(_ ids: UnsafePointer<UInt64>, count: Int, into out: UnsafeMutablePointer<UInt32>) {
        if let batchFn {
            batchFn(ids, count, out)
        } else {
            for i in 0..<count { out[i] = activeRequestsFn(ids[i]) }
        }
    }

    /// Requests in flight to `backendID` across every worker of the process.
    @inlinable @inline(__always)
    public func activeRequests(_ backendID: UInt64) -> UInt32 { activeRequestsFn(backendID) }

    /// A fast pseudo-random number from the host.
    @inlinable @inline(__always)
    public func randomU64() -> UInt64 { randomFn() }

    /// A uniformly distributed number in `0..<bound` (`bound` > 0), without modulo bias
    /// worth mentioning for bounds far below 2^64 (Lemire's multiply-shift).
    @inlinable @inline(__always)
    public func random(below bound: Int) -> Int {
        Int(truncatingIfNeeded: randomFn().multipliedFullWidth(by: UInt64(bound)).high)
    }

    /// Writes a line to the host's error log.
    public func log(_ level: FulcrumLogLevel, _ message: String) {
        message.withCString { logFn(level.rawValue, $0) }
    }

    /// Monotonic nanoseconds: the host's clock when it offers one, else CLOCK_MONOTONIC.
    public func monotonicNanos() -> UInt64 {
        if let f = monotonicFn { return f() }
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        return UInt64(ts.tv_sec) &* 1_000_000_000 &+ UInt64(ts.tv_nsec)
    }

    /// Smoothed response latency of a backend in microseconds, 0 when unknown.
    public func latencyEWMAMicros(_ backendID: UInt64) -> UInt64 { latencyFn?(backendID) ?? 0 }
}
