import Synchronization

/// A request filter written in Swift (see fulcrum_filter.h for the rules).
///
/// The host makes one instance per worker for each configured entry and
/// never calls one instance concurrently. State every worker must share
/// (counters, buckets) comes from `setup.shared`, one object per configured
/// entry. Hooks must not trap: a trap aborts the proxy.
public protocol FulcrumFilter: AnyObject {
    static var name: String { get }
    static var description: String { get }
    /// Whether the host should call `responseHead` / `complete`.
    static var handlesResponses: Bool { get }
    static var observesCompletions: Bool { get }

    /// Parses `setup.config`; throw `FulcrumFilterConfigError` to refuse it
    /// (the host validates each configured entry with a first instance).
    init(setup: FulcrumFilterSetup) throws(FulcrumFilterConfigError)
    func requestHead(_ request: FulcrumFilterRequest) -> FulcrumFilterDecision
    func responseHead(_ response: FulcrumFilterResponse)
    func complete(_ completion: FulcrumFilterCompletion)
}

extension FulcrumFilter {
    public static var description: String { "" }
    public static var handlesResponses: Bool { false }
    public static var observesCompletions: Bool { false }
    public func responseHead(_ response: FulcrumFilterResponse) {}
    public func complete(_ completion: FulcrumFilterCompletion) {}
}

/// Why a configuration is refused.
public struct FulcrumFilterConfigError: Error, Sendable {
    public let reason: String
    public init(_ reason: String) { self.reason = reason }
}

/// What a request hook decides.
public enum FulcrumFilterDecision {
    /// Go on to the next filter and the backend.
    case proceed
    /// Answer now; later filters and the backend never see the request.
    case respond(status: Int, headers: [(String, String)] = [], body: String = "")
    /// Go on, in another pool.
    case choosePool(String)
}

/// What an instance is made from.
public struct FulcrumFilterSetup: @unchecked Sendable {
    /// The JSON object text of this configured entry ("{}" when none).
    public let config: String
    public let host: FulcrumHost
    /// The worker this instance serves (UInt32.max for the validating instance).
    public let worker: UInt32
    let entry: FilterEntry

    /// The object shared by every instance of this configured entry on every
    /// worker, made by `make` the first time. Call it in `init` only.
    public func shared<T: AnyObject>(_ make: () -> T) -> T {
        entry.lock.withLock { _ in
            if let existing = entry.shared as? T { return existing }
            let fresh = make()
            entry.shared = fresh
            return fresh
        }
    }
}

/// One configured entry on the plugin side (the C `config` object).
final class FilterEntry: @unchecked Sendable {
    let type: any FulcrumFilter.Type
    let config: String
    let host: FulcrumHost
    let filterHost: UnsafePointer<fulcrum_filter_host>
    let lock = Mutex(())
    var shared: AnyObject?
    init(type: any FulcrumFilter.Type, config: String, filterHost: UnsafePointer<fulcrum_filter_host>) {
        self.type = type
        self.config = config
        self.filterHost = filterHost
        host = FulcrumHost(filterHost.pointee.host)
    }
    func setup(worker: UInt32) -> FulcrumFilterSetup { FulcrumFilterSetup(config: config, host: host, worker: worker, entry: self) }
}

/// One instance behind the opaque pointer, with scratch space for the C
/// form of a `respond` (the host copies it before the hook returns).
final class FilterBox {
    let filter: any FulcrumFilter
    let entry: FilterEntry
    var scratch: [UInt8] = []
    var headers: [fulcrum_header] = []
    init(_ filter: any FulcrumFilter, entry: FilterEntry) {
        self.filter = filter
        self.entry = entry
    }
}
