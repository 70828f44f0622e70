import Foundation
import XCTest

/// What the cluster test classes share: starting an instance on a registry
/// and reading GET /cluster and GET /backends.
protocol ClusterTesting {}

extension ClusterTesting {
    /// A fulcrum on `registry`, returned once its watch runs.
    func instance(_ registry: String, _ extra: [String] = []) throws -> FulcrumServer {
        let f = try FulcrumServer(["-registry", registry, "-t", "0.5"] + extra, environment: ["FULCRUM_REGISTRY_LEASE_TTL": "2"])
        _ = try f.child.waitForLine("connected, watching", seconds: 45)
        return f
    }

    func cluster(_ f: FulcrumServer) throws -> [String: Any] {
        let r = try f.admin("GET", "/cluster")
        XCTAssertEqual(r.status, 200)
        return ((try JSONSerialization.jsonObject(with: Data(r.body)) as? [String: Any])?["data"] as? [String: Any]) ?? [:]
    }

    func instanceIDs(_ f: FulcrumServer) throws -> [String] {
        ((try cluster(f)["instances"] as? [[String: Any]]) ?? []).compactMap { $0["admin"] as? String }
    }

    func strategy(_ f: FulcrumServer) throws -> String? {
        let r = try f.admin("GET", "/backends")
        return ((try JSONSerialization.jsonObject(with: Data(r.body)) as? [String: Any])?["data"] as? [String: Any])?["strategy"] as? String
    }

    func addresses(_ f: FulcrumServer) throws -> Set<String> { Set(try f.backends().compactMap { $0["address"] as? String }) }

    /// Runs etcdctl's put of a backend record (as an operator would by hand).
    func putRecord(_ etcd: EtcdProcess, _ prefix: String, key: String, address: String? = nil, weight: Int = 1, draining: Bool = false) throws {
        try etcd.etcdctl(["put", "\(prefix)/backends/\(key)", "{\"address\":\"\(address ?? key)\",\"weight\":\(weight),\"draining\":\(draining)}"])
    }

    func encoded(_ address: String) -> String { address.addingPercentEncoding(withAllowedCharacters: .alphanumerics)! }
}
