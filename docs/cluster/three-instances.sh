#!/usr/bin/env bash
# Three Fulcrum instances sharing one registry through one local etcd, with
# two demo backends registered through the first instance. Ctrl-C stops all.
#   docs/cluster/three-instances.sh            (uses .build/release binaries)
set -euo pipefail
here=$(cd "$(dirname "$0")/../.." && pwd)
bin=${FULCRUM_BIN_DIR:-$here/.build/release}
data=$(mktemp -d)
pids=()
trap 'kill "${pids[@]}" 2>/dev/null; rm -rf "$data"' EXIT

etcd --name demo --data-dir "$data" \
  --listen-client-urls http://127.0.0.1:2379 --advertise-client-urls http://127.0.0.1:2379 \
  --listen-peer-urls http://127.0.0.1:2380 --initial-advertise-peer-urls http://127.0.0.1:2380 \
  --initial-cluster demo=http://127.0.0.1:2380 --log-level error & pids+=($!)

for i in 1 2 3; do   # proxies on :8081-8083, admin APIs on :8091-8093
  "$bin/fulcrum" -registry etcd://127.0.0.1:2379/fulcrum -listen 127.0.0.1:808$i -admin 127.0.0.1:809$i & pids+=($!)
done
for i in 1 2; do "$bin/fulcrum-backend" -listen 127.0.0.1:900$i -name backend-$i & pids+=($!); done
sleep 1

curl -s -d '{"address":"http://127.0.0.1:9001"}' 127.0.0.1:8091/register; echo
curl -s -d '{"address":"http://127.0.0.1:9002","weight":3}' 127.0.0.1:8091/register; echo
curl -s 127.0.0.1:8093/cluster; echo
curl -si 127.0.0.1:8083/ | grep X-Backend            # instance 3 routes to what instance 1 registered
ETCDCTL_API=3 etcdctl --endpoints 127.0.0.1:2379 get --prefix /fulcrum
wait
