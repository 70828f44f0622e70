import CFulcrumShim
import Glibc

/// Starts a detached-from-Swift-concurrency pthread running `body`, named
/// `name` (visible in top -H and perf). Returns the thread for joining.
public final class NamedThread: @unchecked Sendable {
    private var handle = pthread_t()
    private let body: @Sendable () -> Void
    public let name: String

    private init(name: String, body: @escaping @Sendable () -> Void) {
        self.name = name
        self.body = body
    }

    @discardableResult
    public static func start(name: String, stackSize: Int = 0, _ body: @escaping @Sendable () -> Void) -> NamedThread {
        let thread = NamedThread(name: name, body: body)
        var attr = pthread_attr_t()
        pthread_attr_init(&attr)
        if stackSize > 0 { pthread_attr_setstacksize(&attr, stackSize) }
        let context = Unmanaged.passRetained(thread).toOpaque()
        let rc = pthread_create(&thread.handle, &attr, { raw in
            let thread = Unmanaged<NamedThread>.fromOpaque(raw!).takeRetainedValue()
            String(thread.name.prefix(15)).withCString { fulcrum_set_thread_name($0) }
            thread.body()
            return nil
        }, context)
        pthread_attr_destroy(&attr)
        precondition(rc == 0, "pthread_create failed: \(rc)")
        return thread
    }

    public func join() { pthread_join(handle, nil) }
}

/// Number of CPUs this process may run on (its affinity mask).
public func availableCPUCount() -> Int { Int(fulcrum_cpu_count()) }
