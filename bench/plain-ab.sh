#!/usr/bin/env bash
# A/B of plain-HTTP keep-alive throughput between two fulcrum binaries (e.g.
# before and after a data-plane change), alternating rounds against one
# nginx backend serving 1 KiB:  bench/plain-ab.sh OLD_BIN NEW_BIN [ROUNDS]
# Needs wrk and nginx; stops everything it starts.
set -euo pipefail
old=$1 new=$2 rounds=${3:-3}
dir=$(mktemp -d)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$dir"; }
trap cleanup EXIT
head -c 1024 /dev/zero | tr '\0' x > "$dir/index.html"
cat > "$dir/backend.conf" <<CONF
worker_processes 1;
daemon off;
pid $dir/backend.pid;
error_log $dir/backend.err;
events { worker_connections 4096; }
http { access_log off; keepalive_requests 1000000; server { listen 127.0.0.1:18181; root $dir; } }
CONF
nginx -c "$dir/backend.conf" -p "$dir" & pids+=($!)
for round in $(seq "$rounds"); do
  for which in old new; do
    bin=$old; [ "$which" = new ] && bin=$new
    FULCRUM_PLUGIN_PATH=${FULCRUM_PLUGIN_PATH:-$(dirname "$new")} "$bin" -listen 127.0.0.1:18180 -admin 127.0.0.1:0 -workers 1 -t 60 -backend http://127.0.0.1:18181 2>/dev/null & p=$!
    for _ in $(seq 100); do curl -s -o /dev/null http://127.0.0.1:18180/ && break; sleep 0.05; done
    t0=$(awk '{print $14 + $15}' /proc/$p/stat)
    out=$(wrk -t1 -c64 -d"${DURATION:-8}s" http://127.0.0.1:18180/)
    t1=$(awk '{print $14 + $15}' /proc/$p/stat)
    kill $p; wait $p 2>/dev/null || true
    rps=$(awk '/Requests\/sec/ {print $2}' <<<"$out")
    total=$(awk '/requests in/ {print $1}' <<<"$out")
    # Proxy CPU per request (clock ticks → µs): steadier than req/s on a shared machine.
    us=$(awk -v t="$((t1 - t0))" -v n="$total" -v hz="$(getconf CLK_TCK)" 'BEGIN { printf "%.2f", t * 1e6 / hz / n }')
    echo "round $round $which $rps req/s  $us us/req"
  done
done
