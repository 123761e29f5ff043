#!/usr/bin/env python3
"""Warm starts against cold ones and bare python3, side by side, in one run.

    bench/warm.py [--bin build/safexec] [--rounds 6] [--slice 4] [--shell-runs 40]

Needs hey (Debian package `hey`); run as root on an otherwise idle machine.
Starts three servers on loopback ports with temporary data directories:
cold (default workers), warm (`--warm python`, default workers) and warm
with 8 workers.  Then alternates, ROUNDS times, in a rotating order:

  shell   SHELL-RUNS each of bare `python3 hello.py`, `safexec run
          hello.py` and `safexec run --warm hello.py` (a zygote per
          invocation: what --warm costs alone), one at a time;
  c1      `POST /run` hello world by hey at concurrency 1 for SLICE s
          against each server;
  c8      the same at concurrency 8, and bare `python3 hello.py` launched
          8 at a time for SLICE s.

hello.py is `print("Hello World")`.  Bare python3 runs as the sandbox runs
it: `python3 -E -s -u hello.py` with a sandboxed program's environment.  Prints medians (shell, latencies) and
runs/s over all slices, each against the bare figure of the same run, and
the issue's targets beside them.  Every answer must be a 200 with status ok:
any other ends the benchmark.
"""

import argparse
import json
import os
import re
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request

PYTHON = "/usr/bin/python3"	# not a pyenv shim, which costs more than Python
HELLO = 'print("Hello World")\n'
BODY = json.dumps({"code": HELLO})
# Bare python3 as the sandbox runs it: the same flags, the environment of a
# sandboxed program (the caller's PYTHON* variables and user site would
# make it slower, and the comparison kinder to safexec than it is).
BARE_FLAGS = ["-E", "-s", "-u"]
BARE_ENV = {"PATH": "/usr/local/bin:/usr/bin:/bin", "LANG": "C.UTF-8", "HOME": "/nonexistent"}


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


class Server:
    def __init__(self, binary, tmp, name, *args):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = open(os.path.join(tmp, f"server-{name}.log"), "w")
        self.p = subprocess.Popen([binary, "serve", "--listen", f"127.0.0.1:{self.port}",
                                   "--data-dir", os.path.join(tmp, "data-" + name),
                                   "--log", "", "--queue", "256", *args],
                                  stdout=self.log, stderr=subprocess.STDOUT)
        for _ in range(200):
            try:
                urllib.request.urlopen(self.url + "/healthz", timeout=1).read()
                break
            except OSError:
                time.sleep(0.05)
        else:
            sys.exit(f"bench: server {name} did not start")
        self.run_once()

    def run_once(self):
        req = urllib.request.Request(self.url + "/run", data=BODY.encode(),
                                     headers={"Content-Type": "application/json"})
        d = json.loads(urllib.request.urlopen(req, timeout=30).read())
        if d.get("status") != "ok" or d.get("output") != "Hello World\n":
            sys.exit(f"bench: unexpected answer {d}")

    def metric(self, name):
        text = urllib.request.urlopen(self.url + "/metrics", timeout=5).read().decode()
        m = re.search(rf"^{name} (\S+)$", text, re.M)
        return float(m.group(1)) if m else 0.0

    def stop(self):
        self.p.terminate()
        self.p.wait()


def hey(url, conc, seconds):
    out = subprocess.run(["hey", "-z", f"{seconds}s", "-c", str(conc), "-m", "POST",
                          "-T", "application/json", "-d", BODY, url + "/run"],
                         capture_output=True, text=True, check=True).stdout
    codes = dict((int(c), int(n)) for c, n in re.findall(r"\[(\d+)\]\s+(\d+) responses", out))
    if set(codes) != {200} or "Error distribution" in out:
        sys.exit(f"bench: answers other than 200 at {url}:\n{out}")
    n = codes[200]
    p50 = float(re.search(r"50% in ([\d.]+) secs", out).group(1)) * 1000
    # hey prints no 99% line for too few answers: its slowest then.
    m = re.search(r"99% in ([\d.]+) secs", out) or re.search(r"Slowest:\s+([\d.]+) secs", out)
    p99 = float(m.group(1)) * 1000
    return n, seconds, p50, p99


def bare_parallel(hello, conc, seconds):
    lat, lock = [], threading.Lock()
    end = time.monotonic() + seconds

    def loop():
        while time.monotonic() < end:
            t0 = time.monotonic()
            out = subprocess.run([PYTHON, *BARE_FLAGS, hello], stdout=subprocess.PIPE,
                                 env=BARE_ENV, check=True).stdout
            assert out == b"Hello World\n"
            with lock:
                lat.append(time.monotonic() - t0)
    start = time.monotonic()
    ts = [threading.Thread(target=loop) for _ in range(conc)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    lat.sort()
    return len(lat), time.monotonic() - start, lat[len(lat) // 2] * 1000, \
        lat[min(len(lat) - 1, int(0.99 * len(lat)))] * 1000


def timed(cmd, env=None):
    t0 = time.monotonic()
    out = subprocess.run(cmd, stdout=subprocess.PIPE, env=env, check=True).stdout
    t = time.monotonic() - t0
    assert out == b"Hello World\n", (cmd, out)
    return t * 1000


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", default="build/safexec")
    ap.add_argument("--rounds", type=int, default=6)
    ap.add_argument("--slice", type=int, default=4)
    ap.add_argument("--shell-runs", type=int, default=40)
    a = ap.parse_args()
    binary = os.path.abspath(a.bin)
    tmp = tempfile.mkdtemp(prefix="bench-warm-")
    hello = os.path.join(tmp, "hello.py")
    with open(hello, "w") as f:
        f.write(HELLO)
    ncpu = os.cpu_count()
    print(f"bench: {ncpu} CPUs, load {os.getloadavg()[0]:.2f}; {a.rounds} rounds, "
          f"slices of {a.slice} s, {a.shell_runs} shell runs of each per round")
    servers = {
        "cold": Server(binary, tmp, "cold"),
        "warm": Server(binary, tmp, "warm", "--warm", "python"),
        "warm8": Server(binary, tmp, "warm8", "--warm", "python", "--workers", "8"),
    }
    shell = {"bare": [], "cold": [], "warm": []}
    shell_cmd = {"bare": [PYTHON, *BARE_FLAGS, hello], "cold": [binary, "run", hello],
                 "warm": [binary, "run", "--warm", hello]}
    c1 = {k: [] for k in servers}
    c8 = {k: [] for k in list(servers) + ["bare"]}
    try:
        for r in range(a.rounds):
            for _ in range(a.shell_runs):
                names = list(shell)
                names = names[r % 3:] + names[:r % 3]
                for n in names:
                    shell[n].append(timed(shell_cmd[n], BARE_ENV if n == "bare" else None))
            order = list(servers)
            order = order[r % 3:] + order[:r % 3]
            for n in order:
                c1[n].append(hey(servers[n].url, 1, a.slice))
            for n in order + ["bare"]:
                c8[n].append(bare_parallel(hello, 8, a.slice) if n == "bare"
                             else hey(servers[n].url, 8, a.slice))
            print(f"bench: round {r + 1} of {a.rounds} done", file=sys.stderr)
        warm_runs = {n: servers[n].metric("safexec_warm_runs_total") for n in servers}
        fallbacks = {n: servers[n].metric("safexec_warm_fallbacks_total") for n in servers}
    finally:
        for s in servers.values():
            s.stop()

    med = {n: statistics.median(v) for n, v in shell.items()}
    print("\nFrom the shell, one at a time (medians of "
          f"{len(shell['bare'])} runs each)")
    print("| command | median | vs bare |\n| --- | --- | --- |")
    for n, label in (("bare", "`python3 -E -s -u hello.py`"), ("cold", "`safexec run hello.py`"),
                     ("warm", "`safexec run --warm hello.py` (a zygote per run)")):
        print(f"| {label} | {med[n]:.2f} ms | {med[n] / med['bare']:.2f}x |")

    p50 = {n: statistics.median(x[2] for x in v) for n, v in c1.items()}
    print("\nHTTP, concurrency 1: POST /run hello world (median of the slices' p50)")
    print("| server | p50 | p99 | vs one bare `python3 hello.py` |\n| --- | --- | --- | --- |")
    for n in servers:
        p99 = statistics.median(x[3] for x in c1[n])
        print(f"| {n} | {p50[n]:.2f} ms | {p99:.2f} ms | {p50[n] / med['bare']:.2f}x |")

    rps = {n: sum(x[0] for x in v) / sum(x[1] for x in v) for n, v in c8.items()}
    print("\nHTTP, concurrency 8 (runs/s over all slices; bare: python3 hello.py 8 at a time)")
    print("| side | runs/s | p50 | vs bare |\n| --- | --- | --- | --- |")
    for n in list(servers) + ["bare"]:
        p = statistics.median(x[2] for x in c8[n])
        print(f"| {n} | {rps[n]:.1f} | {p:.1f} ms | {rps[n] / rps['bare']:.2f}x |")

    print("\nTargets (issue): warm c8 >= 3x bare: "
          f"{max(rps['warm'], rps['warm8']) / rps['bare']:.2f}x; warm c1 p50 <= 0.5x one bare run: "
          f"{min(p50['warm'], p50['warm8']) / med['bare']:.2f}x; cold shell <= 1.25x: "
          f"{med['cold'] / med['bare']:.2f}x; cold HTTP c8 >= 0.8x: {rps['cold'] / rps['bare']:.2f}x")
    print(f"warm runs counted: {warm_runs}; fallbacks to cold: {fallbacks}")


if __name__ == "__main__":
    main()
