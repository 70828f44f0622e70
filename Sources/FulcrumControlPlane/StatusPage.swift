/// `GET /`: one self-contained page (no external assets). The server fills
/// in the strategy and every backend (see StatusPageRender), so curl, text
/// browsers and screen readers see the table without JavaScript; the script
/// only refreshes it every two seconds and adds the controls' actions
/// (switch strategy, drain) and request rates.
enum StatusPage {
    /// The page, with {{options}}, {{healthy}}, {{inflight}} and {{rows}} to fill in.
    static let template = #"""
    <!doctype html>
    <html lang="en">
    <head>
    <meta charset="utf-8">
    <meta name="viewport" content="width=device-width, initial-scale=1">
    <title>Fulcrum</title>
    <style>
      :root { --fg:#1d2330; --muted:#667085; --line:#e4e7ec; --up:#12805c; --down:#c4320a; --drain:#b54708; --bg:#f9fafb; }
      * { box-sizing: border-box; }
      body { margin: 0; font: 14px/1.45 system-ui, -apple-system, "Segoe UI", sans-serif; color: var(--fg); background: var(--bg); }
      header { display: flex; align-items: baseline; gap: 16px; padding: 18px 28px; background: #fff; border-bottom: 1px solid var(--line); }
      h1 { margin: 0; font-size: 20px; letter-spacing: .02em; }
      header .meta { color: var(--muted); }
      main { padding: 22px 28px; max-width: 1100px; }
      .cards { display: grid; grid-template-columns: repeat(auto-fit, minmax(170px, 1fr)); gap: 12px; margin-bottom: 20px; }
      .card { background: #fff; border: 1px solid var(--line); border-radius: 10px; padding: 12px 14px; }
      .card .label { color: var(--muted); font-size: 12px; text-transform: uppercase; letter-spacing: .05em; }
      .card .value { font-size: 22px; font-weight: 600; margin-top: 2px; }
      table { width: 100%; border-collapse: collapse; background: #fff; border: 1px solid var(--line); border-radius: 10px; overflow: hidden; }
      th, td { padding: 9px 12px; text-align: left; border-bottom: 1px solid var(--line); white-space: nowrap; }
      th { font-size: 12px; color: var(--muted); text-transform: uppercase; letter-spacing: .05em; background: #fcfcfd; }
      td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; }
      tr:last-child td { border-bottom: 0; }
      .badge { display: inline-block; padding: 1px 9px; border-radius: 999px; font-size: 12px; font-weight: 600; color: #fff; }
      .up { background: var(--up); } .down { background: var(--down); } .draining { background: var(--drain); }
      .bar { height: 6px; background: #eef2f6; border-radius: 3px; min-width: 80px; }
      .bar > div { height: 6px; background: #3b82f6; border-radius: 3px; }
      select, button { font: inherit; padding: 5px 10px; border: 1px solid var(--line); border-radius: 7px; background: #fff; cursor: pointer; }
      .card select { width: 100%; font-size: 16px; font-weight: 600; }
      button:hover, select:hover { border-color: #98a2b3; }
      .muted { color: var(--muted); }
      #error { color: var(--down); margin: 10px 0; min-height: 1em; }
      footer { color: var(--muted); font-size: 12px; margin-top: 16px; }
    </style>
    </head>
    <body>
    <header>
      <h1>Fulcrum</h1>
      <span class="meta">HTTP/1.1 load balancer &middot; strategies and probes are plugins</span>
    </header>
    <main>
      <div class="cards">
        <div class="card"><div class="label">Strategy</div><div class="value"><select id="strategy" aria-label="strategy">{{options}}</select></div></div>
        <div class="card"><div class="label">Backends in rotation</div><div class="value" id="healthy">{{healthy}}</div></div>
        <div class="card"><div class="label">In flight</div><div class="value" id="inflight">{{inflight}}</div></div>
        <div class="card"><div class="label">Requests / s</div><div class="value" id="rate">–</div></div>
      </div>
      <div id="error" role="status"></div>
      <table>
        <thead><tr><th>Backend</th><th>Health</th><th class="num">Weight</th><th class="num">In flight</th>
          <th class="num">Requests</th><th class="num">Req/s</th><th>Share</th><th class="num">Failures</th><th class="num">Latency</th><th>Last check</th><th></th></tr></thead>
        <tbody id="rows">{{rows}}</tbody>
      </table>
      <footer>Refreshes every 2 s from <code>GET /backends</code>. Metrics: <a href="metrics">/metrics</a>.</footer>
    </main>
    <script>
    "use strict";
    const token = new URLSearchParams(location.search).get("token");
    const headers = token ? { "Authorization": "Bearer " + token } : {};
    let previous = null, previousAt = 0, strategiesLoaded = false;
    const $ = (id) => document.getElementById(id);
    const esc = (s) => String(s).replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]);

    async function api(method, path, body) {
      const init = { method, headers: Object.assign({ "Content-Type": "application/json" }, headers) };
      if (body !== undefined) init.body = JSON.stringify(body);
      const r = await fetch(path, init);
      const j = await r.json();
      if (j.status !== "success") throw new Error((j.data && j.data.title) || j.message || r.statusText);
      return j.data;
    }

    async function loadStrategies() {
      const d = await api("GET", "strategy");
      const sel = $("strategy");
      sel.innerHTML = d.available.map((s) => `<option value="${esc(s.name)}" title="${esc(s.description)}">${esc(s.name)}</option>`).join("");
      sel.value = d.strategy;
      strategiesLoaded = true;
    }

    $("strategy").addEventListener("change", async (e) => {
      try { await api("PUT", "strategy", { name: e.target.value }); $("error").textContent = ""; }
      catch (err) { $("error").textContent = "Could not switch strategy: " + err.message; }
      refresh();
    });

    async function drain(address) {
      if (!confirm("Drain " + address + "? It gets no new requests and is removed when idle.")) return;
      try { await api("DELETE", "backends?address=" + encodeURIComponent(address)); }
      catch (err) { $("error").textContent = "Could not drain: " + err.message; }
      refresh();
    }
    $("rows").addEventListener("click", (e) => {
      const address = e.target.getAttribute && e.target.getAttribute("data-drain");
      if (address) drain(address);
    });

    async function refresh() {
      try {
        if (!strategiesLoaded) await loadStrategies();
        const d = await api("GET", "backends");
        const now = performance.now();
        const seconds = previous ? (now - previousAt) / 1000 : 0;
        const before = new Map((previous || []).map((b) => [b.address, b.requests]));
        let totalRate = 0, inflight = 0, healthy = 0;
        const rates = d.backends.map((b) => {
          const r = seconds > 0 && before.has(b.address) ? Math.max(0, (b.requests - before.get(b.address)) / seconds) : 0;
          totalRate += r; inflight += b.active; if (b.healthy && !b.draining) healthy++;
          return r;
        });
        $("strategy").value = d.strategy;
        $("healthy").textContent = healthy + " / " + d.backends.length;
        $("inflight").textContent = inflight;
        $("rate").textContent = previous ? totalRate.toFixed(1) : "–";
        $("rows").innerHTML = d.backends.length === 0
          ? `<tr><td colspan="11" class="muted">No backends. Register one: <code>curl -d '{"address":"http://127.0.0.1:9001"}' ${esc(location.origin)}/register</code></td></tr>`
          : d.backends.map((b, i) => {
              const state = b.draining ? `<span class="badge draining">draining</span>` : b.healthy ? `<span class="badge up">up</span>` : `<span class="badge down">down</span>`;
              const share = totalRate > 0 ? rates[i] / totalRate : 0;
              return `<tr><td><code>${esc(b.address)}</code></td><td>${state}</td><td class="num">${b.weight}</td><td class="num">${b.active}</td>
                <td class="num">${b.requests}</td><td class="num">${previous ? rates[i].toFixed(1) : "–"}</td>
                <td><div class="bar"><div style="width:${(share * 100).toFixed(1)}%"></div></div></td>
                <td class="num">${b.failures}</td><td class="num">${b.latency_ms.toFixed(1)} ms</td><td class="muted">${esc(b.last_check || "")}</td>
                <td>${b.draining ? "" : `<button data-drain="${esc(b.address)}">Drain</button>`}</td></tr>`;
            }).join("");
        previous = d.backends; previousAt = now;
        $("error").textContent = "";
      } catch (err) {
        $("error").textContent = "Cannot reach the admin API: " + err.message;
      }
    }
    refresh();
    setInterval(refresh, 2000);
    </script>
    </body>
    </html>
    """#
}
