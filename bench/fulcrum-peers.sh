#!/usr/bin/env bash
# PROJECT_CMD for ../shared/bench/peers.sh: runs the release fulcrum on the
# harness's listen address, round robin over its backends.
#   PROJECT_CMD="$PWD/bench/fulcrum-peers.sh" PROJECT_NAME=fulcrum ../shared/bench/peers.sh
# FULCRUM_WORKERS (default 1) sets -workers; FULCRUM_BIN the binary.
here=$(cd "$(dirname "$0")" && pwd)
bin=${FULCRUM_BIN:-$here/../.build/release/fulcrum}
args=()
IFS=, read -ra backends <<< "${PEERS_BACKENDS:-127.0.0.1:18081,127.0.0.1:18082,127.0.0.1:18083}"
for b in "${backends[@]}"; do args+=(-backend "http://$b"); done
exec "$bin" -listen "${PEERS_LISTEN:-127.0.0.1:18080}" -admin 127.0.0.1:0 -workers "${FULCRUM_WORKERS:-1}" -t 60 "${args[@]}" ${FULCRUM_ARGS:-}
