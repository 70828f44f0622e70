import CFulcrumPlugin
import FulcrumCore
import Glibc

/// Why a file could not be used as a plugin. `notAPlugin` files are skipped
/// with a warning when found in a plugin directory; `invalid` ones are Fulcrum
/// plugins that are wrong (ABI mismatch, missing functions) and stop start-up.
public struct PluginLoadError: Error, CustomStringConvertible, Sendable {
    public enum Kind: Sendable { case notAPlugin, invalid, duplicate, alreadyLoaded }
    public let file: String
    public let kind: Kind
    public let reason: String
    public var description: String { "plugin \(file): \(reason)" }
}

/// A loaded plugin file and what it provides. Never unloaded: Swift images
/// cannot be unloaded safely, and instances may be alive on any worker.
public final class PluginLibrary: @unchecked Sendable {
    public let file: String
    public let name: String
    public let version: String
    public let abi: UInt32
    public let strategies: [StrategyDescriptor]
    public let probes: [ProbeDescriptor]
    /// Filters, from the optional `fulcrum_plugin_filters` symbol.
    public internal(set) var filters: [FilterDescriptor] = []

    init(file: String, name: String, version: String, abi: UInt32, strategies: [StrategyDescriptor], probes: [ProbeDescriptor]) {
        self.file = file
        self.name = name
        self.version = version
        self.abi = abi
        self.strategies = strategies
        self.probes = probes
    }

    /// dlopens `file` (RTLD_NOW | RTLD_LOCAL) and validates what its entry returns.
    static func open(_ file: String) throws(PluginLoadError) -> PluginLibrary {
        func fail(_ kind: PluginLoadError.Kind, _ reason: String) -> PluginLoadError {
            PluginLoadError(file: file, kind: kind, reason: reason)
        }
        guard let handle = dlopen(file, RTLD_NOW | RTLD_LOCAL) else {
            let why = dlerror().map { String(cString: $0) } ?? "unknown error"
            throw fail(.notAPlugin, "not a loadable shared library (\(why))")
        }
        // Deliberately never dlclose'd, even on failure: its initialisers have
        // run, and unloading a Swift image is unsupported.
        guard let symbol = dlsym(handle, "fulcrum_plugin_entry") else {
            throw fail(.notAPlugin, "not a Fulcrum plugin (no fulcrum_plugin_entry symbol)")
        }
        let entry = unsafeBitCast(symbol, to: fulcrum_plugin_entry_fn.self)
        guard let plugin = entry() else { throw fail(.invalid, "fulcrum_plugin_entry returned NULL") }
        let p = plugin.pointee
        guard p.abi_version == UInt32(FULCRUM_ABI_VERSION) else {
            throw fail(.invalid, "ABI version \(p.abi_version) does not match this host's ABI version \(FULCRUM_ABI_VERSION)")
        }
        guard p.strategy_count <= 1024, p.probe_count <= 1024 else { throw fail(.invalid, "implausible strategy or probe count") }
        guard p.strategy_count == 0 || p.strategies != nil else { throw fail(.invalid, "strategy_count is \(p.strategy_count) but strategies is NULL") }
        guard p.probe_count == 0 || p.probes != nil else { throw fail(.invalid, "probe_count is \(p.probe_count) but probes is NULL") }
        let filters = try openFilters(handle, file: file)
        guard p.strategy_count + p.probe_count > 0 || !filters.isEmpty else {
            throw fail(.invalid, "provides no strategies, no probes and no filters")
        }
        let pluginName = p.name.map { String(cString: $0) } ?? ""
        guard !pluginName.isEmpty else { throw fail(.invalid, "plugin name is empty") }

        var strategies: [StrategyDescriptor] = []
        for i in 0..<p.strategy_count {
            let vtable = p.strategies! + i
            let s = vtable.pointee
            let name = s.name.map { String(cString: $0) } ?? ""
            if let problem = nameProblem(name) { throw fail(.invalid, "strategy #\(i): \(problem)") }
            guard s.create != nil, s.destroy != nil, s.update != nil, s.pick != nil else {
                throw fail(.invalid, "strategy \"\(name)\": create, destroy, update and pick must not be NULL")
            }
            let aliasText = s.aliases.map { String(cString: $0) } ?? ""
            let aliases = aliasText.split(separator: ",").map { $0.trimmingCharacters(in: " ") }.filter { !$0.isEmpty }
            for alias in aliases {
                if let problem = nameProblem(alias) { throw fail(.invalid, "strategy \"\(name)\" alias \"\(alias)\": \(problem)") }
            }
            strategies.append(StrategyDescriptor(
                name: name, aliases: aliases, description: s.description.map { String(cString: $0) } ?? "",
                file: file, vtable: vtable))
        }
        var probes: [ProbeDescriptor] = []
        for i in 0..<p.probe_count {
            let vtable = p.probes! + i
            let s = vtable.pointee
            let name = s.name.map { String(cString: $0) } ?? ""
            if let problem = nameProblem(name) { throw fail(.invalid, "probe #\(i): \(problem)") }
            guard s.create != nil, s.destroy != nil, s.check != nil else {
                throw fail(.invalid, "probe \"\(name)\": create, destroy and check must not be NULL")
            }
            probes.append(ProbeDescriptor(name: name, description: s.description.map { String(cString: $0) } ?? "",
                                          file: file, vtable: vtable))
        }
        let library = PluginLibrary(file: file, name: pluginName, version: p.version.map { String(cString: $0) } ?? "",
                                    abi: p.abi_version, strategies: strategies, probes: probes)
        library.filters = filters
        return library
    }

    /// The filters of `fulcrum_plugin_filters`, when the library exports it
    /// (see "Filters" in fulcrum_plugin.h): walked with the plugin's own
    /// `filter_size` as the stride, never reading past it.
    static func openFilters(_ handle: UnsafeMutableRawPointer, file: String) throws(PluginLoadError) -> [FilterDescriptor] {
        func fail(_ reason: String) -> PluginLoadError { PluginLoadError(file: file, kind: .invalid, reason: reason) }
        guard let symbol = dlsym(handle, "fulcrum_plugin_filters") else { return [] }
        let entry = unsafeBitCast(symbol, to: fulcrum_plugin_filters_fn.self)
        guard let list = entry(FilterCallbacks.shared) else { return [] }
        let l = list.pointee
        guard l.abi_version == UInt32(FULCRUM_ABI_VERSION) else {
            throw fail("filter list ABI version \(l.abi_version) does not match this host's ABI version \(FULCRUM_ABI_VERSION)")
        }
        guard l.filter_count <= 1024, l.filter_count == 0 || l.filters != nil else { throw fail("implausible filter list") }
        let firstHooks = MemoryLayout<fulcrum_filter>.offset(of: \.on_config_new)! + MemoryLayout<UnsafeRawPointer>.size
        guard l.filter_count == 0 || l.filter_size >= firstHooks else {
            throw fail("filter_size \(l.filter_size) is too small for a fulcrum_filter")
        }
        var filters: [FilterDescriptor] = []
        for i in 0..<l.filter_count {
            let raw = UnsafeRawPointer(l.filters!) + i * l.filter_size
            guard let d = FilterDescriptor(raw: raw, size: l.filter_size, file: file) else {
                throw fail("filter #\(i): on_config_new must not be NULL")
            }
            if let problem = nameProblem(d.name) { throw fail("filter #\(i): \(problem)") }
            filters.append(d)
        }
        return filters
    }

    /// Names travel in URLs, JSON and flags: keep them plain.
    static func nameProblem(_ name: String) -> String? {
        if name.isEmpty { return "name is empty" }
        if name.utf8.count > 64 { return "name is longer than 64 bytes" }
        let ok = name.utf8.allSatisfy { c in
            (c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x5A) || (c >= 0x61 && c <= 0x7A) || c == 0x2D || c == 0x5F || c == 0x2E
        }
        return ok ? nil : "name \"\(name)\" may contain only letters, digits, '-', '_' and '.'"
    }
}

extension StringProtocol {
    func trimmingCharacters(in set: Character) -> String {
        var s = Substring(self)
        while s.first == set { s = s.dropFirst() }
        while s.last == set { s = s.dropLast() }
        return String(s)
    }
}
