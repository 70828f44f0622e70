import FulcrumCore
import FulcrumPluginHost
import FulcrumRouting
import Glibc

/// Reads and checks a configuration file (at start, `-check-config`, reload).
enum ConfigLoader {
    static func read(_ path: String, options: Options, catalog: PluginCatalog) -> ConfigFile.Outcome {
        guard let bytes = readFile(path) else {
            return .invalid(["\(path): cannot read: \(String(cString: strerror(errno)))"])
        }
        return bytes.withUnsafeBytes { ConfigFile.load($0, path: path, context: options.validationContext(catalog)) }
    }

    /// The whole file (at most 16 MiB), or nil with errno set.
    static func readFile(_ path: String) -> [UInt8]? {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 65_536)
        while true {
            let n = chunk.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress!, $0.count) }
            if n < 0 { if errno == EINTR { continue }; return nil }
            if n == 0 { return bytes }
            bytes += chunk[0..<n]
            if bytes.count > 16 << 20 { errno = EFBIG; return nil }
        }
    }

    /// One line for -check-config's stdout.
    static func summary(_ c: RoutingConfig, path: String) -> String {
        let pools = c.effectivePools.map { "\($0.name) (\($0.backends.count) backend\($0.backends.count == 1 ? "" : "s"))" }
        let filters = c.filters.count + c.routes.reduce(0) { $0 + ($1.filters?.count ?? 0) }
        return "\(path): valid: \(c.effectivePools.count) pool(s): \(pools.joined(separator: ", ")); \(c.routes.count) route(s); "
            + (filters > 0 ? "\(filters) filter entr\(filters == 1 ? "y" : "ies") (\(c.filters.count) top-level); " : "")
            + (c.defaultPool.map { "unmatched requests go to \($0)" } ?? "unmatched requests get 404")
    }
}
