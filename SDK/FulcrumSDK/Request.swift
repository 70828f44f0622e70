/// The eligible backends of the last `update`, a zero-copy view of the host's array.
public struct FulcrumBackends: RandomAccessCollection, @unchecked Sendable {
    public let base: UnsafePointer<fulcrum_backend>?
    public let count: Int

    public init(base: UnsafePointer<fulcrum_backend>?, count: Int) {
        self.base = count > 0 ? base : nil
        self.count = count > 0 ? count : 0
    }

    public var startIndex: Int { 0 }
    public var endIndex: Int { count }

    @inlinable @inline(__always)
    public subscript(position: Int) -> FulcrumBackend { FulcrumBackend(raw: base![position]) }
}

/// One eligible backend.
public struct FulcrumBackend: @unchecked Sendable {
    public let raw: fulcrum_backend
    @inlinable public init(raw: fulcrum_backend) { self.raw = raw }
    @inlinable @inline(__always) public var id: UInt64 { raw.id }
    @inlinable @inline(__always) public var weight: UInt32 { raw.weight }
    /// The registered address ("http://host:port"). Allocates: call it in `update`, not in `pick`.
    public var address: String { raw.address.map { String(cString: $0) } ?? "" }
}

/// The request being balanced, valid only during `pick`.
public struct FulcrumRequest: @unchecked Sendable {
    public let raw: UnsafePointer<fulcrum_request>

    @inlinable @inline(__always) public init(_ raw: UnsafePointer<fulcrum_request>) { self.raw = raw }

    /// The client address in network byte order: 4 bytes (IPv4) or 16 (IPv6).
    @inlinable @inline(__always)
    public var clientIP: UnsafeRawBufferPointer {
        UnsafeRawBufferPointer(start: raw.pointee.client_ip, count: Int(raw.pointee.client_ip_len))
    }
    @inlinable @inline(__always)
    public var method: UnsafeRawBufferPointer { UnsafeRawBufferPointer(start: raw.pointee.method, count: raw.pointee.method_len) }
    @inlinable @inline(__always)
    public var path: UnsafeRawBufferPointer { UnsafeRawBufferPointer(start: raw.pointee.path, count: raw.pointee.path_len) }
    @inlinable @inline(__always)
    public var host: UnsafeRawBufferPointer { UnsafeRawBufferPointer(start: raw.pointee.host, count: raw.pointee.host_len) }

    /// The first value of header `name` (case-insensitive), or nil.
    public func header(_ name: String) -> UnsafeRawBufferPointer? {
        guard let lookup = raw.pointee.header else { return nil }
        var len = 0
        let p = name.withCString { lookup(raw.pointee.context, $0, &len) }
        guard let p else { return nil }
        return UnsafeRawBufferPointer(start: p, count: len)
    }

    /// Convenience copies, for logging and tests (they allocate).
    public var methodString: String { String(decoding: method, as: UTF8.self) }
    public var pathString: String { String(decoding: path, as: UTF8.self) }
    public var hostString: String { String(decoding: host, as: UTF8.self) }
}
