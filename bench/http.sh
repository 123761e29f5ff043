#!/usr/bin/env bash
# Throughput and latency of `POST /run` hello world, side by side with bare
# `python3 -c "print('Hello World')"` launched the same number at a time
# (PYTHON=/usr/bin/python3 by default, the interpreter the sandbox runs).
#
#   bench/http.sh [BIN] [SECONDS] [CONCURRENCY]     (defaults: build/safexec 20 8)
#
# Needs wrk (Debian package `wrk`).  Starts its own servers on free loopback
# ports with temporary data directories and no JSON-lines log: one with the
# default workers (one per CPU), one with CONCURRENCY workers, so that the
# service also runs as many programs at once as the bare side does; each
# gets a queue deep enough for CONCURRENCY.  Prints runs/s, p50 and p99 for
# each and for the bare runs, and the service's share of the bare rate.
# Run as root so that the sandbox uses cgroups, as in production.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${1:-build/safexec}
DURATION=${2:-20}
CONC=${3:-8}
THREADS=$(( CONC < 4 ? CONC : 4 ))
# Not a pyenv shim, which costs more than Python itself.
PYTHON=${PYTHON:-/usr/bin/python3}

command -v wrk >/dev/null || { echo "bench: wrk is not installed (apt-get install wrk)" >&2; exit 2; }
[ -x "$BIN" ] || { echo "bench: $BIN is not built" >&2; exit 2; }

tmp=$(mktemp -d)
srv_pid=
cleanup() {
	if [ -n "$srv_pid" ]; then
		kill -TERM "$srv_pid" 2>/dev/null || true
		wait "$srv_pid" 2>/dev/null || true
	fi
	rm -rf "$tmp"
}
trap cleanup EXIT

cat >"$tmp/run.lua" <<'LUA'
wrk.method = "POST"
wrk.body = '{"code": "print(\\"Hello World\\")"}'
wrk.headers["Content-Type"] = "application/json"
LUA

free_port() {
	python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

bench_service() {	# NAME WORKERS
	local port
	port=$(free_port)
	"$BIN" serve --listen "127.0.0.1:$port" --data-dir "$tmp/data-$1" --no-log \
		--workers "$2" --queue $(( CONC * 4 )) 2>"$tmp/server-$1.log" &
	srv_pid=$!
	for _ in $(seq 100); do
		curl -sf "http://127.0.0.1:$port/healthz" >/dev/null 2>&1 && break
		sleep 0.1
	done
	curl -sf "http://127.0.0.1:$port/healthz" >/dev/null || { cat "$tmp/server-$1.log"; exit 1; }
	wrk -t1 -c1 -d2s -s "$tmp/run.lua" "http://127.0.0.1:$port/run" >/dev/null
	echo "bench: POST /run, $2 workers (wrk -t$THREADS -c$CONC -d${DURATION}s)"
	wrk -t"$THREADS" -c"$CONC" -d"${DURATION}s" --latency -s "$tmp/run.lua" \
		"http://127.0.0.1:$port/run" >"$tmp/wrk-$1.txt"
	curl -s "http://127.0.0.1:$port/metrics" >"$tmp/metrics-$1.txt"
	kill -TERM "$srv_pid"
	wait "$srv_pid" || true
	srv_pid=
}

echo "bench: $(nproc) CPUs; $CONC at a time for ${DURATION}s each"
bench_service default "$(nproc)"
bench_service conc "$CONC"

echo "bench: bare $PYTHON, $CONC at a time"
python3 - "$DURATION" "$CONC" "$PYTHON" >"$tmp/bare.txt" <<'PY'
import subprocess, sys, threading, time
duration, conc, python = float(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
lat, lock = [], threading.Lock()
end = time.monotonic() + duration
def loop():
    while time.monotonic() < end:
        t0 = time.monotonic()
        out = subprocess.run([python, "-c", "print('Hello World')"],
                             stdout=subprocess.PIPE, check=True).stdout
        assert out == b"Hello World\n"
        with lock:
            lat.append(time.monotonic() - t0)
start = time.monotonic()
ts = [threading.Thread(target=loop) for _ in range(conc)]
for t in ts: t.start()
for t in ts: t.join()
elapsed = time.monotonic() - start
lat.sort()
pct = lambda p: lat[min(len(lat) - 1, int(p * len(lat)))] * 1000
print(f"{len(lat) / elapsed:.1f} {pct(0.50):.2f} {pct(0.99):.2f} {len(lat)}")
PY

python3 - "$tmp" "$(nproc)" "$CONC" <<'PY'
import re, sys
tmp, ncpu, conc = sys.argv[1], sys.argv[2], sys.argv[3]
def ms(v):
    n, unit = re.match(r"([\d.]+)(us|ms|s|m)", v).groups()
    return float(n) * {"us": 0.001, "ms": 1, "s": 1000, "m": 60000}[unit]
b_rps, b50, b99, b_n = open(f"{tmp}/bare.txt").read().split()
b_rps = float(b_rps)
print()
print(f"{'':30} {'runs/s':>8} {'p50 ms':>8} {'p99 ms':>8} {'runs':>6} {'vs bare':>8}")
for name, label in (("default", f"safexec, {ncpu} workers"), ("conc", f"safexec, {conc} workers")):
    wrk = open(f"{tmp}/wrk-{name}.txt").read()
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", wrk).group(1))
    p50 = ms(re.search(r"^\s+50%\s+(\S+)", wrk, re.M).group(1))
    p99 = ms(re.search(r"^\s+99%\s+(\S+)", wrk, re.M).group(1))
    total = int(re.search(r"(\d+) requests in", wrk).group(1))
    print(f"{label:30} {rps:8.1f} {p50:8.2f} {p99:8.2f} {total:6d} {rps / b_rps * 100:7.0f}%")
    bad = re.search(r"Non-2xx or 3xx responses: (\d+)", wrk)
    errs = re.search(r"Socket errors: (.*)", wrk)
    runs = dict(re.findall(r'safexec_runs_total\{status="(\w+)"\} (\d+)',
                           open(f"{tmp}/metrics-{name}.txt").read()))
    notes = [f"{k} {v}" for k, v in runs.items() if v != "0"]
    if bad:
        notes.append(f"non-2xx {bad.group(1)}")
    if errs:
        notes.append(f"socket errors: {errs.group(1)}")
    print(f"{'':30} statuses: {', '.join(notes)}")
print(f"{'bare python3, ' + conc + ' at a time':30} {b_rps:8.1f} {float(b50):8.2f} "
      f"{float(b99):8.2f} {int(b_n):6d}")
PY
