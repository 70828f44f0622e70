import FulcrumCore
import FulcrumPluginHost
import Glibc

/// Where access-log lines go: a file opened for appending, or stdout.
public final class AccessLogFile: Sendable {
    let fd: Int32

    /// Opens `path` ("-" for stdout).
    public init(path: String) throws(AccessLogError) {
        if path == "-" {
            fd = 1
        } else {
            let f = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0o644)
            guard f >= 0 else { throw AccessLogError(description: "cannot open access log \(path): \(String(cString: strerror(errno)))") }
            fd = f
        }
    }

    /// Appends whole lines; O_APPEND keeps writes from different workers apart.
    func write(_ bytes: UnsafeRawBufferPointer) {
        var offset = 0
        while offset < bytes.count {
            let n = Glibc.write(fd, bytes.baseAddress! + offset, bytes.count - offset)
            if n <= 0 { if errno == EINTR { continue }; return }
            offset += n
        }
    }
}

public struct AccessLogError: Error, CustomStringConvertible, Sendable {
    public let description: String
}

/// A worker's access-log buffer: lines are appended per request and written
/// once per event-loop batch (or when the buffer fills), so logging costs a
/// memcpy per request and a write per batch rather than a write per request.
final class AccessLogBuffer {
    let file: AccessLogFile
    private var buffer: [UInt8] = []
    private var second: Int = -1
    private var secondText = ""

    init(file: AccessLogFile) {
        self.file = file
        buffer.reserveCapacity(64 * 1024)
    }

    /// `time client method target status backend duration_ms [key=value …]`:
    /// the annotations filters made (`request_id=…`) close the line.
    func append(client: String, method: UnsafeRawBufferPointer, target: UnsafeRawBufferPointer, status: Int,
                backend: String, durationMicros: UInt64, http2: Bool = false, annotations: FilterRun? = nil) {
        var ts = timespec()
        clock_gettime(CLOCK_REALTIME, &ts)
        if ts.tv_sec != second {
            second = ts.tv_sec
            let full = Clock.timestamp()
            secondText = String(full.prefix(19))  // 2026-11-21T23:59:00
        }
        let millis = Int(ts.tv_nsec / 1_000_000)
        buffer.append(contentsOf: secondText.utf8)
        buffer.append(UInt8(ascii: "."))
        buffer.append(UInt8(48 + millis / 100))
        buffer.append(UInt8(48 + millis / 10 % 10))
        buffer.append(UInt8(48 + millis % 10))
        buffer.append(contentsOf: "Z ".utf8)
        buffer.append(contentsOf: client.utf8)
        buffer.append(UInt8(ascii: " "))
        buffer.append(contentsOf: method)
        buffer.append(UInt8(ascii: " "))
        buffer.append(contentsOf: target)
        // HTTP/2 requests say so (HTTP/1.1 lines keep their format).
        if http2 { buffer.append(contentsOf: " HTTP/2.0".utf8) }
        buffer.append(UInt8(ascii: " "))
        buffer.append(contentsOf: String(status).utf8)
        buffer.append(UInt8(ascii: " "))
        buffer.append(contentsOf: (backend.isEmpty ? "-" : backend).utf8)
        buffer.append(UInt8(ascii: " "))
        let ms = Double(durationMicros) / 1000
        buffer.append(contentsOf: String(Double(Int(ms * 1000)) / 1000).utf8)
        buffer.append(contentsOf: "ms".utf8)
        // Keys and values were checked when annotated: no spaces, quotes or control bytes.
        annotations?.forEachAnnotation { key, value in
            buffer.append(UInt8(ascii: " "))
            buffer.append(contentsOf: key)
            buffer.append(UInt8(ascii: "="))
            buffer.append(contentsOf: value)
        }
        buffer.append(UInt8(ascii: "\n"))
        if buffer.count >= 48 * 1024 { flush() }
    }

    func flush() {
        guard !buffer.isEmpty else { return }
        buffer.withUnsafeBytes { file.write($0) }
        buffer.removeAll(keepingCapacity: true)
    }
}
