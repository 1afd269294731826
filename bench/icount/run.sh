#!/usr/bin/env bash
# Instructions per operation of a Go benchmark, counted by valgrind's
# callgrind: deterministic (two counts of the same binary agree to about
# 0.1%) where CPU time on a shared machine is not (the ninth session's
# machine gave the same bench/apis cell 79 to 132 µs from one round to the
# next). Instructions are not time (a cold cache costs more per
# instruction), but a change that removes work shows here whatever the
# machine does.
#
# The count is the difference between runs of N2 and N1 iterations, over
# N2-N1, so the process's start and the benchmark's set-up cancel out;
# each length runs three times and the fewest instructions count (a timer
# that fires in one run under valgrind's slowdown only adds). The garbage
# collector is off (GOGC=off; set GOGC to count it): its cost follows the
# allocations, which -benchmem reports apart. So is asynchronous
# preemption (GODEBUG=asyncpreemptoff=1): callgrind asserts on the signals
# it sends when the machine is busy.
#
#   go test -c -o /tmp/h.test ./internal/httpapi
#   bench/icount/run.sh /tmp/h.test internal/httpapi 'BenchmarkRoute/messages/paced20'   # N1=1000 N2=4000
#
# Needs valgrind (apt-get install valgrind).
set -euo pipefail
bin=$(realpath "$1") dir=$2 bench=$3 n1=${N1:-1000} n2=${N2:-4000}
cd "$(dirname "$0")/../../$dir"
ir() {
  GOGC=${GOGC:-off} GOMAXPROCS=1 GODEBUG=asyncpreemptoff=1 valgrind --tool=callgrind --callgrind-out-file=/dev/null \
    "$bin" -test.run XXX -test.bench "$bench" -test.cpu 1 -test.benchtime "${1}x" 2>&1 |
    awk '/Collected/ {print $4}'
}
fewest() { # a run valgrind could not count (it prints no total) is left out
  local m='' n
  for _ in 1 2 3; do
    n=$(ir "$1")
    if [ -n "$n" ] && { [ -z "$m" ] || [ "$n" -lt "$m" ]; }; then m=$n; fi
  done
  [ -n "$m" ] || { echo "no count for $bench at $1 iterations" >&2; exit 1; }
  echo "$m"
}
a=$(fewest "$n1")
b=$(fewest "$n2")
echo "$bench $(basename "$bin") $(((b - a) / (n2 - n1)))"
