// swift-tools-version:6.0
// Fulcrum: an HTTP/1.1 reverse-proxy load balancer whose balancing strategies
// and health probes are plugins loaded at run time through a C ABI.
import PackageDescription

/// The package root, for the linker version script path (the linker runs elsewhere).
let root = String(#filePath.dropLast("/Package.swift".count))

/// Built-in plugins: each is its own dynamic library, built against the SDK
/// only. The host does not link them; it finds and dlopens them at run time.
let plugins: [(product: String, folder: String)] = [
    ("FulcrumRoundRobin", "RoundRobin"),
    ("FulcrumWeightedRoundRobin", "WeightedRoundRobin"),
    ("FulcrumStickyRoundRobin", "StickyRoundRobin"),
    ("FulcrumLeastConnections", "LeastConnections"),
    ("FulcrumPowerOfTwoChoices", "PowerOfTwoChoices"),
    ("FulcrumSourceIPHash", "SourceIPHash"),
    ("FulcrumPeakEWMA", "PeakEWMA"),
    ("FulcrumBoundedLoadHash", "BoundedLoadHash"),
    ("FulcrumMaglev", "Maglev"),
    ("FulcrumHTTPProbe", "HTTPProbe"),
    ("FulcrumTCPProbe", "TCPProbe"),
    ("FulcrumIPFilter", "IPFilter"),
    ("FulcrumRateLimit", "RateLimit"),
    ("FulcrumRequestID", "RequestID"),
]

/// Export nothing but the entry points (`fulcrum_plugin_*`) from a plugin.
let pluginLinkerSettings: [LinkerSetting] = [
    .unsafeFlags(["-Xlinker", "--version-script=\(root)/SDK/fulcrum-plugin.exports"])
]

let strict: [SwiftSetting] = [.swiftLanguageMode(.v6)]

/// The data plane (event loop, codec, proxy) keeps its per-connection state in
/// classes owned by one worker thread. Swift's run-time exclusivity checks on
/// their stored properties measured ~5% of proxy CPU (swift_beginAccess and its
/// thread-local access set), so release builds turn them off for these modules;
/// debug builds, and therefore the whole test suite, keep them on.
let dataPlane: [SwiftSetting] = strict + [.unsafeFlags(["-enforce-exclusivity=unchecked"], .when(configuration: .release))]

let package = Package(
    name: "fulcrum",
    products: [
        .executable(name: "fulcrum", targets: ["fulcrum"]),
        .executable(name: "fulcrum-backend", targets: ["fulcrum-backend"]),
        .library(name: "FulcrumSDK", targets: ["FulcrumSDK"]),
    ] + plugins.map { .library(name: $0.product, type: .dynamic, targets: [$0.product]) },
    targets: [
        // The ABI: one C header (with a module map, so Swift can import it too).
        .target(name: "CFulcrumPlugin", path: "SDK/include", publicHeadersPath: "."),
        // Writing a plugin in Swift: protocols, trampolines, helpers.
        .target(name: "FulcrumSDK", dependencies: ["CFulcrumPlugin"], path: "SDK/FulcrumSDK", swiftSettings: strict),

        // The host.
        .target(name: "CFulcrumShim", path: "Sources/CFulcrumShim"),
        .target(name: "FulcrumCore", dependencies: ["CFulcrumShim"], path: "Sources/FulcrumCore", swiftSettings: strict),
        .target(name: "FulcrumEventLoop", dependencies: ["CFulcrumShim", "FulcrumCore"], path: "Sources/FulcrumEventLoop", swiftSettings: dataPlane),
        .target(name: "FulcrumHTTP", dependencies: ["FulcrumCore"], path: "Sources/FulcrumHTTP", swiftSettings: dataPlane),
        // HTTP/2 (RFC 9113, RFC 7541) as pure state machines: frames, HPACK, flow control, streams, connection.
        .target(name: "FulcrumHTTP2", path: "Sources/FulcrumHTTP2", swiftSettings: dataPlane),
        .target(name: "FulcrumRegistry", dependencies: ["CFulcrumPlugin", "CFulcrumShim", "FulcrumCore", "FulcrumSDK"], path: "Sources/FulcrumRegistry", swiftSettings: strict),
        // Filter chains and strategy instances run on the request path: same settings as the data plane.
        .target(name: "FulcrumPluginHost", dependencies: ["CFulcrumPlugin", "CFulcrumShim", "FulcrumCore", "FulcrumRegistry", "FulcrumSDK"], path: "Sources/FulcrumPluginHost", swiftSettings: dataPlane),
        // Routes and the configuration file (pure: request facts in, route out).
        .target(name: "FulcrumRouting", dependencies: ["FulcrumSDK"], path: "Sources/FulcrumRouting", swiftSettings: dataPlane),
        .target(name: "FulcrumProxy", dependencies: ["CFulcrumShim", "FulcrumCore", "FulcrumEventLoop", "FulcrumHTTP", "FulcrumHTTP2", "FulcrumPluginHost", "FulcrumRegistry", "FulcrumRouting"], path: "Sources/FulcrumProxy", swiftSettings: dataPlane),
        // A small etcd v3 client (JSON gateway over the project's HTTP/1.1 codec), for -registry.
        .target(name: "FulcrumEtcd", dependencies: ["CFulcrumShim", "FulcrumCore", "FulcrumEventLoop", "FulcrumHTTP", "FulcrumSDK"], path: "Sources/FulcrumEtcd", swiftSettings: strict),
        // -registry etcd://: the registry shared through etcd (sync, seeding, instance leases).
        .target(name: "FulcrumCluster", dependencies: ["FulcrumCore", "FulcrumEtcd", "FulcrumPluginHost", "FulcrumProxy", "FulcrumRegistry", "FulcrumSDK"], path: "Sources/FulcrumCluster", swiftSettings: strict),
        .target(name: "FulcrumControlPlane", dependencies: ["CFulcrumShim", "FulcrumCluster", "FulcrumCore", "FulcrumEtcd", "FulcrumEventLoop", "FulcrumHTTP", "FulcrumPluginHost", "FulcrumProxy", "FulcrumRegistry", "FulcrumSDK"], path: "Sources/FulcrumControlPlane", swiftSettings: strict),
        .target(name: "FulcrumDemoBackend", dependencies: ["CFulcrumShim", "FulcrumCore"], path: "Sources/FulcrumDemoBackend", swiftSettings: strict),
        .executableTarget(name: "fulcrum", dependencies: ["FulcrumControlPlane", "FulcrumDemoBackend"], path: "Sources/fulcrum", swiftSettings: strict),
        .executableTarget(name: "fulcrum-backend", dependencies: ["FulcrumDemoBackend"], path: "Sources/fulcrum-backend", swiftSettings: strict),

        // Benchmarks (run by hand; see bench/README.md).
        .executableTarget(name: "fulcrum-route-bench", dependencies: ["FulcrumRouting", "FulcrumSDK"], path: "bench/RouteBench", swiftSettings: strict),
        .executableTarget(name: "fulcrum-filter-bench", dependencies: ["FulcrumCore", "FulcrumPluginHost"], path: "bench/FilterBench", swiftSettings: strict),
        .executableTarget(name: "fulcrum-pick-bench", dependencies: ["FulcrumPluginHost", "FulcrumRegistry"], path: "bench/PickBench", swiftSettings: strict),

        // Tests.
        .testTarget(name: "FulcrumHTTPTests", dependencies: ["FulcrumHTTP"], path: "Tests/FulcrumHTTPTests", swiftSettings: strict),
        .testTarget(name: "FulcrumHTTP2Tests", dependencies: ["FulcrumHTTP2"], path: "Tests/FulcrumHTTP2Tests", swiftSettings: strict),
        .testTarget(name: "FulcrumProxyTests", dependencies: ["FulcrumProxy", "FulcrumHTTP", "FulcrumPluginHost", "FulcrumRouting", "FulcrumEventLoop"], path: "Tests/FulcrumProxyTests", swiftSettings: strict),
        .target(name: "FulcrumTestSupport", path: "Tests/FulcrumTestSupport", swiftSettings: strict),
        .testTarget(name: "FulcrumPluginTests", dependencies: ["FulcrumPluginHost", "FulcrumRegistry", "FulcrumSDK", "FulcrumTestSupport"], path: "Tests/FulcrumPluginTests", swiftSettings: strict),
        .testTarget(name: "FulcrumEtcdTests", dependencies: ["FulcrumEtcd", "FulcrumTestSupport"], path: "Tests/FulcrumEtcdTests", swiftSettings: strict),
        .testTarget(name: "FulcrumRoutingTests", dependencies: ["FulcrumRouting", "FulcrumSDK"], path: "Tests/FulcrumRoutingTests", swiftSettings: strict),
        .testTarget(name: "FulcrumSDKTests", dependencies: ["FulcrumSDK"], path: "Tests/FulcrumSDKTests", swiftSettings: strict),
        .testTarget(name: "FulcrumIntegrationTests", dependencies: ["FulcrumEtcd", "FulcrumTestSupport"], path: "Tests/FulcrumIntegrationTests", swiftSettings: strict),
    ] + plugins.map {
        .target(name: $0.product, dependencies: ["FulcrumSDK"], path: "Plugins/\($0.folder)",
                swiftSettings: dataPlane, linkerSettings: pluginLinkerSettings)
    }
)
