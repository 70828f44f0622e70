import CFulcrumPlugin
import FulcrumHTTP
import FulcrumRegistry
import Glibc

extension ClientConnection {
    /// Asks the strategy for a backend. The request view points into the
    /// forwarded head (`fwdBuf`), which a retry still has: first picks and
    /// retries see the same method, target, host and headers.
    func pickBackend() -> Backend? {
        let pool = self.pool
        guard let strategy = pool.strategy, let fwd = fwdBuf else { return nil }
        strategyEpoch = pool.strategyEpoch
        let facts = exchange.facts
        let head = fwd.readable
        let base = head.baseAddress!.assumingMemoryBound(to: CChar.self)
        let ipLength = peer.withIPBytes { ip -> Int in
            worker.ipScratch.update(from: ip.bindMemory(to: UInt8.self).baseAddress!, count: ip.count)
            return ip.count
        }
        var lookup = ForwardedHeadLookup(base: head.baseAddress!, length: head.count)
        let index: Int? = withUnsafePointer(to: &lookup) { context in
            var request = fulcrum_request(
                client_ip: UnsafePointer(worker.ipScratch), client_ip_len: UInt32(ipLength),
                method: base + facts.methodRange.lowerBound, method_len: facts.methodRange.count,
                path: base + facts.targetRange.lowerBound, path_len: facts.targetRange.count,
                host: base + facts.hostRange.lowerBound, host_len: facts.hostRange.count,
                context: UnsafeRawPointer(context), header: forwardedHeaderLookup)
            return strategy.pick(&request)
        }
        guard let index, index < pool.snapshot.eligible.count else { return nil }
        return pool.snapshot.eligible[index]
    }
}

/// What `fulcrum_request.context` points to during a pick: the forwarded head.
struct ForwardedHeadLookup {
    let base: UnsafeRawPointer
    let length: Int
}

/// `fulcrum_request.header`: the first value of a header of the request
/// being picked for, found by walking the forwarded head's lines (it was
/// validated when parsed: every line is `name: value CRLF`).
let forwardedHeaderLookup: @convention(c) (UnsafeRawPointer?, UnsafePointer<CChar>?, UnsafeMutablePointer<Int>?) -> UnsafePointer<CChar>? = {
    context, name, length in
    guard let context, let name else { return nil }
    let lookup = context.load(as: ForwardedHeadLookup.self)
    let p = lookup.base
    let n = lookup.length
    let keyLength = strlen(name)
    // Skip the request line.
    var i = 0
    while i < n && p.load(fromByteOffset: i, as: UInt8.self) != 0x0A { i += 1 }
    i += 1
    while i < n {
        var end = i
        while end < n && p.load(fromByteOffset: end, as: UInt8.self) != 0x0A { end += 1 }
        let lineEnd = end > i && p.load(fromByteOffset: end - 1, as: UInt8.self) == 0x0D ? end - 1 : end
        if lineEnd == i { return nil }  // the final empty line
        if lineEnd - i > keyLength, p.load(fromByteOffset: i + keyLength, as: UInt8.self) == 0x3A,
           asciiCaseInsensitiveEqual(p + i, UnsafeRawPointer(name), keyLength) {
            var vs = i + keyLength + 1
            while vs < lineEnd && (p.load(fromByteOffset: vs, as: UInt8.self) == 0x20 || p.load(fromByteOffset: vs, as: UInt8.self) == 0x09) { vs += 1 }
            var ve = lineEnd
            while ve > vs && (p.load(fromByteOffset: ve - 1, as: UInt8.self) == 0x20 || p.load(fromByteOffset: ve - 1, as: UInt8.self) == 0x09) { ve -= 1 }
            length?.pointee = ve - vs
            return (p + vs).assumingMemoryBound(to: CChar.self)
        }
        i = end + 1
    }
    return nil
}
