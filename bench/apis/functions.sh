#!/usr/bin/env bash
# CPU by API from a MIX round's perf recording (bench/apis/run.sh with
# MIX=1 PERF_HZ=N): each sample counts its period for the API whose
# handler is on its stack, unwound by frame pointers, or as shared (a
# sample on the runtime's own stack, g0: stack growth, a slow allocation,
# the scheduler, does not lead back to a handler).
#
# With "totals" it prints each API's CPU in ms (chat, messages,
# responses, shared), what run.sh's MIX table is made of. With REQUESTS,
# the round's requests (a third of them each API's), it prints every
# function's inclusive CPU a request under each API: chat completions,
# Messages, Responses, and the two translated APIs less chat completions,
# for functions of more than 1 µs a request.
#
#   KEEP=1 DSGATE_BIN=/tmp/dsgate MIX=1 PERF_HZ=4000 PACE=2ms ROUNDS=1 D=20 bench/apis/run.sh
#   bench/apis/functions.sh /tmp/dsgate-benchapis.XXXXXX/mix.data REQUESTS | sort -k4 -g -r | head -40
#
# KEEP=1 keeps the run's directory; its mix.data is the round's last mode.
set -euo pipefail
perf script -i "$1" -F period,ip,sym 2>/dev/null | awk -v n="$2" '
  function done(   f) { if (v > 0) { for (f in seen) t[who "\t" f] += v; tot[who] += v }; v = 0; who = "shared"; delete seen }
  BEGIN { who = "shared" }
  /^ *[0-9]+ *$/ { done(); v = $1 + 0; next }
  n != "totals" && NF >= 2 { f = $2; for (i = 3; i <= NF; i++) f = f " " $i; seen[f] = 1 }
  /handlers\)\.inference\.func/ { who = "chat" }
  /handlers\)\.messages(-fm)?$/ { who = "messages" }
  /handlers\)\.createResponse(-fm)?$/ { who = "responses" }
  END {
    done()
    if (n == "totals") {
      for (k in tot) printf "%s %.1f\n", k, tot[k] / 1e6
      exit
    }
    each = n / 3
    for (k in t) { split(k, p, "\t"); u[p[2], p[1]] = t[k] / 1e3 / each; fs[p[2]] = 1 }
    for (f in fs) {
      c = u[f, "chat"] + 0; m = u[f, "messages"] + 0; r = u[f, "responses"] + 0
      if (c > 1 || m > 1 || r > 1) printf "%8.1f %8.1f %8.1f %+8.1f %+8.1f  %s\n", c, m, r, m - c, r - c, f
    }
    printf "%8.1f %8.1f %8.1f  all (shared %.1f a request of any API)\n", tot["chat"] / 1e3 / each, tot["messages"] / 1e3 / each, tot["responses"] / 1e3 / each, tot["shared"] / 1e3 / n
  }'
