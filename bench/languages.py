#!/usr/bin/env python3
"""Compile and run of hello world per language: safexec against the bare
toolchain, side by side in one run.

    bench/languages.py [--bin build/safexec] [--runtimes DIR] [--budget S]
                       [--slice S] [--http] [--no-version] [--raw FILE]
                       [LANGUAGE...]

For each runtime file (runtimes/*.conf, or --runtimes; LANGUAGE globs pick
some) whose programs are installed and which has no root of its own, with
the runtime's own `hello` program:

  safexec   `safexec run --language NAME FILE`: the version probe, the
            compile stage and the run stage, each in a sandbox of its own
            (a sandbox for the run alone where the language is not compiled);
  bare      the runtime file's compile command, then its run command, run
            directly on the host in a fresh directory of a tmpfs (/dev/shm)
            standing for /box, with the sandbox's environment (PATH,
            HOME, LANG, TMPDIR and the runtime's env), /box and /tmp in
            commands and values replaced by that directory and by a fresh
            directory per stage, the placeholders filled in as safexec
            fills them ({memory_bytes}: the stage's default limit);
  version   (unless --no-version) the runtime's version command run bare the
            same way: what `safexec run` runs first, in a sandbox, to probe
            the language;
  http      (with --http) `POST /api/v1/execute` of the same program to a
            `safexec serve` this script starts on a loopback port, over one
            kept-alive connection: both stages' sandboxes without the
            process start and the version probe of `safexec run` (the
            server probes once, as it starts).

The commands are started the same way (posix_spawn from this process,
output to a file) and must print "Hello World" and exit 0.  Rounds go over
every language in a rotating order; each round gives each language a slice
of about --slice seconds of "pairs" (one run of every side), the order of
the sides reversed from one pair to the next, so that a shared machine's
noise falls on all sides alike.  Rounds continue until --budget seconds
have gone (after two pairs per language to warm the page cache).  Reports,
per language: the medians and p90s, the sandbox's share (safexec - bare) /
bare of the medians against the 25% target, the median of the per-pair
differences safexec - bare, the http side's median and share, and the
version command's median.  A failure while warming up stops the script; a
failure later (a compile over its time limit on a loaded machine) is
counted, reported, and its pair left out.

Run as root (the sandbox then uses cgroups, as in production).  Python 3
standard library only.
"""
import argparse
import fnmatch
import glob
import http.client
import json
import os
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
EXPECTED = b"Hello World\n"
TARGET = 0.25

# The sandbox's own environment (src/sandbox/run.c, make_envp()).
BASE_ENV = ["PATH=/usr/local/bin:/usr/bin:/bin", "HOME=/box", "LANG=C.UTF-8", "TMPDIR=/tmp"]
# Stage limits safexec run uses unless the runtime file says otherwise
# (src/sandbox/sandbox.h SBX_DEFAULT_MEMORY, src/runtime/runtime.h).
RUN_MEMORY = 128 << 20
COMPILE_MEMORY = 512 << 20


# ---- runtime files, read as src/runtime/runtime.c reads them ----------------

def parse_size(v):
    m = re.fullmatch(r"(\d+)(?:([kKmMgG])(iB|ib|[bB])?|[bB])?", v)
    if not m:
        raise ValueError(f"not a size: {v}")
    return int(m.group(1)) << {"k": 10, "m": 20, "g": 30}.get((m.group(2) or "").lower(), 0)


def split_words(s):
    """Spaces separate, double quotes group, \\" and \\\\ inside them."""
    words, i, n = [], 0, len(s)
    while i < n:
        while i < n and s[i] == " ":
            i += 1
        if i == n:
            break
        w, quoted = [], False
        while i < n and (quoted or s[i] != " "):
            if s[i] == '"':
                quoted = not quoted
                i += 1
            elif quoted and s[i] == "\\" and i + 1 < n and s[i + 1] in '"\\':
                w.append(s[i + 1])
                i += 2
            else:
                w.append(s[i])
                i += 1
        words.append("".join(w))
    return words


def unescape(v):
    out, i = [], 0
    while i < len(v):
        if v[i] == "\\" and i + 1 < len(v):
            c = v[i + 1]
            out.append("\n" if c == "n" else "\t" if c == "t" else c)
            i += 2
        else:
            out.append(v[i])
            i += 1
    return "".join(out)


def load_runtimes(dirs):
    rts = {}
    for d in dirs.split(":"):
        for path in sorted(glob.glob(os.path.join(d, "*.conf"))):
            if os.path.basename(path).startswith("."):
                continue
            rt = {"env": [], "file": path}
            for line in open(path, encoding="utf-8"):
                line = line.strip(" \t\r\n")
                if not line or line.startswith("#"):
                    continue
                key, _, v = line.partition("=")
                key, v = key.strip(), v.strip(" \t")
                if len(v) >= 2 and v[0] == '"' and v[-1] == '"':
                    v = v[1:-1]
                if key == "env":
                    rt["env"].append(v)
                else:
                    rt[key] = v
            rts[rt["name"]] = rt
    return rts


def expand(words, file, memory):
    stem = file[:file.rindex(".")] if "." in file[1:] else file
    vals = {"{file}": file, "{stem}": stem, "{memory_bytes}": str(memory),
            "{memory_mib}": str(memory >> 20)}
    return [re.sub(r"\{(file|stem|memory_bytes|memory_mib)\}", lambda m: vals[m.group(0)], w)
            for w in words]


def to_host(s, box, tmp):
    """/box and /tmp to their bare stand-ins where they start a path: at the
    start of a word, after = : , or @, or after a short option (-Fu/box)."""
    def repl(m):
        before = s[:m.start()]
        word = re.split(r"\s", before)[-1]
        if (not before or before[-1] in " \t=:,@" or re.fullmatch(r"-\w{1,3}", word)):
            return box if m.group(1) == "box" else tmp
        return m.group(0)
    return re.sub(r"/(box|tmp)(?=/|$|[\s:=,;])", repl, s)


class Lang:
    def __init__(self, rt):
        self.name = rt["name"]
        self.source = rt["source_file"]
        self.hello = unescape(rt.get("hello", ""))
        self.compile = split_words(rt["compile"]) if "compile" in rt else None
        self.run = split_words(rt["run"])
        self.version = split_words(rt["version"])
        self.run_mem = parse_size(rt["memory_bytes"]) if "memory_bytes" in rt else RUN_MEMORY
        self.compile_mem = (parse_size(rt["compile_memory_bytes"])
                            if "compile_memory_bytes" in rt else COMPILE_MEMORY)
        env = {}
        for e in BASE_ENV + rt["env"]:
            k, _, v = e.partition("=")
            env[k] = v
        self.env = env

    def stage(self, words, memory, box, tmp):
        argv = [to_host(w, box, tmp) for w in expand(words, self.source, memory)]
        env = {k: to_host(v, box, tmp) for k, v in self.env.items()}
        return argv, env


# ---- running ------------------------------------------------------------------

def spawn(argv, env, cwd, out_path):
    """Runs argv in cwd with env, stdin /dev/null, stdout and stderr to files;
    returns (milliseconds, exit status)."""
    null = os.open(os.devnull, os.O_RDONLY)
    out = os.open(out_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    err = os.open(out_path + ".err", os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    old = os.getcwd()
    os.chdir(cwd)
    try:
        t0 = time.perf_counter_ns()
        pid = os.posix_spawn(argv[0], argv, env, file_actions=[
            (os.POSIX_SPAWN_DUP2, null, 0), (os.POSIX_SPAWN_DUP2, out, 1),
            (os.POSIX_SPAWN_DUP2, err, 2)])
        _, status = os.waitpid(pid, 0)
        t1 = time.perf_counter_ns()
    finally:
        os.chdir(old)
        for fd in (null, out, err):
            os.close(fd)
    return (t1 - t0) / 1e6, os.waitstatus_to_exitcode(status)


class Failed(Exception):
    pass


def failed(what, argv, code, out_path):
    err = open(out_path + ".err", "rb").read()[-2000:].decode(errors="replace")
    out = open(out_path, "rb").read()[-500:]
    raise Failed(f"{what} failed (status {code}): {' '.join(argv)}\nstdout: {out!r}\n{err}")


class Bench:
    def __init__(self, args, scratch):
        self.bin = os.path.abspath(args.bin)
        self.runtimes = os.path.abspath(args.runtimes)
        self.scratch = scratch
        self.n = 0

    def fresh(self, what):
        self.n += 1
        d = os.path.join(self.scratch, f"{what}-{self.n}")
        os.mkdir(d)
        return d

    def bare(self, lang):
        """The compile command then the run command, as the sandbox would."""
        box = self.fresh("box")
        out = os.path.join(self.scratch, "bare.out")
        with open(os.path.join(box, lang.source), "w", encoding="utf-8") as f:
            f.write(lang.hello)
        total = 0.0
        tmps = []
        if lang.compile:
            tmps.append(self.fresh("tmp"))
            argv, env = lang.stage(lang.compile, lang.compile_mem, box, tmps[-1])
            ms, code = spawn(argv, env, box, out)
            if code != 0:
                failed(f"{lang.name}: bare compile", argv, code, out)
            total += ms
        tmps.append(self.fresh("tmp"))
        argv, env = lang.stage(lang.run, lang.run_mem, box, tmps[-1])
        ms, code = spawn(argv, env, box, out)
        if code != 0 or open(out, "rb").read() != EXPECTED:
            failed(f"{lang.name}: bare run", argv, code, out)
        total += ms
        for d in [box] + tmps:
            shutil.rmtree(d)
        return total

    def version(self, lang):
        box, tmp = self.fresh("box"), self.fresh("tmp")
        out = os.path.join(self.scratch, "version.out")
        argv, env = lang.stage(lang.version, lang.compile_mem, box, tmp)
        ms, code = spawn(argv, env, box, out)
        if code != 0:
            failed(f"{lang.name}: version", argv, code, out)
        shutil.rmtree(box)
        shutil.rmtree(tmp)
        return ms

    def http(self, lang):
        body = json.dumps({"language": lang.name, "code": lang.hello})
        t0 = time.perf_counter_ns()
        self.conn.request("POST", "/api/v1/execute", body,
                          {"Content-Type": "application/json"})
        resp = self.conn.getresponse()
        data = resp.read()
        t1 = time.perf_counter_ns()
        ans = json.loads(data) if resp.status == 200 else {}
        if ans.get("status") != "ok" or ans.get("stdout") != EXPECTED.decode():
            raise Failed(f"{lang.name}: http failed ({resp.status}): "
                         f"{ans.get('status')} {ans.get('message')} {data[:300]!r}")
        return (t1 - t0) / 1e6

    def start_server(self):
        s = socket.socket()
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
        s.close()
        data = os.path.join(self.scratch, "serve")
        self.server = subprocess.Popen(
            [self.bin, "serve", "--listen", f"127.0.0.1:{port}", "--data-dir", data,
             "--no-log", "--runtimes", self.runtimes],
            stdout=subprocess.DEVNULL, stderr=open(os.path.join(self.scratch, "serve.log"), "w"))
        for _ in range(300):
            try:
                self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
                self.conn.request("GET", "/healthz")
                if self.conn.getresponse().read():
                    return
            except OSError:
                time.sleep(0.1)
        sys.exit("bench: the server did not start: " +
                 open(os.path.join(self.scratch, "serve.log")).read())

    def safexec(self, lang):
        out = os.path.join(self.scratch, "safexec.out")
        src = os.path.join(self.scratch, "src", lang.source)
        argv = [self.bin, "run", "--language", lang.name, src]
        env = {"PATH": "/usr/bin:/bin", "SAFEXEC_RUNTIMES": self.runtimes}
        ms, code = spawn(argv, env, self.scratch, out)
        if code != 0 or open(out, "rb").read() != EXPECTED:
            failed(f"{lang.name}: safexec", argv, code, out)
        return ms


def pct(sorted_vals, p):
    return sorted_vals[min(len(sorted_vals) - 1, int(p * len(sorted_vals)))]


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--bin", default=os.path.join(ROOT, "build/safexec"))
    ap.add_argument("--runtimes", default=os.path.join(ROOT, "runtimes"),
                    help="the runtime files, for both sides (SAFEXEC_RUNTIMES for safexec)")
    ap.add_argument("--budget", type=float, default=480,
                    help="seconds of measurement rounds (default 480)")
    ap.add_argument("--slice", type=float, default=0.5,
                    help="seconds of pairs per language per round (default 0.5; at least one pair)")
    ap.add_argument("--max-rounds", type=int, default=1000)
    ap.add_argument("--http", action="store_true",
                    help="also time POST /api/v1/execute to a safexec serve")
    ap.add_argument("--no-version", action="store_true",
                    help="do not time the version command")
    ap.add_argument("--raw", help="write every time measured to this JSON file")
    ap.add_argument("languages", nargs="*", help="names or globs (default: all)")
    args = ap.parse_args()

    if not os.access(args.bin, os.X_OK):
        sys.exit(f"bench: {args.bin} is not built (make)")
    rts = load_runtimes(args.runtimes)
    names = [n for n in sorted(rts)
             if not args.languages or any(fnmatch.fnmatch(n, g) for g in args.languages)]
    if not names:
        sys.exit("bench: no such language")
    langs = []
    for n in names:
        lang = Lang(rts[n])
        # As safexec decides what it offers: the commands' programs there.
        missing = [w[0] for w in (lang.compile, lang.run, lang.version)
                   if w and not w[0].startswith("/box/") and not os.access(w[0], os.X_OK)]
        if missing or "root" in rts[n]:
            print(f"bench: {n}: skipped: " + (f"{missing[0]} is not installed" if missing else
                                               "a root of its own has no bare side here"),
                  file=sys.stderr)
            continue
        langs.append(lang)
    if not langs:
        sys.exit("bench: no language to measure")

    base = "/dev/shm" if os.path.isdir("/dev/shm") else None
    scratch = tempfile.mkdtemp(prefix="safexec-bench-", dir=base)
    os.chmod(scratch, 0o755)
    os.mkdir(os.path.join(scratch, "src"))
    for lang in langs:
        with open(os.path.join(scratch, "src", lang.source), "w", encoding="utf-8") as f:
            f.write(lang.hello)
    b = Bench(args, scratch)
    # A stop by kill still removes the scratch directory.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit("bench: stopped"))
    sides = (["bare", "safexec"] + (["http"] if args.http else []) +
             ([] if args.no_version else ["version"]))
    b.server = None
    if args.http:
        b.start_server()
    times = {l.name: {s: [] for s in sides} for l in langs}
    pairs = {l.name: 0 for l in langs}
    # A run that fails once measuring has begun (a compile over its time
    # limit on a loaded machine, say) is counted and reported, its pair
    # left out; a failure while warming up is a mistake and stops the run.
    failures = {l.name: [] for l in langs}

    try:
        # Warm the page cache; the second pair estimates a pair's time.
        est = {}
        for lang in langs:
            for _ in range(2):
                t = sum(getattr(b, s)(lang) for s in sides)
            est[lang.name] = t / 1000
            print(f"bench: {lang.name}: warm, {t:.0f} ms a round of the sides", file=sys.stderr)
        k = {n: max(1, round(args.slice / est[n])) for n in est}

        start = time.monotonic()
        rounds = 0
        last = 0.0
        while rounds < args.max_rounds and (
                rounds == 0 or time.monotonic() - start + last <= args.budget):
            r0 = time.monotonic()
            order = langs[rounds % len(langs):] + langs[:rounds % len(langs)]
            for lang in order:
                for i in range(k[lang.name]):
                    seq = sides if (rounds + i) % 2 == 0 else sides[::-1]
                    got = {}
                    try:
                        for s in seq:
                            got[s] = getattr(b, s)(lang)
                    except Failed as e:
                        failures[lang.name].append(str(e))
                        print(f"bench: {e}", file=sys.stderr)
                        continue
                    for s in seq:
                        times[lang.name][s].append(got[s])
                    pairs[lang.name] += 1
            rounds += 1
            last = time.monotonic() - r0
            print(f"bench: round {rounds} in {last:.1f} s", file=sys.stderr)
        elapsed = time.monotonic() - start
    except Failed as e:
        sys.exit(f"bench: while warming up: {e}")
    finally:
        if b.server:
            b.server.terminate()
            b.server.wait()
        shutil.rmtree(scratch, ignore_errors=True)
        if args.raw:
            with open(args.raw, "w") as f:
                json.dump({"times": times, "failures": failures}, f)

    print(f"{rounds} rounds in {elapsed:.0f} s, {os.cpu_count()} CPUs, uid {os.geteuid()}, "
          f"load {os.getloadavg()[0]:.1f}; times in ms")
    head = (f"{'language':12} {'pairs':>5} {'bare':>8} {'p90':>8} {'safexec':>8} {'p90':>8} "
            f"{'share':>7} {'paired':>8}")
    if args.http:
        head += f" {'http':>8} {'p90':>8} {'share':>7}"
    if not args.no_version:
        head += f" {'version':>8}"
    print(head)
    meet, miss = [], []
    for lang in langs:
        t = times[lang.name]
        if not t["bare"]:
            print(f"{lang.name:12} no pair measured ({len(failures[lang.name])} failed)")
            miss.append(f"{lang.name} (not measured)")
            continue
        bs, ss = sorted(t["bare"]), sorted(t["safexec"])
        bm, sm = statistics.median(bs), statistics.median(ss)
        share = (sm - bm) / bm
        diff = statistics.median(s - b_ for s, b_ in zip(t["safexec"], t["bare"]))
        line = (f"{lang.name:12} {pairs[lang.name]:5d} {bm:8.1f} {pct(bs, .9):8.1f} "
                f"{sm:8.1f} {pct(ss, .9):8.1f} {share:+7.0%} {diff:8.1f}")
        if args.http:
            hs = sorted(t["http"])
            hm = statistics.median(hs)
            line += f" {hm:8.1f} {pct(hs, .9):8.1f} {(hm - bm) / bm:+7.0%}"
        if not args.no_version:
            line += f" {statistics.median(t['version']):8.1f}"
        if failures[lang.name]:
            line += f"  ({len(failures[lang.name])} failed, left out)"
        print(line)
        (meet if share <= TARGET else miss).append(f"{lang.name} {share:+.0%}")
    print(f"at most {TARGET:.0%}: {', '.join(meet) or 'none'}")
    print(f"over {TARGET:.0%}: {', '.join(miss) or 'none'}")


if __name__ == "__main__":
    main()
