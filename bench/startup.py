#!/usr/bin/env python3
"""Start-up cost of one sandboxed run, side by side in one run.

Measures `safexec run hello.py`, bare `python3 hello.py` and bubblewrap
running the same file with a comparable sandbox (read-only /usr, its own
/proc, /dev and /tmp, every namespace, a new session), interleaved: each
round runs all three in a rotating order, so that the noise of a shared
machine falls on all of them alike.  Reports medians, the paired median of
the per-round differences, and the ratios.

    bench/startup.py [--rounds N] [--bin build/safexec]
"""
import argparse
import os
import shutil
import statistics
import sys
import tempfile
import time

PY = "/usr/bin/python3"


def spawn_ns(argv):
    devnull = os.open(os.devnull, os.O_WRONLY)
    t0 = time.perf_counter_ns()
    pid = os.posix_spawn(argv[0], argv, {"PATH": "/usr/bin:/bin"},
                         file_actions=[(os.POSIX_SPAWN_DUP2, devnull, 1)])
    _, status = os.waitpid(pid, 0)
    t1 = time.perf_counter_ns()
    os.close(devnull)
    if os.waitstatus_to_exitcode(status) != 0:
        sys.exit(f"failed: {' '.join(argv)} (status {status})")
    return (t1 - t0) / 1e6


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=200)
    ap.add_argument("--bin", default="build/safexec")
    args = ap.parse_args()

    tmp = tempfile.mkdtemp(prefix="safexec-bench-")
    hello = os.path.join(tmp, "hello.py")
    with open(hello, "w") as f:
        f.write("print('Hello World')\n")
    os.chmod(tmp, 0o755)

    cmds = {
        "python3": [PY, hello],
        "safexec": [os.path.abspath(args.bin), "run", hello],
    }
    bwrap = shutil.which("bwrap")
    if bwrap:
        cmds["bwrap"] = [bwrap, "--ro-bind", "/usr", "/usr",
                         "--symlink", "usr/lib64", "/lib64", "--symlink", "usr/lib", "/lib",
                         "--symlink", "usr/bin", "/bin", "--proc", "/proc", "--dev", "/dev",
                         "--tmpfs", "/tmp", "--ro-bind", hello, "/box/main.py",
                         "--unshare-all", "--die-with-parent", "--new-session",
                         PY, "/box/main.py"]
    else:
        print("bwrap not found (apt-get install bubblewrap): skipping it")

    names = list(cmds)
    times = {n: [] for n in names}
    for n in names:                     # warm the page cache
        for _ in range(5):
            spawn_ns(cmds[n])
    for r in range(args.rounds):
        order = names[r % len(names):] + names[:r % len(names)]
        for n in order:
            times[n].append(spawn_ns(cmds[n]))
    shutil.rmtree(tmp)

    base = statistics.median(times["python3"])
    print(f"{args.rounds} rounds, {os.cpu_count()} CPUs, uid {os.geteuid()}")
    print(f"{'command':10} {'median ms':>10} {'p90 ms':>8} {'vs python3':>11} {'paired diff ms':>15}")
    for n in names:
        t = sorted(times[n])
        med = statistics.median(t)
        p90 = t[int(len(t) * 0.9)]
        diff = statistics.median(a - b for a, b in zip(times[n], times["python3"]))
        print(f"{n:10} {med:10.2f} {p90:8.2f} {med / base - 1:+10.1%} {diff:15.2f}")
    if "bwrap" in times:
        s, b = statistics.median(times["safexec"]), statistics.median(times["bwrap"])
        print(f"safexec / bwrap: {s / b:.2f}")


if __name__ == "__main__":
    main()
