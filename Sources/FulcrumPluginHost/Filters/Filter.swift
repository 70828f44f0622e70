import CFulcrumPlugin

/// A filter some loaded plugin provides. The hooks are read once, and only
/// those inside the plugin's `filter_size` (a hook a later revision appends
/// is absent for an older plugin).
public final class FilterDescriptor: @unchecked Sendable {
    public let name: String
    public let description: String
    public let file: String
    typealias ConfigNew = @convention(c) (UnsafePointer<fulcrum_filter_host>?, UnsafePointer<CChar>?, UnsafeMutablePointer<CChar>?, Int) -> UnsafeMutableRawPointer?
    let configNew: ConfigNew
    let configDestroy: (@convention(c) (UnsafeMutableRawPointer?) -> Void)?
    let filterNew: (@convention(c) (UnsafeMutableRawPointer?, UInt32) -> UnsafeMutableRawPointer?)?
    let filterDestroy: (@convention(c) (UnsafeMutableRawPointer?) -> Void)?
    let onRequestHead: (@convention(c) (UnsafeMutableRawPointer?, UnsafePointer<fulcrum_filter_request>?, UnsafeMutablePointer<fulcrum_filter_decision>?) -> Int32)?
    let onResponseHead: (@convention(c) (UnsafeMutableRawPointer?, UnsafePointer<fulcrum_filter_response>?) -> Void)?
    let onComplete: (@convention(c) (UnsafeMutableRawPointer?, UnsafePointer<fulcrum_filter_completion>?) -> Void)?

    /// Reads entry `raw` of a plugin's filter array, `size` bytes long.
    init?(raw: UnsafeRawPointer, size: Int, file: String) {
        // Never read past `size`: each field is loaded alone, only when inside.
        func field<T>(_ path: KeyPath<fulcrum_filter, T>) -> T? {
            guard let o = MemoryLayout<fulcrum_filter>.offset(of: path), o + MemoryLayout<T>.size <= size else { return nil }
            return raw.load(fromByteOffset: o, as: T.self)
        }
        guard let configNew = field(\.on_config_new) ?? nil else { return nil }
        self.file = file
        name = (field(\.name) ?? nil).map { String(cString: $0) } ?? ""
        description = (field(\.description) ?? nil).map { String(cString: $0) } ?? ""
        self.configNew = configNew
        configDestroy = field(\.on_config_destroy) ?? nil
        filterNew = field(\.on_filter_new) ?? nil
        filterDestroy = field(\.on_filter_destroy) ?? nil
        onRequestHead = field(\.on_request_head) ?? nil
        onResponseHead = field(\.on_response_head) ?? nil
        onComplete = field(\.on_complete) ?? nil
    }

    /// Validates `config` (a JSON object text): a factory for per-worker
    /// instances of this configured entry, or the filter's reason.
    public func makeFactory(config: String = "{}") -> Result<FilterFactory, FilterConfigError> {
        makeFactory(config: config, host: FilterCallbacks.shared)
    }

    /// The same with other general services (tests: a clock they move).
    public func makeFactory(config: String, host: UnsafePointer<fulcrum_host>) -> Result<FilterFactory, FilterConfigError> {
        makeFactory(config: config, host: FilterCallbacks.make(host: host))
    }

    func makeFactory(config: String, host: UnsafePointer<fulcrum_filter_host>) -> Result<FilterFactory, FilterConfigError> {
        var error = [CChar](repeating: 0, count: 512)
        let raw = config.withCString { c in error.withUnsafeMutableBufferPointer { configNew(host, c, $0.baseAddress, $0.count) } }
        guard let raw else {
            error[error.count - 1] = 0
            let reason = error.withUnsafeBufferPointer { String(cString: $0.baseAddress!) }
            return .failure(FilterConfigError(filter: name, reason: reason.isEmpty ? "configuration refused" : reason))
        }
        return .success(FilterFactory(descriptor: self, config: raw))
    }
}

/// Why a filter configuration was refused; `description` names the filter.
public struct FilterConfigError: Error, Equatable, CustomStringConvertible, Sendable {
    public let filter: String
    public let reason: String
    public var description: String { "filter \"\(filter)\": \(reason)" }
}

/// One configured entry (one item of a "filters" list): its validated
/// configuration and whatever the plugin shares between that entry's
/// instances on all workers. Destroyed when the last instance is.
public final class FilterFactory: @unchecked Sendable {
    public let descriptor: FilterDescriptor
    let config: UnsafeMutableRawPointer

    init(descriptor: FilterDescriptor, config: UnsafeMutableRawPointer) {
        self.descriptor = descriptor
        self.config = config
    }

    deinit { descriptor.configDestroy?(config) }

    /// The instance for worker `worker` (never used from two threads at once).
    public func makeInstance(worker: UInt32 = 0) -> FilterInstance? {
        if let new = descriptor.filterNew {
            guard let raw = new(config, worker) else { return nil }
            return FilterInstance(factory: self, raw: raw, owned: true)
        }
        return FilterInstance(factory: self, raw: config, owned: false)
    }
}

/// One worker's instance of a configured filter.
public final class FilterInstance {
    public let factory: FilterFactory
    let raw: UnsafeMutableRawPointer
    let owned: Bool
    let onRequestHead: (@convention(c) (UnsafeMutableRawPointer?, UnsafePointer<fulcrum_filter_request>?, UnsafeMutablePointer<fulcrum_filter_decision>?) -> Int32)?
    let onResponseHead: (@convention(c) (UnsafeMutableRawPointer?, UnsafePointer<fulcrum_filter_response>?) -> Void)?
    let onComplete: (@convention(c) (UnsafeMutableRawPointer?, UnsafePointer<fulcrum_filter_completion>?) -> Void)?

    init(factory: FilterFactory, raw: UnsafeMutableRawPointer, owned: Bool) {
        self.factory = factory
        self.raw = raw
        self.owned = owned
        onRequestHead = factory.descriptor.onRequestHead
        onResponseHead = factory.descriptor.onResponseHead
        onComplete = factory.descriptor.onComplete
    }

    deinit { if owned { factory.descriptor.filterDestroy?(raw) } }

    public var name: String { factory.descriptor.name }
}
