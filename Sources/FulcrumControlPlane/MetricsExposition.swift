import FulcrumProxy
import FulcrumRegistry

/// `GET /metrics` in the Prometheus text format 0.0.4. Counters live per
/// worker; they are summed here, at scrape time, never on the request path.
enum MetricsExposition {
    static func render(_ api: AdminAPI) -> String {
        var out = ""
        func family(_ name: String, _ type: String, _ help: String) {
            out += "# HELP \(name) \(help)\n# TYPE \(name) \(type)\n"
        }
        func sample(_ name: String, _ labels: [(String, String)], _ value: UInt64) {
            out += name
            if !labels.isEmpty {
                out += "{" + labels.map { "\($0.0)=\"\(escape($0.1))\"" }.joined(separator: ",") + "}"
            }
            out += " \(value)\n"
        }
        // Every pool's backends. With -config each per-backend series carries
        // a `pool` label; without it the label sets are the ones they always
        // were (one pool, and nothing a user sees changes).
        let withPools = api.pools.configPath != nil
        let runtimes = api.pools.runtimes
        var rows: [(pool: String, status: BackendStatus)] = []
        for r in runtimes { for s in r.registry.statuses() { rows.append((r.name, s)) } }
        let counters = api.backendCounters(rows.map(\.status))
        let workers = api.proxy.workers
        func labels(_ row: (pool: String, status: BackendStatus), _ more: [(String, String)] = []) -> [(String, String)] {
            [("backend", row.status.address)] + more + (withPools ? [("pool", row.pool)] : [])
        }

        family("fulcrum_requests_total", "counter", "Requests proxied to a backend, by backend and HTTP status sent to the client.")
        for row in rows {
            for (code, n) in (counters[row.status.id]?.codes ?? [:]).sorted(by: { $0.key < $1.key }) {
                sample("fulcrum_requests_total", labels(row, [("code", String(code))]), n)
            }
        }
        family("fulcrum_backend_up", "gauge", "1 when the backend passes its health checks.")
        for row in rows { sample("fulcrum_backend_up", labels(row), row.status.healthy ? 1 : 0) }
        family("fulcrum_backend_draining", "gauge", "1 while the backend is being drained.")
        for row in rows { sample("fulcrum_backend_draining", labels(row), row.status.draining ? 1 : 0) }
        family("fulcrum_backend_active", "gauge", "Requests in flight to the backend, across all workers.")
        for row in rows { sample("fulcrum_backend_active", labels(row), UInt64(row.status.active)) }
        family("fulcrum_backend_weight", "gauge", "The backend's weight.")
        for row in rows { sample("fulcrum_backend_weight", labels(row), UInt64(row.status.weight)) }
        family("fulcrum_backend_failures_total", "counter", "Failed attempts to a backend: refused, reset, timed out or invalid responses.")
        for row in rows { sample("fulcrum_backend_failures_total", labels(row), counters[row.status.id]?.failures ?? 0) }

        family("fulcrum_upstream_duration_seconds", "histogram", "Time from picking a backend to the end of its response.")
        for row in rows {
            let c = counters[row.status.id] ?? BackendCounters()
            var cumulative: UInt64 = 0
            for (i, bound) in WorkerMetrics.bucketBounds.enumerated() {
                cumulative += c.buckets[i]
                sample("fulcrum_upstream_duration_seconds_bucket", labels(row, [("le", format(bound))]), cumulative)
            }
            cumulative += c.buckets[WorkerMetrics.bucketBounds.count]
            sample("fulcrum_upstream_duration_seconds_bucket", labels(row, [("le", "+Inf")]), cumulative)
            out += "fulcrum_upstream_duration_seconds_sum{" + labels(row).map { "\($0.0)=\"\(escape($0.1))\"" }.joined(separator: ",")
                + "} \(format(Double(c.sumMicros) / 1e6))\n"
            sample("fulcrum_upstream_duration_seconds_count", labels(row), c.count)
        }
        if let routing = withPools ? api.proxy.routing.value : nil, let table = routing.table {
            family("fulcrum_route_requests_total", "counter", "Requests matched by each route (CONTRACT §10), by route and pool.")
            let counts = routing.counters.totals()
            for r in table.routes { sample("fulcrum_route_requests_total", [("route", r.label), ("pool", r.pool)], counts[r.index]) }
        }

        TLSCertificates.metrics(family, sample)

        family("fulcrum_responses_total", "counter", "Responses sent to clients, proxied or made by Fulcrum (400, 408, 502, 503, 504…), by status.")
        for code in 100..<600 {
            let n = workers.reduce(UInt64(0)) { $0 + $1.metrics.responses(status: code) }
            if n > 0 { sample("fulcrum_responses_total", [("code", String(code))], n) }
        }
        func total(_ c: WorkerMetrics.Counter) -> UInt64 { workers.reduce(0) { $0 + $1.metrics.value(c) } }
        family("fulcrum_retries_total", "counter", "Requests retried on another backend (or a fresh connection) after a failure.")
        sample("fulcrum_retries_total", [], total(.retries))
        family("fulcrum_client_connections", "gauge", "Client connections open now.")
        sample("fulcrum_client_connections", [], UInt64(max(0, api.proxy.openConnections)))
        family("fulcrum_client_connections_total", "counter", "Client connections accepted.")
        sample("fulcrum_client_connections_total", [], total(.connectionsAccepted))
        family("fulcrum_client_connections_by_protocol_total", "counter", "Client connections accepted, by the protocol they spoke (h2: ALPN h2 or the h2c preface).")
        sample("fulcrum_client_connections_by_protocol_total", [("protocol", "http/1.1")], total(.connectionsAccepted) &- total(.h2Connections))
        sample("fulcrum_client_connections_by_protocol_total", [("protocol", "h2")], total(.h2Connections))
        family("fulcrum_client_streams_total", "counter", "Requests received, by protocol (an HTTP/2 stream, an HTTP/1.1 request).")
        sample("fulcrum_client_streams_total", [("protocol", "h2")], total(.h2Streams))
        sample("fulcrum_client_streams_total", [("protocol", "http/1.1")], total(.requests) &- total(.h2Streams))
        family("fulcrum_upstream_connections_total", "counter", "Backend connections used, new or reused from the keep-alive pool.")
        sample("fulcrum_upstream_connections_total", [("kind", "new")], total(.upstreamConnects))
        sample("fulcrum_upstream_connections_total", [("kind", "reused")], total(.upstreamReuses))
        family("fulcrum_connect_timeouts_total", "counter", "Backend connects (TCP, then TLS handshake) not done within -connect-timeout.")
        sample("fulcrum_connect_timeouts_total", [], total(.connectTimeouts))
        family("fulcrum_response_timeouts_total", "counter", "Responses whose head did not arrive within -timeout (504).")
        sample("fulcrum_response_timeouts_total", [], total(.responseTimeouts))
        family("fulcrum_body_timeouts_total", "counter", "Exchanges cut because a body made no progress within -body-timeout.")
        sample("fulcrum_body_timeouts_total", [], total(.bodyTimeouts))
        family("fulcrum_tunnels_total", "counter", "Connections upgraded (101) and tunnelled.")
        sample("fulcrum_tunnels_total", [], total(.tunnels))
        family("fulcrum_client_bytes_total", "counter", "Bytes received from and sent to clients.")
        sample("fulcrum_client_bytes_total", [("direction", "in")], total(.bytesFromClients))
        sample("fulcrum_client_bytes_total", [("direction", "out")], total(.bytesToClients))

        family("fulcrum_health_checks_total", "counter", "Health probes run, by backend and result.")
        for r in runtimes {
            let pool: [(String, String)] = withPools ? [("pool", r.name)] : []
            for (address, counts) in r.health.checkCounts().sorted(by: { $0.key < $1.key }) {
                sample("fulcrum_health_checks_total", [("backend", address), ("result", "pass")] + pool, counts.0)
                sample("fulcrum_health_checks_total", [("backend", address), ("result", "fail")] + pool, counts.1)
            }
        }
        family("fulcrum_health_transitions_total", "counter", "Backends going up or down (probes or refused proxied connections).")
        sample("fulcrum_health_transitions_total", [("to", "up")], runtimes.reduce(0) { $0 + $1.registry.wentUp.load(ordering: .relaxed) })
        sample("fulcrum_health_transitions_total", [("to", "down")], runtimes.reduce(0) { $0 + $1.registry.wentDown.load(ordering: .relaxed) })
        family("fulcrum_strategy_info", "gauge", "The balancing strategy in use\(withPools ? ", per pool" : "").")
        for r in runtimes where withPools || r === runtimes.first {
            sample("fulcrum_strategy_info", [("strategy", r.selection.value.descriptor.name)] + (withPools ? [("pool", r.name)] : []), 1)
        }
        family("fulcrum_registry_connected", "gauge", "1 while the shared registry (etcd) is connected and watched; always 1 for the local registry.")
        let cluster = api.shared?.sync.snapshot
        var connected: UInt64 = 1
        if let cluster { if case .watching = cluster.link {} else { connected = 0 } }
        sample("fulcrum_registry_connected", [], connected)
        family("fulcrum_registry_revision", "gauge", "The etcd revision this instance has applied (0 for the local registry).")
        sample("fulcrum_registry_revision", [], UInt64(max(0, cluster?.revision ?? 0)))
        family("fulcrum_registry_events_total", "counter", "Changes applied from the etcd watch.")
        sample("fulcrum_registry_events_total", [], cluster?.events ?? 0)
        family("fulcrum_build_info", "gauge", "Fulcrum's version and plugin ABI.")
        sample("fulcrum_build_info", [("version", FulcrumVersion.string), ("abi", "1")], 1)
        return out
    }

    static func escape(_ s: String) -> String {
        var out = ""
        for c in s {
            switch c {
            case "\\": out += "\\\\"
            case "\"": out += "\\\""
            case "\n": out += "\\n"
            default: out.append(c)
            }
        }
        return out
    }

    static func format(_ v: Double) -> String {
        if v == v.rounded() && abs(v) < 1e15 { return String(Int64(v)) }
        return String(v)
    }
}

public enum FulcrumVersion {
    public static let string = "0.1.0"
}
