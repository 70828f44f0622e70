import CFulcrumShim
import FulcrumCore
import FulcrumEventLoop
import Glibc
import Synchronization

/// The certificate files given with -tls-cert/-tls-key, and re-reading them
/// (`POST /tls/reload`, SIGHUP). A reload reads every pair first and swaps
/// the set new handshakes use only if all are good: connections in progress
/// keep the certificates they started with, and a failed reload keeps the
/// old set and says why.
///
/// Session tickets: OpenSSL's per-context random ticket key. Each set is a
/// new context, so the key rotates on every reload (tickets issued before a
/// reload fall back to a full handshake); between reloads it is fixed for
/// the process's life.
public final class TLSCertificates: Sendable {
    public let pairs: [(certificate: String, key: String)]
    private let state = Mutex<(reloads: UInt64, failures: UInt64, lastError: String?)>((0, 0, nil))

    /// The running process's set (nil without -tls-listen); set once at start.
    nonisolated(unsafe) public private(set) static var installed: TLSCertificates?

    init(pairs: [(certificate: String, key: String)]) { self.pairs = pairs }

    /// Loads OpenSSL and the certificates before serving: errors are the one line to exit with.
    static func start(_ o: Options) throws(Fulcrum.StartError) -> TLSCertificates? {
        let wantsBackends = o.backendCA != nil || o.backends.contains { $0.address.isTLS }
        guard o.tlsListen != nil || wantsBackends else { return nil }
        if let why = TLSLibrary.load() { throw Fulcrum.StartError(why) }
        if wantsBackends, let why = TLSLibrary.setUpBackends(caFile: o.backendCA) { throw Fulcrum.StartError("-backend-ca: \(why)") }
        guard o.tlsListen != nil else { return nil }
        let certificates = TLSCertificates(pairs: Array(zip(o.tlsCertificates, o.tlsKeys)))
        if let why = TLSLibrary.installServerCertificates(certificates.pairs) { throw Fulcrum.StartError(why) }
        installed = certificates
        return certificates
    }

    /// Re-reads every pair; nil when the new set is in use, else why not.
    public func reload() -> String? {
        let why = TLSLibrary.installServerCertificates(pairs)
        state.withLock {
            if let why { $0.failures += 1; $0.lastError = why } else { $0.reloads += 1; $0.lastError = nil }
        }
        if let why { Log.error("TLS reload failed, keeping the previous certificates: \(why)") } else {
            Log.info("TLS certificates reloaded (\(pairs.count) pair\(pairs.count == 1 ? "" : "s"))")
        }
        return why
    }

    public var counts: (reloads: UInt64, failures: UInt64) { state.withLock { ($0.reloads, $0.failures) } }

    /// SIGHUP reloads, on a thread of its own (SIGHUP is blocked in every
    /// thread by `fulcrum_block_signals`, so it is only ever taken here).
    /// `also` runs after the certificates (the configuration file's reload).
    static func watchSIGHUP(also: @escaping @Sendable () -> Void = {}) {
        NamedThread.start(name: "fulcrum-sighup") {
            while true {
                _ = fulcrum_wait_signal(SIGHUP)
                if let certificates = installed { _ = certificates.reload() } else { Log.debug("SIGHUP: no TLS certificates to reload") }
                also()
            }
        }
    }

    /// The TLS families of `GET /metrics`.
    static func metrics(_ family: (String, String, String) -> Void, _ sample: (String, [(String, String)], UInt64) -> Void) {
        guard installed != nil || TLSLibrary.backendsReady else { return }
        let stats = TLSLibrary.statistics()
        family("fulcrum_tls_handshakes_total", "counter", "TLS handshakes, by side (client: HTTPS listener, backend: https:// backends) and result.")
        for (side, s) in [("client", stats.clients), ("backend", stats.backends)] {
            sample("fulcrum_tls_handshakes_total", [("side", side), ("result", "ok")], s.succeeded)
            sample("fulcrum_tls_handshakes_total", [("side", side), ("result", "failed")], s.failed)
        }
        family("fulcrum_tls_handshakes_by_version_total", "counter", "Completed TLS handshakes by protocol version.")
        for (side, s) in [("client", stats.clients), ("backend", stats.backends)] {
            sample("fulcrum_tls_handshakes_by_version_total", [("side", side), ("version", "TLSv1.2")], s.tls12)
            sample("fulcrum_tls_handshakes_by_version_total", [("side", side), ("version", "TLSv1.3")], s.tls13)
        }
        family("fulcrum_tls_resumed_sessions_total", "counter", "Completed TLS handshakes that resumed a session (ticket or session id).")
        for (side, s) in [("client", stats.clients), ("backend", stats.backends)] {
            sample("fulcrum_tls_resumed_sessions_total", [("side", side)], s.resumed)
        }
        family("fulcrum_tls_ktls_total", "counter", "Completed TLS handshakes whose sending side moved into the kernel (kTLS; not enabled, see docs/design.md: always 0).")
        for (side, s) in [("client", stats.clients), ("backend", stats.backends)] {
            sample("fulcrum_tls_ktls_total", [("side", side)], s.kernelTLS)
        }
        if let c = installed?.counts {
            family("fulcrum_tls_reloads_total", "counter", "Certificate reloads (POST /tls/reload, SIGHUP), by result.")
            sample("fulcrum_tls_reloads_total", [("result", "ok")], c.reloads)
            sample("fulcrum_tls_reloads_total", [("result", "failed")], c.failures)
        }
    }
}
