#!/usr/bin/env bash
# HTTPS benchmarks: Fulcrum's TLS termination (and, when installed, nginx's
# and HAProxy's) in front of one nginx backend serving 1 KiB, all on
# 127.0.0.1. Needs: swift build -c release; apt-get install wrk nginx-light
# haproxy openssl. Everything it starts it stops (trap), each run is bounded.
#   bench/tls-bench.sh                 # DURATION=10 CONNS=64 WORKERS=1
# Rows: plain HTTP keep-alive (the reference), HTTPS keep-alive, and new
# connections per second (Connection: close: one full TLS handshake per request).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
bin=${FULCRUM_BIN:-$here/../.build/release/fulcrum}
duration=${DURATION:-10}
conns=${CONNS:-64}
workers=${WORKERS:-1}
dir=$(mktemp -d)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$dir"; }
trap cleanup EXIT

openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$dir/key.pem" -out "$dir/cert.pem" \
  -days 1 -subj /CN=localhost -addext subjectAltName=DNS:localhost,IP:127.0.0.1 2>/dev/null
head -c 1024 /dev/zero | tr '\0' x > "$dir/index.html"

# The backend: its own nginx, so the peers' TLS front end (another nginx) does not share its worker.
cat > "$dir/backend.conf" <<CONF
worker_processes 1;
daemon off;
pid $dir/backend.pid;
error_log $dir/backend.err;
events { worker_connections 4096; }
http { access_log off; keepalive_requests 1000000; server { listen 127.0.0.1:18181; root $dir; } }
CONF
cat > "$dir/nginx.conf" <<CONF
worker_processes 1;
master_process off;
daemon off;
pid $dir/nginx.pid;
error_log $dir/nginx.err;
events { worker_connections 4096; }
http {
  access_log off;
  keepalive_requests 1000000;
  upstream be { server 127.0.0.1:18181; keepalive 64; }
  server {
    listen 127.0.0.1:18444 ssl;
    ssl_certificate $dir/cert.pem; ssl_certificate_key $dir/key.pem;
    ssl_protocols TLSv1.2 TLSv1.3;
    location / { proxy_pass http://be; proxy_http_version 1.1; proxy_set_header Connection ""; }
  }
}
CONF
nginx -c "$dir/backend.conf" -p "$dir" & pids+=($!)
nginx -c "$dir/nginx.conf" -p "$dir" & pids+=($!); nginx_pid=$!
cat "$dir/cert.pem" "$dir/key.pem" > "$dir/both.pem"
if command -v haproxy >/dev/null; then
  cat > "$dir/haproxy.cfg" <<CONF
global
  nbthread $workers
  maxconn 4000
defaults
  mode http
  timeout connect 5s
  timeout client 30s
  timeout server 30s
frontend fe
  bind 127.0.0.1:18445 ssl crt $dir/both.pem alpn http/1.1
  default_backend be
backend be
  http-reuse always
  server s1 127.0.0.1:18181
CONF
  haproxy -f "$dir/haproxy.cfg" & pids+=($!); haproxy_pid=$!
fi
"$bin" -listen 127.0.0.1:18180 -tls-listen 127.0.0.1:18443 -tls-cert "$dir/cert.pem" -tls-key "$dir/key.pem" \
  -admin 127.0.0.1:0 -workers "$workers" -t 60 -backend http://127.0.0.1:18181 2>"$dir/fulcrum.log" & pids+=($!); fulcrum_pid=$!
for _ in $(seq 100); do curl -sk -o /dev/null https://127.0.0.1:18443/ && break; sleep 0.1; done

ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
row() {  # name pid url [wrk args...]; req/s, p99 and the proxy's CPU per request
  local name=$1 pid=$2 url=$3; shift 3
  local out t0 t1 n
  t0=$(ticks "$pid")
  out=$(wrk -t1 -c"$conns" -d"${duration}s" --latency "$@" "$url" 2>&1)
  t1=$(ticks "$pid")
  n=$(awk '/requests in/ {print $1}' <<<"$out")
  printf '%-32s %10s req/s  p99 %-8s %7s us CPU/req\n' "$name" "$(awk '/Requests\/sec/ {print $2}' <<<"$out")" \
    "$(awk '/ 99%/ {print $2}' <<<"$out")" "$(awk -v t="$((t1 - t0))" -v n="$n" -v hz="$(getconf CLK_TCK)" 'BEGIN { printf "%.1f", t * 1e6 / hz / n }')"
}
echo "wrk -t1 -c$conns -d${duration}s, Fulcrum -workers $workers, backend nginx 1 KiB; kTLS offered: $(grep -qw tls /proc/sys/net/ipv4/tcp_available_ulp 2>/dev/null && echo yes || echo no)"
row "fulcrum plain keep-alive" "$fulcrum_pid" http://127.0.0.1:18180/
row "fulcrum https keep-alive" "$fulcrum_pid" https://127.0.0.1:18443/
row "fulcrum https new connections" "$fulcrum_pid" https://127.0.0.1:18443/ -H "Connection: close"
row "nginx https keep-alive" "$nginx_pid" https://127.0.0.1:18444/
row "nginx https new connections" "$nginx_pid" https://127.0.0.1:18444/ -H "Connection: close"
if command -v haproxy >/dev/null; then
  row "haproxy https keep-alive" "$haproxy_pid" https://127.0.0.1:18445/
  row "haproxy https new connections" "$haproxy_pid" https://127.0.0.1:18445/ -H "Connection: close"
fi
