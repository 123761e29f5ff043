#!/usr/bin/env bash
# Throughput and latency of `POST /run` hello world, side by side with bare
# `python3 -c "print('Hello World')"` launched the same number at a time
# (PYTHON=/usr/bin/python3 by default, the interpreter the sandbox runs).
#
#   bench/http.sh [BIN] [SECONDS] [CONCURRENCY] [ROUNDS]
#                                   (defaults: build/safexec 40 8 8)
#
# Needs wrk (Debian package `wrk`).  Starts two servers on free loopback
# ports with temporary data directories and no JSON-lines log: one with the
# default workers (one per CPU), one with CONCURRENCY workers, so that the
# service also runs as many programs at once as the bare side does.  Then
# it alternates, ROUNDS times, a slice of SECONDS/ROUNDS of each of the
# three (the two services under wrk, the bare runs), so that a shared
# machine's drift falls on all three alike.  Prints runs/s over all slices,
# the medians of the slices' p50 and p99, and each share of the bare rate.
# Run as root so that the sandbox uses cgroups, as in production.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${1:-build/safexec}
DURATION=${2:-40}
CONC=${3:-8}
ROUNDS=${4:-8}
SLICE=$(( DURATION / ROUNDS > 0 ? DURATION / ROUNDS : 1 ))
THREADS=$(( CONC < 4 ? CONC : 4 ))
# Not a pyenv shim, which costs more than Python itself.
PYTHON=${PYTHON:-/usr/bin/python3}

command -v wrk >/dev/null || { echo "bench: wrk is not installed (apt-get install wrk)" >&2; exit 2; }
[ -x "$BIN" ] || { echo "bench: $BIN is not built" >&2; exit 2; }

tmp=$(mktemp -d)
pids=()
cleanup() {
	for p in "${pids[@]}"; do
		kill -TERM "$p" 2>/dev/null || true
		wait "$p" 2>/dev/null || true
	done
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

declare -A PORT
start_service() {	# NAME WORKERS
	local port
	port=$(free_port)
	"$BIN" serve --listen "127.0.0.1:$port" --data-dir "$tmp/data-$1" --no-log \
		--workers "$2" --queue $(( CONC * 4 )) 2>"$tmp/server-$1.log" &
	pids+=($!)
	for _ in $(seq 100); do
		curl -sf "http://127.0.0.1:$port/healthz" >/dev/null 2>&1 && break
		sleep 0.1
	done
	curl -sf "http://127.0.0.1:$port/healthz" >/dev/null || { cat "$tmp/server-$1.log"; exit 1; }
	wrk -t1 -c1 -d2s -s "$tmp/run.lua" "http://127.0.0.1:$port/run" >/dev/null
	PORT[$1]=$port
}

bare_slice() {	# OUT-FILE
	python3 - "$SLICE" "$CONC" "$PYTHON" >"$1" <<'PY'
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
print(f"{len(lat)} {elapsed:.3f} {pct(0.50):.2f} {pct(0.99):.2f}")
PY
}

echo "bench: $(nproc) CPUs; $CONC at a time; $ROUNDS rounds of ${SLICE}s for each side"
start_service default "$(nproc)"
start_service conc "$CONC"
for r in $(seq "$ROUNDS"); do
	for name in default conc; do
		wrk -t"$THREADS" -c"$CONC" -d"${SLICE}s" --latency -s "$tmp/run.lua" \
			"http://127.0.0.1:${PORT[$name]}/run" >"$tmp/wrk-$name-$r.txt"
	done
	bare_slice "$tmp/bare-$r.txt"
	echo "bench: round $r of $ROUNDS done"
done
for name in default conc; do
	curl -s "http://127.0.0.1:${PORT[$name]}/metrics" >"$tmp/metrics-$name.txt"
done

python3 - "$tmp" "$(nproc)" "$CONC" "$ROUNDS" <<'PY'
import re, statistics, sys
tmp, ncpu, conc, rounds = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
def ms(v):
    n, unit = re.match(r"([\d.]+)(us|ms|s|m)", v).groups()
    return float(n) * {"us": 0.001, "ms": 1, "s": 1000, "m": 60000}[unit]
runs = secs = 0.0
b50, b99 = [], []
for r in range(1, rounds + 1):
    n, t, p50, p99 = open(f"{tmp}/bare-{r}.txt").read().split()
    runs += int(n); secs += float(t); b50.append(float(p50)); b99.append(float(p99))
b_rps = runs / secs
print()
print(f"{'':30} {'runs/s':>8} {'p50 ms':>8} {'p99 ms':>8} {'runs':>6} {'vs bare':>8}")
for name, label in (("default", f"safexec, {ncpu} workers"), ("conc", f"safexec, {conc} workers")):
    total = secs_s = 0.0
    p50s, p99s, bad, errs = [], [], 0, []
    for r in range(1, rounds + 1):
        wrk = open(f"{tmp}/wrk-{name}-{r}.txt").read()
        total += int(re.search(r"(\d+) requests in", wrk).group(1))
        secs_s += ms(re.search(r"requests in ([\d.]+\w+)", wrk).group(1)) / 1000
        p50s.append(ms(re.search(r"^\s+50%\s+(\S+)", wrk, re.M).group(1)))
        p99s.append(ms(re.search(r"^\s+99%\s+(\S+)", wrk, re.M).group(1)))
        m = re.search(r"Non-2xx or 3xx responses: (\d+)", wrk)
        bad += int(m.group(1)) if m else 0
        m = re.search(r"Socket errors: (.*)", wrk)
        if m:
            errs.append(m.group(1))
    rps = total / secs_s
    print(f"{label:30} {rps:8.1f} {statistics.median(p50s):8.2f} "
          f"{statistics.median(p99s):8.2f} {int(total):6d} {rps / b_rps * 100:7.0f}%")
    st = dict(re.findall(r'safexec_runs_total\{status="(\w+)"\} (\d+)',
                         open(f"{tmp}/metrics-{name}.txt").read()))
    notes = [f"{k} {v}" for k, v in st.items() if v != "0"]
    if bad:
        notes.append(f"non-2xx {bad}")
    notes += [f"socket errors: {e}" for e in errs]
    print(f"{'':30} statuses: {', '.join(notes)}")
print(f"{'bare python3, ' + conc + ' at a time':30} {b_rps:8.1f} {statistics.median(b50):8.2f} "
      f"{statistics.median(b99):8.2f} {int(runs):6d}")
PY
