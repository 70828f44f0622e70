// Fuzz target `state-file`: StateFile.load() over arbitrary file contents,
// compiled together with Sources/FulcrumControlPlane/StateFile.swift against
// the FulcrumCore, FulcrumSDK and FulcrumRegistry modules (see ../run.sh).
//
// Oracle: loading never crashes; what loads, saved and loaded again, gives the
// same backends (save/load round trip), and saving that gives the same file.
import Glibc
import FulcrumRegistry

let directory: String = {
    let base = getenv("FUZZ_TMPDIR").map { String(cString: $0) } ?? "/tmp"
    return "\(base)/fulcrum-fuzz-state-\(getpid())"
}()
nonisolated(unsafe) var made = false

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzStateFile(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let input = UnsafeRawBufferPointer(start: data, count: size)
    if !made { mkdir(directory, 0o700); made = true }
    let path = directory + "/state.json"
    let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
    guard fd >= 0 else { fatalError("cannot create \(path)") }
    var off = 0
    while off < size { let n = write(fd, data + off, size - off); guard n > 0 else { fatalError("write") }; off += n }
    close(fd)
    let file = StateFile(path: path)
    let loaded: [PersistentBackend]
    do { loaded = try file.load() } catch {
#if FUZZ_STATE_FILE_PARSE
        if (try? StateFile.parse(input)) != nil { oracleFailure("parse accepts what load refuses", input) }
#endif
        return 0
    }
#if FUZZ_STATE_FILE_PARSE
    guard let parsed = try? StateFile.parse(input), parsed == loaded else { oracleFailure("parse and load disagree", input) }
#endif
    file.save(loaded)
    let first = readAll(path)
    let again: [PersistentBackend]
    do { again = try file.load() } catch { oracleFailure("saved file does not load: \(error)", input) }
    if again != loaded { oracleFailure("save/load changed the backends: \(loaded) vs \(again)", input) }
    file.save(again)
    if readAll(path) != first { oracleFailure("saving twice gives different files", input) }
    return 0
}

func readAll(_ path: String) -> [UInt8] {
    let fd = open(path, O_RDONLY)
    guard fd >= 0 else { return [] }
    defer { close(fd) }
    var out: [UInt8] = []
    var buf = [UInt8](repeating: 0, count: 4096)
    while true {
        let n = buf.withUnsafeMutableBytes { read(fd, $0.baseAddress!, $0.count) }
        if n <= 0 { return out }
        out += buf[0..<n]
    }
}
