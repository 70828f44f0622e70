import FulcrumEtcd
import FulcrumTestSupport
import XCTest

/// The client against a real etcd (skipped without the binary).
final class EtcdClientTests: XCTestCase {
    func testPutListWatchLeaseAndCompaction() throws {
        let etcd = try EtcdProcess.start()
        let client = EtcdClient(url: try EtcdURL.parse("etcd://127.0.0.1:1,\(etcd.endpoint)/t").get())  // first endpoint refuses: failover
        let (added, r1) = try client.put("/t/a", "1", if: .absent)
        XCTAssertTrue(added)
        XCTAssertFalse(try client.put("/t/a", "2", if: .absent).succeeded)
        for i in 0..<25 { try client.put("/t/k\(i)", String(repeating: "v", count: i)) }
        let listed = try client.list(prefix: "/t/", pageSize: 7)
        XCTAssertEqual(listed.kvs.count, 26)
        XCTAssertEqual(listed.kvs.first { $0.key == "/t/k3" }?.value, "vvv")

        let watch = try EtcdWatch.open(client, prefix: "/t/", fromRevision: r1)
        var seen: [WatchEvent] = []
        try client.delete("/t/a")
        let deadline = Date().addingTimeInterval(10)
        while seen.count < 27 && Date() < deadline {
            if case .events(let events, _) = try watch.next(idle: 1) { seen += events }
        }
        XCTAssertEqual(seen.first?.kv.key, "/t/a")
        XCTAssertEqual(seen.last?.kind, .delete)

        let lease = try client.grantLease(ttl: 5)
        try client.put("/t/leased", "x", lease: lease)
        XCTAssertGreaterThan(try client.keepAlive(lease: lease), 0)
        try client.revoke(lease: lease)
        XCTAssertEqual(try client.keepAlive(lease: lease), 0)

        let now = try client.newestModification(prefix: "/t/")
        try client.compact(revision: now.revision)
        XCTAssertThrowsError(try { () throws in
            let w = try EtcdWatch.open(client, prefix: "/t/", fromRevision: 2)
            for _ in 0..<5 { if case .compacted = try w.next(idle: 1) { throw EtcdError(.compacted, "compacted") } }
        }())
    }
}
