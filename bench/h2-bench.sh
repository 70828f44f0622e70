#!/usr/bin/env bash
# HTTP/2 toward clients, Fulcrum vs nginx vs HAProxy (issue 17), h2c with
# prior knowledge: h2load -c C -m M -n N against each proxy in turn, all in
# front of one nginx backend serving 1 KiB. Prints req/s and proxy CPU µs
# per request. Loopback only; every process is stopped by PID.
#   swift build -c release && bench/h2-bench.sh [N] [C] [M]
set -euo pipefail
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
here=$(cd "$(dirname "$0")" && pwd)
bin=${FULCRUM_BIN:-$here/../.build/release/fulcrum}
n=${1:-100000} c=${2:-64} m=${3:-10}
dir=$(mktemp -d)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$dir"; }
trap cleanup EXIT
head -c 1024 /dev/zero | tr '\0' x > "$dir/index.html"
chmod 755 "$dir"; chmod 644 "$dir/index.html"
cat > "$dir/backend.conf" <<CONF
worker_processes 1; daemon off; pid $dir/backend.pid; error_log $dir/backend.err;
events { worker_connections 4096; }
http { access_log off; keepalive_requests 1000000; server { listen 127.0.0.1:18281; root $dir; } }
CONF
cat > "$dir/proxy.conf" <<CONF
worker_processes 1; daemon off; pid $dir/proxy.pid; error_log $dir/proxy.err;
events { worker_connections 4096; }
http { access_log off; upstream b { server 127.0.0.1:18281; keepalive 256; }
  server { listen 127.0.0.1:18282 http2; http2_max_concurrent_streams 100; keepalive_requests 1000000;
    location / { proxy_pass http://b; proxy_http_version 1.1; proxy_set_header Connection ""; } } }
CONF
cat > "$dir/haproxy.cfg" <<CONF
global
  nbthread 1
defaults
  mode http
  timeout connect 5s
  timeout client 30s
  timeout server 30s
  http-reuse always
frontend f
  bind 127.0.0.1:18283 proto h2
  default_backend b
backend b
  server s1 127.0.0.1:18281
CONF
nginx -c "$dir/backend.conf" -p "$dir" & pids+=($!)
sleep 0.3
cpu() { awk '{print $14 + $15}' "/proc/$1/stat"; }
run() {  # name port pid
  local name=$1 port=$2 p=$3
  for _ in $(seq 100); do curl -s -o /dev/null --http2-prior-knowledge "http://127.0.0.1:$port/" && break; sleep 0.05; done
  h2load -c "$c" -m "$m" -n 2000 "http://127.0.0.1:$port/" >/dev/null 2>&1 || true   # warm-up
  local t0 t1 out
  t0=$(cpu "$p")
  out=$(timeout 120 h2load -c "$c" -m "$m" -n "$n" "http://127.0.0.1:$port/" 2>&1)
  t1=$(cpu "$p")
  local rps ok
  rps=$(echo "$out" | awk '/^finished in/ {print $4}')
  ok=$(echo "$out" | awk '/^requests:/ {print $8}'); [ -n "${H2BENCH_DEBUG:-}" ] && echo "$out" >&2
  local hz; hz=$(getconf CLK_TCK)
  echo "$name: req/s $rps, succeeded $ok/$n, proxy CPU $(awk -v a="$t0" -v b="$t1" -v n="$n" -v hz="$hz" 'BEGIN {printf "%.1f", (b - a) / hz * 1e6 / n}') us/req"
}
"$bin" -listen 127.0.0.1:18280 -admin 127.0.0.1:0 -workers 1 -t 60 -backend http://127.0.0.1:18281 2>/dev/null & fp=$!; pids+=($fp)
run fulcrum 18280 "$fp"; kill "$fp"
nginx -c "$dir/proxy.conf" -p "$dir" & np=$!; pids+=($np)
sleep 0.3
run nginx-w1 18282 "$(pgrep -P "$np" | head -1 || echo "$np")"; kill "$np"
haproxy -f "$dir/haproxy.cfg" & hp=$!; pids+=($hp)
run haproxy-t1 18283 "$hp"
