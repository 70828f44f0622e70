import Foundation
import XCTest

/// Cluster mode under injected faults (issue 14 §2, CONTRACT §7 "Added
/// 2026-12-05"): a real etcd behind an EtcdRelay that resets, stalls, or
/// answers in etcd's place. Each test starts its own etcd.
final class ClusterFaultTests: XCTestCase, ClusterTesting {
    /// After a reconnect, the next disconnection is retried after 0.1 s
    /// again, not after the longest backoff (item 1).
    func testBackoffResetsAfterASuccessfulWatch() throws {
        let etcd = try EtcdProcess.start()
        let relay = try EtcdRelay(to: etcd.clientPort)
        let a = try instance("etcd://\(relay.endpoint)/f1")
        var slowest = 0.0
        for cycle in 1...7 {
            let watching = a.child.output.filter { $0.contains("connected, watching") }.count
            relay.down()
            eventually(5, "cycle \(cycle): disconnection noticed") {
                a.child.output.filter { $0.contains("disconnected") }.count >= cycle
            }
            relay.pass()
            let t0 = Date()
            eventually(10, "cycle \(cycle): watching again") {
                a.child.output.filter { $0.contains("connected, watching") }.count > watching
            }
            slowest = max(slowest, Date().timeIntervalSince(t0))
        }
        XCTAssertLessThan(slowest, 1.5, "a reconnect took \(slowest) s: the backoff was not reset")
    }

    /// A watch whose TCP connection stays up but delivers nothing must not
    /// hide a deletion for more than 1 s (item 2).
    func testStalledWatchSeesADeletionWithinOneSecond() throws {
        let etcd = try EtcdProcess.start()
        let relay = try EtcdRelay(to: etcd.clientPort)
        let a = try instance("etcd://\(relay.endpoint)/f2")
        try putRecord(etcd, "/f2", key: "http://127.0.0.1:1")
        try putRecord(etcd, "/f2", key: "http://127.0.0.1:2")
        eventually(2, "both keys") { (try? addresses(a)) == ["http://127.0.0.1:1", "http://127.0.0.1:2"] }
        relay.stallWatches()
        try etcd.etcdctl(["del", "/f2/backends/http://127.0.0.1:1"])
        eventually(1.2, "the deletion is seen although the watch is stalled") { (try? addresses(a)) == ["http://127.0.0.1:2"] }
        // A put under a stalled watch too.
        try putRecord(etcd, "/f2", key: "http://127.0.0.1:3")
        eventually(1.2, "the put is seen") { (try? addresses(a))?.contains("http://127.0.0.1:3") == true }
    }

    /// A key written by hand in a non-canonical form is that backend on
    /// every instance, and removable through any instance's API (item 3).
    func testHandWrittenNonCanonicalKeyIsOneBackendEverywhere() throws {
        let etcd = try EtcdProcess.start()
        let registry = "etcd://\(etcd.endpoint)/f3"
        let a = try instance(registry)
        let backend = try BackendServer(name: "hand")
        defer { backend.kill() }
        // Upper-case scheme, trailing slash (and a leading zero when the port leaves room: 5 digits at most).
        let raw = "HTTP://127.0.0.1:\(backend.port < 10000 ? "0" : "")\(backend.port)/"
        try putRecord(etcd, "/f3", key: raw)
        eventually(2, "A routes to it") { (try? a.get().header("X-Backend")) == "hand" }
        let b = try instance(registry)
        XCTAssertEqual(try addresses(a), [backend.url])
        XCTAssertEqual(try addresses(b), [backend.url], "the instance that listed agrees with the one that watched")
        XCTAssertEqual(try b.admin("DELETE", "/backends?address=\(encoded(backend.url))").status, 200)
        for f in [a, b] { eventually(2, "drained and removed") { (try? f.backends().isEmpty) == true } }
        eventually(3, "the hand-written key is deleted from etcd") {
            (try? etcd.etcdctl(["get", "--prefix", "--keys-only", "/f3/backends/"]))?
                .trimmingCharacters(in: .whitespacesAndNewlines).isEmpty == true
        }
    }

    /// An invalid value written over a valid key counts as absent on the
    /// watch and on a full read alike (item 4).
    func testInvalidValueCountsAsAbsentEverywhere() throws {
        let etcd = try EtcdProcess.start()
        let registry = "etcd://\(etcd.endpoint)/f4"
        let a = try instance(registry)
        try putRecord(etcd, "/f4", key: "http://127.0.0.1:1")
        eventually(2, "A has it") { (try? addresses(a)) == ["http://127.0.0.1:1"] }
        try putRecord(etcd, "/f4", key: "http://127.0.0.1:1", weight: 0)
        eventually(2, "the watching instance drops it") { (try? addresses(a))?.isEmpty == true }
        let b = try instance(registry)
        XCTAssertEqual(try addresses(b), [])
        XCTAssertEqual(try a.admin("DELETE", "/backends?address=\(encoded("http://127.0.0.1:1"))").status, 404)
    }

    /// A seed of the -backend set that etcd refuses (NOSPACE alarm) is retried
    /// until it is written; the instance keeps serving its set meanwhile (item 5).
    func testFailedSeedIsRetried() throws {
        let etcd = try EtcdProcess.start()
        let relay = try EtcdRelay(to: etcd.clientPort)
        let backend = try BackendServer(name: "seed")
        defer { backend.kill() }
        relay.rewrite("/v3/kv/txn") { _ in .spaceExceeded }
        let a = try FulcrumServer(["-registry", "etcd://\(relay.endpoint)/f5", "-t", "0.5", "-backend", backend.url],
                                  environment: ["FULCRUM_REGISTRY_LEASE_TTL": "2"])
        eventually(5, "the seed was refused") { relay.count("/v3/kv/txn") >= 2 }
        XCTAssertEqual(try a.get().header("X-Backend"), "seed", "serves its -backend set while the seed fails")
        relay.clearRewrites()
        eventually(8, "the seed is retried and written") {
            (try? etcd.etcdctl(["get", "--keys-only", "/f5/backends/\(backend.url)"]))?.contains(backend.url) == true
        }
        eventually(3, "and it still routes there") { (try? a.get().header("X-Backend")) == "seed" }
    }

    /// A restart with the same -backend flags does not bring back a backend
    /// removed through the API; a flag naming a new one still adds it (item 6).
    func testRestartDoesNotResurrectARemovedBackend() throws {
        let etcd = try EtcdProcess.start()
        let registry = "etcd://\(etcd.endpoint)/f6"
        let x = try BackendServer(name: "x"), y = try BackendServer(name: "y")
        defer { x.kill(); y.kill() }
        var a = try instance(registry, ["-backend", x.url])
        eventually(2, "seeded") { (try? etcd.etcdctl(["get", "--keys-only", "/f6/backends/\(x.url)"]))?.contains(x.url) == true }
        XCTAssertEqual(try a.admin("DELETE", "/backends?address=\(encoded(x.url))").status, 200)
        eventually(3, "removed from etcd") {
            (try? etcd.etcdctl(["get", "--keys-only", "/f6/backends/\(x.url)"]))?.contains(x.url) == false
        }
        a.child.signal(SIGKILL)
        _ = a.child.waitForExit(seconds: 5)
        a = try instance(registry, ["-backend", x.url, "-backend", y.url])
        eventually(3, "the new flag's backend is added") { (try? addresses(a)) == [y.url] }
        XCTAssertEqual(try etcd.etcdctl(["get", "--keys-only", "/f6/backends/\(x.url)"]).contains(x.url), false, "not written back")
        a.child.stop()
    }

    /// An HTTP 200 whose body is an error object is an error, never an empty
    /// registry; relists back off; a keep-alive error is not an expired lease (item 7).
    func testErrorBodiesWithStatus200AreErrors() throws {
        let etcd = try EtcdProcess.start()
        let relay = try EtcdRelay(to: etcd.clientPort)
        let backend = try BackendServer(name: "kept")
        defer { backend.kill() }
        try putRecord(etcd, "/f7", key: backend.url)
        let a = try instance("etcd://\(relay.endpoint)/f7")
        eventually(2, "routes") { (try? a.get().header("X-Backend")) == "kept" }
        eventually(3, "registered its instance key") { a.child.output.contains { $0.contains("this instance is") } }
        // From now on every range and keep-alive answers 200 with an error object.
        relay.rewrite("/v3/kv/range") { _ in .errorObject("etcdserver: request timed out") }
        relay.rewrite("/v3/lease/keepalive") { _ in .errorObject("etcdserver: request timed out") }
        relay.rewrite("/v3/watch") { _ in .errorObject("etcdserver: request timed out") }
        let ranges = relay.count("/v3/kv/range")
        relay.resetAll()
        let t0 = Date()
        while Date().timeIntervalSince(t0) < 3 {
            XCTAssertEqual(try a.get().header("X-Backend"), "kept", "the last known set keeps serving")
            usleep(100_000)
        }
        XCTAssertLessThan(relay.count("/v3/kv/range") - ranges, 12, "relists back off")
        let log = a.child.output.joined(separator: "\n")
        XCTAssertFalse(log.contains("at revision 0"), log)
        XCTAssertFalse(log.contains("deregistered"), log)
        XCTAssertFalse(log.contains("expired"), log)
        relay.clearRewrites()
        eventually(8, "reconnects") { (try? cluster(a)["connected"] as? Bool) == true }
    }

    /// An instance key deleted by hand is written back (item 9).
    func testInstanceKeyDeletedByHandIsWrittenBack() throws {
        let etcd = try EtcdProcess.start()
        let a = try instance("etcd://\(etcd.endpoint)/f9")
        let me = "127.0.0.1:\(a.adminPort)"
        eventually(3, "listed") { (try? instanceIDs(a)) == [me] }
        XCTAssertTrue(try etcd.etcdctl(["del", "--prefix", "/f9/instances/"]).contains("1"))
        eventually(3, "written back") {
            (try? etcd.etcdctl(["get", "--prefix", "--keys-only", "/f9/instances/"]))?.contains("/f9/instances/") == true
        }
        eventually(3, "listed again") { (try? instanceIDs(a)) == [me] }
    }

    /// kill -9, then a restart on the same ports: it routes within 1 s of
    /// serving its banner, every time.
    func testRestartAfterKill9RoutesWithinOneSecond() throws {
        let etcd = try EtcdProcess.start()
        let registry = "etcd://\(etcd.endpoint)/fk"
        let backend = try BackendServer(name: "k")
        defer { backend.kill() }
        let port = try freePort(), adminPort = try freePort()
        let ports = ["-listen", "127.0.0.1:\(port)", "-admin", "127.0.0.1:\(adminPort)"]
        var f = try instance(registry, ports)
        XCTAssertEqual(try f.register(backend).status, 200)
        let runs = Int(ProcessInfo.processInfo.environment["FULCRUM_KILL9_RUNS"] ?? "") ?? 3
        for run in 1...runs {
            f.child.signal(SIGKILL)
            _ = f.child.waitForExit(seconds: 5)
            f = try FulcrumServer(["-registry", registry, "-t", "0.5"] + ports, environment: ["FULCRUM_REGISTRY_LEASE_TTL": "2"])
            let t0 = Date()
            eventually(1, "run \(run): routes within 1 s") { (try? f.get().header("X-Backend")) == "k" }
            print("kill -9 restart \(run)/\(runs): routed after \(Int(Date().timeIntervalSince(t0) * 1000)) ms")
            if Date().timeIntervalSince(t0) > 1 { print(f.child.output.joined(separator: "\n")) }
        }
        f.child.stop()
    }
}
