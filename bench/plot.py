#!/usr/bin/env python3
"""The run time of a trivial matplotlib plot in the sandbox, side by side
in one run: with the font list `safexec serve` builds once as it starts,
and with the one a run builds for itself (`safexec run`, which builds
none), next to hello world.

    bench/plot.py [--bin build/safexec] [--rounds N]

Sides, interleaved round by round in a rotating order:

  hello, HTTP           print('Hello World'), POST /api/v1/execute
  plot, HTTP            import matplotlib.pyplot, one line, savefig of a
                        PNG into /box/out, with "output_files": true: the
                        font list built once by the server
  plot, safexec run     the same program, `safexec run --json
                        --collect-out`: the run builds its own font list

Every answer is checked (status ok, stderr empty, one PNG back).  Reports
the median and 90th percentile of the run's own wall_time_ms (the
sandbox's clock, from its start to its end) and of the client's (the
request or the command, from start to answer read).  Needs Debian's
python3-matplotlib.  Run as root.  Python 3 standard library only.
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

PLOT = ("import matplotlib.pyplot as plt\n"
        "plt.plot([1, 2, 3], [1, 4, 9])\n"
        "plt.savefig('out/plot.png')\n")
HELLO = "print('Hello World')\n"


def check(ans, plot, what):
    files = ans.get("files", ans.get("out_files"))
    if ans.get("status") != "ok" or ans.get("stderr"):
        sys.exit(f"bench: {what}: status {ans.get('status')}, stderr {ans.get('stderr', '')[-300:]!r}")
    if plot and [f["name"] for f in files or []] != ["plot.png"]:
        sys.exit(f"bench: {what}: files {files!r:.200}")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", default="build/safexec")
    ap.add_argument("--rounds", type=int, default=20)
    args = ap.parse_args()
    binary = os.path.abspath(args.bin)
    scratch = tempfile.mkdtemp(prefix="safexec-bench-plot-")
    os.chmod(scratch, 0o755)
    prog = os.path.join(scratch, "plot.py")
    with open(prog, "w") as f:
        f.write(PLOT)

    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    log = os.path.join(scratch, "serve.log")
    server = subprocess.Popen([binary, "serve", "--listen", f"127.0.0.1:{port}", "--data-dir",
                               os.path.join(scratch, "data"), "--no-log"],
                              stdout=subprocess.DEVNULL, stderr=open(log, "w"))
    conn = None
    for _ in range(300):
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
            conn.request("GET", "/healthz")
            conn.getresponse().read()
            break
        except OSError:
            time.sleep(0.1)
    else:
        server.terminate()
        sys.exit("bench: the server did not start: " + open(log).read())

    def http_(code, plot):
        def run():
            body = {"code": code, "output_files": True} if plot else {"code": code}
            t0 = time.perf_counter()
            conn.request("POST", "/api/v1/execute", json.dumps(body), {"Content-Type": "application/json"})
            ans = json.loads(conn.getresponse().read())
            return (time.perf_counter() - t0) * 1000, ans
        return run

    def cli():
        t0 = time.perf_counter()
        p = subprocess.run([binary, "run", "--json", "--collect-out", prog], stdout=subprocess.PIPE,
                           stdin=subprocess.DEVNULL)
        return (time.perf_counter() - t0) * 1000, json.loads(p.stdout)

    sides = [("hello, HTTP", http_(HELLO, False), False), ("plot, HTTP", http_(PLOT, True), True),
             ("plot, safexec run", cli, True)]
    wall = {n: [] for n, _, _ in sides}
    client = {n: [] for n, _, _ in sides}
    try:
        for n, fn, plot in sides:
            for _ in range(2):
                check(fn()[1], plot, n)
        for r in range(args.rounds):
            for n, fn, plot in sides[r % 3:] + sides[:r % 3]:
                t, ans = fn()
                check(ans, plot, n)
                wall[n].append(ans["wall_time_ms"])
                client[n].append(t)
        with open(log) as f:
            built = [ln.strip() for ln in f if "font list" in ln]
    finally:
        server.terminate()
        server.wait()
        shutil.rmtree(scratch, ignore_errors=True)

    def p90(v):
        return sorted(v)[int(0.9 * (len(v) - 1))]

    print(f"{args.rounds} rounds, {os.cpu_count()} CPUs; the server: {built[0] if built else 'no font list'}")
    print(f"{'side':20} {'run median ms':>14} {'run p90':>8} {'client median ms':>17} {'client p90':>11}")
    for n, _, _ in sides:
        print(f"{n:20} {statistics.median(wall[n]):>14.0f} {p90(wall[n]):>8.0f} "
              f"{statistics.median(client[n]):>17.0f} {p90(client[n]):>11.0f}")


if __name__ == "__main__":
    main()
