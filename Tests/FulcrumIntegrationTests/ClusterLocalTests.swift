import Foundation
import XCTest

/// -registry's command line and GET /cluster without etcd.
final class ClusterLocalTests: XCTestCase {
    func testLocalClusterListsThisInstance() throws {
        let f = try FulcrumServer()
        let r = try f.admin("GET", "/cluster")
        XCTAssertEqual(r.status, 200)
        let data = (try JSONSerialization.jsonObject(with: Data(r.body)) as? [String: Any])?["data"] as? [String: Any]
        XCTAssertEqual(data?["registry"] as? String, "local")
        XCTAssertEqual(data?["connected"] as? Bool, true)
        let instances = data?["instances"] as? [[String: Any]]
        XCTAssertEqual(instances?.count, 1)
        XCTAssertEqual(instances?.first?["admin"] as? String, "127.0.0.1:\(f.adminPort)")
        XCTAssertTrue(try f.admin("GET", "/metrics").text.contains("fulcrum_registry_connected 1"))
    }

    func testBadRegistryFlagsExitWithOneLine() throws {
        for (args, expect) in [(["-registry", "http://127.0.0.1:2379"], "etcd://"),
                               (["-registry", "etcd://127.0.0.1"], ":PORT"),
                               (["-registry", "etcd://127.0.0.1:2379", "-state", "/tmp/x.json"], "-state")] {
            let child = try ChildProcess(buildDirectory + "/fulcrum", args + ["-listen", "127.0.0.1:0", "-admin", "127.0.0.1:0"], name: "fulcrum")
            XCTAssertEqual(child.waitForExit(seconds: 10), 2, args.joined(separator: " "))
            _ = eventually(2, "error line") { child.output.contains { $0.contains(expect) } }
        }
    }

    /// Started before etcd exists: serves its -backend set, syncs once etcd is up.
    func testInstanceStartedBeforeEtcdServesItsBackendsThenSyncs() throws {
        guard EtcdProcess.findBinary() != nil else { throw XCTSkip("etcd is not installed: etcd tests skipped") }
        let clientPort = try freePort()
        let backend = try BackendServer(name: "early")
        let f = try FulcrumServer(["-registry", "etcd://127.0.0.1:\(clientPort)/early", "-backend", backend.url])
        eventually(5, "serves its -backend set without etcd") { (try? f.get().header("X-Backend")) == "early" }
        XCTAssertEqual(try f.register(backend).status, 503)
        let etcd = try EtcdProcess.start(clientPort: clientPort)
        _ = try f.child.waitForLine("connected, watching", seconds: 15)
        eventually(5, "the -backend was written to etcd") {
            (try? etcd.etcdctl(["get", "--prefix", "--keys-only", "/early/backends/"]))?.contains(backend.url) == true
        }
        XCTAssertEqual(try f.get().header("X-Backend"), "early")
    }
}
