import Synchronization

/// A value replaced as a whole by a control thread and read by every worker.
/// Workers compare `generation` (one atomic load) before each use and take
/// the lock only when it moved, so the request path never contends.
public final class Published<Value: AnyObject & Sendable>: Sendable {
    private let counter = Atomic<UInt64>(1)
    private let cell: Mutex<Value>

    public init(_ initial: Value) { cell = Mutex(initial) }

    @inline(__always)
    public var generation: UInt64 { counter.load(ordering: .acquiring) }

    /// The current value and the generation it belongs to.
    public func read() -> (value: Value, generation: UInt64) {
        cell.withLock { value in (value, counter.load(ordering: .relaxed)) }
    }

    public var value: Value { cell.withLock { $0 } }

    public func publish(_ value: Value) {
        cell.withLock { current in
            current = value
            counter.add(1, ordering: .releasing)
        }
    }
}
