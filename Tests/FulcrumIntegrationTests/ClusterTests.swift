import FulcrumEtcd
import FulcrumTestSupport
import Foundation
import XCTest

/// Several fulcrum instances sharing one registry through a real etcd
/// (CONTRACT §7). Each test starts its own etcd (skipped without one).
final class ClusterTests: XCTestCase, ClusterTesting {
    func testRegisterDrainStrategyAndInstancesPropagate() throws {
        let etcd = try EtcdProcess.start()
        let registry = "etcd://\(etcd.endpoint)/t1"
        let a = try instance(registry), b = try instance(registry), c = try instance(registry)
        let backend = try BackendServer(name: "shared")

        XCTAssertEqual(try a.register(backend).status, 200)
        eventually(1, "B routes to the backend registered through A") { (try? b.get().header("X-Backend")) == "shared" }
        eventually(1, "C routes to it too") { (try? c.get().header("X-Backend")) == "shared" }

        XCTAssertEqual(try b.admin("PUT", "/strategy", json: #"{"name":"LC"}"#).status, 200)
        eventually(1, "the strategy switch through B reaches A") { (try? strategy(a)) == "least-connections" }

        XCTAssertEqual(try b.admin("POST", "/register", json: "{\"address\":\"\(backend.url)\",\"weight\":7}").status, 200)
        eventually(1, "the weight change reaches C") { (try? c.backend(backend.url)?["weight"] as? Int) == 7 }

        let admins = Set([a, b, c].map { "127.0.0.1:\($0.adminPort)" })
        eventually(3, "every instance lists all three") { [a, b, c].allSatisfy { Set((try? instanceIDs($0)) ?? []) == admins } }
        let info = try cluster(a)
        XCTAssertEqual(info["registry"] as? String, registry)
        XCTAssertEqual(info["connected"] as? Bool, true)
        XCTAssertGreaterThan(info["revision"] as? Int ?? 0, 0)

        let encoded = backend.url.addingPercentEncoding(withAllowedCharacters: .alphanumerics)!
        XCTAssertEqual(try b.admin("DELETE", "/backends?address=\(encoded)").status, 200)
        eventually(1, "the drain through B empties A") { (try? a.backends().isEmpty) == true }
        XCTAssertEqual(try a.get().status, 503)
        eventually(2, "the drained key is deleted from etcd") { (try? etcd.etcdctl(["get", "--prefix", "/t1/backends/"]))?.isEmpty == true }

        c.child.signal(SIGKILL)
        _ = c.child.waitForExit(seconds: 5)
        eventually(8, "the killed instance leaves /cluster after its lease TTL (2 s)") {
            Set((try? instanceIDs(a)) ?? []) == admins.subtracting(["127.0.0.1:\(c.adminPort)"])
        }
    }

    func testEtcdDownKeepsServingRefusesWritesAndResyncs() throws {
        let etcd = try EtcdProcess.start()
        let registry = "etcd://\(etcd.endpoint)/t2"
        let a = try instance(registry), b = try instance(registry)
        let one = try BackendServer(name: "one"), two = try BackendServer(name: "two")
        XCTAssertEqual(try a.register(one).status, 200)
        eventually(1, "B has the first backend") { (try? b.get().header("X-Backend")) == "one" }

        // A hung etcd (accepts, never answers): writes fail within 5 s.
        etcd.freeze()
        let started = Date()
        let hung = try a.register(two)
        XCTAssertEqual(hung.status, 503, hung.text)
        XCTAssertLessThan(Date().timeIntervalSince(started), 5)
        XCTAssertTrue(hung.text.contains("etcd"), hung.text)
        etcd.thaw()

        // A stopped etcd: both keep serving; writes are refused with the reason.
        etcd.stop()
        for f in [a, b] { XCTAssertEqual(try f.get().header("X-Backend"), "one") }
        let t0 = Date()
        let refused = try b.register(two)
        XCTAssertEqual(refused.status, 503)
        XCTAssertLessThan(Date().timeIntervalSince(t0), 5)
        eventually(8, "A reports the registry disconnected") { (try? cluster(a)["connected"] as? Bool) == false }
        XCTAssertTrue(try a.admin("GET", "/metrics").text.contains("fulcrum_registry_connected 0"))

        // etcd returns (same data); a change made directly is picked up without restarts.
        try etcd.launch()
        try etcd.etcdctl(["put", "/t2/backends/\(two.url)", "{\"address\":\"\(two.url)\",\"weight\":1,\"draining\":false}"])
        try etcd.etcdctl(["del", "/t2/backends/\(one.url)"])
        for f in [a, b] {
            eventually(10, "resynchronised after etcd returned") { (try? addresses(f)) == [two.url] }
            XCTAssertEqual(try f.get().header("X-Backend"), "two")
        }
        XCTAssertEqual(try a.register(one).status, 200)
    }

    func testWatchResumesAfterDisconnectAndRelistsAfterCompaction() throws {
        let etcd = try EtcdProcess.start()
        let cut = try EtcdRelay(to: etcd.clientPort)
        let a = try instance("etcd://127.0.0.1:\(cut.port)/t3")
        func put(_ n: Int) throws {
            try etcd.etcdctl(["put", "/t3/backends/http://127.0.0.1:\(n)", "{\"address\":\"http://127.0.0.1:\(n)\",\"weight\":1}"])
        }
        try put(1)
        eventually(1, "sees the first key") { (try? addresses(a)) == ["http://127.0.0.1:1"] }

        // Watch cut: changes made meanwhile arrive when it resumes.
        cut.down()
        eventually(8, "notices the cut") { a.child.output.contains { $0.contains("disconnected") } }
        try put(2)
        try etcd.etcdctl(["del", "/t3/backends/http://127.0.0.1:1"])
        cut.pass()
        eventually(10, "resumed from the last revision: one put and one delete") { (try? addresses(a)) == ["http://127.0.0.1:2"] }
        XCTAssertFalse(a.child.output.contains { $0.contains("compacted") })

        // Cut again, change, compact past what A saw: it must re-list.
        cut.down()
        eventually(8, "notices the second cut") { a.child.output.filter { $0.contains("disconnected") }.count >= 2 }
        try put(3)
        try etcd.etcdctl(["del", "/t3/backends/http://127.0.0.1:2"])
        try put(4)
        try etcd.etcdctl(["compaction", String(try etcd.revision())])
        cut.pass()
        eventually(10, "re-listed after compaction") { (try? addresses(a)) == ["http://127.0.0.1:3", "http://127.0.0.1:4"] }
        XCTAssertTrue(a.child.output.contains { $0.contains("compacted") }, a.child.output.joined(separator: "\n"))
    }

    /// 1,000 keys written straight to etcd (probing 1,000 real backends is
    /// not the point): one instance gets them by watch, one by paged listing.
    func testThousandBackendsReachEveryInstance() throws {
        let etcd = try EtcdProcess.start()
        let registry = "etcd://\(etcd.endpoint)/t4"
        let watching = try instance(registry)
        let client = EtcdClient(url: try EtcdURL.parse(registry).get())
        for i in 0..<1000 {
            let address = "http://127.0.0.1:\(20000 + i)"
            try client.put("/t4/backends/\(address)", "{\"address\":\"\(address)\",\"weight\":1,\"draining\":false}")
        }
        let listing = try instance(registry)
        for f in [watching, listing] {
            eventually(15, "all 1,000 backends") { (try? f.backends().count) == 1000 }
        }
    }
}
