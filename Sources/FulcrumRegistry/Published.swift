import Synchronization

/// A value replaced as a whole by a control thread and read by every worker.
/// Observers are told after each `publish` (workers then catch up on their
/// own loop, off the request path); `generation` tells a reader whether it
/// already has the current value.
public final class Published<Value: AnyObject & Sendable>: Sendable {
    private let counter = Atomic<UInt64>(1)
    private let cell: Mutex<Value>
    private let observers = Mutex<[@Sendable () -> Void]>([])

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
        for observer in observers.withLock({ $0 }) { observer() }
    }

    /// Calls `observer` (on the publishing thread) after every `publish`.
    public func observe(_ observer: @escaping @Sendable () -> Void) {
        observers.withLock { $0.append(observer) }
    }
}
