#!/usr/bin/env python3
"""One C submission judged against 50 tests: one request with `tests`
(one compile, then a fresh sandbox per test) against 50 separate
compile-and-run requests, with and without the compile cache.

    bench/judge.py [--bin build/safexec] [--reps N] [--tests N] [--raw FILE]

Starts two `safexec serve` on loopback ports, with temporary data
directories and no JSON-lines log: one with the compile cache (the
default, 256M) and one with `--compile-cache 0`.  Each repetition uses a
program of its own (a different comment), so that its first request
finds nothing in the cache, and times, over one kept-alive connection per
server, each of these sides (in an order that rotates from one repetition
to the next, so that a shared machine's drift falls on all of them):

  tests, cache      POST /api/v1/execute with the 50 tests, cache on (a
                    miss: one compile, 50 runs);
  again, cache      the same request once more (a hit: no compile);
  tests, no cache   the same program's first request with the tests, cache
                    off (one compile, 50 runs);
  again, no cache   once more, cache off (compiles again: the cache is what
                    carries a compile from one request to the next);
  50 requests, no cache   50 POST /api/v1/execute, each with one test's
                    stdin, cache off (50 compiles, 50 runs), checking each
                    output as the tests would;
  50 requests, cache      the same, cache on, after the program is in the
                    cache (50 runs, compiles from the cache).

Every answer must be a 200 with every test accepted (verdict "accepted",
totals), or status ok and the expected output; anything else stops the
script.  Reports the median, lowest and highest wall time of each side
(the client's clock, request sent to answer read) and the ratios of the
medians.  No figure is checked against a target: the script only
measures.  Run as root (the sandbox then uses cgroups, as in production).
Python 3 standard library only.
"""
import argparse
import http.client
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time

# Reads n, prints the sum of 1..n and the n-th triangular number's digits'
# sum: enough work to be a program, too little to matter next to a sandbox.
PROGRAM = r"""/* rep %d */
#include <stdio.h>

int main(void)
{
	long n, s = 0, d = 0, t;

	if (scanf("%%ld", &n) != 1)
		return 2;
	for (long i = 1; i <= n; i++)
		s += i;
	for (t = s; t > 0; t /= 10)
		d += t %% 10;
	printf("%%ld %%ld\n", s, d);
	return 0;
}
"""


def expected(n):
    s = n * (n + 1) // 2
    return f"{s} {sum(int(c) for c in str(s))}\n"


class Server:
    def __init__(self, binary, scratch, name, extra):
        s = socket.socket()
        s.bind(("127.0.0.1", 0))
        self.port = s.getsockname()[1]
        s.close()
        self.name = name
        self.log = os.path.join(scratch, f"serve-{name}.log")
        self.proc = subprocess.Popen(
            [binary, "serve", "--listen", f"127.0.0.1:{self.port}",
             "--data-dir", os.path.join(scratch, f"data-{name}"), "--no-log", *extra],
            stdout=subprocess.DEVNULL, stderr=open(self.log, "w"))
        for _ in range(300):
            try:
                self.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=300)
                self.conn.request("GET", "/healthz")
                if self.conn.getresponse().read():
                    return
            except OSError:
                time.sleep(0.1)
        self.stop()
        sys.exit(f"bench: the server ({name}) did not start: " + open(self.log).read())

    def execute(self, body):
        data = json.dumps(body).encode()
        self.conn.request("POST", "/api/v1/execute", data,
                          {"Content-Type": "application/json"})
        resp = self.conn.getresponse()
        raw = resp.read()
        if resp.status != 200:
            sys.exit(f"bench: {self.name}: HTTP {resp.status}: {raw[:300]!r}")
        return json.loads(raw)

    def stop(self):
        self.proc.terminate()
        self.proc.wait()


def check_tests(ans, n, what):
    totals = ans.get("totals") or {}
    if ans.get("verdict") != "accepted" or totals.get("accepted") != n:
        sys.exit(f"bench: {what}: verdict {ans.get('verdict')}, totals {totals}, "
                 f"status {ans.get('status')}: {ans.get('message')}")


def check_one(ans, want, what):
    if ans.get("status") != "ok" or ans.get("stdout") != want:
        sys.exit(f"bench: {what}: status {ans.get('status')}, stdout "
                 f"{ans.get('stdout')!r}, want {want!r}: {ans.get('message')}")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--bin", default="build/safexec")
    ap.add_argument("--reps", type=int, default=5, help="repetitions (default 5)")
    ap.add_argument("--tests", type=int, default=50, help="tests per submission (default 50)")
    ap.add_argument("--raw", help="write every time measured here, as JSON")
    args = ap.parse_args()
    if not os.access(args.bin, os.X_OK):
        sys.exit(f"bench: {args.bin} is not built")
    if os.geteuid() != 0:
        print("bench: not root: the sandbox runs without cgroups", file=sys.stderr)

    scratch = tempfile.mkdtemp(prefix="safexec-judge-")
    servers = []
    try:
        cached = Server(args.bin, scratch, "cache", [])
        servers.append(cached)
        plain = Server(args.bin, scratch, "nocache", ["--compile-cache", "0"])
        servers.append(plain)
        inputs = [1000 * (i + 1) for i in range(args.tests)]
        times = {k: [] for k in ("tests_cache", "again_cache", "tests_nocache",
                                 "again_nocache", "separate_nocache", "separate_cache")}

        def one_request(srv, rep, key):
            body = {"language": "c", "code": PROGRAM % rep,
                    "tests": [{"stdin": f"{n}\n", "expected_output": expected(n)}
                              for n in inputs]}
            t0 = time.perf_counter()
            ans = srv.execute(body)
            times[key].append(time.perf_counter() - t0)
            check_tests(ans, len(inputs), key)

        def separate(srv, rep, key):
            t0 = time.perf_counter()
            for n in inputs:
                ans = srv.execute({"language": "c", "code": PROGRAM % rep, "stdin": f"{n}\n"})
                check_one(ans, expected(n), key)
            times[key].append(time.perf_counter() - t0)

        # Each side is a pair where order matters within the pair (the
        # second request of a program after its first); the pairs rotate.
        sides = [
            lambda rep: (one_request(cached, rep, "tests_cache"),
                         one_request(cached, rep, "again_cache"),
                         separate(cached, rep, "separate_cache")),
            lambda rep: (one_request(plain, rep, "tests_nocache"),
                         one_request(plain, rep, "again_nocache")),
            lambda rep: separate(plain, rep, "separate_nocache"),
        ]
        # A warm-up of each, not counted: the page cache, gcc's first start.
        warm = -1
        for srv in servers:
            srv.execute({"language": "c", "code": PROGRAM % warm, "stdin": "1\n"})
        t_start = time.time()
        for rep in range(args.reps):
            for k in range(len(sides)):
                sides[(rep + k) % len(sides)](rep)
            print(f"bench: repetition {rep + 1}/{args.reps} done", file=sys.stderr)
        elapsed = time.time() - t_start
    finally:
        for srv in servers:
            srv.stop()
        shutil.rmtree(scratch, ignore_errors=True)

    if args.raw:
        with open(args.raw, "w") as f:
            json.dump(times, f, indent=1)
    med = {k: statistics.median(v) for k, v in times.items()}
    n = args.tests
    rows = [
        ("tests_cache", f"1 request, {n} tests, cache on (first: 1 compile)"),
        ("again_cache", f"the same request again, cache on (0 compiles)"),
        ("tests_nocache", f"1 request, {n} tests, cache off (1 compile)"),
        ("again_nocache", f"the same request again, cache off (1 compile)"),
        ("separate_nocache", f"{n} requests, 1 stdin each, cache off ({n} compiles)"),
        ("separate_cache", f"{n} requests, 1 stdin each, cache on (0 compiles)"),
    ]
    print(f"{args.reps} repetitions in {elapsed:.0f} s, {os.cpu_count()} CPUs, "
          f"uid {os.geteuid()}, load {os.getloadavg()[0]:.1f}; wall times in ms")
    print(f"{'side':58} {'median':>8} {'min':>8} {'max':>8}")
    for key, label in rows:
        v = times[key]
        print(f"{label:58} {med[key] * 1e3:8.0f} {min(v) * 1e3:8.0f} {max(v) * 1e3:8.0f}")
    sep = med["separate_nocache"]
    print(f"{n} separate requests / 1 request with tests (cache off): "
          f"{sep / med['tests_nocache']:.2f}")
    print(f"{n} separate requests / 1 request with tests (cache on, first): "
          f"{sep / med['tests_cache']:.2f}")
    print(f"second request: cache off / cache on: "
          f"{med['again_nocache'] / med['again_cache']:.2f}")
    print(f"first request: cache off / cache on: "
          f"{med['tests_nocache'] / med['tests_cache']:.2f}")
    print(f"{n} separate requests: cache off / cache on: "
          f"{sep / med['separate_cache']:.2f}")


if __name__ == "__main__":
    main()
