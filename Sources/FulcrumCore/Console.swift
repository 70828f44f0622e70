import Glibc

/// Whole lines to stdout / stderr with one write(2) each: no stdio buffering
/// (output reaches a pipe at once) and no shared `FILE *` state.
public enum Console {
    public static func out(_ line: String) { write(1, line + "\n") }
    public static func error(_ line: String) { write(2, line + "\n") }

    private static func write(_ fd: Int32, _ text: String) {
        var copy = text
        copy.withUTF8 { buf in
            var offset = 0
            while offset < buf.count {
                let n = Glibc.write(fd, buf.baseAddress! + offset, buf.count - offset)
                if n <= 0 { if errno == EINTR { continue }; return }
                offset += n
            }
        }
    }
}
