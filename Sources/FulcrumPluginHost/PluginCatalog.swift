import FulcrumCore
import Glibc
import Synchronization

/// Every loaded plugin, and name lookup over their strategies and probes.
///
/// Names and aliases are matched case-insensitively. The first plugin to
/// claim a name keeps it: at start-up a later claimant is skipped with a
/// warning naming both files; at run time (`POST /plugins`) it is refused.
public final class PluginCatalog: @unchecked Sendable {
    private struct State {
        var libraries: [PluginLibrary] = []
        var loadedPaths: Set<String> = []
        var strategies: [String: StrategyDescriptor] = [:]
        var probes: [String: ProbeDescriptor] = [:]
        var filters: [String: FilterDescriptor] = [:]
    }
    private let state = Mutex(State())

    public init() {}

    public var libraries: [PluginLibrary] { state.withLock { $0.libraries } }

    /// The strategy answering to `name` (a canonical name or an alias).
    public func strategy(named name: String) -> StrategyDescriptor? {
        state.withLock { $0.strategies[name.lowercased()] }
    }

    public func probe(named name: String) -> ProbeDescriptor? {
        state.withLock { $0.probes[name.lowercased()] }
    }

    public func filter(named name: String) -> FilterDescriptor? {
        state.withLock { $0.filters[name.lowercased()] }
    }

    /// Every distinct filter, in load order.
    public var filters: [FilterDescriptor] { libraries.flatMap { lib in lib.filters.filter { filter(named: $0.name) === $0 } } }

    /// For configuration files: validates `config` (JSON object text) for the
    /// filter called `name` and returns the factory of that configured entry
    /// (`makeInstance(worker:)` once per worker), or the reason, naming the
    /// filter, why it is unusable (unknown name, or the filter's own refusal).
    public func makeFilterFactory(name: String, config: String) -> Result<FilterFactory, FilterConfigError> {
        guard let descriptor = filter(named: name) else {
            let known = filters.map(\.name).joined(separator: ", ")
            return .failure(FilterConfigError(filter: name, reason: "unknown filter (loaded filters: \(known.isEmpty ? "none" : known))"))
        }
        return descriptor.makeFactory(config: config)
    }

    /// Every distinct strategy, in load order.
    public var strategies: [StrategyDescriptor] { libraries.flatMap { lib in lib.strategies.filter { strategy(named: $0.name) === $0 } } }

    /// Loads one plugin file.
    ///
    /// - `strict`: refuse the whole plugin when one of its names is taken
    ///   (run time); otherwise skip just the clashing names with a warning.
    /// - Returns the library and the warnings produced.
    @discardableResult
    public func load(file: String, strict: Bool) throws(PluginLoadError) -> (library: PluginLibrary, warnings: [String]) {
        let path = Self.realPath(file) ?? file
        if state.withLock({ $0.loadedPaths.contains(path) }) {
            throw PluginLoadError(file: file, kind: .alreadyLoaded, reason: "already loaded")
        }
        let library = try PluginLibrary.open(path)
        let result: Result<[String], PluginLoadError> = state.withLock { s in
            var warnings: [String] = []
            // Check first, so a strict refusal registers nothing.
            var clashes: [String] = []
            for strategy in library.strategies {
                for n in strategy.names {
                    if let owner = s.strategies[n.lowercased()] {
                        clashes.append("strategy name \"\(n)\" is already provided by \(owner.file)")
                    }
                }
            }
            for probe in library.probes {
                if let owner = s.probes[probe.name.lowercased()] {
                    clashes.append("probe name \"\(probe.name)\" is already provided by \(owner.file)")
                }
            }
            for filter in library.filters {
                if let owner = s.filters[filter.name.lowercased()] {
                    clashes.append("filter name \"\(filter.name)\" is already provided by \(owner.file)")
                }
            }
            if strict && !clashes.isEmpty {
                return .failure(PluginLoadError(file: file, kind: .duplicate, reason: clashes.joined(separator: "; ")))
            }
            for strategy in library.strategies {
                if let owner = s.strategies[strategy.name.lowercased()] {
                    warnings.append("plugin \(path): strategy \"\(strategy.name)\" skipped: the name is taken by \(owner.file), which wins")
                    continue
                }
                for n in strategy.names {
                    let key = n.lowercased()
                    if let owner = s.strategies[key], owner !== strategy {
                        warnings.append("plugin \(path): alias \"\(n)\" of \"\(strategy.name)\" skipped: taken by \(owner.file)")
                        continue
                    }
                    s.strategies[key] = strategy
                }
            }
            for probe in library.probes {
                if let owner = s.probes[probe.name.lowercased()] {
                    warnings.append("plugin \(path): probe \"\(probe.name)\" skipped: the name is taken by \(owner.file), which wins")
                    continue
                }
                s.probes[probe.name.lowercased()] = probe
            }
            for filter in library.filters {
                if let owner = s.filters[filter.name.lowercased()] {
                    warnings.append("plugin \(path): filter \"\(filter.name)\" skipped: the name is taken by \(owner.file), which wins")
                    continue
                }
                s.filters[filter.name.lowercased()] = filter
            }
            s.libraries.append(library)
            s.loadedPaths.insert(path)
            return .success(warnings)
        }
        switch result {
        case .success(let warnings): return (library, warnings)
        case .failure(let error): throw error
        }
    }

    /// Loads every `*.so` in `directory`, in name order. Files that are not
    /// Fulcrum plugins are skipped with a warning (or silently, with
    /// `quietSkips`, for the executable's own directory); a file that is
    /// already loaded is skipped silently. Invalid plugins (ABI mismatch,
    /// missing functions) are returned as errors: the caller decides whether
    /// they are fatal.
    public func loadDirectory(_ directory: String, quietSkips: Bool = false) -> (warnings: [String], errors: [PluginLoadError]) {
        var warnings: [String] = []
        var errors: [PluginLoadError] = []
        for file in Self.sharedLibraries(in: directory) {
            do throws(PluginLoadError) {
                let (library, w) = try load(file: file, strict: false)
                warnings += w
                Log.debug("loaded plugin \(library.name) \(library.version) from \(library.file)")
            } catch {
                switch error.kind {
                case .alreadyLoaded:
                    continue
                case .notAPlugin:
                    if quietSkips { Log.debug("skipping \(error)") } else { warnings.append("skipping \(error)") }
                case .invalid, .duplicate:
                    errors.append(error)
                }
            }
        }
        return (warnings, errors)
    }

    /// `*.so` files directly in `directory`, sorted by name.
    static func sharedLibraries(in directory: String) -> [String] {
        guard let dir = opendir(directory) else { return [] }
        defer { closedir(dir) }
        var names: [String] = []
        while let entry = readdir(dir) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
                String(cString: raw.bindMemory(to: CChar.self).baseAddress!)
            }
            guard name.hasSuffix(".so"), !name.hasPrefix(".") else { continue }
            let full = directory.hasSuffix("/") ? directory + name : directory + "/" + name
            var st = stat()
            guard stat(full, &st) == 0, (st.st_mode & S_IFMT) == S_IFREG else { continue }
            names.append(full)
        }
        return names.sorted()
    }

    static func realPath(_ path: String) -> String? {
        guard let resolved = realpath(path, nil) else { return nil }
        defer { free(resolved) }
        return String(cString: resolved)
    }
}

/// Where plugins are looked for, in order (CONTRACT §2): the executable's own
/// directory and `../lib/fulcrum/plugins` next to it, each `-plugins DIR`,
/// then each directory of `FULCRUM_PLUGIN_PATH`.
public struct PluginSearchPath: Sendable {
    public struct Directory: Sendable, Equatable {
        public let path: String
        /// Built-in locations hold other files too: skip non-plugins quietly.
        public let builtIn: Bool
    }

    public let directories: [Directory]

    public init(executableDirectory: String?, pluginDirectories: [String], environmentPath: String?) {
        var dirs: [Directory] = []
        if let exe = executableDirectory {
            dirs.append(Directory(path: exe, builtIn: true))
            dirs.append(Directory(path: exe + "/../lib/fulcrum/plugins", builtIn: true))
        }
        dirs += pluginDirectories.map { Directory(path: $0, builtIn: false) }
        if let env = environmentPath {
            dirs += env.split(separator: ":").filter { !$0.isEmpty }.map { Directory(path: String($0), builtIn: false) }
        }
        directories = dirs
    }

    /// The directory of the running executable (/proc/self/exe).
    public static var executableDirectory: String? {
        var buffer = [CChar](repeating: 0, count: 4096)
        let n = readlink("/proc/self/exe", &buffer, buffer.count - 1)
        guard n > 0 else { return nil }
        let path = String(decoding: buffer[0..<n].map { UInt8(bitPattern: $0) }, as: UTF8.self)
        guard let slash = path.lastIndex(of: "/") else { return nil }
        return String(path[..<slash])
    }

    /// Loads every directory into `catalog`. Returns the warnings, and the
    /// errors that must stop start-up.
    public func load(into catalog: PluginCatalog) -> (warnings: [String], errors: [PluginLoadError]) {
        var warnings: [String] = []
        var errors: [PluginLoadError] = []
        for dir in directories {
            var st = stat()
            guard stat(dir.path, &st) == 0, (st.st_mode & S_IFMT) == S_IFDIR else {
                if !dir.builtIn { warnings.append("plugin directory \(dir.path) does not exist") }
                continue
            }
            let (w, e) = catalog.loadDirectory(dir.path, quietSkips: dir.builtIn)
            warnings += w
            errors += e
        }
        return (warnings, errors)
    }
}
