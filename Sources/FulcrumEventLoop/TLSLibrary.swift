import CFulcrumShim
import Glibc

/// The process-wide side of TLS: loading the system's OpenSSL 3 at run time,
/// the server certificates new connections get, the context for HTTPS
/// backends, and the counters. Nothing here runs unless a TLS flag is given
/// or an `https://` backend is used, so a build or a plain-HTTP run never
/// needs libssl.
public enum TLSLibrary {
    /// Loads libssl.so.3 and libcrypto.so.3; nil when loaded, else the one-line reason.
    public static func load() -> String? {
        var err = [CChar](repeating: 0, count: 512)
        return fulcrum_tls_load(&err, err.count) == 0 ? nil : String(cString: err)
    }

    /// Reads every (certificate, key) pair and, if all are good, makes them
    /// the set new handshakes use (the first is the default; SNI picks
    /// another by the certificates' names). Connections in progress keep
    /// theirs. nil on success, else the reason naming the file; the
    /// installed set is then unchanged.
    public static func installServerCertificates(_ pairs: [(certificate: String, key: String)]) -> String? {
        var err = [CChar](repeating: 0, count: 512)
        let certs = pairs.map { strdup($0.certificate) }
        let keys = pairs.map { strdup($0.key) }
        defer { for p in certs + keys { free(p) } }
        let set = certs.map { Optional(UnsafePointer($0!)) }.withUnsafeBufferPointer { c in
            keys.map { Optional(UnsafePointer($0!)) }.withUnsafeBufferPointer { k in
                fulcrum_tls_server_set_new(c.baseAddress, k.baseAddress, Int32(pairs.count), &err, err.count)
            }
        }
        guard let set else { return String(cString: err) }
        fulcrum_tls_server_set_install(set)
        return nil
    }

    /// Sets up verification for HTTPS backends: `caFile`, or the system's
    /// CA store. The first successful call wins. nil on success, else why.
    public static func setUpBackends(caFile: String?) -> String? {
        var err = [CChar](repeating: 0, count: 512)
        let rc = caFile.map { f in f.withCString { fulcrum_tls_client_init($0, &err, err.count) } }
            ?? fulcrum_tls_client_init(nil, &err, err.count)
        return rc == 0 ? nil : String(cString: err)
    }

    public static var backendsReady: Bool { fulcrum_tls_client_ready() != 0 }

    /// Handshake counters since start.
    public struct Statistics: Sendable {
        public struct Side: Sendable {
            public var succeeded: UInt64, failed: UInt64, tls12: UInt64, tls13: UInt64, resumed: UInt64, kernelTLS: UInt64
        }
        public var clients: Side
        public var backends: Side
    }

    public static func statistics() -> Statistics {
        var v = [UInt64](repeating: 0, count: Int(FULCRUM_TLS_STAT_COUNT))
        fulcrum_tls_stats(&v)
        func side(_ o: Int) -> Statistics.Side {
            .init(succeeded: v[o], failed: v[o + 1], tls12: v[o + 2], tls13: v[o + 3], resumed: v[o + 4], kernelTLS: v[o + 5])
        }
        return Statistics(clients: side(0), backends: side(6))
    }
}
