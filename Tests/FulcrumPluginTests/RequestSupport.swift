import CFulcrumPlugin
import FulcrumPluginHost
import Glibc

/// A request with a target and headers, for the hashing strategies' key tests.
final class KeyedRequest {
    let headers: [(String, [UInt8])]
    let target: [UInt8]
    let ip: UInt32

    init(target: String = "/", ip: UInt32 = 0x7F00_0001, headers: [(String, String)] = []) {
        self.target = Array(target.utf8)
        self.ip = ip
        self.headers = headers.map { ($0.0.lowercased(), Array($0.1.utf8)) }
    }

    func pick(_ instance: StrategyInstance) -> Int? {
        let lookup: @convention(c) (UnsafeRawPointer?, UnsafePointer<CChar>?, UnsafeMutablePointer<Int>?) -> UnsafePointer<CChar>? = { ctx, name, len in
            let me = Unmanaged<KeyedRequest>.fromOpaque(ctx!).takeUnretainedValue()
            let wanted = String(cString: name!).lowercased()
            guard let i = me.headers.firstIndex(where: { $0.0 == wanted }) else { return nil }
            len!.pointee = me.headers[i].1.count
            return me.headers[i].1.withUnsafeBufferPointer { UnsafeRawPointer($0.baseAddress!).assumingMemoryBound(to: CChar.self) }
        }
        var ipBytes = ip.bigEndian
        return withUnsafeBytes(of: &ipBytes) { ipRaw in
            target.withUnsafeBufferPointer { t in
                "GET".withCString { method in
                    var raw = fulcrum_request(
                        client_ip: ipRaw.baseAddress!.assumingMemoryBound(to: UInt8.self), client_ip_len: 4,
                        method: method, method_len: 3,
                        path: UnsafeRawPointer(t.baseAddress!).assumingMemoryBound(to: CChar.self), path_len: t.count,
                        host: method, host_len: 0, context: Unmanaged.passUnretained(self).toOpaque(), header: lookup)
                    return instance.pick(&raw)
                }
            }
        }
    }
}

/// A deterministic pseudo-random sequence for test inputs (same keys every run).
struct TestRandom {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
        var z = state
        z = (z ^ (z >> 33)) &* 0xFF51_AFD7_ED55_8CCD
        return z ^ (z >> 33)
    }
    mutating func below(_ n: Int) -> Int { Int(next() % UInt64(n)) }
    mutating func unit() -> Double { Double(next() >> 11) / Double(1 << 53) }
}

/// A `fulcrum_host` like the real one but with a clock the test moves.
nonisolated(unsafe) var fakeClockNanos: UInt64 = 1_000_000_000
nonisolated(unsafe) let fakeClockHost: UnsafePointer<fulcrum_host> = {
    var h = HostServices.host.pointee
    h.monotonic_ns = { fakeClockNanos }
    let p = UnsafeMutablePointer<fulcrum_host>.allocate(capacity: 1)
    p.initialize(to: h)
    return UnsafePointer(p)
}()
