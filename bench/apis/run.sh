#!/usr/bin/env bash
# CPU per request of the same conversation through /v1/chat/completions,
# /v1/messages and /v1/responses (issue 19: the translation's cost), in the
# real server: bench/cpu's mock upstream and wrk on CPU 1, one bare gateway
# (no auth, metrics, access log, audit, cache or pricing) alone on CPU 0,
# ROUNDS interleaved rounds of D seconds per cell at C connections.
#
#   DSGATE_BIN=/tmp/dsgate bench/apis/run.sh        # ROUNDS=3 D=5 C=64
set -euo pipefail
cd "$(dirname "$0")/../.."
ROUNDS=${ROUNDS:-3} D=${D:-5} C=${C:-64}
dir=$(mktemp -d /tmp/dsgate-benchapis.XXXXXX)
trap 'kill $(jobs -p) 2>/dev/null; rm -rf "$dir"' EXIT
bin=${DSGATE_BIN:-}
if [ -z "$bin" ]; then go build -o "$dir/dsgate" ./cmd/dsgate; else cp "$bin" "$dir/dsgate"; fi
go build -o "$dir/benchcpu" ./bench/cpu
cat > "$dir/gw.yaml" <<YAML
version: 1
server: {listen: "127.0.0.1:28301"}
metrics: {disabled: true}
log: {access: false}
pricing: {disabled: true}
upstreams:
  - {name: mock, kind: openai, url: "http://127.0.0.1:28300"}
models:
  - {name: deepseek-chat, targets: [{upstream: mock}]}
YAML
GOMAXPROCS=1 taskset -c 1 "$dir/benchcpu" -mock 127.0.0.1:28300 >/dev/null 2>&1 &
taskset -c 0 "$dir/dsgate" serve --config "$dir/gw.yaml" >"$dir/gw.log" 2>&1 &
gw=$!
for _ in $(seq 50); do curl -sf 127.0.0.1:28301/readyz >/dev/null && break; sleep 0.2; done
cpu() { awk '{print $14 + $15}' "/proc/$gw/stat"; }
hz=$(getconf CLK_TCK)
echo "| round | mode | api | requests | CPU µs/request |"
echo "|---:|---|---|---:|---:|"
for round in $(seq "$ROUNDS"); do
  for stream in 0 1; do
    for api in chat messages responses; do
      BENCH_API=$api BENCH_STREAM=$stream taskset -c 1 wrk -t1 -c"$C" -d1s -s bench/apis/wrk.lua \
        http://127.0.0.1:28301 >/dev/null # warm-up
      before=$(cpu)
      out=$(BENCH_API=$api BENCH_STREAM=$stream taskset -c 1 wrk -t1 -c"$C" -d"${D}s" -s bench/apis/wrk.lua http://127.0.0.1:28301)
      after=$(cpu)
      read -r n status errs timeouts <<<"$(echo "$out" | awk '/^RESULT/ {print $2, $3, $4, $5}')"
      if [ "$status" != 0 ] || [ "$errs" != 0 ]; then echo "errors: $out" >&2; exit 1; fi
      mode=$([ "$stream" = 1 ] && echo stream || echo nonstream)
      echo "| $round | $mode | $api | $n | $(awk -v t=$((after - before)) -v n="$n" -v hz="$hz" 'BEGIN {printf "%.1f", t / hz * 1e6 / n}') |"
    done
  done
done
