import FulcrumSDK

/// Reading a configuration file: JSON (RFC 8259, the SDK's strict parser)
/// → `RoutingConfig` → validated. Every message starts with the file's
/// path: `FILE:LINE:COL: …` for a JSON error, `FILE: PLACE: …` otherwise
/// (the form `-check-config`, a failed start and a refused reload share).
public enum ConfigFile {
    public enum Outcome: Sendable {
        case valid(RoutingConfig)
        /// One message per problem, each starting with the file's path.
        case invalid([String])
    }

    /// Checks `bytes` (the contents of `path`) whole.
    public static func load(_ bytes: UnsafeRawBufferPointer, path: String, context: ValidationContext) -> Outcome {
        let json: JSONValue
        do {
            json = try JSONValue.parse(bytes)
        } catch {
            let (line, column) = location(of: error.offset, in: bytes)
            return .invalid(["\(path):\(line):\(column): \(error.message)"])
        }
        switch check(json, context: context) {
        case .success(let config): return .valid(config)
        case .failure(let problems):
            return .invalid(problems.problems.map { "\(path): \($0)" })
        }
    }

    public static func load(_ text: String, path: String, context: ValidationContext) -> Outcome {
        var copy = text
        return copy.withUTF8 { load(UnsafeRawBufferPointer($0), path: path, context: context) }
    }

    public struct Problems: Error, Sendable { public var problems: [ConfigProblem] }

    /// Decodes and validates a parsed file.
    public static func check(_ json: JSONValue, context: ValidationContext) -> Result<RoutingConfig, Problems> {
        var decoder = ConfigDecoder()
        let config = decoder.decode(json)
        var problems = decoder.problems
        ConfigValidator.validate(config, context, into: &problems)
        return problems.isEmpty ? .success(config) : .failure(Problems(problems: problems))
    }

    /// 1-based line and column (in characters: UTF-8 continuation bytes do
    /// not count) of byte `offset`.
    public static func location(of offset: Int, in bytes: UnsafeRawBufferPointer) -> (Int, Int) {
        var line = 1
        var column = 1
        for i in 0..<min(offset, bytes.count) {
            let b = bytes[i]
            if b == 0x0A {
                line += 1
                column = 1
            } else if b & 0xC0 != 0x80 {
                column += 1
            }
        }
        return (line, column)
    }
}
