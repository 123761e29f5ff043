#!/usr/bin/env python3
"""The cost of returning a 1 MiB file against returning none, side by side
in one run, through `safexec run` and over HTTP.

    bench/files.py [--bin build/safexec] [--rounds N] [--size BYTES]

Three programs, the same but for where their file goes, each run in a
fresh sandbox:

  off       no output directory; the program writes SIZE bytes (1 MiB) of
            random data to /tmp, where nothing comes back;
  empty     an output directory (`--collect-out`, `"output_files": true`)
            left empty; the program writes the same bytes to /tmp;
  1 MiB     an output directory holding the program's file of SIZE bytes,
            which comes back: read by the sandbox's init, checked by the
            supervisor, in base64 in the JSON answer (and, over HTTP, kept
            in the history, whose history_files_max is 1 MiB by default).

Through the command line: `safexec run --json [--collect-out] prog.py`,
its output (the JSON answer) read to the end.  Over HTTP: one `safexec
serve` on a loopback port with a temporary data directory and no
JSON-lines log, one kept-alive connection, POST /api/v1/execute, the
answer read and parsed.  Each round runs the six in an order that rotates
from round to round, so that a shared machine's noise falls on all of them
alike.  Every answer is checked (status ok; the file, its size and bytes,
or no file).  Reports each side's median and 90th percentile, and against
"off" of the same path the median of the per-round differences and the
ratio of the medians.  No figure is checked against a target: the script
only measures.  Run as root (the sandbox then uses cgroups, as in
production).  Python 3 standard library only.
"""
import argparse
import base64
import hashlib
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

# The same work on every side: SIZE random bytes written to a file, in
# /box/out ($SAFEXEC_OUT) for "1 MiB", else in /tmp; the sha256 printed.
PROGRAM = """import hashlib, os, sys
data = os.urandom(%d)
where = os.environ["SAFEXEC_OUT"] if sys.argv[1:] == ["out"] else "/tmp"
with open(where + "/data.bin", "wb") as f:
    f.write(data)
print(hashlib.sha256(data).hexdigest())
"""

SIDES = ("off", "empty", "1 MiB")


def check(ans, side, size, what):
    if ans.get("status") != "ok":
        sys.exit(f"bench: {what} {side}: status {ans.get('status')}: {str(ans)[:300]}")
    files = ans.get("files", ans.get("out_files"))
    digest = ans.get("stdout", "").strip()
    if side == "off":
        if files:
            sys.exit(f"bench: {what} off: files returned")
        return
    if side == "empty":
        if files != []:
            sys.exit(f"bench: {what} empty: files {str(files)[:100]}")
        return
    if not files or len(files) != 1:
        sys.exit(f"bench: {what} 1 MiB: files {str(files)[:200]}")
    f = files[0]
    data = base64.b64decode(f.get("content", f.get("content_base64", "")))
    if f.get("size") != size or len(data) != size or hashlib.sha256(data).hexdigest() != digest:
        sys.exit(f"bench: {what} 1 MiB: the file came back other than written")


class Server:
    def __init__(self, binary, scratch):
        s = socket.socket()
        s.bind(("127.0.0.1", 0))
        self.port = s.getsockname()[1]
        s.close()
        self.log = os.path.join(scratch, "serve.log")
        self.proc = subprocess.Popen(
            [binary, "serve", "--listen", f"127.0.0.1:{self.port}",
             "--data-dir", os.path.join(scratch, "data"), "--no-log"],
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
        sys.exit("bench: the server did not start: " + open(self.log).read())

    def execute(self, body):
        self.conn.request("POST", "/api/v1/execute", json.dumps(body).encode(),
                          {"Content-Type": "application/json"})
        resp = self.conn.getresponse()
        raw = resp.read()
        if resp.status != 200:
            sys.exit(f"bench: HTTP {resp.status}: {raw[:300]!r}")
        return json.loads(raw), len(raw)

    def stop(self):
        self.proc.terminate()
        self.proc.wait()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", default="build/safexec")
    ap.add_argument("--rounds", type=int, default=60)
    ap.add_argument("--size", type=int, default=1 << 20)
    args = ap.parse_args()
    binary = os.path.abspath(args.bin)
    scratch = tempfile.mkdtemp(prefix="safexec-bench-files-")
    os.chmod(scratch, 0o755)
    prog = os.path.join(scratch, "prog.py")
    with open(prog, "w") as f:
        f.write(PROGRAM % args.size)
    code = PROGRAM % args.size

    def cli(side):
        argv = [binary, "run", "--json"] + (["--collect-out"] if side != "off" else [])
        argv += [prog] + (["--", "out"] if side == "1 MiB" else [])
        t0 = time.perf_counter()
        p = subprocess.run(argv, stdout=subprocess.PIPE, stdin=subprocess.DEVNULL)
        t = (time.perf_counter() - t0) * 1000
        if p.returncode != 0:
            sys.exit(f"bench: safexec run {side}: exit {p.returncode}")
        return t, json.loads(p.stdout), len(p.stdout)

    server = Server(binary, scratch)

    def http_(side):
        body = {"code": code}
        if side != "off":
            body["output_files"] = True
        if side == "1 MiB":
            body["args"] = ["out"]
        t0 = time.perf_counter()
        ans, n = server.execute(body)
        return (time.perf_counter() - t0) * 1000, ans, n

    runs = [("safexec run", s, cli) for s in SIDES] + [("HTTP", s, http_) for s in SIDES]
    times = {(p, s): [] for p, s, _ in runs}
    sizes = {}
    try:
        for p, s, fn in runs:                   # warm up, and check each once
            for _ in range(3):
                _, ans, n = fn(s)
                check(ans, s, args.size, p)
                sizes[(p, s)] = n
        for r in range(args.rounds):
            order = runs[r % len(runs):] + runs[:r % len(runs)]
            for p, s, fn in order:
                t, ans, _ = fn(s)
                check(ans, s, args.size, p)
                times[(p, s)].append(t)
    finally:
        server.stop()
        shutil.rmtree(scratch, ignore_errors=True)

    print(f"{args.rounds} rounds, {os.cpu_count()} CPUs, uid {os.geteuid()}, file of {args.size} bytes")
    print(f"{'path':12} {'side':6} {'answer':>10} {'median ms':>10} {'p90 ms':>8} "
          f"{'paired diff ms':>15} {'vs off':>8}")
    for p, s, _ in runs:
        t = sorted(times[(p, s)])
        med = statistics.median(t)
        p90 = t[int(0.9 * (len(t) - 1))]
        base = times[(p, "off")]
        diff = statistics.median(b - a for a, b in zip(base, times[(p, s)]))
        ratio = med / statistics.median(base)
        print(f"{p:12} {s:6} {sizes[(p, s)]:>10} {med:>10.2f} {p90:>8.2f} {diff:>15.2f} "
              f"{ratio:>8.3f}")


if __name__ == "__main__":
    main()
