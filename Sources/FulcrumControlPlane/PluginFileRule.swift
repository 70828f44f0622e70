import Glibc

/// `POST /plugins` loads code into the process, so the file must be one
/// only the user running fulcrum (or root) could have written — as sshd's
/// StrictModes does for authorized_keys. The file and every directory
/// above it (after resolving symbolic links) must be owned by root or by
/// us and not group- or world-writable.
///
/// One exception: a directory writable by others but sticky (mode +t, as
/// /tmp). There, others may add entries but cannot rename or remove ours,
/// and the next path component is checked to be ours; sshd refuses even
/// this, but plugins built in a private mkdtemp directory under /tmp (mode
/// 0700) are as safe as anywhere, and that is where tests and users put them.
enum PluginFileRule {
    /// The resolved path to load, or the reason (naming the path) to refuse it.
    static func check(_ path: String) -> Result<String, PluginFileRefusal> {
        guard let resolvedC = realpath(path, nil) else {
            return .failure(PluginFileRefusal(message: "no such file: \(path)"))
        }
        let resolved = String(cString: resolvedC)
        free(resolvedC)
        var st = stat()
        guard stat(resolved, &st) == 0, (st.st_mode & S_IFMT) == S_IFREG else {
            return .failure(PluginFileRefusal(message: "no such file: \(path)"))
        }
        let via = resolved == path ? "" : " (\(path) resolves to it)"
        if let why = problem(st, isDirectory: false) { return .failure(PluginFileRefusal(message: "refused plugin file \(resolved)\(via): \(why)")) }
        var dir = resolved
        while let slash = dir.lastIndex(of: "/") {
            dir = slash == dir.startIndex ? "/" : String(dir[..<slash])
            guard stat(dir, &st) == 0 else {
                return .failure(PluginFileRefusal(message: "refused plugin file \(resolved)\(via): cannot stat directory \(dir)"))
            }
            if let why = problem(st, isDirectory: true) {
                return .failure(PluginFileRefusal(message: "refused plugin file \(resolved)\(via): directory \(dir) \(why)"))
            }
            if dir == "/" { break }
        }
        return .success(resolved)
    }

    /// Why `st` is unsafe, or nil.
    static func problem(_ st: stat, isDirectory: Bool) -> String? {
        let me = geteuid()
        if st.st_uid != 0 && st.st_uid != me {
            return "is owned by uid \(st.st_uid), not by root or the user running fulcrum (uid \(me))"
        }
        let mode = st.st_mode & 0o7777
        let octal = "0" + String(mode, radix: 8)
        let sticky = mode & S_ISVTX != 0
        if mode & S_IWOTH != 0 && !(isDirectory && sticky) {
            return isDirectory ? "is world-writable and not sticky (mode \(octal)); chmod o-w it" : "is world-writable (mode \(octal)); chmod go-w it"
        }
        if mode & S_IWGRP != 0 && !(isDirectory && sticky) {
            return "is group-writable (mode \(octal)); chmod g-w it"
        }
        return nil
    }
}

struct PluginFileRefusal: Error {
    let message: String
}
