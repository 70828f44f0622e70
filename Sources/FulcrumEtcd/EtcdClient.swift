import FulcrumCore
import FulcrumSDK
import Synchronization

/// A small etcd v3 client over the JSON gateway (`/v3/kv/*`, `/v3/lease/*`,
/// `/v3/watch`) and the project's own HTTP/1.1 code: no gRPC, no packages.
///
/// Every call has a total deadline (`callTimeout`) and each connect its own
/// limit (`connectTimeout`), so a hung etcd fails a call in bounded time.
/// Endpoints are tried in turn, starting with the last one that answered;
/// one that fails is skipped to the next within the same deadline.
/// Idle keep-alive connections are kept per endpoint for reuse.
/// Thread-safe: calls may come from any thread.
public final class EtcdClient: @unchecked Sendable {
    public let url: EtcdURL
    public let connectTimeout: Double
    public let callTimeout: Double

    private struct Pool {
        var preferred = 0
        var idle: [Int: [HTTPConnection]] = [:]
    }
    private let pool = Mutex<Pool>(Pool())

    public init(url: EtcdURL, connectTimeout: Double = 1, callTimeout: Double = 3) {
        self.url = url
        self.connectTimeout = connectTimeout
        self.callTimeout = callTimeout
    }

    // MARK: transport

    /// A connection to some endpoint (pooled or new), in failover order.
    func connect(deadline: Deadline, reuse: Bool = true) throws(EtcdError) -> (HTTPConnection, endpoint: Int, reused: Bool) {
        let start = pool.withLock { $0.preferred }
        var errors: [String] = []
        for step in 0..<url.endpoints.count {
            let index = (start + step) % url.endpoints.count
            if reuse, let c = pool.withLock({ $0.idle[index]?.popLast() }) { return (c, index, true) }
            do {
                let c = try HTTPConnection.open(url.endpoints[index], connectTimeout: connectTimeout, deadline: deadline)
                if step > 0 { pool.withLock { $0.preferred = index } }
                return (c, index, false)
            } catch {
                errors.append(error.message)
                if deadline.passed { break }
            }
        }
        throw EtcdError(.unavailable, errors.joined(separator: "; "))
    }

    private func giveBack(_ c: HTTPConnection, endpoint: Int) {
        pool.withLock { p in
            if (p.idle[endpoint]?.count ?? 0) < 4 { p.idle[endpoint, default: []].append(c) }
        }
    }

    /// Forgets pooled connections, e.g. after etcd went away.
    public func dropIdleConnections() { pool.withLock { $0.idle.removeAll() } }

    /// POSTs `body` to `path` and returns the JSON answer. A pooled
    /// connection that turns out closed is retried once on a fresh one.
    public func call(_ path: String, _ body: JSONValue, timeout: Double? = nil) throws(EtcdError) -> JSONValue {
        let deadline = Deadline(seconds: timeout ?? callTimeout)
        let text = body.serialized
        var attempt = 0
        while true {
            attempt += 1
            let (c, endpoint, reused) = try connect(deadline: deadline, reuse: attempt == 1)
            let response: (status: Int, body: [UInt8], reusable: Bool)
            do {
                try c.send(path: path, body: text, deadline: deadline)
                response = try c.readResponse(deadline: deadline)
            } catch {
                if reused && error.kind == .unavailable && !deadline.passed { continue }
                if error.kind == .unavailable { pool.withLock { $0.preferred = (endpoint + 1) % url.endpoints.count } }
                throw error
            }
            if response.reusable { giveBack(c, endpoint: endpoint) }
            let json: JSONValue
            do {
                json = try response.body.withUnsafeBytes { raw throws(JSONError) in try JSONValue.parse(raw) }
            } catch {
                throw EtcdError(.protocolError, "etcd \(url.endpoints[endpoint]) \(path): HTTP \(response.status), body is not JSON")
            }
            guard response.status == 200 else {
                let message = json["message"]?.stringValue ?? json["error"]?.stringValue ?? "HTTP \(response.status)"
                let kind: EtcdError.Kind = message.contains("compacted") ? .compacted
                    : (response.status == 503 ? .unavailable : .server)
                throw EtcdError(kind, "etcd \(url.endpoints[endpoint]) \(path): \(message)")
            }
            // A 200 must be a response (with a header and its revision), not
            // an error object a gateway or proxy passed with status 200.
            let header = json["header"] ?? json["result"]?["header"]
            guard int64(header?["revision"]) > 0 else {
                let e = json["error"]
                let message = json["message"]?.stringValue ?? e?["message"]?.stringValue ?? e?.stringValue ?? "no header.revision"
                throw EtcdError(message.contains("compacted") ? .compacted : .server,
                                "etcd \(url.endpoints[endpoint]) \(path): not a valid response (\(message))")
            }
            return json
        }
    }

    // MARK: kv

    /// Every key under `prefix`, read in pages of `pageSize` all pinned to
    /// the revision of the first page, so the result is one consistent
    /// snapshot even while others write. Returns the keys and that revision.
    /// Pages shrink so that one stays near `pageBytes` (item 11: a page of
    /// 500 large values could exceed the 64 MiB response cap forever), and a
    /// page refused as too large is read again at half the size.
    public func list(prefix: String, pageSize: Int = 500, keysOnly: Bool = false,
                     pageBytes: Int = 4 << 20) throws(EtcdError) -> (kvs: [KeyValue], revision: Int64) {
        var limit = pageSize
        let end = Base64.encode(prefixRangeEnd(prefix))
        var key = Array(prefix.utf8)
        var revision: Int64 = 0
        var out: [KeyValue] = []
        while true {
            var request: [(String, JSONValue)] = [("key", .string(Base64.encode(key))), ("range_end", .string(end)),
                                                  ("limit", jsonInt64(Int64(limit)))]
            if revision > 0 { request.append(("revision", jsonInt64(revision))) }
            if keysOnly { request.append(("keys_only", true)) }
            let json: JSONValue
            do {
                json = try call("/v3/kv/range", .object(request))
            } catch {
                guard error.kind == .protocolError, error.message.contains("larger than"), limit > 1 else { throw error }
                limit /= 2
                continue
            }
            if revision == 0 { revision = int64(json["header"]?["revision"]) }
            let page = (json["kvs"]?.arrayValue ?? []).compactMap(KeyValue.init(json:))
            out += page
            let bytes = page.reduce(0) { $0 + $1.key.utf8.count + $1.value.utf8.count }
            if !page.isEmpty { limit = max(1, min(pageSize, pageBytes / max(1, bytes / page.count))) }
            guard json["more"]?.boolValue == true, let last = page.last else { break }
            key = Array(last.key.utf8) + [0]  // the next key after the last one
        }
        return (out, revision)
    }

    /// The newest modification revision among the keys under `prefix` (0
    /// when none), and the store's current revision. Cheap: one key, no value.
    public func newestModification(prefix: String, timeout: Double? = nil) throws(EtcdError) -> (modRevision: Int64, revision: Int64) {
        let json = try call("/v3/kv/range", [
            "key": .string(Base64.encode(prefix)), "range_end": .string(Base64.encode(prefixRangeEnd(prefix))),
            "limit": "1", "sort_order": "DESCEND", "sort_target": "MOD", "keys_only": true,
        ], timeout: timeout)
        let kv = json["kvs"]?.arrayValue?.first.flatMap(KeyValue.init(json:))
        return (kv?.modRevision ?? 0, int64(json["header"]?["revision"]))
    }

    public enum Condition: Sendable {
        case none
        /// Only if the key does not exist.
        case absent
        /// Only if the key was last modified at this revision.
        case modRevision(Int64)
    }

    /// Puts `value` at `key` (with `lease`, if not 0) when `condition`
    /// holds. Returns whether it did, and the revision after the transaction.
    @discardableResult
    public func put(_ key: String, _ value: String, lease: Int64 = 0, if condition: Condition = .none,
                    timeout: Double? = nil) throws(EtcdError) -> (succeeded: Bool, revision: Int64) {
        var put: [(String, JSONValue)] = [("key", .string(Base64.encode(key))), ("value", .string(Base64.encode(value)))]
        if lease != 0 { put.append(("lease", jsonInt64(lease))) }
        return try txn(key, condition, ["request_put": .object(put)], timeout: timeout)
    }

    /// Deletes `key` when `condition` holds.
    @discardableResult
    public func delete(_ key: String, if condition: Condition = .none, timeout: Double? = nil) throws(EtcdError) -> (succeeded: Bool, revision: Int64) {
        try txn(key, condition, ["request_delete_range": ["key": .string(Base64.encode(key))]], timeout: timeout)
    }

    /// One compare (or none) and one operation, as a kv/txn.
    private func txn(_ key: String, _ condition: Condition, _ operation: JSONValue, timeout: Double?) throws(EtcdError) -> (succeeded: Bool, revision: Int64) {
        var compare: [JSONValue] = []
        let k = JSONValue.string(Base64.encode(key))
        switch condition {
        case .none: break
        case .absent: compare = [["key": k, "target": "CREATE", "result": "EQUAL", "create_revision": "0"]]
        case .modRevision(let r): compare = [["key": k, "target": "MOD", "result": "EQUAL", "mod_revision": jsonInt64(r)]]
        }
        let json = try call("/v3/kv/txn", ["compare": .array(compare), "success": [operation], "failure": []], timeout: timeout)
        return (json["succeeded"]?.boolValue ?? false, int64(json["header"]?["revision"]))
    }

    /// Puts every (key, value) of `puts` in one transaction, when every
    /// condition holds (each on its own key). Returns whether it did.
    @discardableResult
    public func putAll(_ puts: [(String, String)], if conditions: [(String, Condition)],
                       timeout: Double? = nil) throws(EtcdError) -> (succeeded: Bool, revision: Int64) {
        var compare: [JSONValue] = []
        for (key, c) in conditions {
            let k = JSONValue.string(Base64.encode(key))
            switch c {
            case .none: break
            case .absent: compare.append(["key": k, "target": "CREATE", "result": "EQUAL", "create_revision": "0"])
            case .modRevision(let r): compare.append(["key": k, "target": "MOD", "result": "EQUAL", "mod_revision": jsonInt64(r)])
            }
        }
        let ops: [JSONValue] = puts.map { ["request_put": ["key": .string(Base64.encode($0.0)), "value": .string(Base64.encode($0.1))]] }
        let json = try call("/v3/kv/txn", ["compare": .array(compare), "success": .array(ops), "failure": []], timeout: timeout)
        return (json["succeeded"]?.boolValue ?? false, int64(json["header"]?["revision"]))
    }

    /// Compacts the history up to `revision` (tests and operators).
    public func compact(revision: Int64) throws(EtcdError) {
        _ = try call("/v3/kv/compaction", ["revision": jsonInt64(revision), "physical": true])
    }

    // MARK: leases

    /// Grants a lease of `ttl` seconds; returns its id.
    public func grantLease(ttl: Int) throws(EtcdError) -> Int64 {
        let json = try call("/v3/lease/grant", ["TTL": jsonInt64(Int64(ttl)), "ID": "0"])
        let id = int64(json["ID"])
        guard id != 0 else { throw EtcdError(.protocolError, "etcd lease/grant answered without an ID") }
        return id
    }

    /// Renews a lease once; returns the TTL left, 0 when the lease is gone
    /// (expired or revoked: the caller must grant a new one).
    public func keepAlive(lease: Int64) throws(EtcdError) -> Int64 {
        let json = try call("/v3/lease/keepalive", ["ID": jsonInt64(lease)])
        return int64((json["result"] ?? json)["TTL"])
    }

    public func revoke(lease: Int64, timeout: Double? = nil) throws(EtcdError) {
        _ = try call("/v3/lease/revoke", ["ID": jsonInt64(lease)], timeout: timeout)
    }
}
