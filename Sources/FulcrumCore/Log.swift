import Glibc
import Synchronization

/// Severity of an error-log line.
public enum LogLevel: Int, Comparable, Sendable, CaseIterable {
    case debug = 0, info, warn, error

    public static func < (a: LogLevel, b: LogLevel) -> Bool { a.rawValue < b.rawValue }

    public var label: String {
        switch self {
        case .debug: return "DEBUG"
        case .info: return "INFO"
        case .warn: return "WARN"
        case .error: return "ERROR"
        }
    }

    public init?(name: String) {
        guard let level = LogLevel.allCases.first(where: { $0.label.lowercased() == name.lowercased() }) else { return nil }
        self = level
    }
}

/// The leveled error log on stderr: one `write(2)` per line, so lines from
/// different threads never interleave. Not for the request path (the access
/// log is separate and buffered per worker).
public enum Log {
    private static let threshold = Atomic<Int>(LogLevel.info.rawValue)

    public static var level: LogLevel {
        get { LogLevel(rawValue: threshold.load(ordering: .relaxed)) ?? .info }
        set { threshold.store(newValue.rawValue, ordering: .relaxed) }
    }

    @inline(__always)
    public static func enabled(_ level: LogLevel) -> Bool { level.rawValue >= threshold.load(ordering: .relaxed) }

    public static func write(_ level: LogLevel, _ message: @autoclosure () -> String) {
        guard enabled(level) else { return }
        var line = "\(Clock.timestamp()) \(level.label) \(message())\n"
        line.withUTF8 { buf in
            var offset = 0
            while offset < buf.count {
                let n = Glibc.write(2, buf.baseAddress! + offset, buf.count - offset)
                if n <= 0 { break }
                offset += n
            }
        }
    }

    public static func debug(_ message: @autoclosure () -> String) { write(.debug, message()) }
    public static func info(_ message: @autoclosure () -> String) { write(.info, message()) }
    public static func warn(_ message: @autoclosure () -> String) { write(.warn, message()) }
    public static func error(_ message: @autoclosure () -> String) { write(.error, message()) }
}
