import FulcrumCore
import FulcrumRegistry
import FulcrumSDK
import Glibc

/// `-state FILE`: the registrations, kept across restarts.
///
/// Written on every change the registry reports, atomically: a temporary
/// file in the same directory, fsync, rename over the old one, fsync the
/// directory. A reader (or a crash) sees the old file or the new one, never
/// half of either. A file that exists but cannot be understood stops start-up
/// with a clear error: silently starting empty would lose registrations.
public struct StateFile: Sendable {
    public let path: String

    public init(path: String) { self.path = path }

    public struct LoadError: Error, CustomStringConvertible, Sendable {
        public let description: String
    }

    /// The saved backends; empty when the file does not exist yet.
    public func load() throws(LoadError) -> [PersistentBackend] {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        if fd < 0 {
            if errno == ENOENT { return [] }
            throw LoadError(description: "cannot read state file \(path): \(String(cString: strerror(errno)))")
        }
        defer { close(fd) }
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 65536)
        while true {
            let n = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress!, $0.count) }
            if n < 0 { if errno == EINTR { continue }; throw LoadError(description: "cannot read state file \(path): \(String(cString: strerror(errno)))") }
            if n == 0 { break }
            bytes += chunk[0..<n]
            if bytes.count > 64 * 1024 * 1024 { throw LoadError(description: "state file \(path) is larger than 64 MiB") }
        }
        let parsed: Result<[PersistentBackend], LoadError> = bytes.withUnsafeBytes { raw in
            do throws(LoadError) { return .success(try StateFile.parse(raw)) } catch { return .failure(error) }
        }
        switch parsed {
        case .success(let backends): return backends
        case .failure(let error):
            throw LoadError(description: "state file \(path) is corrupt: \(error.description) (fix it or move it away; nothing was loaded)")
        }
    }

    /// The backends in a state file's bytes: a pure function (no I/O, never
    /// traps, whatever the bytes), so it can be fuzzed directly. The error
    /// says what is wrong, without the file name.
    public static func parse(_ bytes: UnsafeRawBufferPointer) throws(LoadError) -> [PersistentBackend] {
        func corrupt(_ why: String) -> LoadError { LoadError(description: why) }
        let json: JSONValue
        do { json = try JSONValue.parse(bytes) } catch { throw corrupt("\(error)") }
        guard json.objectMembers != nil else { throw corrupt("not a JSON object") }
        guard json["version"]?.intValue == 1 else { throw corrupt("unknown version (expected \"version\": 1)") }
        guard let list = json["backends"]?.arrayValue else { throw corrupt("no \"backends\" array") }
        var out: [PersistentBackend] = []
        for (i, item) in list.enumerated() {
            guard let address = item["address"]?.stringValue, case .success(let a) = FulcrumAddress.parse(address) else {
                throw corrupt("backends[\(i)] has no valid \"address\"")
            }
            guard let w = item["weight"]?.intValue, w >= 1, w <= 1000 else { throw corrupt("backends[\(i)] has no valid \"weight\"") }
            let draining = item["draining"]?.boolValue ?? false
            var pool: String?
            if let p = item["pool"] {
                guard let name = p.stringValue, !name.isEmpty else { throw corrupt("backends[\(i)] has an invalid \"pool\"") }
                pool = name
            }
            out.append(PersistentBackend(address: a.description, weight: UInt32(w), draining: draining, pool: pool))
        }
        return out
    }

    /// Replaces the file with `backends`. Errors are logged, not fatal: the
    /// proxy keeps serving, and the next change tries again.
    public func save(_ backends: [PersistentBackend]) {
        let doc: JSONValue = .object([
            ("version", 1),
            ("backends", .array(backends.map {
                var members: [(String, JSONValue)] = [("address", .string($0.address)), ("weight", .integer(Int($0.weight))),
                                                      ("draining", .bool($0.draining))]
                // The default pool's entries keep the format the file had before pools.
                if let pool = $0.pool { members.append(("pool", .string(pool))) }
                return .object(members)
            })),
        ])
        let text = doc.serialized + "\n"
        let directory = path.contains("/") ? String(path[..<path.lastIndex(of: "/")!]) : "."
        let temporary = "\(path).tmp.\(getpid())"
        let fd = open(temporary, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        guard fd >= 0 else {
            Log.error("cannot write state file \(temporary): \(String(cString: strerror(errno)))")
            return
        }
        var ok = true
        var copy = text
        copy.withUTF8 { buf in
            var offset = 0
            while offset < buf.count {
                let n = write(fd, buf.baseAddress! + offset, buf.count - offset)
                if n <= 0 { if errno == EINTR { continue }; ok = false; return }
                offset += n
            }
        }
        ok = ok && fsync(fd) == 0
        close(fd)
        guard ok, rename(temporary, path) == 0 else {
            Log.error("cannot write state file \(path): \(String(cString: strerror(errno)))")
            unlink(temporary)
            return
        }
        let dfd = open(directory.isEmpty ? "/" : directory, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        if dfd >= 0 { fsync(dfd); close(dfd) }
    }
}
