import Synchronization

/// The Swift types a plugin exported, indexed by trampoline slot. Written once,
/// under `exportLock`, before the descriptor is returned to the host; only read after.
enum PluginTypes {
    nonisolated(unsafe) static var strategies: [any FulcrumStrategy.Type] = []
    nonisolated(unsafe) static var probes: [any FulcrumProbe.Type] = []
}

private final class ExportState: @unchecked Sendable {
    var descriptor: UnsafePointer<fulcrum_plugin>?
}
private let exportLock = Mutex(ExportState())

/// Builds (once) the `fulcrum_plugin` descriptor for a Swift plugin. Call it
/// from the plugin's one exported function:
///
///     @c public func fulcrum_plugin_entry() -> UnsafePointer<fulcrum_plugin> {
///         fulcrumExport(name: "my-plugin", version: "1.0.0", strategies: [MyStrategy.self])
///     }
///
/// Everything it allocates lives for the life of the process, as the ABI requires.
/// At most 8 strategies and 4 probes per Swift plugin.
public func fulcrumExport(
    name: String,
    version: String,
    strategies: [any FulcrumStrategy.Type] = [],
    probes: [any FulcrumProbe.Type] = []
) -> UnsafePointer<fulcrum_plugin> {
    exportLock.withLock { state in
        if let d = state.descriptor { return d }
        precondition(strategies.count <= strategyCreateSlots.count, "a Swift plugin exports at most \(strategyCreateSlots.count) strategies")
        precondition(probes.count <= probeCreateSlots.count, "a Swift plugin exports at most \(probeCreateSlots.count) probes")
        PluginTypes.strategies = strategies
        PluginTypes.probes = probes

        let strategyArray = UnsafeMutablePointer<fulcrum_strategy>.allocate(capacity: max(1, strategies.count))
        for (slot, type) in strategies.enumerated() {
            let aliases = type.aliases.joined(separator: ",")
            strategyArray[slot] = fulcrum_strategy(
                name: permanentCString(type.name),
                aliases: aliases.isEmpty ? nil : permanentCString(aliases),
                description: permanentCString(type.description),
                create: strategyCreateSlots[slot],
                destroy: strategyDestroy,
                update: strategyUpdate,
                pick: strategyPick,
                complete: type.observesCompletions ? strategyComplete : nil)
        }
        let probeArray = UnsafeMutablePointer<fulcrum_probe>.allocate(capacity: max(1, probes.count))
        for (slot, type) in probes.enumerated() {
            probeArray[slot] = fulcrum_probe(
                name: permanentCString(type.name),
                description: permanentCString(type.description),
                create: probeCreateSlots[slot],
                destroy: probeDestroy,
                check: probeCheck)
        }
        let plugin = UnsafeMutablePointer<fulcrum_plugin>.allocate(capacity: 1)
        plugin.initialize(to: fulcrum_plugin(
            abi_version: UInt32(FULCRUM_ABI_VERSION),
            name: permanentCString(name),
            version: permanentCString(version),
            strategies: strategies.isEmpty ? nil : UnsafePointer(strategyArray),
            strategy_count: strategies.count,
            probes: probes.isEmpty ? nil : UnsafePointer(probeArray),
            probe_count: probes.count))
        state.descriptor = UnsafePointer(plugin)
        return UnsafePointer(plugin)
    }
}

/// A NUL-terminated copy that is never freed (plugin descriptors live forever).
func permanentCString(_ s: String) -> UnsafePointer<CChar> {
    let utf8 = Array(s.utf8)
    let p = UnsafeMutablePointer<CChar>.allocate(capacity: utf8.count + 1)
    for (i, b) in utf8.enumerated() { p[i] = CChar(bitPattern: b) }
    p[utf8.count] = 0
    return UnsafePointer(p)
}
