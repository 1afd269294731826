#!/usr/bin/env bash
# CPU per request of the same conversation through /v1/chat/completions,
# /v1/messages and /v1/responses (issue 19: the translation's cost), in the
# real server: bench/cpu's mock upstream and wrk on CPU 1, one bare gateway
# (no auth, metrics, access log, audit, cache or pricing) alone on CPU 0,
# ROUNDS interleaved rounds of D seconds per cell at C connections. Then
# the medians, the median of each round's difference to chat completions,
# and (with perf) the socket writes and reads per request.
#
# The mock writes each streamed answer in one piece (BURST=1, the
# default): with each event flushed apart (BURST=0) the reads and writes
# of a stream batch by timing, and a cheaper way through the gateway gets
# more, smaller batches (chat completions measured 5.4 writes per stream
# against the Messages API's 4.0 in one run, 3.0 against 3.0 in another),
# which hides the translation's cost under the syscalls'.
#
# A paced mock (PACE=2ms) streams as a model does: each event flushed,
# then a pause. Every chunk then reaches the gateway alone and leaves it
# in a write of its own, through any API, so the APIs differ by their own
# work only, not by how many bytes end a stream (a burst Responses stream
# is 6.9 KB of events against chat completions' 3.5 KB, one more write
# out of net/http's 4 KiB connection buffer).
#
# TOKENS sets the streamed answer's length (the mock's content chunks,
# 17 by default). Whether a burst stream fits net/http's 4 KiB buffer
# depends on it: at 17 a Responses stream is 41 bytes over and chat's is
# not, so a sweep (TOKENS=8, 17, 32, 64) shows the translation's cost
# apart from where one answer length falls against that line.
#
#   DSGATE_BIN=/tmp/dsgate bench/apis/run.sh        # ROUNDS=6 D=4 C=64 BURST=1 TOKENS=17
#   DSGATE_BIN=/tmp/dsgate PACE=2ms bench/apis/run.sh
#   DSGATE_BIN=/tmp/dsgate TOKENS=64 bench/apis/run.sh
#   DSGATE_BIN=/tmp/dsgate MIX=1 ROUNDS=5 D=10 bench/apis/run.sh
#   DSGATE_BIN=/tmp/dsgate MIX=1 PERF_HZ=4000 PACE=2ms ROUNDS=5 D=20 bench/apis/run.sh
#
# MIX=1 measures the three APIs at once instead: one wrk sends them in
# turn on every connection (a third of the requests each) while a CPU
# profile covers the whole load, and each profile sample is given to the
# API whose handler is on its stack (chat completions' inference closure,
# messages, createResponse). The APIs then share the same seconds, caches
# and collections, and what one adds over chat is the difference of their
# handlers' CPU per request, free of the drift between rounds that moves a
# cell of the sequential rounds by 2x on a shared machine. Samples under
# no handler (net/http reading requests and writing the last bytes, the
# collector's workers) are shown as shared, per request of any API.
#
# PERF_HZ=N (MIX) samples with perf N times a second instead of Go's
# profiler, whose timers fire on the kernel's tick (250 a second on the
# twentieth session's machine: a paced stream's share of a 20 s round at
# Go's 100 Hz was some 160 samples, ±8% by chance alone, as much as the
# difference sought); bench/apis/functions.sh gives the samples to the
# APIs. PPROF=DIR then keeps each recording as
# DIR/mix-<mode>-<round>.data; KEEP=1 leaves the run's directory (its
# last recording, the gateway's log) in /tmp.
#
# PPROF=DIR also takes, after the rounds, a 12 s CPU profile of each API
# non-streaming under the same load (DIR/<api>.pb.gz, DIR/<api>.wrk with
# the requests served in 14 s): what each costs a request, function by
# function, in the real server.
set -euo pipefail
cd "$(dirname "$0")/../.."
ROUNDS=${ROUNDS:-6} D=${D:-4} C=${C:-64} BURST=${BURST:-1} PACE=${PACE:-} TOKENS=${TOKENS:-17}
if [ -n "$PACE" ]; then BURST=0; fi
dir=$(mktemp -d /tmp/dsgate-benchapis.XXXXXX)
trap 'kill $(jobs -p) 2>/dev/null; [ -n "${KEEP:-}" ] || rm -rf "$dir"' EXIT
bin=${DSGATE_BIN:-}
if [ -z "$bin" ]; then go build -o "$dir/dsgate" ./cmd/dsgate; else cp "$bin" "$dir/dsgate"; fi
go build -o "$dir/benchcpu" ./bench/cpu
cat > "$dir/gw.yaml" <<YAML
version: 1
server: {listen: "127.0.0.1:28301"$([ -n "${PPROF:-}${MIX:-}" ] && echo ', pprof_listen: "127.0.0.1:28309"')}
metrics: {disabled: true}
log: {access: false}
pricing: {disabled: true}
upstreams:
  - {name: mock, kind: openai, url: "http://127.0.0.1:28300"}
models:
  - {name: deepseek-chat, targets: [{upstream: mock}]}
YAML
BENCH_MOCK_BURST=$BURST BENCH_MOCK_PACE=$PACE BENCH_MOCK_TOKENS=$TOKENS GOMAXPROCS=1 taskset -c 1 "$dir/benchcpu" -mock 127.0.0.1:28300 >/dev/null 2>&1 &
taskset -c 0 "$dir/dsgate" serve --config "$dir/gw.yaml" >"$dir/gw.log" 2>&1 &
gw=$!
for _ in $(seq 50); do curl -sf 127.0.0.1:28301/readyz >/dev/null && break; sleep 0.2; done
cpu() { awk '{print $14 + $15}' "/proc/$gw/stat"; }
hz=$(getconf CLK_TCK)
load() { # api stream seconds
  BENCH_API=$1 BENCH_STREAM=$2 taskset -c 1 wrk -t1 -c"$C" -d"$3s" -s bench/apis/wrk.lua http://127.0.0.1:28301
}
if [ -n "${MIX:-}" ]; then
  # attribute: the CPU milliseconds of a profile's samples by API, from
  # `go tool pprof -traces` (a value on each trace's first line).
  attribute() {
    go tool pprof -traces "$1" 2>/dev/null | awk '
      function ms(s) { if (s ~ /ms$/) return s + 0; if (s ~ /(us|µs)$/) return (s + 0) / 1e3; if (s ~ /ns$/) return (s + 0) / 1e6; if (s ~ /s$/) return (s + 0) * 1e3; return 0 }
      function done() { if (v > 0) t[who] += v; v = 0; who = "shared" }
      /^-+\+-+$/ { done(); first = 1; next }
      first { first = 0; v = ms($1); f = $2 }
      !first && NF { f = $1 }
      f ~ /handlers\)\.inference\.func/ { who = "chat" }
      f ~ /handlers\)\.messages$/ { who = "messages" }
      f ~ /handlers\)\.createResponse$/ { who = "responses" }
      END { done(); for (k in t) printf "%s %.1f\n", k, t[k] }'
  }
  echo "| round | mode | requests | chat µs/request | messages | responses | shared | messages added | responses added |"
  echo "|---:|---|---:|---:|---:|---:|---:|---:|---:|"
  for round in $(seq "$ROUNDS"); do
    for stream in 0 1; do
      load mix $stream 1 >/dev/null # warm-up
      if [ -n "${PERF_HZ:-}" ]; then
        perf record -q -F "$PERF_HZ" -g -p "$gw" -o "$dir/mix.data" -- sleep $((D + 2)) 2>/dev/null &
      else
        curl -s -o "$dir/mix.pb.gz" "http://127.0.0.1:28309/debug/pprof/profile?seconds=$((D + 2))" &
      fi
      sleep 0.5
      out=$(load mix $stream "$D")
      wait $!
      read -r n status errs timeouts <<<"$(echo "$out" | awk '/^RESULT/ {print $2, $3, $4, $5}')"
      if [ "$status" != 0 ] || [ "$errs" != 0 ]; then echo "errors: $out" >&2; exit 1; fi
      mode=$([ "$stream" = 1 ] && echo stream || echo nonstream)
      if [ -n "${PPROF:-}" ]; then
        mkdir -p "$PPROF"
        if [ -n "${PERF_HZ:-}" ]; then cp "$dir/mix.data" "$PPROF/mix-$mode-$round.data"; else cp "$dir/mix.pb.gz" "$PPROF/mix-$mode-$round.pb.gz"; fi
      fi
      if [ -n "${PERF_HZ:-}" ]; then bench/apis/functions.sh "$dir/mix.data" totals; else attribute "$dir/mix.pb.gz"; fi | awk -v n="$n" -v r="$round" -v m="$mode" '{ t[$1] = $2 }
        END { each = n / 3; c = t["chat"] * 1e3 / each; g = t["messages"] * 1e3 / each; s = t["responses"] * 1e3 / each
          printf "| %d | %s | %d | %.1f | %.1f | %.1f | %.1f | %+.1f | %+.1f |\n", r, m, n, c, g, s, t["shared"] * 1e3 / n, g - c, s - c }'
    done
  done | tee "$dir/mix.md"
  echo
  echo "| mode | median messages added µs/request | median responses added |"
  echo "|---|---:|---:|"
  for mode in nonstream stream; do
    awk -F'|' -v m="$mode" '$3 ~ " " m " " { g = g " " $9; s = s " " $10 }
      function median(s,   a, n, i, j, t) { n = split(s, a, " "); for (i = 1; i <= n; i++) for (j = i + 1; j <= n; j++) if (a[j] + 0 < a[i] + 0) { t = a[i]; a[i] = a[j]; a[j] = t }
        return n % 2 ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2 }
      END { printf "| %s | %+.1f | %+.1f |\n", m, median(g), median(s) }' "$dir/mix.md"
  done
  exit 0
fi

echo "| round | mode | api | requests | CPU µs/request |"
echo "|---:|---|---|---:|---:|"
apis=(chat messages responses)
for round in $(seq "$ROUNDS"); do
  # The APIs' order turns with the round (chat first, then second, then
  # third), so that a drift within a round (this machine's host
  # slowing under sustained load) does not count against the APIs
  # measured after chat every time.
  r=$(((round - 1) % 3))
  order="${apis[*]:$r} ${apis[*]:0:$r}"
  for stream in 0 1; do
    for api in $order; do
      load $api $stream 1 >/dev/null # warm-up
      before=$(cpu)
      out=$(load $api $stream "$D")
      after=$(cpu)
      read -r n status errs timeouts <<<"$(echo "$out" | awk '/^RESULT/ {print $2, $3, $4, $5}')"
      if [ "$status" != 0 ] || [ "$errs" != 0 ]; then echo "errors: $out" >&2; exit 1; fi
      mode=$([ "$stream" = 1 ] && echo stream || echo nonstream)
      echo "| $round | $mode | $api | $n | $(awk -v t=$((after - before)) -v n="$n" -v hz="$hz" 'BEGIN {printf "%.1f", t / hz * 1e6 / n}') |"
    done
  done
done | tee "$dir/rounds.md"

# Medians over the rounds, and the median of the rounds' differences to
# chat completions (each round measures the three APIs one after another,
# in the round's order). rounds.md holds the rows only: the table's head
# is printed before them (until 2026-12-07 the first two rows were taken
# for the head and skipped, and round 1's non-streaming Responses
# difference was taken against no chat value at all: +90 µs or so, one
# round's outlier in every median of differences).
echo
echo "| mode | api | median CPU µs/request | median added over chat |"
echo "|---|---|---:|---:|"
awk -F'|' '$2 ~ /^ *[0-9]+ *$/ { v[$3 "|" $4] = v[$3 "|" $4] " " $6; cell[$2 "|" $3 "|" $4] = $6; if ($4 ~ /chat/) chat[$2 "|" $3] = $6 }
  function median(s,   a, n, i, j, t) { n = split(s, a, " "); for (i = 1; i <= n; i++) for (j = i + 1; j <= n; j++) if (a[j] + 0 < a[i] + 0) { t = a[i]; a[i] = a[j]; a[j] = t }
    return n % 2 ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2 }
  END { for (c in cell) { split(c, p, "|"); k = p[2] "|" p[3]; if (p[3] !~ /chat/ && (p[1] "|" p[2]) in chat) d[k] = d[k] " " (cell[c] - chat[p[1] "|" p[2]]) }
    for (k in v) { split(k, p, "|"); printf "| %s | %s | %.1f | %s |\n", p[1], p[2], median(v[k]), (k in d) ? sprintf("%+.1f", median(d[k])) : "" } }' \
  "$dir/rounds.md" | sed 's/  */ /g' | sort

# Socket writes and reads per request, counted by perf over 3 s of load.
if command -v perf >/dev/null; then
  echo
  echo "| mode | api | writes/request | reads/request |"
  echo "|---|---|---:|---:|"
  for stream in 0 1; do
    for api in chat messages responses; do
      load $api $stream 5 >"$dir/wrk.txt" &
      sleep 1
      perf stat -x, -e syscalls:sys_enter_write,syscalls:sys_enter_read -p "$gw" -- sleep 3 2>"$dir/perf.txt"
      wait $!
      n=$(awk '/^RESULT/ {print $2 * 3 / 5}' "$dir/wrk.txt")
      mode=$([ "$stream" = 1 ] && echo stream || echo nonstream)
      awk -F, -v n="$n" -v m="$mode" -v a="$api" '{ c[NR] = $1 / n } END { printf "| %s | %s | %.2f | %.2f |\n", m, a, c[1], c[2] }' "$dir/perf.txt"
    done
  done
fi

# CPU profiles, one API after the other (PPROF).
if [ -n "${PPROF:-}" ]; then
  mkdir -p "$PPROF"
  for api in chat messages responses; do
    load $api 0 2 >/dev/null
    load $api 0 14 >"$PPROF/$api.wrk" &
    sleep 1
    curl -s -o "$PPROF/$api.pb.gz" "http://127.0.0.1:28309/debug/pprof/profile?seconds=12"
    wait $!
  done
fi
