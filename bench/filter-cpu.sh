#!/usr/bin/env bash
# Proxy CPU per request with and without filters (issue 16): the release
# fulcrum (-workers 1) in front of one release fulcrum-backend, wrk for
# SECONDS per case; CPU is fulcrum's utime+stime from /proc over the run.
# Cases: no -config; a file with one route and no filters; the route with
# ip-filter (reads only); the route with request-id + rate-limit.
#   swift build -c release && bench/filter-cpu.sh [SECONDS] [CONNECTIONS]
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
bin=$here/../.build/release
secs=${1:-5}
conns=${2:-16}
work=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null; rm -rf "$work"' EXIT

port_of() { # file pattern: wait for the line, print the port after the pattern
  for _ in $(seq 100); do
    if line=$(grep -m1 "$2" "$1" 2>/dev/null); then sed -E "s/.*$2[^0-9]*[0-9.]+:([0-9]+).*/\1/" <<< "$line"; return; fi
    sleep 0.1
  done
  echo "no '$2' in $1" >&2; exit 1
}

"$bin/fulcrum-backend" -listen 127.0.0.1:0 -name b > "$work/backend.log" 2>&1 &
bport=$(port_of "$work/backend.log" "listening on")
backend="http://127.0.0.1:$bport"

run_case() { # name config-json-or-empty
  local name=$1 config=$2 args=()
  if [[ -n $config ]]; then echo "$config" > "$work/c.json"; args=(-config "$work/c.json"); else args=(-backend "$backend"); fi
  "$bin/fulcrum" -listen 127.0.0.1:0 -admin 127.0.0.1:0 -workers 1 -t 60 "${args[@]}" > "$work/f.log" 2>&1 &
  local pid=$!
  local port; port=$(port_of "$work/f.log" "proxy listening on")
  wrk -t 1 -c "$conns" -d 1s "http://127.0.0.1:$port/" > /dev/null  # warm-up
  local before; before=$(awk '{print $14 + $15}' "/proc/$pid/stat")
  local out; out=$(wrk -t 1 -c "$conns" -d "${secs}s" "http://127.0.0.1:$port/")
  local after; after=$(awk '{print $14 + $15}' "/proc/$pid/stat")
  local reqs; reqs=$(awk '/requests in/ {print $1}' <<< "$out")
  local non2xx; non2xx=$(awk '/Non-2xx/ {print $NF}' <<< "$out")
  local hz; hz=$(getconf CLK_TCK)
  awk -v n="$name" -v t=$((after - before)) -v r="$reqs" -v hz="$hz" -v bad="${non2xx:-0}" \
    'BEGIN { printf "%-28s %9d requests  %6.2f us CPU/request  (non-2xx %s)\n", n, r, t / hz * 1e6 / r, bad }'
  kill "$pid"; wait "$pid" 2>/dev/null || true
}

pool='"pools": {"p": {"backends": ["'$backend'"]}}'
run_case "no -config" ""
run_case "route, no filters" "{$pool, \"routes\": [{\"pool\": \"p\"}]}"
run_case "route + ip-filter" "{$pool, \"routes\": [{\"pool\": \"p\", \"filters\": [{\"name\": \"ip-filter\", \"config\": {\"allow\": [\"127.0.0.0/8\"]}}]}]}"
run_case "route + request-id+rate-limit" "{$pool, \"routes\": [{\"pool\": \"p\", \"filters\": [{\"name\": \"request-id\"}, {\"name\": \"rate-limit\", \"config\": {\"rate\": 1e9, \"burst\": 1000000}}]}]}"
