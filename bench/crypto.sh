#!/usr/bin/env bash
# bench/crypto.sh: model-encryption throughput. Runs the modelcrypt
# benchmarks (Encrypt/Decrypt, in memory to io.Discard, 64 MiB per
# operation) and, in the same run, `openssl speed -evp aes-256-gcm` as the
# reference for this CPU's AES-GCM speed, then prints both.
#
#   bench/crypto.sh              1 s per benchmark, 3 counts
#   BENCHTIME=3s COUNT=5 bench/crypto.sh
#   NO_INSTALL=1 bench/crypto.sh never call apt-get (openssl is skipped if missing)
#
# Results go to stdout and to bench/out/crypto-<time>.txt. Nothing listens
# on the network.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BENCHTIME=${BENCHTIME:-1s}
COUNT=${COUNT:-3}
OUT_DIR=${OUT_DIR:-$ROOT/bench/out}
mkdir -p "$OUT_DIR"
OUT="$OUT_DIR/crypto-$(date -u +%Y%m%dT%H%M%SZ).txt"

if ! command -v openssl >/dev/null 2>&1 && [ -z "${NO_INSTALL:-}" ]; then
	echo "openssl missing; installing it with apt-get" >&2
	apt-get update -qq && apt-get install -y -qq openssl >/dev/null
fi

{
	echo "# dsgate model encryption benchmark, $(date -u +%Y-%m-%dT%H:%M:%SZ)"
	echo "# cpu: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ //')"
	echo "# cores: $(nproc); aes-ni: $(grep -qw aes /proc/cpuinfo && echo yes || echo no); vaes: $(grep -qw vaes /proc/cpuinfo && echo yes || echo no)"
	echo "# load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
	echo "# go: $(cd "$ROOT" && go version)"
	echo
	echo "## go test -run '^\$' -bench 'Benchmark(Encrypt|Decrypt)\$' -benchtime $BENCHTIME -count $COUNT ./internal/modelcrypt/"
	(cd "$ROOT" && go test -run '^$' -bench 'Benchmark(Encrypt|Decrypt)$' -benchtime "$BENCHTIME" -count "$COUNT" ./internal/modelcrypt/)
	echo
	if command -v openssl >/dev/null 2>&1; then
		echo "## $(openssl version)"
		echo "## openssl speed -evp aes-256-gcm -seconds 1 (one core; block sizes in bytes, figures in 1000s of bytes/s)"
		openssl speed -evp aes-256-gcm -seconds 1 2>/dev/null | grep -E '^(type|AES-256-GCM)'
		echo
		echo "## openssl speed -evp aes-256-gcm -seconds 1 -bytes 1048576 (one core, 1 MiB blocks like dsgate's default chunk)"
		openssl speed -evp aes-256-gcm -seconds 1 -bytes 1048576 2>/dev/null | grep -E '^(type|AES-256-GCM)'
		echo
		echo "## openssl speed -evp aes-256-gcm -seconds 1 -multi $(nproc) (all cores, summed)"
		openssl speed -evp aes-256-gcm -seconds 1 -multi "$(nproc)" 2>/dev/null | grep -E '^AES-256-GCM' | tail -1
	else
		echo "## openssl not installed: no reference figure"
	fi
	echo
	echo "# load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
} 2>&1 | tee "$OUT"
echo "written to $OUT" >&2
