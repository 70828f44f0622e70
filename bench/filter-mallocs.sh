#!/usr/bin/env bash
# Allocations per request on the proxy's request path, with and without
# filters: the release fulcrum (-workers 1) under LD_PRELOAD=malloc-count.so,
# wrk -c4 keep-alive; the count is read (SIGUSR2) before and after 3 s of load.
#   swift build -c release && bench/filter-mallocs.sh
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
bin=$here/../.build/release
work=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null; rm -rf "$work"' EXIT
cc -shared -fPIC -O2 "$here/malloc-count.c" -o "$work/mc.so" -ldl
"$bin/fulcrum-backend" -listen 127.0.0.1:0 -name b > "$work/b.log" 2>&1 &
sleep 0.5
bport=$(grep -m1 -o "127.0.0.1:[0-9]*" "$work/b.log" | cut -d: -f2)
pool="\"pools\": {\"p\": {\"backends\": [\"http://127.0.0.1:$bport\"]}}"
count() { grep MALLOCS "$work/f.log" | tail -1 | awk '{print $2}'; }
run() {
  echo "$2" > "$work/c.json"
  LD_PRELOAD="$work/mc.so" "$bin/fulcrum" -listen 127.0.0.1:0 -admin 127.0.0.1:0 -workers 1 -config "$work/c.json" > "$work/f.log" 2>&1 &
  local pid=$!
  sleep 0.8
  local port; port=$(grep -m1 "proxy listening on" "$work/f.log" | sed -E 's/.*proxy listening on [0-9.]+:([0-9]+).*/\1/')
  wrk -t1 -c4 -d2s "http://127.0.0.1:$port/" > /dev/null
  kill -USR2 $pid; sleep 0.2; local a; a=$(count)
  local r; r=$(wrk -t1 -c4 -d3s "http://127.0.0.1:$port/" | awk '/requests in/ {print $1}')
  kill -USR2 $pid; sleep 0.2; local b; b=$(count)
  awk -v n="$1" -v r="$r" -v m=$((b - a)) 'BEGIN { printf "%-26s %8d requests %6d allocations  %.4f per request\n", n, r, m, m / r }'
  kill $pid; wait $pid 2>/dev/null || true
}
run "route, no filters" "{$pool, \"routes\": [{\"pool\": \"p\"}]}"
run "ip-filter" "{$pool, \"routes\": [{\"pool\": \"p\", \"filters\": [{\"name\": \"ip-filter\", \"config\": {\"allow\": [\"127.0.0.0/8\"]}}]}]}"
run "request-id + rate-limit" "{$pool, \"routes\": [{\"pool\": \"p\", \"filters\": [{\"name\": \"request-id\"}, {\"name\": \"rate-limit\", \"config\": {\"rate\": 1e9, \"burst\": 1000000}}]}]}"
