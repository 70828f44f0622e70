import FulcrumCore
import FulcrumEtcd
import FulcrumSDK

/// Everything the command line can say (CONTRACT §2).
public struct Options: Sendable {
    public var listen = "0.0.0.0:8080"
    public var admin = "127.0.0.1:8090"
    public var algo = "RR"
    public var algoConfig = "{}"
    public var period = 10.0
    public var probe = "http"
    public var healthPath = "/"
    public var rise = 2
    public var fall = 2
    public var probeTimeout: Double?
    public var headerTimeout = 10.0
    public var connectTimeout = 3.0
    public var timeout = 60.0
    public var bodyTimeout = 60.0
    public var idleTimeout = 60.0
    public var drainTimeout = 30.0
    public var backends: [(address: FulcrumAddress, weight: UInt32)] = []
    public var pluginDirectories: [String] = []
    public var workers = availableCPUCount()
    public var stateFile: String?
    /// -registry etcd://…: share the registry through etcd (CONTRACT §7).
    public var registry: String?
    public var adminToken: String?
    public var accessLog: String?
    public var demo = false
    public var help = false
    public var version = false
    public var logLevel = LogLevel.info
    /// -slow-start: ramp window in seconds for backends entering rotation (nil: off).
    public var slowStart: Double?
    // TLS (CONTRACT §8).
    public var tlsListen: String?
    public var tlsCertificates: [String] = []
    public var tlsKeys: [String] = []
    public var backendCA: String?
    /// -config FILE: pools, routes and defaults (CONTRACT §10).
    public var configPath: String?
    /// -check-config: validate and exit 0 or 2.
    public var checkConfig = false

    public init() {}

    /// The probe's time limit: -probe-timeout, else min(2 s, period).
    public var effectiveProbeTimeout: Double { probeTimeout ?? min(2.0, period) }
}

/// A command-line mistake, as the one line printed before exiting 2.
public struct UsageError: Error, CustomStringConvertible, Sendable {
    public let description: String
    public init(_ description: String) { self.description = description }
}

public enum OptionParser {
    public static let usage = """
    usage: fulcrum [flags]          (every flag also works with two dashes, and as -flag=value)

    Proxy
      -port N                  proxy listens on 0.0.0.0:N                     (default 8080)
      -listen HOST:PORT        proxy listen address, instead of -port
      -workers N               event-loop threads                        (default: CPU count)
      -header-timeout SECONDS  client must send its request head within      (default 10)
      -idle-timeout SECONDS    idle keep-alive client connections closed after (default 60)
      -connect-timeout SECONDS backend connect limit                          (default 3)
      -timeout SECONDS         backend response-head limit, then 504          (default 60)
      -body-timeout SECONDS    a streaming body (either way) may pause this long (default 60)
      -access-log PATH|-       one line per proxied request

    Balancing and plugins
      -algo NAME               balancing strategy, case-insensitive           (default RR)
                               built in: round-robin (RR), weighted-round-robin (WRR),
                               sticky-round-robin (SRR), least-connections (LC),
                               power-of-two-choices (PTC), source-ip-hash (SIH),
                               peak-ewma (PEWMA), bounded-load-hash (BLH), maglev
      -algo-config JSON        configuration object passed to the strategy    (default {})
      -plugins DIR             also load every *.so in DIR (repeatable)
      -backend URL[=WEIGHT]    a backend known at start, e.g. http://10.0.0.5:8080=3 (repeatable)
      -slow-start SECONDS      a backend joining or returning to rotation ramps from 10% to
                               100% of its weight over SECONDS (Envoy's formula) (default off)

    Health
      -t SECONDS               health-check period, fractions allowed         (default 10)
      -probe NAME              health probe plugin: http or tcp               (default http)
      -health-path PATH        path the http probe GETs                       (default /)
      -rise N, -fall N         passes to return / failures to leave rotation  (default 2, 2)
      -probe-timeout SECONDS   one probe's time limit                         (default min(2, period))

    TLS (OpenSSL 3, libssl.so.3, loaded at run time)
      -tls-listen HOST:PORT    also serve HTTPS here
      -tls-cert FILE           PEM certificate chain (repeatable, each with a -tls-key;
      -tls-key FILE            the certificate is picked by SNI, the first is the default)
      -backend-ca FILE         verify https:// backends against FILE, not the system CA store

    Pools and routes (docs/configuration.md)
      -config FILE             pools, routes and defaults from a JSON file; reloaded on SIGHUP
                               and POST /config/reload
      -check-config            validate -config and the other flags, print a summary, exit
                               0 (valid) or 2 (one line per problem on stderr)

    Control plane
      -admin HOST:PORT         admin API listener                  (default 127.0.0.1:8090)
      -admin-token TOKEN       require "Authorization: Bearer TOKEN" on the admin API
      -state FILE              keep registrations in FILE across restarts
      -registry etcd://HOST:PORT[,HOST:PORT…][/PREFIX]
                               share registrations and strategy with every instance
                               using the same etcd PREFIX (default /fulcrum); docs/cluster.md
      -drain-timeout SECONDS   on SIGTERM, wait this long for in-flight requests (default 30)
      -log-level LEVEL         debug, info, warn or error                      (default info)
      -demo                    also start three local demo backends and register them
      -help, -version
    """

    static let booleanFlags: Set<String> = ["demo", "help", "h", "version", "check-config"]
    static let valueFlags: Set<String> = [
        "port", "listen", "admin", "algo", "algo-config", "t", "probe", "health-path", "rise", "fall", "probe-timeout",
        "header-timeout", "connect-timeout", "timeout", "body-timeout", "idle-timeout", "drain-timeout", "backend", "plugins", "workers",
        "state", "registry", "admin-token", "access-log", "log-level", "slow-start",
        "tls-listen", "tls-cert", "tls-key", "backend-ca", "config",
    ]

    public static func parse(_ arguments: [String]) throws(UsageError) -> Options {
        var o = Options()
        var sawPort: String?
        var sawListen: String?
        var i = 0
        while i < arguments.count {
            let arg = arguments[i]
            i += 1
            guard arg.hasPrefix("-"), arg.count > 1 else {
                throw UsageError("unexpected argument \"\(arg)\" (flags start with -; see -help)")
            }
            var name = String(arg.dropFirst(arg.hasPrefix("--") ? 2 : 1))
            var inlineValue: String?
            if let eq = name.firstIndex(of: "=") {
                inlineValue = String(name[name.index(after: eq)...])
                name = String(name[..<eq])
            }
            if booleanFlags.contains(name) {
                var on = true
                if let v = inlineValue {
                    switch v.lowercased() {
                    case "true", "1", "yes": on = true
                    case "false", "0", "no": on = false
                    default: throw UsageError("invalid value \"\(v)\" for -\(name): must be true or false")
                    }
                }
                switch name {
                case "demo": o.demo = on
                case "version": o.version = on
                case "check-config": o.checkConfig = on
                default: o.help = on
                }
                continue
            }
            guard valueFlags.contains(name) else { throw UsageError("unknown flag \(arg) (see -help)") }
            let value: String
            if let v = inlineValue {
                value = v
            } else {
                guard i < arguments.count else { throw UsageError("flag -\(name) needs a value") }
                value = arguments[i]
                i += 1
            }
            switch name {
            case "port":
                guard let p = Int(value), p >= 0, p <= 65535 else {
                    throw UsageError("invalid value \"\(value)\" for -port: must be a port number from 1 to 65535")
                }
                sawPort = "0.0.0.0:\(p)"
            case "listen":
                guard splitHostPort(value) != nil else { throw UsageError("invalid value \"\(value)\" for -listen: must be HOST:PORT") }
                sawListen = value
            case "admin":
                guard splitHostPort(value) != nil else { throw UsageError("invalid value \"\(value)\" for -admin: must be HOST:PORT") }
                o.admin = value
            case "algo":
                guard !value.isEmpty else { throw UsageError("-algo needs a strategy name") }
                o.algo = value
            case "algo-config":
                guard let json = try? JSONValue.parse(value), json.objectMembers != nil else {
                    throw UsageError("invalid value for -algo-config: must be a JSON object")
                }
                o.algoConfig = value
            case "t": o.period = try seconds(value, name)
            case "probe": o.probe = value
            case "health-path":
                guard value.hasPrefix("/"), value.utf8.allSatisfy({ $0 > 0x20 && $0 < 0x7F }) else {
                    throw UsageError("invalid value \"\(value)\" for -health-path: must start with / and contain no spaces")
                }
                o.healthPath = value
            case "rise": o.rise = try count(value, name, max: 100)
            case "fall": o.fall = try count(value, name, max: 100)
            case "probe-timeout": o.probeTimeout = try seconds(value, name)
            case "header-timeout": o.headerTimeout = try seconds(value, name)
            case "connect-timeout": o.connectTimeout = try seconds(value, name)
            case "timeout": o.timeout = try seconds(value, name)
            case "body-timeout": o.bodyTimeout = try seconds(value, name)
            case "idle-timeout": o.idleTimeout = try seconds(value, name)
            case "drain-timeout": o.drainTimeout = try seconds(value, name)
            case "backend": o.backends.append(try backend(value))
            case "plugins": o.pluginDirectories.append(value)
            case "workers": o.workers = try count(value, name, max: 256)
            case "state": o.stateFile = value
            case "registry":
                if case .failure(let e) = EtcdURL.parse(value) { throw UsageError(e.message) }
                o.registry = value
            case "admin-token":
                guard !value.isEmpty else { throw UsageError("-admin-token must not be empty") }
                o.adminToken = value
            case "access-log": o.accessLog = value
            case "slow-start": o.slowStart = try seconds(value, name)
            case "log-level":
                guard let level = LogLevel(name: value) else { throw UsageError("invalid value \"\(value)\" for -log-level: debug, info, warn or error") }
                o.logLevel = level
            case "tls-listen":
                guard splitHostPort(value) != nil else { throw UsageError("invalid value \"\(value)\" for -tls-listen: must be HOST:PORT") }
                o.tlsListen = value
            case "tls-cert": o.tlsCertificates.append(value)
            case "tls-key": o.tlsKeys.append(value)
            case "backend-ca": o.backendCA = value
            case "config":
                guard !value.isEmpty else { throw UsageError("-config needs a file") }
                o.configPath = value
            default:
                throw UsageError("unknown flag \(arg) (see -help)")
            }
        }
        if let l = sawListen { o.listen = l } else if let p = sawPort { o.listen = p }
        if o.registry != nil && o.stateFile != nil {
            throw UsageError("-state and -registry cannot be combined: with -registry, etcd keeps the registrations")
        }
        if o.tlsCertificates.count != o.tlsKeys.count {
            throw UsageError("-tls-cert and -tls-key come in pairs: \(o.tlsCertificates.count) certificate(s), \(o.tlsKeys.count) key(s)")
        }
        if o.tlsListen != nil && o.tlsCertificates.isEmpty { throw UsageError("-tls-listen needs -tls-cert FILE and -tls-key FILE") }
        if o.tlsListen == nil && !o.tlsCertificates.isEmpty { throw UsageError("-tls-cert/-tls-key need -tls-listen HOST:PORT") }
        if let token = o.adminToken, token.count < 1 { throw UsageError("-admin-token must not be empty") }
        return o
    }

    static func seconds(_ value: String, _ name: String) throws(UsageError) -> Double {
        guard let v = Double(value), v.isFinite, v > 0, v <= 86_400 else {
            throw UsageError("invalid value \"\(value)\" for -\(name): must be a number of seconds greater than 0")
        }
        return v
    }

    static func count(_ value: String, _ name: String, max: Int) throws(UsageError) -> Int {
        guard let v = Int(value), v >= 1, v <= max else {
            throw UsageError("invalid value \"\(value)\" for -\(name): must be an integer from 1 to \(max)")
        }
        return v
    }

    /// "http://host:port" or "http://host:port=WEIGHT".
    static func backend(_ value: String) throws(UsageError) -> (address: FulcrumAddress, weight: UInt32) {
        var text = value
        var weight: UInt32 = 1
        if let eq = value.lastIndex(of: "=") {
            text = String(value[..<eq])
            let w = String(value[value.index(after: eq)...])
            guard let n = UInt32(w), n >= 1, n <= 1000 else {
                throw UsageError("invalid weight \"\(w)\" in -backend \(value): must be an integer from 1 to 1000")
            }
            weight = n
        }
        switch FulcrumAddress.parse(text) {
        case .success(let a): return (a, weight)
        case .failure(let e): throw UsageError("invalid -backend \(value): \(e)")
        }
    }
}
