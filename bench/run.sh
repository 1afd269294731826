#!/usr/bin/env bash
# bench/run.sh: dsgate's benchmark harness. One run on one machine measures
# the simulator directly, the gateway in front of it and nginx (a plain
# reverse proxy) in front of it, non-streaming and streaming, at several
# concurrencies, and writes a Markdown report. See bench/RESULTS.md.
#
#   bench/run.sh               full run (10 s per cell after a 2 s warm-up)
#   QUICK=1 bench/run.sh       2 s cells after a 1 s warm-up
#
# Settings (environment):
#   DURATION, WARMUP      per cell (default 10s/2s; QUICK=1: 2s/1s)
#   CONCURRENCY           "1 16 64"
#   TARGETS               "direct gateway nginx gateway-accesslog"
#   ACCESSLOG_CONCURRENCY "64": cells run with the gateway's access log on
#   REPEAT                1: run the whole matrix this many times; the report
#                         shows each cell's median-throughput run
#   MAX_TOKENS            16: completion length the simulator produces
#   PROXY_CPU, LOAD_CPU   0 and 1: the proxy under test gets PROXY_CPU alone;
#                         the load generator and the simulator share LOAD_CPU
#   SIM_PORT, GW_PORT, NGINX_PORT, GW_LOG_PORT  19710..19713 (127.0.0.1 only)
#   OUT_DIR               bench/out
#   NO_INSTALL=1          never call apt-get (nginx is skipped if missing)
#   DSGATE_BIN            use this dsgate binary instead of building the work
#                         tree (e.g. one built from a clean checkout)
#
# Everything listens on and talks to 127.0.0.1 only. Every process started
# here is stopped on exit.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
QUICK=${QUICK:-0}
if [[ $QUICK == 1 ]]; then
	DURATION=${DURATION:-2s}
	WARMUP=${WARMUP:-1s}
else
	DURATION=${DURATION:-10s}
	WARMUP=${WARMUP:-2s}
fi
CONCURRENCY=${CONCURRENCY:-"1 16 64"}
TARGETS=${TARGETS:-"direct gateway nginx gateway-accesslog"}
ACCESSLOG_CONCURRENCY=${ACCESSLOG_CONCURRENCY:-64}
MAX_TOKENS=${MAX_TOKENS:-16}
REPEAT=${REPEAT:-1}
PROXY_CPU=${PROXY_CPU:-0}
LOAD_CPU=${LOAD_CPU:-1}
SIM_PORT=${SIM_PORT:-19710}
GW_PORT=${GW_PORT:-19711}
NGINX_PORT=${NGINX_PORT:-19712}
GW_LOG_PORT=${GW_LOG_PORT:-19713}
OUT_DIR=${OUT_DIR:-$ROOT/bench/out}
NO_INSTALL=${NO_INSTALL:-0}
DSGATE_BIN=${DSGATE_BIN:-}

# The exact command, with every setting that was given, for the report.
COMMAND="bench/run.sh"
for v in QUICK DURATION WARMUP CONCURRENCY TARGETS ACCESSLOG_CONCURRENCY REPEAT MAX_TOKENS PROXY_CPU LOAD_CPU \
	SIM_PORT GW_PORT NGINX_PORT GW_LOG_PORT OUT_DIR NO_INSTALL DSGATE_BIN; do
	if [[ -n ${!v+x} && -n $(printenv "$v" || true) ]]; then
		COMMAND="$v=\"$(printenv "$v")\" $COMMAND"
	fi
done

log() { printf '[bench %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
die() {
	log "error: $*"
	exit 1
}

# --- processes and cleanup ---------------------------------------------------

PIDS=()
WORK=$(mktemp -d "${TMPDIR:-/tmp}/dsgate-bench.XXXXXX")
POLICY_RC_CREATED=0

cleanup() {
	local pid
	for pid in "${PIDS[@]}"; do
		kill -TERM "$pid" 2>/dev/null || true
	done
	for pid in "${PIDS[@]}"; do
		for _ in $(seq 50); do
			kill -0 "$pid" 2>/dev/null || break
			sleep 0.1
		done
		kill -KILL "$pid" 2>/dev/null || true
		wait "$pid" 2>/dev/null || true
	done
	PIDS=()
	if [[ $POLICY_RC_CREATED == 1 ]]; then
		rm -f /usr/sbin/policy-rc.d
	fi
	rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# stop_pid stops one process this script started and forgets it.
stop_pid() {
	local pid=$1 keep=() p
	kill -TERM "$pid" 2>/dev/null || true
	for _ in $(seq 100); do
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.05
	done
	kill -KILL "$pid" 2>/dev/null || true
	wait "$pid" 2>/dev/null || true
	for p in "${PIDS[@]}"; do
		[[ $p == "$pid" ]] || keep+=("$p")
	done
	PIDS=("${keep[@]}")
}

port_in_use() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# wait_http polls URL until it answers 200, while PID is alive.
wait_http() {
	local url=$1 pid=$2 logf=$3
	for _ in $(seq 200); do
		if ! kill -0 "$pid" 2>/dev/null; then
			cat "$logf" >&2 || true
			die "process $pid exited before $url answered"
		fi
		if curl -fsS -o /dev/null --max-time 1 "$url" 2>/dev/null; then
			return 0
		fi
		sleep 0.05
	done
	cat "$logf" >&2 || true
	die "$url did not answer within 10 s"
}

# --- tools --------------------------------------------------------------------

APT_UPDATED=0
apt_install() {
	# Installs the first package of the arguments that installs. Services
	# packaged with them (nginx's) must not start: policy-rc.d says so.
	[[ $NO_INSTALL == 1 ]] && return 1
	[[ $(id -u) == 0 ]] || return 1
	command -v apt-get >/dev/null || return 1
	if [[ $APT_UPDATED == 0 ]]; then
		log "apt-get update"
		apt-get update -q >"$WORK/apt.log" 2>&1 || return 1
		APT_UPDATED=1
	fi
	if [[ ! -e /usr/sbin/policy-rc.d ]]; then
		printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d
		chmod +x /usr/sbin/policy-rc.d
		POLICY_RC_CREATED=1
	fi
	local pkg rc=1
	for pkg in "$@"; do
		log "apt-get install -y $pkg"
		if DEBIAN_FRONTEND=noninteractive apt-get install -y -q "$pkg" >>"$WORK/apt.log" 2>&1; then
			rc=0
			break
		fi
	done
	if [[ $POLICY_RC_CREATED == 1 ]]; then
		rm -f /usr/sbin/policy-rc.d
		POLICY_RC_CREATED=0
	fi
	return $rc
}

ensure_tools() {
	command -v taskset >/dev/null || apt_install util-linux || die "taskset (util-linux) is missing"
	command -v pgrep >/dev/null || apt_install procps || die "pgrep (procps) is missing"
	command -v curl >/dev/null || apt_install curl || die "curl is missing"
	command -v go >/dev/null || die "go is missing"
	NGINX=$(command -v nginx || true)
	[[ -z $NGINX && -x /usr/sbin/nginx ]] && NGINX=/usr/sbin/nginx
	if [[ -z $NGINX && " $TARGETS " == *" nginx "* ]]; then
		if apt_install nginx-light nginx; then
			NGINX=$(command -v nginx || echo /usr/sbin/nginx)
		fi
	fi
	if [[ -z $NGINX || ! -x $NGINX ]]; then
		log "nginx is not available: the nginx cells are skipped"
		NGINX=""
		TARGETS=${TARGETS//nginx/}
	fi
	[[ $(nproc) -ge 2 ]] || die "need at least 2 CPUs to pin the proxy apart from the load (have $(nproc))"
}

# --- servers ---------------------------------------------------------------

start_sim() {
	taskset -c "$LOAD_CPU" "$BIN/dsgate" sim --addr "127.0.0.1:$SIM_PORT" \
		--ttft 0 --tps 0 --max-tokens "$MAX_TOKENS" >"$WORK/sim.log" 2>&1 &
	SIM_PID=$!
	PIDS+=("$SIM_PID")
	wait_http "http://127.0.0.1:$SIM_PORT/health" "$SIM_PID" "$WORK/sim.log"
}

# Per target: the port to load, the process to stop, the process to watch.
declare -A PORT PID WATCH

# start_gateway TARGET PORT ACCESS(true|false)
start_gateway() {
	local target=$1 port=$2 access=$3 cfg="$WORK/$1.yaml"
	cat >"$cfg" <<EOF
version: 1
server: {listen: "127.0.0.1:$port"}
log: {access: $access}
upstreams:
  - {name: sim, kind: openai, url: "http://127.0.0.1:$SIM_PORT"}
models:
  - {name: deepseek-chat, targets: [{upstream: sim}]}
EOF
	# The log goes to a file, as it would in production, not to /dev/null.
	taskset -c "$PROXY_CPU" "$BIN/dsgate" serve --config "$cfg" >"$WORK/$target.log" 2>&1 &
	PID[$target]=$!
	PIDS+=("${PID[$target]}")
	wait_http "http://127.0.0.1:$port/readyz" "${PID[$target]}" "$WORK/$target.log"
	PORT[$target]=$port
	WATCH[$target]=${PID[$target]}
}

write_nginx_conf() {
	local extra_temp=""
	local m
	for m in fastcgi uwsgi scgi; do
		if ! "$NGINX" -V 2>&1 | grep -q -- "--without-http_${m}_module"; then
			extra_temp+="    ${m}_temp_path $WORK/nginx/$m;"$'\n'
		fi
	done
	mkdir -p "$WORK/nginx"
	cat >"$WORK/nginx.conf" <<EOF
# A plain reverse proxy, tuned the usual way for an SSE API.
worker_processes 1;
daemon off;
pid $WORK/nginx.pid;
error_log $WORK/nginx-error.log warn;
events { worker_connections 4096; }
http {
    access_log off;
    client_body_temp_path $WORK/nginx/body;
    proxy_temp_path $WORK/nginx/proxy;
$extra_temp
    keepalive_timeout 75s;
    keepalive_requests 1000000;
    upstream sim {
        server 127.0.0.1:$SIM_PORT;
        keepalive 256;
        keepalive_requests 1000000;
        keepalive_timeout 60s;
    }
    server {
        listen 127.0.0.1:$NGINX_PORT backlog=4096;
        location / {
            proxy_pass http://sim;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_buffering off;
            proxy_read_timeout 60s;
        }
    }
}
EOF
}

# start_nginx: master and its one worker on PROXY_CPU; the worker, which
# does all the work, is the process watched.
start_nginx() {
	write_nginx_conf
	"$NGINX" -t -q -e "$WORK/nginx-error.log" -c "$WORK/nginx.conf" -p "$WORK/nginx" 2>>"$WORK/nginx-error.log" ||
		{ cat "$WORK/nginx-error.log" >&2; die "nginx config test failed"; }
	taskset -c "$PROXY_CPU" "$NGINX" -e "$WORK/nginx-error.log" -c "$WORK/nginx.conf" -p "$WORK/nginx" \
		>"$WORK/nginx.log" 2>&1 &
	PID[nginx]=$!
	PIDS+=("${PID[nginx]}")
	wait_http "http://127.0.0.1:$NGINX_PORT/health" "${PID[nginx]}" "$WORK/nginx-error.log"
	PORT[nginx]=$NGINX_PORT
	WATCH[nginx]=$(pgrep -P "${PID[nginx]}" | head -n1)
	[[ -n ${WATCH[nginx]} ]] || die "nginx worker not found"
}

# --- measuring ----------------------------------------------------------------

# run_cell LABEL PORT STREAM CONC [WATCH_PID]
run_cell() {
	local label=$1 port=$2 stream=$3 conc=$4 watch=${5:-} line
	local args=(-url "http://127.0.0.1:$port/v1/chat/completions" -stream="$stream" -c "$conc"
		-d "$DURATION" -warmup "$WARMUP" -timeout 30s -max-tokens "$MAX_TOKENS" -label "$label"
		-clk-tck "$(getconf CLK_TCK)" -watch-cores "$PROXY_CPU,$LOAD_CPU")
	[[ -n $watch ]] && args+=(-watch-pid "$watch")
	log "$label stream=$stream c=$conc"
	if ! line=$(taskset -c "$LOAD_CPU" "$BIN/loadgen" "${args[@]}" 2>>"$WORK/loadgen.err"); then
		log "loadgen failed for $label stream=$stream c=$conc: $(tail -n1 "$WORK/loadgen.err")"
	fi
	[[ -n $line ]] && printf '%s\n' "$line" >>"$CELLS"
}

# run_matrix runs every cell, the targets of one (mode, concurrency)
# back to back, so that load from elsewhere on the machine, which drifts,
# hits them alike rather than one target's whole block.
run_matrix() {
	local stream c target
	for stream in false true; do
		for c in $CONCURRENCY; do
			for target in $TARGETS; do
				if [[ $target == gateway-accesslog && " $ACCESSLOG_CONCURRENCY " != *" $c "* ]]; then
					continue
				fi
				run_cell "$target" "${PORT[$target]}" "$stream" "$c" "${WATCH[$target]:-}"
			done
		done
	done
}

machine_info() {
	local model
	model=$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//')
	echo "- machine: $(nproc) CPUs ($model), $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo) RAM, kernel $(uname -r)"
	echo "- go: $(go version | cut -d' ' -f3-)"
	if [[ -n $NGINX ]]; then
		echo "- nginx: $("$NGINX" -v 2>&1 | sed 's/^nginx version: //') ($(dpkg-query -W -f='${binary:Package} ${Version}' nginx-light 2>/dev/null || dpkg-query -W -f='${binary:Package} ${Version}' nginx-core 2>/dev/null || echo 'package unknown'))"
	else
		echo "- nginx: not available, its cells were skipped"
	fi
	if [[ -n $DSGATE_BIN ]]; then
		echo "- dsgate: prebuilt $DSGATE_BIN ($("$BIN/dsgate" version 2>/dev/null | head -n1 || echo 'version unknown'))"
	else
		echo "- dsgate: built from the work tree at $(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo unknown) ($(git -C "$ROOT" status --porcelain 2>/dev/null | wc -l) files changed)"
	fi
}

main() {
	ensure_tools
	local p
	for p in "$SIM_PORT" "$GW_PORT" "$NGINX_PORT" "$GW_LOG_PORT"; do
		port_in_use "$p" && die "port 127.0.0.1:$p is in use; set SIM_PORT/GW_PORT/NGINX_PORT/GW_LOG_PORT"
	done
	mkdir -p "$OUT_DIR/bin"
	BIN="$OUT_DIR/bin"
	if [[ -n $DSGATE_BIN ]]; then
		log "using $DSGATE_BIN"
		cp "$DSGATE_BIN" "$BIN/dsgate"
	else
		log "building dsgate"
		(cd "$ROOT" && go build -o "$BIN/dsgate" ./cmd/dsgate)
	fi
	log "building loadgen and report"
	(cd "$ROOT" && go build -o "$BIN/loadgen" ./bench/loadgen && go build -o "$BIN/report" ./bench/report)

	local stamp
	stamp=$(date -u +%Y%m%d-%H%M%S)
	CELLS="$OUT_DIR/cells-$stamp.jsonl"
	local report="$OUT_DIR/results-$stamp.md"
	: >"$CELLS"
	local load_before
	load_before=$(cut -d' ' -f1-3 /proc/loadavg)
	local started
	started=$(date -u '+%Y-%m-%d %H:%M:%S UTC')

	start_sim
	PORT[direct]=$SIM_PORT
	local target
	# Every proxy is started first and idles while the others are measured.
	for target in $TARGETS; do
		case $target in
		direct) ;;
		gateway) start_gateway gateway "$GW_PORT" false ;;
		gateway-accesslog) start_gateway gateway-accesslog "$GW_LOG_PORT" true ;;
		nginx) start_nginx ;;
		*) die "unknown target $target" ;;
		esac
	done
	local i
	for i in $(seq "$REPEAT"); do
		[[ $REPEAT == 1 ]] || log "repeat $i of $REPEAT"
		run_matrix
	done
	for target in $TARGETS; do
		[[ -n ${PID[$target]:-} ]] || continue
		log "$target peak RSS: $(grep VmHWM "/proc/${WATCH[$target]}/status" | tr -s ' \t' ' ')"
		[[ $target == gateway-accesslog ]] &&
			log "access log lines written: $(grep -c '"msg":"request"' "$WORK/gateway-accesslog.log" || true)"
		stop_pid "${PID[$target]}"
	done
	stop_pid "$SIM_PID"

	{
		echo "## Benchmark run $started"
		echo
		echo "- command: \`$COMMAND\`$([[ $QUICK == 1 ]] && echo ' (QUICK mode)')"
		echo "- cells: $DURATION measured after a $WARMUP warm-up, matrix run $REPEAT time(s); closed-loop workers, one keep-alive connection each; for each mode and concurrency the targets run back to back (all proxies start first and idle while not measured)"
		echo "- pinning: the proxy under test (gateway or nginx) alone on CPU $PROXY_CPU (taskset); the load generator and the simulator share CPU $LOAD_CPU, so the \`direct\` rows and any cell where the proxy's core is not busy are bounded by that core, not by the proxy. Go sets GOMAXPROCS from the affinity mask, so the gateway runs with GOMAXPROCS=1."
		echo "- simulator: \`dsgate sim --ttft 0 --tps 0 --max-tokens $MAX_TOKENS\` (no time to first token, no pacing: the proxy, not the engine, is meant to be the bottleneck)"
		echo "- nginx: worker_processes 1, upstream keepalive 256, proxy_http_version 1.1, proxy_buffering off, access_log off"
		echo "- gateway: access log off except in the \`gateway-accesslog\` rows (log written to a file)"
		echo "- proxy CPU µs/req: utime+stime of the gateway process (or the nginx worker) over the measured window / successful requests; peak RSS is VmHWM. Core busy: the proxy's own share of its core, the core's total busy share (anything above the proxy's share is other load on the machine), and the load core's busy share, from /proc/stat"
		machine_info
		echo "- load average at start: $load_before; at end: $(cut -d' ' -f1-3 /proc/loadavg)"
		"$BIN/report" -in "$CELLS" -proxy-cpu "$PROXY_CPU" -load-cpu "$LOAD_CPU"
	} >"$report"
	cat "$report"
	log "report: $report (raw cells: $CELLS)"
}

main "$@"
