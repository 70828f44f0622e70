#!/usr/bin/env bash
# Fulcrum fuzz targets (libFuzzer). See README.md.
#
#   run.sh --list                  target names, one a line
#   run.sh TARGET SECONDS [ARGS]   build TARGET, fuzz it for SECONDS (extra ARGS go to libFuzzer)
#   run.sh --build TARGET          build only; prints the binary's path
#   run.sh --repro TARGET FILE...  run the target once over each FILE (a crash reproducer)
#
# Builds into .build/fuzz/ (gitignored). Seeds are read from
# bench/fuzz/corpus/TARGET/ and never written; the growing corpus lives in
# .build/fuzz/corpus/TARGET/ (kept between local runs; CI starts empty).
# Crashes are written to .build/fuzz/crashes/TARGET/; on a crash this prints
# the reproducer's path and exits 1.
set -euo pipefail
shopt -s inherit_errexit  # a failed build inside $(...) stops the script
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
B="${FUZZ_BUILD_DIR:-$root/.build/fuzz}"
T="$here/targets"
S="$root/Sources"

TARGETS="http-request http-response chunked json admin-target state-file exchange config path hpack h2-frame h2-connection"

SWIFTC="${SWIFTC:-swiftc}"
CLANG="${CLANG:-$(command -v clang || echo "$(dirname "$(command -v swiftc)")/clang")}"
# -O keeps Swift's bounds and overflow traps (only -Ounchecked drops them).
SWIFTFLAGS=(-O -g -swift-version 6 -parse-as-library -sanitize=fuzzer,address -I "$B/mods" -I "$B/include/CFulcrumShim" -I "$root/SDK/include")

log() { echo "fuzz: $*" >&2; }

# newer OUT FILE... : true when OUT is missing or older than any FILE.
newer() {
  local out="$1"; shift
  [ -e "$out" ] || return 0
  local f
  for f in "$@"; do [ "$f" -nt "$out" ] && return 0; done
  return 1
}

shim() {
  mkdir -p "$B/include/CFulcrumShim" "$B/mods"
  local map="$B/include/CFulcrumShim/module.modulemap"
  # Every public header of the shim (as SwiftPM's umbrella directory would), every C file in one object.
  { echo 'module CFulcrumShim {'
    for h in "$S"/CFulcrumShim/include/*.h; do echo "    header \"$h\""; done
    echo '    export *'; echo '}'; } >"$map.new"
  cmp -s "$map.new" "$map" || mv "$map.new" "$map"
  rm -f "$map.new"
  if newer "$B/mods/shim.o" "$S"/CFulcrumShim/*.c "$S"/CFulcrumShim/*.h "$S"/CFulcrumShim/include/*.h; then
    log "building CFulcrumShim"
    local objs=() c
    for c in "$S"/CFulcrumShim/*.c; do
      "$CLANG" -O1 -g -fsanitize=fuzzer-no-link,address -I "$S/CFulcrumShim/include" -c "$c" -o "$B/mods/shim-$(basename "$c" .c).o"
      objs+=("$B/mods/shim-$(basename "$c" .c).o")
    done
    ld -r "${objs[@]}" -o "$B/mods/shim.o"
  fi
}

# module NAME DIR [FLAGS...]: DIR/*.swift as module NAME, instrumented. Modules
# must be built in dependency order (each rebuilds when its sources or an
# earlier module changed).
BUILT_OBJECTS=()
module() {
  local name="$1" dir="$2"; shift 2
  local srcs=()
  mapfile -t srcs < <(find "$dir" -name '*.swift' | sort)  # subfolders too (FulcrumProxy/Exchange)
  if newer "$B/mods/$name.o" "${srcs[@]}" "${BUILT_OBJECTS[@]}"; then
    log "building module $name"
    "$SWIFTC" "${SWIFTFLAGS[@]}" "$@" -module-name "$name" -wmo -emit-module -emit-module-path "$B/mods/$name.swiftmodule" \
      -c "${srcs[@]}" -o "$B/mods/$name.o"
  fi
  BUILT_OBJECTS+=("$B/mods/$name.o")
}

# The FulcrumControlPlane module and everything under it (heavy: most of Fulcrum).
control_plane_modules() {
  shim
  BUILT_OBJECTS+=("$B/mods/shim.o")
  module FulcrumCore "$S/FulcrumCore"
  module FulcrumSDK "$root/SDK/FulcrumSDK"
  module FulcrumEventLoop "$S/FulcrumEventLoop"
  module FulcrumHTTP "$S/FulcrumHTTP"
  module FulcrumRegistry "$S/FulcrumRegistry"
  module FulcrumPluginHost "$S/FulcrumPluginHost"
  module FulcrumRouting "$S/FulcrumRouting"
  module FulcrumHTTP2 "$S/FulcrumHTTP2"
  module FulcrumProxy "$S/FulcrumProxy"
  module FulcrumDemoBackend "$S/FulcrumDemoBackend"   # Fulcrum.swift imports it
  module FulcrumControlPlane "$S/FulcrumControlPlane" -enable-testing
}

# link NAME OBJECTS... -- SOURCES... [-- FLAGS...]
link() {
  local name="$1"; shift
  local objs=() srcs=() flags=()
  while [ $# -gt 0 ] && [ "$1" != "--" ]; do objs+=("$1"); shift; done; shift
  while [ $# -gt 0 ] && [ "$1" != "--" ]; do srcs+=("$1"); shift; done; [ $# -gt 0 ] && shift
  flags=("$@")
  mkdir -p "$B/bin"
  local out="$B/bin/$name"
  local cmd="${SWIFTFLAGS[*]} ${flags[*]} ${srcs[*]} ${objs[*]}"
  # Rebuild when a source changed, or the way of building did (admin-target's two ways).
  if newer "$out" "${srcs[@]}" "${objs[@]}" "$0" || [ "$(cat "$out.cmd" 2>/dev/null)" != "$cmd" ]; then
    log "building $name"
    rm -f "$out.cmd"
    "$SWIFTC" "${SWIFTFLAGS[@]}" "${flags[@]}" -module-name "Fuzz_${name//-/_}" "${srcs[@]}" "${objs[@]}" -o "$out" 2> >(grep -v "Cannot export local symbol" >&2)
    echo "$cmd" >"$out.cmd"
  fi
  echo "$out"
}

build() {
  local http=("$S"/FulcrumHTTP/*.swift) h2=("$S"/FulcrumHTTP2/*.swift)
  case "$1" in
    http-request)  link "$1" -- "$T/Support.swift" "$T/HeadChecks.swift" "$T/HTTPRequest.swift" "${http[@]}" ;;
    http-response) link "$1" -- "$T/Support.swift" "$T/HeadChecks.swift" "$T/HTTPResponse.swift" "${http[@]}" ;;
    chunked)       link "$1" -- "$T/Support.swift" "$T/HeadChecks.swift" "$T/ChunkedGrammar.swift" "$T/Chunked.swift" "${http[@]}" ;;
    hpack)         link "$1" -- "$T/Support.swift" "$T/H2Reference.swift" "$T/HPACKDecode.swift" "${h2[@]}" ;;
    h2-frame)      link "$1" -- "$T/Support.swift" "$T/H2FrameDecode.swift" "${h2[@]}" ;;
    h2-connection) link "$1" -- "$T/Support.swift" "$T/H2Reference.swift" "$T/H2ConnectionFuzz.swift" "${h2[@]}" "${http[@]}" ;;
    json)          link "$1" -- "$T/Support.swift" "$T/JSONRoundTrip.swift" "$root/SDK/FulcrumSDK/JSON.swift" ;;
    admin-target)
      # The pure AdminTarget.swift (admin branch) when it is here; otherwise
      # (today) splitTarget is internal to AdminServer.swift: the whole module.
      local at="${FUZZ_ADMIN_TARGET_FILE:-$S/FulcrumControlPlane/AdminTarget.swift}"
      if [ -e "$at" ] && grep -q "static func split" "$at" && [ -z "${FUZZ_ADMIN_USE_MODULE:-}" ]; then
        link "$1" -- "$T/Support.swift" "$T/AdminTargetFuzz.swift" "$at" -- -DFUZZ_ADMIN_TARGET_STRUCT
      else
        control_plane_modules >&2
        link "$1" "${BUILT_OBJECTS[@]}" -- "$T/Support.swift" "$T/AdminTargetFuzz.swift" -- -DFUZZ_CONTROL_PLANE_MODULE
      fi ;;
    state-file)
      shim >&2
      BUILT_OBJECTS=("$B/mods/shim.o")
      { module FulcrumCore "$S/FulcrumCore"; module FulcrumSDK "$root/SDK/FulcrumSDK"; module FulcrumRegistry "$S/FulcrumRegistry"; } >&2
      local sf="${FUZZ_STATE_FILE_SOURCE:-$S/FulcrumControlPlane/StateFile.swift}" flag=()
      # With the admin branch's pure StateFile.parse(bytes), also check it against load().
      grep -q "static func parse(_ bytes: UnsafeRawBufferPointer)" "$sf" && flag=(-- -DFUZZ_STATE_FILE_PARSE)
      link "$1" "${BUILT_OBJECTS[@]}" -- "$T/Support.swift" "$T/StateFileLoad.swift" "$sf" "${flag[@]}" ;;
    exchange)
      # The proxy's request pipeline (FulcrumProxy, imported @testable for
      # HeadRewriter and RequestFacts) with the modules under it.
      shim >&2
      BUILT_OBJECTS=("$B/mods/shim.o")
      { module FulcrumCore "$S/FulcrumCore"; module FulcrumSDK "$root/SDK/FulcrumSDK"; module FulcrumEventLoop "$S/FulcrumEventLoop"
        module FulcrumHTTP "$S/FulcrumHTTP"; module FulcrumRegistry "$S/FulcrumRegistry"; module FulcrumPluginHost "$S/FulcrumPluginHost"
        module FulcrumRouting "$S/FulcrumRouting"; module FulcrumHTTP2 "$S/FulcrumHTTP2"; module FulcrumProxy "$S/FulcrumProxy" -enable-testing; } >&2
      link "$1" "${BUILT_OBJECTS[@]}" -- "$T/Support.swift" "$T/ExchangeForwarding.swift" ;;
    config|path)
      # The routing module over the SDK (JSON, addresses).
      BUILT_OBJECTS=()
      { module FulcrumSDK "$root/SDK/FulcrumSDK"; module FulcrumRouting "$S/FulcrumRouting"; } >&2
      local src="$T/ConfigRoundTrip.swift"; [ "$1" = path ] && src="$T/PathNormalize.swift"
      link "$1" "${BUILT_OBJECTS[@]}" -- "$T/Support.swift" "$src" ;;
    *) echo "unknown target '$1' (try --list)" >&2; exit 2 ;;
  esac
}

export SWIFT_BACKTRACE=enable=no   # else Swift's crash handler runs first and ASan reports a bogus error in it
export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=0}"

# Scratch files (the state-file target writes a state file per input): tmpfs when there is one.
scratch() {
  FUZZ_TMPDIR="$(mktemp -d -p "$( [ -w /dev/shm ] && echo /dev/shm || echo "${TMPDIR:-/tmp}")" fulcrum-fuzz.XXXXXX)"
  export FUZZ_TMPDIR
  trap 'rm -rf "$FUZZ_TMPDIR"' EXIT
}

case "${1:-}" in
  --list) for t in $TARGETS; do echo "$t"; done; exit 0 ;;
  --build) [ $# -eq 2 ] || { echo "usage: $0 --build TARGET" >&2; exit 2; }; build "$2"; exit 0 ;;
  --repro)
    [ $# -ge 3 ] || { echo "usage: $0 --repro TARGET FILE..." >&2; exit 2; }
    bin="$(build "$2")"; shift 2
    scratch
    "$bin" -runs=1 "$@"; exit ;;
  ""|-h|--help) sed -n '2,14p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
esac

[ $# -ge 2 ] || { echo "usage: $0 TARGET SECONDS [libFuzzer args]" >&2; exit 2; }
target="$1" seconds="$2"; shift 2
bin="$(build "$target")"
seeds="$here/corpus/$target"
work="${FUZZ_CORPUS_DIR:-$B/corpus}/$target"
crashes="$B/crashes/$target"
scratch
mkdir -p "$work" "$crashes" "$seeds"
logfile="$B/logs/$target.log"
mkdir -p "$(dirname "$logfile")"
log "running $target for ${seconds}s (corpus $work, seeds $seeds, log $logfile)"
set +e
# New inputs go into the first corpus directory only: the seeds stay untouched.
# timeout: a bound even if libFuzzer overshoots -max_total_time (a slow input).
timeout -k 10 $((seconds + 120)) "$bin" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=1024 -print_final_stats=1 \
  -artifact_prefix="$crashes/" "$@" "$work" "$seeds" >"$logfile" 2>&1
rc=$?
set -e
grep -E '^stat::(number_of_executed_units|average_exec_per_sec|new_units_added|peak_rss_mb)' "$logfile" | sed "s/^/fuzz: $target /" >&2 || true
if [ $rc -ne 0 ]; then
  tail -n 40 "$logfile" >&2
  repro="$(grep -oE 'Test unit written to [^ ]+' "$logfile" | tail -n1 | sed 's/Test unit written to //')"
  log "$target FAILED (exit $rc)${repro:+; reproducer: $repro}"
  [ -n "$repro" ] && log "replay: bench/fuzz/run.sh --repro $target $repro"
  exit 1
fi
log "$target passed"
