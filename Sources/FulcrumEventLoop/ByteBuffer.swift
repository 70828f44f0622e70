import Glibc

/// A window over raw memory from a `BufferPool`: bytes in
/// `readIndex..<writeIndex` are waiting to be used. No reference counting,
/// no copy on write: a connection owns its buffers outright and gives them
/// back to its worker's pool when idle.
public struct ByteBuffer {
    public let base: UnsafeMutableRawPointer
    public let capacity: Int
    public var readIndex = 0
    public var writeIndex = 0

    init(base: UnsafeMutableRawPointer, capacity: Int) {
        self.base = base
        self.capacity = capacity
    }

    @inline(__always) public var readableCount: Int { writeIndex - readIndex }
    @inline(__always) public var isEmpty: Bool { writeIndex == readIndex }
    @inline(__always) public var writableCount: Int { capacity - writeIndex }

    /// The bytes waiting.
    @inline(__always)
    public var readable: UnsafeRawBufferPointer { UnsafeRawBufferPointer(start: base + readIndex, count: writeIndex - readIndex) }

    /// Where the next read may write.
    @inline(__always)
    public var writableStart: UnsafeMutableRawPointer { base + writeIndex }

    @inline(__always)
    public mutating func consume(_ n: Int) {
        readIndex += n
        if readIndex == writeIndex { readIndex = 0; writeIndex = 0 }
    }

    @inline(__always)
    public mutating func clear() { readIndex = 0; writeIndex = 0 }

    /// Moves the waiting bytes to the start, making the whole tail writable.
    public mutating func compact() {
        guard readIndex > 0 else { return }
        let n = readableCount
        if n > 0 { memmove(base, base + readIndex, n) }
        readIndex = 0
        writeIndex = n
    }

    /// Appends bytes; the caller checks `writableCount` first (false when they do not fit).
    @inline(__always) @discardableResult
    public mutating func append(_ bytes: UnsafeRawBufferPointer) -> Bool {
        guard bytes.count <= writableCount else { return false }
        if bytes.count > 0 { (base + writeIndex).copyMemory(from: bytes.baseAddress!, byteCount: bytes.count) }
        writeIndex += bytes.count
        return true
    }

    @inline(__always) @discardableResult
    public mutating func append(_ s: StaticString) -> Bool {
        append(UnsafeRawBufferPointer(start: s.utf8Start, count: s.utf8CodeUnitCount))
    }

    @inline(__always) @discardableResult
    public mutating func append(_ s: String) -> Bool {
        var copy = s
        return copy.withUTF8 { append(UnsafeRawBufferPointer($0)) }
    }

    /// Appends a non-negative integer in decimal.
    @discardableResult
    public mutating func appendDecimal(_ value: Int) -> Bool {
        var digits: (UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8,
                     UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8) =
            (0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0)
        var v = UInt64(max(0, value))
        var n = 0
        withUnsafeMutableBytes(of: &digits) { d in
            repeat {
                d[19 - n] = UInt8(v % 10) + 0x30
                v /= 10
                n += 1
            } while v > 0
        }
        return withUnsafeBytes(of: &digits) { append(UnsafeRawBufferPointer(rebasing: $0[(20 - n)...])) }
    }
}

/// Fixed-size buffers, recycled per worker thread (a pool is not
/// thread-safe). Idle connections hold no buffer, so memory follows the
/// number of active connections, not open ones.
public final class BufferPool {
    public let bufferSize: Int
    private var free: [UnsafeMutableRawPointer] = []
    private let maxFree: Int
    public private(set) var outstanding = 0

    public init(bufferSize: Int, maxFree: Int) {
        self.bufferSize = bufferSize
        self.maxFree = maxFree
        free.reserveCapacity(maxFree)
    }

    deinit { for p in free { Glibc.free(p) } }

    @inline(__always)
    public func take() -> ByteBuffer {
        outstanding += 1
        if let p = free.popLast() { return ByteBuffer(base: p, capacity: bufferSize) }
        return ByteBuffer(base: malloc(bufferSize)!, capacity: bufferSize)
    }

    @inline(__always)
    public func give(_ buffer: ByteBuffer) {
        outstanding -= 1
        if free.count < maxFree { free.append(buffer.base) } else { Glibc.free(buffer.base) }
    }
}
