/// What the status page shows, read once per `GET /`.
struct StatusPageModel {
    struct Row {
        var address: String
        var weight: Int
        var healthy: Bool
        var draining: Bool
        var active: Int
        var requests: Int
        var failures: Int
        var latencyMillis: Double
        var lastCheck: String
    }

    var strategy: String
    var available: [(name: String, description: String)]
    var backends: [Row]
    /// The Host the page was asked for (for the curl hint of an empty list).
    var host: String
    /// With pools: the other pools' sections and the route table (HTML, escaped).
    var extra = ""
    /// With pools: the name of the pool the main table shows.
    var defaultPoolName: String?
}

/// Fills the status page's template server-side, in the same markup the
/// script renders, so the first HTML is complete. Every value is
/// HTML-escaped: strategy names and descriptions come from plugins.
extension StatusPage {
    static func render(_ m: StatusPageModel) -> String {
        let options = m.available.map { s in
            "<option value=\"\(escape(s.name))\" title=\"\(escape(s.description))\"\(s.name == m.strategy ? " selected" : "")>\(escape(s.name))</option>"
        }.joined()
        let healthy = m.backends.filter { $0.healthy && !$0.draining }.count
        let inflight = m.backends.reduce(0) { $0 + $1.active }
        let rows = m.backends.isEmpty
            ? "<tr><td colspan=\"11\" class=\"muted\">No backends. Register one: <code>curl -d '{\"address\":\"http://127.0.0.1:9001\"}' http://\(escape(m.host))/register</code></td></tr>"
            : m.backends.map(row).joined(separator: "\n")
        return template
            .replacingFirst("{{options}}", with: options)
            .replacingFirst("{{healthy}}", with: "\(healthy) / \(m.backends.count)")
            .replacingFirst("{{inflight}}", with: "\(inflight)")
            .replacingFirst("{{rows}}", with: rows)
            .replacingFirst("</main>", with: (m.defaultPoolName.map { "<p class=\"muted\">The table above is pool <b>\(escape($0))</b> (the default pool).</p>" } ?? "") + m.extra + "</main>")
    }

    /// A pool's section (server-rendered; the live controls act on the default pool).
    static func poolSection(name: String, strategy: String, rows: [StatusPageModel.Row]) -> String {
        let body = rows.isEmpty ? "<tr><td colspan=\"11\" class=\"muted\">No backends.</td></tr>" : rows.map(row).joined(separator: "\n")
        return "<h2>Pool \(escape(name)) <span class=\"muted\">\(escape(strategy))</span></h2>\n<table><thead><tr><th>Backend</th><th>Health</th><th class=\"num\">Weight</th><th class=\"num\">In flight</th>"
            + "<th class=\"num\">Requests</th><th class=\"num\">Req/s</th><th>Share</th><th class=\"num\">Failures</th><th class=\"num\">Latency</th><th>Last check</th><th></th></tr></thead>\n<tbody>\(body)</tbody></table>\n"
    }

    /// The route table, in match order.
    static func routeSection(_ routes: [(label: String, conditions: String, pool: String, requests: UInt64)], unmatched: String?) -> String {
        let body = routes.map { r in
            "<tr><td>\(escape(r.label))</td><td><code>\(escape(r.conditions))</code></td><td>\(escape(r.pool))</td><td class=\"num\">\(r.requests)</td></tr>"
        }.joined(separator: "\n")
        return "<h2>Routes <span class=\"muted\">first match wins; unmatched: \(escape(unmatched ?? "404"))</span></h2>\n"
            + "<table><thead><tr><th>Route</th><th>As written</th><th>Pool</th><th class=\"num\">Requests</th></tr></thead>\n<tbody>\(body)</tbody></table>\n"
    }

    static func row(_ b: StatusPageModel.Row) -> String {
        let state = b.draining ? #"<span class="badge draining">draining</span>"#
            : b.healthy ? #"<span class="badge up">up</span>"# : #"<span class="badge down">down</span>"#
        let address = escape(b.address)
        return """
            <tr><td><code>\(address)</code></td><td>\(state)</td><td class="num">\(b.weight)</td><td class="num">\(b.active)</td>
            <td class="num">\(b.requests)</td><td class="num">–</td>
            <td><div class="bar"><div style="width:0.0%"></div></div></td>
            <td class="num">\(b.failures)</td><td class="num">\(fixed1(b.latencyMillis)) ms</td><td class="muted">\(escape(b.lastCheck))</td>
            <td>\(b.draining ? "" : "<button data-drain=\"\(address)\">Drain</button>")</td></tr>
            """
    }

    /// Text for HTML content and quoted attributes.
    static func escape(_ s: String) -> String {
        var out = ""
        out.reserveCapacity(s.utf8.count)
        for c in s.unicodeScalars {
            switch c {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "\"": out += "&quot;"
            case "'": out += "&#39;"
            default: out.unicodeScalars.append(c)
            }
        }
        return out
    }

    /// One decimal, as the script's toFixed(1).
    static func fixed1(_ d: Double) -> String {
        guard d.isFinite else { return "0.0" }
        let tenths = Int((abs(d) * 10).rounded())
        return (d < 0 && tenths > 0 ? "-" : "") + "\(tenths / 10).\(tenths % 10)"
    }
}

extension String {
    /// This string with the first `marker` replaced (no Foundation).
    func replacingFirst(_ marker: String, with replacement: String) -> String {
        let m = Array(marker.utf8)
        let bytes = Array(utf8)
        guard m.count <= bytes.count else { return self }
        for i in 0...(bytes.count - m.count) where bytes[i] == m[0] && Array(bytes[i..<(i + m.count)]) == m {
            return String(decoding: bytes[..<i], as: UTF8.self) + replacement + String(decoding: bytes[(i + m.count)...], as: UTF8.self)
        }
        return self
    }
}
