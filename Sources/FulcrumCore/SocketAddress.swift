import Glibc

/// An IPv4 or IPv6 socket address, resolved once (registration, start-up)
/// and then used as bytes: connect/bind take it without further lookups.
public struct SocketAddress: Sendable, CustomStringConvertible, Equatable {
    public var storage: sockaddr_storage
    public var length: socklen_t

    public init(storage: sockaddr_storage, length: socklen_t) {
        self.storage = storage
        self.length = length
    }

    public static func == (a: SocketAddress, b: SocketAddress) -> Bool {
        a.length == b.length && withUnsafeBytes(of: a.storage) { x in
            withUnsafeBytes(of: b.storage) { y in memcmp(x.baseAddress!, y.baseAddress!, Int(a.length)) == 0 }
        }
    }

    public var family: Int32 { Int32(storage.ss_family) }

    /// Resolves `host` (a literal or a name) and `port`; the first answer
    /// wins, IPv4 preferred when a name has both.
    public static func resolve(host: String, port: UInt16, passive: Bool = false) -> Result<SocketAddress, ResolveError> {
        var hints = addrinfo()
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        hints.ai_flags = AI_NUMERICSERV | (passive ? AI_PASSIVE : 0)
        var list: UnsafeMutablePointer<addrinfo>?
        let rc = getaddrinfo(host.isEmpty ? nil : host, String(port), &hints, &list)
        guard rc == 0, let first = list else {
            return .failure(ResolveError("cannot resolve \(host): \(String(cString: gai_strerror(rc)))"))
        }
        defer { freeaddrinfo(list) }
        var chosen = first
        var cursor: UnsafeMutablePointer<addrinfo>? = first
        while let ai = cursor {
            if ai.pointee.ai_family == AF_INET { chosen = ai; break }
            cursor = ai.pointee.ai_next
        }
        var storage = sockaddr_storage()
        withUnsafeMutableBytes(of: &storage) { dst in
            dst.copyMemory(from: UnsafeRawBufferPointer(start: chosen.pointee.ai_addr, count: Int(chosen.pointee.ai_addrlen)))
        }
        return .success(SocketAddress(storage: storage, length: chosen.pointee.ai_addrlen))
    }

    /// The port, in host byte order.
    public var port: UInt16 {
        withUnsafeBytes(of: storage) { raw in
            // sin_port and sin6_port share offset 2.
            UInt16(bigEndian: raw.loadUnaligned(fromByteOffset: 2, as: UInt16.self))
        }
    }

    /// The IP in network byte order: 4 bytes for IPv4, 16 for IPv6
    /// (an IPv4-mapped IPv6 address is given as its 4 IPv4 bytes).
    public func withIPBytes<R>(_ body: (UnsafeRawBufferPointer) -> R) -> R {
        withUnsafeBytes(of: storage) { raw in
            if family == AF_INET6 {
                let v6 = UnsafeRawBufferPointer(rebasing: raw[8..<24])
                let mapped = v6[0..<10].allSatisfy { $0 == 0 } && v6[10] == 0xFF && v6[11] == 0xFF
                return body(mapped ? UnsafeRawBufferPointer(rebasing: v6[12..<16]) : v6)
            }
            return body(UnsafeRawBufferPointer(rebasing: raw[4..<8]))
        }
    }

    /// The IP as text: "127.0.0.1" or "::1".
    public var ipString: String {
        withIPBytes { ip in
            var buffer = [CChar](repeating: 0, count: 64)
            let fam = ip.count == 4 ? AF_INET : AF_INET6
            return buffer.withUnsafeMutableBufferPointer { b in
                inet_ntop(fam, ip.baseAddress, b.baseAddress, 64) == nil ? "?" : String(cString: b.baseAddress!)
            }
        }
    }

    /// "127.0.0.1:8080" or "[::1]:8080".
    public var description: String {
        let ip = ipString
        return ip.contains(":") ? "[\(ip)]:\(port)" : "\(ip):\(port)"
    }

    /// The local address of a bound socket.
    public static func local(of fd: Int32) -> SocketAddress? {
        var storage = sockaddr_storage()
        var len = socklen_t(MemoryLayout<sockaddr_storage>.size)
        let rc = withUnsafeMutablePointer(to: &storage) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &len) }
        }
        return rc == 0 ? SocketAddress(storage: storage, length: len) : nil
    }
}

public struct ResolveError: Error, CustomStringConvertible, Sendable {
    public let description: String
    public init(_ description: String) { self.description = description }
}

/// Splits "host:port" / "[v6]:port" / ":port" into its parts.
public func splitHostPort(_ text: String) -> (host: String, port: UInt16)? {
    var host: Substring
    let portText: Substring
    if text.hasPrefix("[") {
        guard let close = text.firstIndex(of: "]") else { return nil }
        host = text[text.index(after: text.startIndex)..<close]
        let rest = text[text.index(after: close)...]
        guard rest.hasPrefix(":") else { return nil }
        portText = rest.dropFirst()
    } else {
        guard let colon = text.lastIndex(of: ":") else { return nil }
        host = text[..<colon]
        portText = text[text.index(after: colon)...]
        if host.contains(":") { return nil }
    }
    guard !portText.isEmpty, portText.count <= 5, portText.allSatisfy({ $0.isASCII && $0.isNumber }),
          let port = Int(portText), port <= 65535 else { return nil }
    if host == "*" { host = "" }
    return (String(host), UInt16(port))
}
