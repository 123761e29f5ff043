#!/usr/bin/env python3
"""End-to-end tests of warm starts for Python (`safexec serve --warm python`).

    tests/e2e/warm.py --bin build/safexec [NAME-GLOB ...]

A warm server runs each eligible Python program in a process forked from a
zygote (`safexec zygote`, a child of the server) that initialised the
interpreter once.  These tests hold it to what a cold run gives: no state
from one run reaches the next, random state is new in each run, the
program sees the same interpreter, arguments, input, exit statuses and
output as a cold run of the same request, every limit and protection
holds, memory is the run's own, the zygote is replaced after its runs or
when it dies or stops answering, and it holds neither the server's
environment nor any request's bytes.

Every run that must be warm is checked to be: `safexec_warm_runs_total`
rose by exactly one and `safexec_warm_fallbacks_total` not at all (a test
passed by the cold fallback would prove nothing); where a zygote is killed,
stopped or replaced, each run counts once, warm or as a fallback, and runs
are warm again soon after.  Comparisons are with a second server without
warm mode.  Both servers have no `python` runtime file (the
built-in Python, which warm mode serves) and Bash's, for a run of another
language.  The server's Server class and helpers come from run.py.

One line per test (`ok   NAME`, `FAIL NAME: why`, `skip NAME: why`), then
"N passed, N failed" (", N skipped"); exit status 1 when anything failed.
Python 3 standard library only.
"""
import argparse
import concurrent.futures as futures
import fnmatch
import hashlib
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import run as E  # noqa: E402  (the e2e suite: Server, Fail, Skip, check, eq, ...)

Fail, Skip, check, eq = E.Fail, E.Skip, E.check, E.eq
HELLO = E.HELLO
ROOT = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))

WARM = "safexec_warm_runs_total"
FALLBACK = "safexec_warm_fallbacks_total"
STARTED = "safexec_zygotes_started_total"
COUNTERS = (WARM, FALLBACK, STARTED)
# The fields of an answer that a warm run must give exactly as a cold one:
# all but the id, the times and the memory.
SAME = ("status", "exit_code", "signal", "stdout", "stderr", "output", "stdout_truncated",
        "stderr_truncated", "message", "language", "limits")


# --- Servers, counters, zygotes ----------------------------------------------------

def runtimes_dir():
    """A runtime directory with Bash's file and no Python one: the servers
    run the built-in Python (the runtime warm mode serves) and Bash, a
    language that is never warm."""
    d = tempfile.mkdtemp(prefix="safexec-warm-runtimes-")
    src = os.path.join(ROOT, "runtimes", "bash.conf")
    if os.path.isfile(src):
        shutil.copy(src, d)
    return d


def warm_server(ctx, *args, env=None):
    return E.Server(ctx.binary, "--runtimes", ctx.rt, "--warm", "python", *args, env=env)


def cold_server(ctx, *args, env=None):
    return E.Server(ctx.binary, "--runtimes", ctx.rt, *args, env=env)


def counters(s):
    """{name: value} of the three warm counters (labelled lines summed)."""
    out = {}
    for line in s.get("/metrics").body.decode().splitlines():
        if not line or line.startswith("#"):
            continue
        name = re.split(r"[{ ]", line, 1)[0]
        if name in COUNTERS:
            out[name] = out.get(name, 0) + int(float(line.rsplit(" ", 1)[1]))
    for name in COUNTERS:
        check(name in out, f"/metrics has no {name}")
    return out


def expect_delta(s, before, warm, fallback=0, what="", timeout=3.0):
    """The warm and fallback counters rose by exactly warm and fallback
    since before (a counter may be updated just after the answer: waited
    for up to timeout).  fallback None: any."""
    deadline = time.time() + timeout
    while True:
        now = counters(s)
        dw, df = now[WARM] - before[WARM], now[FALLBACK] - before[FALLBACK]
        good = dw == warm and (fallback is None or df == fallback)
        over = dw > warm or (fallback is not None and df > fallback)
        if good or over or time.time() > deadline:
            break
        time.sleep(0.05)
    if not good:
        raise Fail(f"{what + ': ' if what else ''}{WARM} rose by {dw} and {FALLBACK} by {df}, "
                   f"want {warm} and {'any' if fallback is None else fallback}")
    return now


def warm_exec(s, obj, what="", path="/api/v1/execute", **kw):
    """One request on a warm server, which must have run it warm."""
    before = counters(s)
    if path == "/run":
        j = s.run(obj["code"], **kw)
    else:
        j = s.execute(obj, **kw)
    expect_delta(s, before, 1, 0, what or "the run went warm")
    return j


def zygotes(s):
    """Pids of the server's live children whose command line is `BINARY
    zygote`."""
    out = []
    for p in os.listdir("/proc"):
        if not p.isdigit():
            continue
        try:
            with open(f"/proc/{p}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
            if int(fields[1]) != s.proc.pid or fields[0] in ("Z", "X"):
                continue
            with open(f"/proc/{p}/cmdline", "rb") as f:
                argv = f.read().split(b"\0")
        except (OSError, IndexError, ValueError):
            continue
        if len(argv) >= 2 and argv[1] == b"zygote":
            out.append(int(p))
    return sorted(out)


def wait_zygote(s, timeout=5.0, other_than=()):
    """The pid of a zygote of s (one not in other_than), waited for."""
    deadline = time.time() + timeout
    while True:
        z = [p for p in zygotes(s) if p not in other_than]
        if z:
            return z[0]
        if time.time() > deadline:
            raise Fail(f"no zygote{' other than ' + str(list(other_than)) if other_than else ''} "
                       f"within {timeout:.0f} s (children of the server: {children(s)})")
        time.sleep(0.05)


def all_zygotes(s, timeout=5.0):
    """Every zygote of s (the one serving and a standby, if any), after
    waiting for at least one."""
    wait_zygote(s, timeout)
    return zygotes(s)


def settled(s, timeout=5.0):
    """The counters once every zygote alive (a fresh server's: all started
    by it) is ready and counted in safexec_zygotes_started_total."""
    deadline = time.time() + timeout
    while True:
        c = counters(s)
        if c[STARTED] >= len(zygotes(s)) or time.time() > deadline:
            return c
        time.sleep(0.05)


def children(s):
    out = []
    for pid, _ in s.descendants():
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                out.append((pid, f.read().replace(b"\0", b" ").decode(errors="replace")[:60]))
        except OSError:
            pass
    return out


def pid_gone(pid, timeout=5.0):
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            with open(f"/proc/{pid}/stat") as f:
                if f.read().rsplit(")", 1)[1].split()[0] in ("Z", "X"):
                    return True
        except OSError:
            return True
        time.sleep(0.05)
    return False


def status_of(pid):
    with open(f"/proc/{pid}/status") as f:
        return dict(l.split(":", 1) for l in f.read().splitlines() if ":" in l)


def rss_bytes(pid):
    return int(status_of(pid)["VmRSS"].split()[0]) * 1024


def line_diff(want, got, most=12):
    w, g = want.splitlines(), got.splitlines()
    pairs = [(a, b) for a, b in zip(w, g) if a != b]
    pairs += [(a, None) for a in w[len(g):]] + [(None, b) for b in g[len(w):]]
    return "; ".join(f"{a!r} -> {b!r}" for a, b in pairs[:most]) + ("; ..." if len(pairs) > most else "")


def interleaves(out, a, b):
    """Is out the lines of a and b merged, each in its order?"""
    la, lb = a.splitlines(True), b.splitlines(True)
    i = k = 0
    for line in out.splitlines(True):
        if i < len(la) and line == la[i]:
            i += 1
        elif k < len(lb) and line == lb[k]:
            k += 1
        else:
            # A partial line of one stream followed by the other's: the
            # byte counts still have to add up.
            return len(out) == len(a) + len(b) and sorted(out) == sorted(a + b)
    return i == len(la) and k == len(lb)


def same_as_cold(ctx, obj, what, path="/api/v1/execute", exact_order=False):
    """Runs obj warm and cold; the answers must agree on every field but
    times and memory.  Returns the warm answer."""
    w = warm_exec(ctx.warm, obj, what=f"{what} (warm server)", path=path)
    if path == "/run":
        c = ctx.cold.run(obj["code"])
    else:
        c = ctx.cold.execute(obj)
    for k in SAME:
        if k == "output" and w.get("stdout") and w.get("stderr") and not exact_order:
            # Written close together, the two streams reach the server in
            # no set order (cold too): the same bytes, each stream in order.
            if not interleaves(w.get("output", ""), w["stdout"], w["stderr"]):
                raise Fail(f"{what}: output {w.get('output')!r} is not stdout and stderr interleaved")
            continue
        if k in w or k in c:
            if w.get(k) != c.get(k):
                if isinstance(w.get(k), str) and isinstance(c.get(k), str) and "\n" in c[k]:
                    raise Fail(f"{what}: {k} differs, cold -> warm: {line_diff(c[k], w[k])}")
                raise Fail(f"{what}: {k} differs: warm {w.get(k)!r}, cold {c.get(k)!r}")
    check(set(w) == set(c), f"{what}: fields differ: warm {sorted(set(w) - set(c))}, "
                            f"cold {sorted(set(c) - set(w))}")
    return w


def scan_host_memory(pid, needles):
    """{needle: found} over every readable mapping of a host process."""
    found = {n: False for n in needles}
    longest = max(len(n) for n in needles)
    with open(f"/proc/{pid}/maps") as f:
        regions = []
        for line in f:
            parts = line.split()
            if "r" in parts[1] and not line.rstrip().endswith(("[vvar]", "[vsyscall]",
                                                                "[vvar_vclock]")):
                lo, hi = (int(x, 16) for x in parts[0].split("-"))
                regions.append((lo, hi))
    fd = os.open(f"/proc/{pid}/mem", os.O_RDONLY)
    try:
        for lo, hi in regions:
            pos = lo
            while pos < hi:
                n = min(hi - pos, 4 << 20)
                try:
                    data = os.pread(fd, n + longest, pos) if pos + n < hi else os.pread(fd, n, pos)
                except OSError:
                    break
                for k in found:
                    if not found[k] and k in data:
                        found[k] = True
                pos += n
    finally:
        os.close(fd)
    return found


# A sandboxed memory scan: scan(prefix, digest, length) counts the places in
# the program's own readable memory where `length` bytes start with prefix
# and hash (SHA-256) to digest.  The string looked for never exists in the
# program: only a prefix of it and its hash do, so that finding it means it
# came from elsewhere.
MEMSCAN = r'''
import hashlib, os, sys
def scan(prefix, digest, length):
    prefix, length = prefix.encode(), int(length)
    regions = []
    with open('/proc/self/maps') as f:
        for line in f:
            parts = line.split()
            if 'r' in parts[1]:
                lo, hi = (int(x, 16) for x in parts[0].split('-'))
                regions.append((lo, hi))
    hits = 0
    fd = os.open('/proc/self/mem', os.O_RDONLY)
    for lo, hi in regions:
        pos = lo
        while pos < hi:
            n = min(hi - pos, 1 << 21)
            try:
                data = os.pread(fd, n + length, pos) if pos + n < hi else os.pread(fd, n, pos)
            except OSError:
                break
            i = data.find(prefix)
            while 0 <= i < n:
                if hashlib.sha256(data[i:i + length]).hexdigest() == digest:
                    hits += 1
                i = data.find(prefix, i + 1)
            pos += n
    os.close(fd)
    return hits
'''


def needle_args(s):
    """The arguments for scan() of a string s: prefix, digest, length."""
    return [s[:12], hashlib.sha256(s.encode()).hexdigest(), str(len(s.encode()))]


def token(kind):
    return f"{kind}{os.urandom(12).hex()}"


# --- The registry -----------------------------------------------------------------

TESTS = []


def test(fn):
    TESTS.append((fn.__name__, fn))
    return fn


class Ctx:
    """The binary, the runtime directory, the shared warm server (one
    worker: consecutive runs come from the same zygote) with a secret in
    its environment, and the shared cold server."""


# --- Warm mode is on, and only for what it serves -------------------------------------

@test
def warm_counters_and_a_zygote(ctx):
    s = ctx.warm
    j = warm_exec(s, {"language": "python", "code": HELLO})
    eq((j["status"], j["stdout"]), ("ok", "Hello World\n"), "hello world")
    j = warm_exec(s, {"code": HELLO}, path="/run")
    eq((j["status"], j["output"]), ("ok", "Hello World\n"), "POST /run is warm too")
    z = wait_zygote(s)
    check(1 <= len(zygotes(s)) <= 2, f"a zygote, and at most one standby, for one worker: {children(s)}")
    with open(f"/proc/{z}/exe", "rb") as f, open(ctx.binary, "rb") as g:
        check(f.read() == g.read(), "the zygote runs the safexec binary")
    c = counters(s)
    check(c[STARTED] >= 1, f"{STARTED} is {c[STARTED]}")
    # The cold server: no zygote, no warm run.
    ctx.cold.execute({"code": HELLO})
    c = counters(ctx.cold)
    eq((c[WARM], c[STARTED]), (0, 0), "the cold server's warm runs and zygotes")
    eq(zygotes(ctx.cold), [], "the cold server's zygotes")
    # Its command line: the binary's path, then `zygote`.
    with open(f"/proc/{z}/cmdline", "rb") as f:
        argv = f.read().split(b"\0")
    eq(argv[0].decode(errors="replace"), ctx.binary, f"the zygote's argv[0] (command line {argv})")


@test
def ineligible_runs_go_cold_and_are_not_counted(ctx):
    s = ctx.warm
    code = ("import os\nopen(os.environ['SAFEXEC_OUT'] + '/a.txt', 'w').write('made')\n"
            "print('files')\n")
    before = counters(s)
    j = s.execute({"code": code, "output_files": True})
    eq((j["status"], j["stdout"]), ("ok", "files\n"), f"output_files run ({j['stderr'][-300:]!r})")
    eq(E.out_files(j), {"a.txt": b"made"}, "the file came back")
    expect_delta(s, before, 0, 0, "a run with output_files is not warm and no fallback")
    langs = {x["language"] for x in s.get("/api/v1/languages").json}
    if "bash" not in langs:
        raise Skip(f"no bash here (languages {sorted(langs)}); output_files checked")
    before = counters(s)
    j = s.execute({"language": "bash", "code": "echo \"bash $BASH_VERSINFO\"\n"})
    check(j["status"] == "ok" and j["stdout"].startswith("bash "), f"bash run: {j}")
    expect_delta(s, before, 0, 0, "a bash run is not warm and no fallback")
    # And the next Python run is warm again.
    eq(warm_exec(s, {"code": HELLO})["stdout"], "Hello World\n", "hello after them")


@test
def python_runtimes_with_env_or_root_go_cold(ctx):
    # Runtime files that run the built-in Python's very command, one with
    # an environment of its own and one with a root of its own: a zygote's
    # interpreter has neither, so they run cold, as they say.
    d = tempfile.mkdtemp(prefix="safexec-warm-runtimes-")
    common = ("source_file = main.py\nrun = /usr/bin/python3 -E -s -u /box/{file}\n"
              "version = /usr/bin/python3 --version\n")
    with open(os.path.join(d, "pyenv.conf"), "w") as f:
        f.write("name = pyenv\n" + common + "env = WARM_TEST=from-the-runtime\n")
    os.chmod(d, 0o755)
    root = os.path.join(d, "root")
    os.mkdir(root, 0o755)
    os.symlink("/usr", os.path.join(root, "usr"))
    for name in ("bin", "sbin", "lib", "lib64"):
        os.symlink(f"usr/{name}", os.path.join(root, name))
    with open(os.path.join(d, "pyroot.conf"), "w") as f:
        f.write("name = pyroot\n" + common + f"root = {root}\n")
    s = None
    try:
        s = E.Server(ctx.binary, "--runtimes", d, "--warm", "python", "--workers", "1")
        langs = {x["language"] for x in s.get("/api/v1/languages").json}
        eq(langs, {"python", "pyenv", "pyroot"}, "languages")
        code = "import os\nprint(os.environ.get('WARM_TEST'))\n"
        for lang, want in (("pyenv", "from-the-runtime\n"), ("pyroot", "None\n")):
            before = counters(s)
            j = s.execute({"language": lang, "code": code})
            eq((j["status"], j["stdout"]), ("ok", want), f"{lang} ({j['stderr'][-300:]!r})")
            expect_delta(s, before, 0, 0, f"{lang}: not warm, no fallback")
        eq(warm_exec(s, {"language": "python", "code": code})["stdout"], "None\n", "the built-in, warm")
    finally:
        if s:
            s.close()
        shutil.rmtree(d, ignore_errors=True)


# --- No state passes from one run to the next --------------------------------------

MUTATE = r'''
import os, sys, builtins, random, types, signal, socket, warnings, fractions, xml.dom.minidom
os.environ['WARM_LEAK'] = 'env'
os.putenv('WARM_LEAK2', 'env2')
sys.modules['warm_fake_module'] = types.ModuleType('warm_fake_module')
builtins.warm_foo = 'builtin'
random.seed(1)
for p in ('/tmp/x', '/box/x', '/dev/shm/x'):
    open(p, 'w').write('leak')
os.chdir('/tmp')
sys.path.insert(0, '/tmp/leakpath')
sys.setrecursionlimit(123)
os.umask(0o077)
signal.signal(signal.SIGUSR1, signal.SIG_IGN)
warnings.simplefilter('error')
socket.setdefaulttimeout(7)
sys.excepthook = lambda *a: print('leaked hook')
sys.stdout.flush()
print('mutated')
'''

PROBE = r'''
import os, sys, builtins, random, signal, socket, warnings
print('env', os.environ.get('WARM_LEAK'), os.environ.get('WARM_LEAK2'),
      b'WARM_LEAK' in open('/proc/self/environ', 'rb').read())
print('modules', 'warm_fake_module' in sys.modules, 'fractions' in sys.modules,
      'xml.dom.minidom' in sys.modules)
print('builtins', hasattr(builtins, 'warm_foo'))
r = random.random()
random.seed(1)
print('random is seed 1', r == random.random())
for p in ('/tmp/x', '/box/x', '/dev/shm/x'):
    print('file', p, os.path.exists(p))
print('ls', sorted(os.listdir('/tmp')), sorted(os.listdir('/box')), sorted(os.listdir('/dev/shm')))
print('cwd', os.getcwd())
print('path', sys.path)
print('recursion', sys.getrecursionlimit())
print('umask', oct(os.umask(0o022)))
print('sigusr1', signal.getsignal(signal.SIGUSR1))
print('warnings', [f[0] for f in warnings.filters])
print('timeout', socket.getdefaulttimeout())
print('excepthook', sys.excepthook is sys.__excepthook__)
print('modules_all', sorted(sys.modules))
'''


@test
def no_state_passes_to_the_next_run(ctx):
    s = ctx.warm
    zs = all_zygotes(s)
    base = warm_exec(s, {"code": PROBE}, what="the probe before")
    eq(base["status"], "ok", f"probe ({base['stderr'][-300:]!r})")
    m = warm_exec(s, {"code": MUTATE}, what="the mutating run")
    eq((m["status"], m["stdout"], m["stderr"]), ("ok", "mutated\n", ""), "the mutating run")
    after = warm_exec(s, {"code": PROBE}, what="the probe after")
    eq(zygotes(s), zs, "the three runs came from one zygote: none was replaced")
    if after["stdout"] != base["stdout"]:
        raise Fail("the run after the mutating one saw its state: "
                   + line_diff(base["stdout"], after["stdout"]))
    want_start = ("env None None False\nmodules False False False\nbuiltins False\n"
                  "random is seed 1 False\nfile /tmp/x False\nfile /box/x False\n"
                  "file /dev/shm/x False\nls [] ['main.py'] []\ncwd /box\n")
    check(after["stdout"].startswith(want_start), f"probe output {after['stdout'][:400]!r}")
    # The same probe run cold: the same answers (all but the module list,
    # which a zygote may have imported ahead).
    cold = ctx.cold.execute({"code": PROBE})

    def strip(out):
        return "\n".join(l for l in out.splitlines() if not l.startswith("modules_all "))
    if strip(cold["stdout"]) != strip(after["stdout"]):
        raise Fail("the warm probe differs from a cold one: "
                   + line_diff(strip(cold["stdout"]), strip(after["stdout"])))


RANDOM = r'''
import random, uuid, tempfile, os
print(random.random())
print(random.getrandbits(64))
print(uuid.uuid4())
print(os.path.basename(tempfile.mktemp()))
print(next(tempfile._get_candidate_names()))
with tempfile.NamedTemporaryFile() as f:
    print(os.path.basename(f.name))
print(random.SystemRandom().random())
'''
SEED1 = "0.13436424411240122"  # random.seed(1); random.random()


@test
def random_state_is_new_in_every_run(ctx):
    s = ctx.warm
    runs = [warm_exec(s, {"code": RANDOM}, what=f"random run {i}") for i in range(3)]
    s1 = warm_exec(s, {"code": "import random\nrandom.seed(1)\nprint(random.random())\n"},
                   what="the seeding run")
    eq(s1["stdout"], SEED1 + "\n", "random.seed(1) then random.random()")
    runs += [warm_exec(s, {"code": RANDOM}, what="random run after the seeding one")]
    names = ["random.random()", "random.getrandbits(64)", "uuid.uuid4()", "tempfile.mktemp()",
             "tempfile's candidate names", "NamedTemporaryFile", "SystemRandom"]
    rows = []
    for j in runs:
        eq(j["status"], "ok", f"status ({j['stderr'][-300:]!r})")
        rows.append(j["stdout"].splitlines())
        eq(len(rows[-1]), len(names), f"lines of {j['stdout']!r}")
    for i, name in enumerate(names):
        vals = [r[i] for r in rows]
        check(len(set(vals)) == len(vals), f"{name} repeats across warm runs: {vals}")
    check(rows[-1][0] != SEED1, "the run after random.seed(1) got the seeded value")
    # Not the values of a cold run's fixed seed either: none of them repeats
    # a cold run's.
    c = ctx.cold.execute({"code": RANDOM})["stdout"].splitlines()
    for i, name in enumerate(names):
        check(c[i] not in [r[i] for r in rows], f"{name}: a warm run repeats a cold one's {c[i]}")


@test
def hash_seed_is_the_zygotes_and_new_with_each_zygote(ctx):
    # str hashes are seeded per interpreter (sys.flags.hash_randomization).
    # The runs of one zygote share its seed, the cost docs/sandbox.md
    # states and warm_runs bounds: with warm_runs = 2, at most two runs
    # share one, and a new zygote brings a new seed.
    code = "import sys\nprint(sys.flags.hash_randomization, hash('safexec-warm'), hash(b'x' * 9))\n"
    cold = [ctx.cold.execute({"code": code})["stdout"] for _ in range(2)]
    check(len(set(cold)) == 2, f"cold runs hash alike: {cold}")
    s = warm_server(ctx, "--workers", "1", "--warm-runs", "2")
    try:
        wait_zygote(s)
        runs = []
        for i in range(6):
            before = counters(s)
            j = s.execute({"code": code})
            eq(j["status"], "ok", f"hash run {i}")
            now = counters(s)
            if now[WARM] > before[WARM]:
                runs.append(j["stdout"])
            time.sleep(0.3)         # the standby is ready again
        check(all(r.startswith("1 ") for r in runs), f"hash randomization off: {runs}")
        check(len(runs) >= 4, f"only {len(runs)} of 6 runs went warm: {runs}")
        seeds = {}
        for r in runs:
            seeds[r] = seeds.get(r, 0) + 1
        check(max(seeds.values()) <= 2, f"more than warm_runs = 2 runs shared a seed: {seeds}")
        check(len(seeds) >= len(runs) // 2, f"too few seeds for {len(runs)} runs: {seeds}")
    finally:
        s.close()


# --- The program sees what a cold run sees ----------------------------------------------

@test
def argv_and_stdin_match_cold(ctx):
    same_as_cold(ctx, {"code": "import sys\nprint(sys.argv)\nprint(len(sys.argv))\n",
                       "args": ["a", "b c", "", "-x", "--", "\u00e9\u20ac", "--help"]}, "args")
    same_as_cold(ctx, {"code": "import sys\nprint(sys.argv)\n"}, "no args")
    stdin = "first line\nsecond \u00e9\nthe rest\nand more\n\nlast without newline"
    j = same_as_cold(ctx, {"code": "import sys\na = input()\nb = input()\nrest = sys.stdin.read()\n"
                                   "print(repr(a), repr(b), repr(rest))\n", "stdin": stdin}, "stdin")
    eq(j["stdout"], "'first line' 'second \u00e9' 'the rest\\nand more\\n\\nlast without newline'\n",
       "stdin read")
    same_as_cold(ctx, {"code": "import sys\nprint(sys.stdin.buffer.read())\n", "stdin": "raw\x00b\n"},
                 "stdin bytes")
    same_as_cold(ctx, {"code": "print(input())\n"}, "input() at the end of the input")
    same_as_cold(ctx, {"code": "import sys\nprint([l for l in sys.stdin])\n", "stdin": "1\n2\n3"},
                 "stdin iterated")


@test
def large_inputs_match_cold(ctx):
    code = ("import sys, hashlib\n"
            "data = sys.stdin.buffer.read()\n"
            "print(len(data), hashlib.sha256(data).hexdigest())\n"
            "print(len(sys.argv), sum(map(len, sys.argv)), sys.argv[-1])\n"
            "print(len(open(__file__).read()))\n")
    stdin = "".join(f"line {i} \u00e9\n" for i in range(300000))
    args = [f"arg{i}-" + "x" * (i % 50) for i in range(256)]
    j = same_as_cold(ctx, {"code": "#" + "c" * (1 << 20) + "\n" + code, "stdin": stdin, "args": args},
                     "4 MB of input, 256 arguments, 1 MiB of code")
    eq(j["status"], "ok", f"status ({j['stderr'][-300:]!r})")
    eq(j["stdout"].split("\n")[0].split()[0], str(len(stdin.encode())), "all the input read")


@test
def source_forms_match_cold(ctx):
    cases = [
        ("empty program", ""),
        ("CRLF line ends", "x = 1\r\nif x:\r\n    print('crlf', x)\r\n"),
        ("a byte order mark", "\ufeffprint('bom')\n"),
        ("a coding cookie", "# -*- coding: latin-1 -*-\nprint(len('\u00e9'))\n"),
        ("a NUL", "print(1)\n\x00\n"),
        ("tabs and spaces", "if 1:\n\tx = 1\n        y = 2\n"),
        ("indentation error", "if 1:\nprint(1)\n"),
        ("__future__", "from __future__ import annotations\ndef f(x: Undefined) -> Nope:\n"
                       "    return 1\nprint(f.__annotations__)\n"),
        ("a shebang", "#!/usr/bin/env python2\nprint('shebang')\n"),
        ("no newline at the end", "print('last')"),
        ("subprocess", "import subprocess, sys\n"
                       "print(subprocess.run([sys.executable, '-c', 'import sys; print(sys.argv)', 'a'],\n"
                       "                     capture_output=True, text=True).stdout, end='')\n"),
        ("multiprocessing", "import multiprocessing as mp\n"
                            "def sq(x):\n    return x * x\n"
                            "if __name__ == '__main__':\n"
                            "    with mp.get_context('fork').Pool(2) as p:\n"
                            "        print(p.map(sq, range(5)))\n"),
        ("threads within max_processes", "import threading\n"
                                         "ev, ts = threading.Event(), []\n"
                                         "try:\n    for i in range(5):\n"
                                         "        t = threading.Thread(target=ev.wait)\n"
                                         "        t.start()\n        ts.append(t)\n"
                                         "except RuntimeError as e:\n    print('threads:', e)\n"
                                         "ev.set()\n[t.join() for t in ts]\nprint('started', len(ts))\n"),
        ("signal handlers", "import signal, time\n"
                            "signal.signal(signal.SIGALRM, lambda *a: print('alarm'))\n"
                            "signal.setitimer(signal.ITIMER_REAL, 0.1)\ntime.sleep(1)\n"
                            "signal.signal(signal.SIGUSR1, lambda *a: print('usr1'))\n"
                            "import os\nos.kill(os.getpid(), signal.SIGUSR1)\nprint('end')\n"),
    ]
    for name, code in cases:
        lim = {"max_processes": 3} if name.startswith("threads") else {}
        same_as_cold(ctx, {"code": code, **({"limits": lim} if lim else {})}, name)


@test
def tests_of_one_request_each_run_warm(ctx):
    # A request with tests: each test is a run of its own, each warm, with
    # the verdicts and outputs a cold server gives.
    req = {"code": "import sys, random\na, b = map(int, input().split())\nprint(a + b)\n"
                   "print(sys.argv[1:], random.random() < 2, file=sys.stderr)\n",
           "tests": [{"stdin": "1 2", "expected_output": "3"},
                     {"stdin": "2 2", "expected_output": "5", "args": ["x"]},
                     {"stdin": "x"}, {"stdin": "40 2\n", "expected_output": "42\n"}]}
    before = counters(ctx.warm)
    w = ctx.warm.execute(req)
    expect_delta(ctx.warm, before, 4, 0, "4 tests, 4 warm runs")
    c = ctx.cold.execute(req)
    eq((w["verdict"], w["totals"]), (c["verdict"], c["totals"]), "verdict and totals")
    eq(w["totals"], {"tests": 4, "accepted": 2, "failed": 2, "not_run": 0}, "totals")
    for i, (a, b) in enumerate(zip(w["tests"], c["tests"])):
        for k in ("verdict", "status", "exit_code", "signal", "stdout", "stderr", "message"):
            eq(a.get(k), b.get(k), f"test {i + 1}: {k}, warm against cold")


@test
def zygote_does_not_grow(ctx):
    # The zygote only forks: 30 runs (each with 256 KiB of code and input)
    # leave its memory as it was.
    s = ctx.warm
    warm_exec(s, {"code": HELLO})
    zs = all_zygotes(s)
    rss0 = {z: rss_bytes(z) for z in zs}
    for i in range(30):
        j = warm_exec(s, {"code": f"# {'x' * (256 << 10)}\nimport sys\nprint(len(sys.stdin.read()))\n",
                          "stdin": "y" * (256 << 10)}, what=f"run {i + 1}")
        eq(j["stdout"], f"{256 << 10}\n", f"run {i + 1}")
    eq(zygotes(s), zs, "the same zygotes throughout")
    rss1 = {z: rss_bytes(z) for z in zs}
    check(all(rss1[z] <= rss0[z] + (256 << 10) for z in zs),
          f"the zygotes' RSS grew from {rss0} to {rss1} bytes over 30 runs")


@test
def request_options_run_warm(ctx):
    # redirect_stderr (one pipe: the order written, exactly), runs (each
    # of the series warm), and a job waited for: warm, as cold answers.
    code = ("import sys\nfor i in range(20):\n    print('out', i)\n    print('err', i, file=sys.stderr)\n"
            "sys.exit(2)\n")
    j = same_as_cold(ctx, {"code": code, "redirect_stderr": True}, "redirect_stderr", exact_order=True)
    eq(j["stdout"], "".join(f"out {i}\nerr {i}\n" for i in range(20)), "one pipe, in the order written")
    before = counters(ctx.warm)
    w = ctx.warm.execute({"code": "import random\nprint(random.random() < 1)\n", "runs": 3})
    expect_delta(ctx.warm, before, 3, 0, "runs = 3: three warm runs")
    c = ctx.cold.execute({"code": "import random\nprint(random.random() < 1)\n", "runs": 3})
    for k in ("status", "stdout", "stderr", "exit_code"):
        eq(w[k], c[k], f"runs = 3: {k}, warm against cold")
    before = counters(ctx.warm)
    r = ctx.warm.post("/api/v1/jobs?wait=true", {"code": "print('job')"})
    eq(r.status, 200, f"POST /api/v1/jobs?wait=true ({r.body[:200]!r})")
    eq((r.json["result"]["status"], r.json["result"]["stdout"]), ("ok", "job\n"), "the job's result")
    expect_delta(ctx.warm, before, 1, 0, "a job")


@test
def piston_python_runs_warm(ctx):
    # The compatible APIs run Python on the same engine: warm too.
    s = ctx.warm
    before = counters(s)
    r = s.post("/api/v2/execute", {"language": "python", "version": "*", "stdin": "x", "args": ["a"],
                                   "files": [{"content": "import sys\nprint(input(), sys.argv[1:])\n"}]})
    eq(r.status, 200, f"Piston POST /api/v2/execute ({r.body[:300]!r})")
    eq((r.json["run"]["code"], r.json["run"]["stdout"]), (0, "x ['a']\n"), "Piston's answer")
    expect_delta(s, before, 1, 0, "a Piston run in Python")


@test
def judge0_python_runs_warm(ctx):
    req = {"source_code": "import sys\nprint(input()[::-1], sys.argv)\n", "language_id": 71,
           "stdin": "olleh"}
    path = "/submissions?base64_encoded=false&wait=true"
    c = ctx.cold.post(path, req)
    if c.status != 201:
        raise Skip(f"a cold server with the built-in Python refuses it too: {c.status} {c.body[:160]!r}")
    s = ctx.warm
    before = counters(s)
    r = s.post(path, req)
    eq(r.status, 201, f"Judge0 POST /submissions ({r.body[:300]!r})")
    eq((r.json["status"]["id"], r.json["stdout"]), (3, "hello ['/box/main.py']\n"), "Judge0's answer")
    expect_delta(s, before, 1, 0, "a Judge0 submission in Python")


@test
def warm_runs_start_faster(ctx):
    # The point of the zygote: a warm hello world spends less CPU time than
    # a cold one, which starts the interpreter (medians of 7 each; the
    # wall time, mostly the sandbox's, is shown).
    w = [warm_exec(ctx.warm, {"code": HELLO}) for _ in range(7)]
    c = [ctx.cold.execute({"code": HELLO}) for _ in range(7)]
    wc, cc = sorted(j["cpu_time_ms"] for j in w), sorted(j["cpu_time_ms"] for j in c)
    check(wc[3] < cc[3], f"CPU time of a warm hello world {wc} ms, of a cold one {cc} ms "
                         f"(wall {sorted(j['wall_time_ms'] for j in w)} and {sorted(j['wall_time_ms'] for j in c)})")


@test
def main_module_matches_cold(ctx):
    code = ("import os, sys\n"
            "print(__name__, __file__, repr(__doc__), __package__, __spec__, __cached__)\n"
            "print(sys.path[0], sys.argv[0], sys.executable, os.getcwd())\n"
            "print(sorted(globals()))\n"
            "print(type(__builtins__).__name__, type(__loader__).__name__)\n"
            "print(sys.modules['__main__'] is sys.modules[__name__], sys.modules['__main__'].__file__)\n"
            "print(open('main.py').read() == open(__file__).read())\n"
            "def f():\n    return sys._getframe().f_code.co_filename\nprint(f())\n")
    j = same_as_cold(ctx, {"code": code}, "the __main__ module")
    eq((j["status"], j["stderr"]), ("ok", ""), "the probe ran")
    lines = j["stdout"].splitlines()
    check(lines[0].startswith("__main__ /box/main.py "), f"__name__ and __file__: {lines[0]!r}")
    eq(lines[1].split()[0], "/box", "sys.path[0]")
    eq(lines[1].split()[3], "/box", "os.getcwd()")
    # The program imported as a module of its own runs again, as cold.
    same_as_cold(ctx, {"code": "print('run as', __name__)\nif __name__ == '__main__':\n    import main\n"},
                 "import main")


@test
def interpreter_matches_cold(ctx):
    code = ("import sys, locale, os, site\n"
            "print(sys.flags)\n"
            "print(sys.orig_argv)\n"
            "print(sys.executable, sys._base_executable, sys.prefix, sys.exec_prefix, sys.base_prefix)\n"
            "print(sys.path)\n"
            "print(sys.stdout.encoding, sys.stdout.errors, sys.stderr.errors, sys.stdin.encoding,\n"
            "      sys.getfilesystemencoding(), locale.getpreferredencoding(False))\n"
            "print(sys.stdout.line_buffering, sys.stdout.write_through, type(sys.stdout.buffer).__name__,\n"
            "      type(sys.stderr.buffer).__name__)\n"
            "print(sys.warnoptions, sys._xoptions, sys.dont_write_bytecode, sys.pycache_prefix)\n"
            "print(sys.getrecursionlimit(), sys.getswitchinterval(), sys.getdefaultencoding())\n"
            "print(site.ENABLE_USER_SITE, sys.stdin.isatty(), sys.stdout.isatty())\n"
            "print(sys.version)\n")
    j = same_as_cold(ctx, {"code": code, "args": ["x"]}, "the interpreter's configuration")
    eq((j["status"], j["stderr"]), ("ok", ""), "the probe ran")


@test
def exit_statuses_match_cold(ctx):
    cases = [
        ("sys.exit(3)", "import sys\nprint('before')\nsys.exit(3)\n"),
        ("sys.exit('msg')", "import sys\nprint('before')\nsys.exit('fatal: the message')\n"),
        ("raise SystemExit(0)", "print('x')\nraise SystemExit(0)\n"),
        ("sys.exit(None)", "import sys\nsys.exit(None)\n"),
        ("sys.exit(256)", "import sys\nsys.exit(256)\n"),
        ("sys.exit([1])", "import sys\nsys.exit([1])\n"),
        ("os._exit(7)", "import os\nprint('x', flush=True)\nos._exit(7)\n"),
        ("os._exit unflushed", "import os, sys\nsys.stdout.write('unflushed')\nos._exit(0)\n"),
        ("uncaught exception", "x = 1\n\ndef f():\n    return 1 / 0\n\nprint('before')\nf()\n"),
        ("chained exception", "try:\n    {}['k']\nexcept KeyError as e:\n    raise ValueError('v') from e\n"),
        ("syntax error", "print('never')\nprint('a'\n"),
        ("KeyboardInterrupt", "raise KeyboardInterrupt\n"),
        ("SIGSEGV", "import os, signal\nos.kill(os.getpid(), signal.SIGSEGV)\n"),
        ("SIGTERM", "import os, signal\nos.kill(os.getpid(), signal.SIGTERM)\n"),
        ("recursion", "def f():\n    f()\nf()\n"),
        ("atexit", "import atexit\natexit.register(print, 'atexit ran')\nprint('main')\n"),
        ("atexit after sys.exit", "import atexit, sys\natexit.register(print, 'bye')\nsys.exit(4)\n"),
        ("thread outlives main", "import threading, time\n"
                                 "def f():\n    time.sleep(0.3)\n    print('thread')\n"
                                 "threading.Thread(target=f).start()\nprint('main')\n"),
        ("exception in a thread", "import threading\n"
                                  "t = threading.Thread(target=lambda: 1 / 0)\nt.start()\nt.join()\n"
                                  "print('main')\n"),
        ("warning", "import warnings\nwarnings.warn('careful')\nprint('after')\n"),
        ("EOFError", "input()\n"),
        ("stdout closed", "import sys\nsys.stdout.close()\nprint('x')\n"),
    ]
    for name, code in cases:
        same_as_cold(ctx, {"code": code}, name)
    j = same_as_cold(ctx, {"code": "import sys\nsys.exit(3)\n"}, "sys.exit(3)")
    eq((j["status"], j["exit_code"], j["message"]), ("runtime_error", 3, "Exited with code 3"), "sys.exit(3)")
    j = same_as_cold(ctx, {"code": "import sys\nsys.exit('fatal')\n"}, "sys.exit('fatal')")
    eq((j["status"], j["exit_code"], j["stderr"]), ("runtime_error", 1, "fatal\n"), "sys.exit('fatal')")
    j = same_as_cold(ctx, {"code": "raise SystemExit(0)\n"}, "SystemExit(0)")
    eq((j["status"], j["exit_code"]), ("ok", 0), "raise SystemExit(0)")
    j = same_as_cold(ctx, {"code": "import os\nos._exit(7)\n"}, "os._exit(7)")
    eq((j["status"], j["exit_code"]), ("runtime_error", 7), "os._exit(7)")
    j = same_as_cold(ctx, {"code": "x = 1\n\ndef f():\n    return 1 / 0\n\nf()\n"}, "traceback")
    eq((j["status"], j["exit_code"]), ("runtime_error", 1), "an uncaught exception")
    for line in ('File "/box/main.py", line 6, in <module>', 'File "/box/main.py", line 4, in f',
                 "ZeroDivisionError: division by zero"):
        check(line in j["stderr"], f"{line!r} not in the traceback {j['stderr']!r}")


@test
def output_order_matches_cold(ctx):
    # Paced, so that the order the streams reach the server is the order
    # written: a warm run must not buffer what a cold one (-u) does not.
    code = ("import sys, os, time\n"
            "for i in range(6):\n"
            "    print('out', i)\n"
            "    time.sleep(0.03)\n"
            "    print('err', i, file=sys.stderr)\n"
            "    time.sleep(0.03)\n"
            "    if i % 2 == 0:\n"
            "        os.write(1, b'raw %d\\n' % i)\n"
            "        time.sleep(0.03)\n"
            "        sys.stdout.write('partial ')\n"
            "        time.sleep(0.03)\n"
            "        sys.stderr.write('e')\n"
            "        time.sleep(0.03)\n"
            "print('\\u00e9\\u20ac\\U0001F600')\n"
            "time.sleep(0.03)\n"
            "sys.stderr.write('no newline at the end')\n")
    j = same_as_cold(ctx, {"code": code}, "interleaved output", exact_order=True)
    check(j["output"].startswith("out 0\nerr 0\nraw 0\npartial eout 1\nerr 1\nout 2\n"),
          f"output interleaved in write order: {j['output'][:80]!r}")
    j = same_as_cold(ctx, {"code": "print('x' * 100000)\nimport sys, time\ntime.sleep(0.1)\n"
                                   "print('y' * 100000, file=sys.stderr)\n"}, "large output", exact_order=True)
    eq(j["output"], "x" * 100000 + "\n" + "y" * 100000 + "\n", "large output")


PROCESS = r'''
import os, re, resource, sys
st = dict(l.split(':', 1) for l in open('/proc/self/status').read().splitlines() if ':' in l)
for k in ('Uid', 'Gid', 'Groups', 'CapInh', 'CapPrm', 'CapEff', 'CapBnd', 'CapAmb', 'NoNewPrivs',
          'Seccomp', 'Seccomp_filters', 'SigBlk', 'SigIgn', 'SigCgt', 'SigPnd', 'ShdPnd', 'Threads',
          'NSpid', 'PPid', 'Cpus_allowed_list'):
    print(k, st.get(k, '').strip())
print('ids', os.getpid(), os.getppid(), os.getpgrp() == os.getpid(), os.getsid(0) == os.getpid())
def link(f):
    try:
        return re.sub(r'\d+', 'N', os.readlink('/proc/self/fd/' + f))
    except OSError as e:
        return e.strerror
print('fds', [(f, link(f)) for f in sorted(os.listdir('/proc/self/fd'), key=int)])
print('rlimits', [(n, resource.getrlimit(getattr(resource, n))) for n in sorted(dir(resource))
                  if n.startswith('RLIMIT_')])
print('env', sorted(os.environ.items()))
print('mounts', [(l.split()[4], l.split(' - ')[1].split()[0], l.split()[5]) for l in open('/proc/self/mountinfo')])
print('uname', os.uname().nodename, os.uname().sysname)
print('maps', open('/proc/self/uid_map').read().split(), open('/proc/self/gid_map').read().split(),
      open('/proc/self/setgroups').read().strip())
print('cgroup', re.sub(r'\d+', 'N', open('/proc/self/cgroup').read().strip()))
print('procs', sorted(p for p in os.listdir('/proc') if p.isdigit()))
print('nice', os.nice(0), os.sched_getscheduler(0), 'umask', oct(os.umask(0o22)))
print('tty', os.isatty(0), os.isatty(1), os.isatty(2))
print('oom', open('/proc/self/oom_score_adj').read().strip(), 'dumpable', end=' ')
import ctypes
print(ctypes.CDLL(None).prctl(3, 0, 0, 0, 0))
print('personality', ctypes.CDLL(None).personality(0xffffffff))
print('comm', open('/proc/self/comm').read().strip())
'''


@test
def process_state_matches_cold(ctx):
    j = same_as_cold(ctx, {"code": PROCESS}, "the process: ids, credentials, fds, signals, rlimits, "
                                               "environment, mounts, cgroup")
    eq((j["status"], j["stderr"]), ("ok", ""), "the probe ran")
    st = dict(l.split(" ", 1) for l in j["stdout"].splitlines()[:20])
    eq(st["Uid"].split(), ["1000"] * 4, "uid 1000")
    for k in ("CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb"):
        eq(int(st[k], 16), 0, k)
    eq((st["NoNewPrivs"], st["Seccomp"]), ("1", "2"), "NoNewPrivs and seccomp")


@test
def no_descriptor_or_host_path_of_the_zygote(ctx):
    # The program holds no descriptor the zygote had, nothing on its side
    # names the safexec binary's host path, and /proc/self/exe (safexec's
    # binary in a warm run, python3 in a cold one) is no host file outside
    # its root, nor one it can write.
    zfds = set()
    for z in all_zygotes(ctx.warm):
        zfds |= {os.readlink(f"/proc/{z}/fd/{f}") for f in os.listdir(f"/proc/{z}/fd")}
    code = ("import os, hashlib\n"
            "for f in sorted(os.listdir('/proc/self/fd'), key=int):\n"
            "    try:\n"
            "        print(f, os.readlink('/proc/self/fd/' + f))\n"
            "    except OSError as e:\n"
            "        print(f, e.strerror)\n"
            "print('cmdline', open('/proc/self/cmdline', 'rb').read())\n"
            "print('environ', open('/proc/self/environ', 'rb').read())\n"
            "print('maps', ' '.join(sorted({l.split()[5] for l in open('/proc/self/maps') if len(l.split()) > 5})))\n"
            "for what in ('exe', 'cwd', 'root'):\n"
            "    try:\n"
            "        print(what, os.readlink('/proc/self/' + what))\n"
            "    except OSError as e:\n"
            "        print(what, e.strerror)\n"
            "st = os.stat('/proc/self/exe')\n"
            "print('exe_file', st.st_dev, st.st_ino)\n"
            "try:\n"
            "    open('/proc/self/exe', 'r+b')\n"
            "    print('exe_write OPENED')\n"
            "except OSError as e:\n"
            "    print('exe_write', e.strerror)\n")
    j = warm_exec(ctx.warm, {"code": code})
    eq(j["status"], "ok", f"status ({j['stderr'][-300:]!r})")
    problems = []
    fds = [l.split(" ", 1) for l in j["stdout"].splitlines() if l[:1].isdigit()]
    if [f for f, _ in fds] != ["0", "1", "2", "3"]:
        problems.append(f"descriptors {fds}, want 0-3 as cold")
    others = [t for _, t in fds[3:] if t in zfds and not t.startswith(("pipe:", "/dev/null"))]
    if others:
        problems.append(f"descriptors of the zygote in the run: {others}")
    binpath = os.path.realpath(ctx.binary)
    for leak in (binpath, ROOT):
        lines = [l[:100] for l in j["stdout"].splitlines() if leak in l]
        if lines:
            problems.append(f"the host path {leak!r} is visible: {lines}")
    st = os.stat(binpath)
    if re.search(rf"^exe_file {st.st_dev} {st.st_ino}$", j["stdout"], re.M):
        problems.append("/proc/self/exe is the host's safexec binary file, outside the sandbox's root")
    if "exe_write OPENED" in j["stdout"]:
        problems.append("/proc/self/exe opened for writing")
    check(not problems, "; ".join(problems))


# --- Limits and protections hold warm ----------------------------------------------------

@test
def limits_hold_warm(ctx):
    j = same_as_cold(ctx, {"code": "while True:\n    pass\n",
                           "limits": {"cpu_time_ms": 1000, "wall_time_ms": 5000}}, "CPU time limit")
    eq((j["status"], j["message"]), ("timeout", "CPU time limit exceeded (1 s)"), "CPU limit")
    check(900 <= j["cpu_time_ms"] < 3000, f"cpu_time_ms {j['cpu_time_ms']}")
    j = same_as_cold(ctx, {"code": "import time\ntime.sleep(30)\n", "limits": {"wall_time_ms": 1500}},
                     "wall time limit")
    check(j["status"] == "timeout" and j["message"].startswith("Time limit exceeded ("),
          f"wall limit: {j['status']} {j['message']!r}")
    check(1400 <= j["wall_time_ms"] < 5000, f"wall_time_ms {j['wall_time_ms']}")
    j = same_as_cold(ctx, {"code": 'x = "a" * 1000000000\n'}, "memory bomb", path="/run")
    eq((j["status"], j["message"]), ("memory_limit", "Memory limit exceeded (128 MiB)"), "memory bomb")
    j = same_as_cold(ctx, {"code": "x = bytearray(200 << 20)\nprint(len(x))\n",
                           "limits": {"memory_bytes": 64 << 20}}, "64 MiB limit")
    eq(j["status"], "memory_limit", "200 MiB in 64 MiB")
    j = same_as_cold(ctx, {"code": "x = bytearray(96 << 20)\nx[::4096] = b'y' * len(x[::4096])\n"
                                   "print(len(x))\n"}, "96 MiB within 128 MiB")
    eq((j["status"], j["stdout"]), ("ok", f"{96 << 20}\n"), "96 MiB fits in the default 128 MiB")
    j = same_as_cold(ctx, {"code": "while True:\n    print('x' * 1000)\n",
                           "limits": {"output_bytes": 10000}}, "output flood")
    eq((j["status"], j["stdout_truncated"]), ("output_limit", True), "output flood")
    check(len(j["stdout"]) <= 10000, f"stdout {len(j['stdout'])} bytes")
    code = ("import os, time\nn = 0\ntry:\n    for i in range(40):\n        if os.fork() == 0:\n"
            "            time.sleep(2)\n            os._exit(0)\n        n += 1\n    print('forked', n)\n"
            "except OSError as e:\n    print('fork failed after', n, e.strerror)\n")
    j = same_as_cold(ctx, {"code": code, "limits": {"max_processes": 5}}, "process limit")
    check(j["stdout"].startswith("fork failed after "), f"forks: {j['stdout']!r}")
    j = same_as_cold(ctx, {"code": "try:\n    open('/tmp/big', 'wb').write(b'x' * (2 << 20))\n"
                                   "    print('WROTE')\nexcept OSError as e:\n    print(e.strerror)\n",
                           "limits": {"file_size_bytes": 1 << 20}}, "file size limit")
    eq(j["stdout"], "File too large\n", "file size limit")
    # The default wall limit, through /run: 10 s, no more.
    t0 = time.time()
    j = warm_exec(ctx.warm, {"code": "import time\ntime.sleep(60)\n"}, path="/run")
    eq((j["status"], j["message"]), ("timeout", "Time limit exceeded (10 s)"), "the default wall limit")
    check(time.time() - t0 < 15, f"answered after {time.time() - t0:.1f} s")


@test
def network_is_off_warm(ctx):
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(8)
    srv.settimeout(0.2)
    port = srv.getsockname()[1]
    code = ("import socket\n"
            f"for host, port in [('127.0.0.1', {port}), ('1.1.1.1', 53), ('93.184.216.34', 80)]:\n"
            "    s = socket.socket()\n    s.settimeout(3)\n"
            "    try:\n        s.connect((host, port))\n        print(host, 'CONNECTED')\n"
            "    except OSError as e:\n        print(host, 'connect failed:', e.strerror)\n"
            "print([n for _, n in socket.if_nameindex()])\n"
            "try:\n    socket.getaddrinfo('example.com', 80)\n    print('RESOLVED')\n"
            "except OSError as e:\n    print('resolve failed')\n")
    try:
        j = same_as_cold(ctx, {"code": code}, "network")
        check("CONNECTED" not in j["stdout"] and "RESOLVED" not in j["stdout"], f"network: {j['stdout']!r}")
        check(j["stdout"].count("connect failed:") == 3, f"output {j['stdout']!r}")
        check(j["wall_time_ms"] < 3000, f"failures are immediate: {j['wall_time_ms']} ms")
        try:
            c, _ = srv.accept()
            c.close()
            raise Fail("the host's loopback listener got a connection")
        except socket.timeout:
            pass
    finally:
        srv.close()


@test
def file_system_is_the_sandboxs_warm(ctx):
    j = same_as_cold(ctx, {"code": "print(open('/etc/passwd').read())"}, "/etc/passwd")
    check("sandbox" in j["stdout"], f"the sandbox's user in {j['stdout']!r}")
    check("root:x:0:0" not in j["stdout"], "the host's root line is visible")
    code = ("import os\nfor p in ['/etc/evil', '/evil', '/usr/evil', '/box/../evil']:\n"
            "    try:\n        open(p, 'w').write('x')\n        print(p, 'WRITTEN')\n"
            "    except OSError as e:\n        print(p, e.strerror)\n"
            "print(sorted(os.listdir('/')))\nprint(sorted(os.listdir('/box')), sorted(os.listdir('/tmp')))\n"
            "for p in ['/proc/1/cmdline', '/root', '/home', '/var', '/work', '/sys/fs/cgroup']:\n"
            "    print(p, os.path.exists(p))\n")
    j = same_as_cold(ctx, {"code": code}, "the root file system")
    check("WRITTEN" not in j["stdout"], f"a write outside /tmp worked: {j['stdout']!r}")
    for p in ("/etc/evil", "/evil", "/usr/evil"):
        check(f"{p} Read-only file system" in j["stdout"], f"{p} read-only: {j['stdout']!r}")
    check("['main.py'] []" in j["stdout"], f"/box and /tmp hold only the program: {j['stdout']!r}")


@test
def credentials_and_seccomp_warm(ctx):
    code = ("import os\nst = open('/proc/self/status').read()\n"
            "print('\\n'.join(l for l in st.splitlines() if l.split(':')[0] in\n"
            "      ('Uid', 'Gid', 'CapInh', 'CapPrm', 'CapEff', 'CapBnd', 'CapAmb', 'NoNewPrivs', 'Seccomp')))\n"
            "print(os.getuid(), os.geteuid(), os.getgid(), os.getgroups())\n"
            "import ctypes\nlibc = ctypes.CDLL(None, use_errno=True)\n"
            "print('unshare', libc.unshare(0x10000000), ctypes.get_errno())\n"
            "print('setuid', libc.setuid(0), ctypes.get_errno())\n"
            "print('mount', libc.mount(b'none', b'/tmp', b'tmpfs', 0, None), ctypes.get_errno())\n"
            "print('ptrace', libc.ptrace(16, 1, 0, 0), ctypes.get_errno())\n")
    j = same_as_cold(ctx, {"code": code}, "credentials, capabilities and seccomp")
    st = {l.split(":")[0]: l.split(":", 1)[1].split() for l in j["stdout"].splitlines() if ":" in l}
    eq(st["Uid"], ["1000"] * 4, "Uid")
    eq(st["Gid"], ["1000"] * 4, "Gid")
    for k in ("CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb"):
        eq(int(st[k][0], 16), 0, k)
    eq(st["NoNewPrivs"], ["1"], "NoNewPrivs")
    eq(st["Seccomp"], ["2"], "Seccomp (a filter)")
    check("1000 1000 1000 [" in j["stdout"], f"ids {j['stdout']!r}")
    for call in ("unshare", "setuid", "mount", "ptrace"):
        m = re.search(rf"^{call} (-?\d+) (\d+)$", j["stdout"], re.M)
        check(m and m.group(1) == "-1" and m.group(2) != "0", f"{call} worked: {j['stdout']!r}")


@test
def memory_reported_is_the_runs_own(ctx):
    s = ctx.warm
    zrss = min(rss_bytes(z) for z in all_zygotes(s))
    w = [warm_exec(s, {"code": HELLO})["memory_bytes"] for _ in range(3)]
    c = [ctx.cold.execute({"code": HELLO})["memory_bytes"] for _ in range(3)]
    wm, cm = max(w), max(c)
    check(all(x > 0 for x in w), f"warm memory not measured: {w}")
    check(wm < zrss, f"a warm hello world reports {wm} bytes, not less than the zygote's RSS {zrss}")
    check(wm < 16 << 20, f"a warm hello world reports {wm} bytes (>= 16 MiB)")
    check(wm <= cm + (1 << 20), f"a warm hello world reports {w}, more than a cold one {c}")
    # 40 MiB of the run's own: counted, as cold.
    code = "x = bytearray(40 << 20)\nx[::4096] = b'y' * len(x[::4096])\nprint(len(x))\n"
    wj = warm_exec(s, {"code": code})
    cj = ctx.cold.execute({"code": code})
    eq((wj["status"], cj["status"]), ("ok", "ok"), "40 MiB runs")
    check(wj["memory_bytes"] >= 40 << 20, f"warm: 40 MiB reported as {wj['memory_bytes']}")
    check(wj["memory_bytes"] <= cj["memory_bytes"] + (2 << 20),
          f"warm reports {wj['memory_bytes']}, cold {cj['memory_bytes']}")


# --- The zygote holds nothing of the server's or of a run's ----------------------------------

@test
def server_secret_never_reaches_a_warm_run(ctx):
    s = ctx.warm
    for z in all_zygotes(s):
        with open(f"/proc/{z}/environ", "rb") as f:
            zenv = f.read()
        check(ctx.secret.encode() not in zenv and b"SAFEXEC_TEST_SECRET" not in zenv,
              f"the environment of zygote {z} holds the server's secret")
        found = scan_host_memory(z, [ctx.secret.encode()])
        check(not found[ctx.secret.encode()], f"the memory of zygote {z} holds the server's secret")
    control = token("ctl")
    code = MEMSCAN + (
        "import os, sys\n"
        "env = open('/proc/self/environ', 'rb').read()\n"
        "print('key', 'SAFEXEC_TEST_SECRET' in os.environ, b'SAFEXEC_TEST_SECRET' in env)\n"
        "p, d, n = sys.argv[1], sys.argv[2], int(sys.argv[3])\n"
        "print('environ', sum(hashlib.sha256(v.encode()).hexdigest() == d for v in os.environ.values()))\n"
        "c = sys.argv[4] + sys.argv[5]\n"
        "print('secret', scan(p, d, n))\n"
        "print('control', scan(*(sys.argv[6:9])) > 0)\n")
    args = needle_args(ctx.secret) + [control[:10], control[10:]] + needle_args(control)
    j = warm_exec(s, {"code": code, "args": args})
    eq(j["status"], "ok", f"status ({j['stderr'][-400:]!r})")
    eq(j["stdout"], "key False False\nenviron 0\nsecret 0\ncontrol True\n",
       "the secret in os.environ, /proc/self/environ, the process's memory (and the scan's control)")


@test
def one_runs_bytes_never_reach_the_next(ctx):
    s = ctx.warm
    zs = all_zygotes(s)
    mark, mark_in, mark_arg = token("code"), token("stdin"), token("arg")
    # The first run: its code, input and arguments hold a marker each, and
    # its own memory holds its code (the scan finds it there).
    code_a = MEMSCAN + (f"# {mark}\nM = '{mark}'\n"
                        "import sys\ndata = sys.stdin.read()\n"
                        "print('own code', scan(*sys.argv[1:4]) > 0)\n")
    a = warm_exec(s, {"code": code_a, "stdin": mark_in + "\n", "args": needle_args(mark) + [mark_arg]},
                  what="the run with the markers")
    eq((a["status"], a["stdout"]), ("ok", "own code True\n"), f"the first run ({a['stderr'][-300:]!r})")
    # The next run, from the same zygote, finds none of them.
    control = token("ctl")
    code_b = MEMSCAN + (
        "import sys\nc = sys.argv[1] + sys.argv[2]\na = sys.argv[3:]\n"
        "print('control', scan(*a[0:3]) > 0)\n"
        "print('code', scan(*a[3:6]), 'stdin', scan(*a[6:9]), 'args', scan(*a[9:12]))\n")
    b = warm_exec(s, {"code": code_b, "args": [control[:10], control[10:]] + needle_args(control)
                      + needle_args(mark) + needle_args(mark_in) + needle_args(mark_arg)},
                  what="the next run")
    eq(b["status"], "ok", f"the next run ({b['stderr'][-300:]!r})")
    eq(b["stdout"], "control True\ncode 0 stdin 0 args 0\n",
       "the previous run's code, input and arguments in the next run's memory")
    eq(zygotes(s), zs, "both runs came from one zygote: none was replaced")
    # Nor are they in the zygotes' memory, read from the host.
    for z in zs:
        found = scan_host_memory(z, [mark.encode(), mark_in.encode(), mark_arg.encode()])
        check(not any(found.values()), f"the memory of zygote {z} holds a run's bytes: {found}")


# --- The zygote's life -------------------------------------------------------------------

def warm_runs_until(s, n, timeout=20.0, trail=None):
    """Quick runs, each answered ok, until n of them ran warm (a run that
    finds no zygote ready goes cold: a fallback, not counted)."""
    c0 = counters(s)
    deadline = time.time() + timeout
    i = 0
    while counters(s)[WARM] - c0[WARM] < n:
        check(time.time() < deadline, f"only {counters(s)[WARM] - c0[WARM]} of {n} runs warm "
                                      f"within {timeout:.0f} s")
        before = zygotes(s)
        j = s.execute({"code": f"print({i})"})
        eq((j["status"], j["stdout"]), ("ok", f"{i}\n"), f"run {i + 1}")
        if trail is not None:
            trail.append((before, zygotes(s)))
        i += 1
    return i


@test
def zygote_replaced_after_warm_runs(ctx):
    # 9 warm runs with warm_runs = 3 need 3 zygotes: 2 or 3 started after
    # the first (the one after the 9th may be ready already), each
    # replaced one gone.
    s = warm_server(ctx, "--workers", "1", "--warm-runs", "3")
    try:
        wait_zygote(s)
        c0 = settled(s)
        trail = []
        warm_runs_until(s, 9, trail=trail)
        seen = []
        for p in (p for b, a in trail for p in b + a):
            if p not in seen:
                seen.append(p)
        # A zygote is counted once it is ready, a moment after it appears.
        deadline = time.time() + 5
        while counters(s)[STARTED] - c0[STARTED] < 2 and time.time() < deadline:
            time.sleep(0.05)
        started = counters(s)[STARTED] - c0[STARTED]
        check(2 <= started <= 3, f"{STARTED} rose by {started} over 9 warm runs of 3 a zygote "
                                 f"(zygotes before and after each run: {trail})")
        check(len(seen) >= 3, f"9 warm runs, 3 a zygote, came from zygotes {seen}")
        for p in seen:
            check(p in zygotes(s) or pid_gone(p), f"the replaced zygote {p} still runs")
    finally:
        s.close()


def children_of(pids):
    """{parent: [child pids]} of the live children of pids."""
    out = {}
    for p in os.listdir("/proc"):
        if p.isdigit():
            try:
                with open(f"/proc/{p}/stat") as f:
                    fields = f.read().rsplit(")", 1)[1].split()
            except (OSError, IndexError):
                continue
            if int(fields[1]) in pids and fields[0] not in ("Z", "X"):
                out.setdefault(int(fields[1]), []).append(int(p))
    return out


class SupervisorWatch(threading.Thread):
    """Notes, every millisecond, each new child of each zygote of s: a
    supervisor, one a run, in the order the runs were handed over."""

    def __init__(self, s):
        super().__init__(daemon=True)
        self.s, self.order, self.done = s, [], threading.Event()

    def run(self):
        seen, zs, refreshed = set(), [], 0.0
        while not self.done.is_set():
            if time.time() - refreshed > 0.05:
                zs, refreshed = zygotes(self.s), time.time()
            for z in zs:
                try:
                    kids = []
                    for t in os.listdir(f"/proc/{z}/task"):
                        with open(f"/proc/{z}/task/{t}/children") as f:
                            kids += [int(x) for x in f.read().split()]
                except OSError:
                    continue
                for c in kids:
                    if c not in seen:
                        seen.add(c)
                        self.order.append((c, z))
            time.sleep(0.001)


@test
def used_up_zygote_serves_no_more_runs(ctx):
    # warm_runs = 2 and 12 quick runs in a row: no zygote may serve a third
    # (a run may find none ready and go cold).  A zygote's runs show as its
    # children, the supervisors, watched for each millisecond; one missed
    # only undercounts.
    s = warm_server(ctx, "--workers", "1", "--warm-runs", "2")
    watch = SupervisorWatch(s)
    try:
        wait_zygote(s)
        c0 = counters(s)
        watch.start()
        time.sleep(0.1)
        for i in range(12):
            j = s.execute({"code": f"print({i})"})
            eq((j["status"], j["stdout"]), ("ok", f"{i}\n"), f"run {i + 1}")
        time.sleep(0.1)
        watch.done.set()
        watch.join()
        c = counters(s)
        dw, df = c[WARM] - c0[WARM], c[FALLBACK] - c0[FALLBACK]
        eq(dw + df, 12, "each run counted warm or as a fallback")
        per = {}
        for _, z in watch.order:
            per[z] = per.get(z, 0) + 1
        over = {z: n for z, n in per.items() if n > 2}
        check(not over, f"zygotes that served more than warm_runs = 2 runs: {over} "
                        f"(runs by zygote, in order: {per}; {dw} warm, {df} cold)")
        check(len(watch.order) >= min(dw, 6), f"only {len(watch.order)} of {dw} warm runs seen "
                                              f"below a zygote")
    finally:
        watch.done.set()
        s.close()


@test
def zygote_replaced_after_warm_seconds(ctx):
    s = warm_server(ctx, "--workers", "1", "--warm-seconds", "2")
    try:
        eq(warm_exec(s, {"code": HELLO})["stdout"], "Hello World\n", "first run")
        z = wait_zygote(s)
        c0 = counters(s)
        time.sleep(3)
        eq(warm_exec(s, {"code": HELLO})["stdout"], "Hello World\n", "a run after 3 s")
        z2 = wait_zygote(s)
        check(z2 != z, f"the zygote {z} still serves after 3 s of warm_seconds = 2")
        check(pid_gone(z), f"the old zygote {z} still runs")
        check(counters(s)[STARTED] > c0[STARTED], f"{STARTED} did not rise")
    finally:
        s.close()


@test
def killed_zygote_is_replaced(ctx):
    # Every zygote of the server (the serving one and a standby) killed:
    # the next runs are answered (cold until a new one is ready), new
    # zygotes start, and runs are warm again.
    s = warm_server(ctx, "--workers", "1")
    try:
        warm_exec(s, {"code": HELLO})
        zs = all_zygotes(s)
        c0 = counters(s)
        for z in zs:
            os.kill(z, signal.SIGKILL)
        for z in zs:
            check(pid_gone(z), f"the killed zygote {z} is still there")
        for i in range(3):
            j = s.execute({"code": f"print('after kill', {i})"})
            eq((j["status"], j["stdout"]), ("ok", f"after kill {i}\n"), f"run {i + 1} after the kill")
        c = counters(s)
        eq((c[WARM] - c0[WARM]) + (c[FALLBACK] - c0[FALLBACK]), 3,
           "each of the 3 runs after the kill counted as warm or as a fallback")
        wait_zygote(s, 5, other_than=zs)
        warm_again(s)
        check(counters(s)[STARTED] > c0[STARTED], f"{STARTED} did not rise")
        check(not set(zygotes(s)) & set(zs), f"killed zygotes among {zygotes(s)}")
    finally:
        s.close()


@test
def stopped_zygote_does_not_hold_runs(ctx):
    # Every zygote stopped (SIGSTOP): runs are answered within their
    # limits (cold), the stopped zygotes are replaced and do not stay
    # behind stopped, and runs are warm again.
    s = warm_server(ctx, "--workers", "1")
    zs = []
    try:
        warm_exec(s, {"code": HELLO})
        zs = all_zygotes(s)
        c0 = counters(s)
        for z in zs:
            os.kill(z, signal.SIGSTOP)
        for i in range(2):
            t0 = time.time()
            j = s.execute({"code": f"print('while stopped', {i})", "limits": {"wall_time_ms": 3000}},
                          timeout=30)
            took = time.time() - t0
            eq((j["status"], j["stdout"]), ("ok", f"while stopped {i}\n"), f"run {i + 1} while stopped")
            check(took < 3 + 5, f"run {i + 1} answered after {took:.1f} s (wall limit 3 s)")
        c = counters(s)
        check(c[FALLBACK] > c0[FALLBACK], f"{FALLBACK} did not rise while the zygotes were stopped")
        eq((c[WARM] - c0[WARM]) + (c[FALLBACK] - c0[FALLBACK]), 2, "both runs counted")
        # Replaced, and not left behind stopped (where only SIGKILL ends it).
        for z in zs:
            check(pid_gone(z, 10), f"the stopped zygote {z} is still there 10 s after runs went cold")
        wait_zygote(s, 5, other_than=zs)
        warm_again(s)
        check(not set(zygotes(s)) & set(zs), f"stopped zygotes among {zygotes(s)}")
    finally:
        for z in zs:
            try:
                os.kill(z, signal.SIGCONT)
            except OSError:
                pass
        s.close()


def tree(root):
    """(pid, start time) of root and every process below it."""
    kids, starts = {}, {}
    for p in os.listdir("/proc"):
        if p.isdigit():
            try:
                with open(f"/proc/{p}/stat") as f:
                    fields = f.read().rsplit(")", 1)[1].split()
            except (OSError, IndexError):
                continue
            kids.setdefault(int(fields[1]), []).append(int(p))
            starts[int(p)] = fields[19]
    out, todo = [], [root]
    while todo:
        p = todo.pop()
        if p in starts:
            out.append((p, starts[p]))
        todo += kids.get(p, [])
    return out


@test
def killed_supervisor_ends_its_run(ctx):
    # The supervisor of a warm run dies (SIGKILL) while its program runs:
    # the run ends at once as internal_error, is not run again, and nothing
    # of it is left.
    s = warm_server(ctx, "--workers", "1")
    try:
        warm_exec(s, {"code": HELLO})
        zs = set(all_zygotes(s))
        old = {c for cs in children_of(zs).values() for c in cs}
        c0 = counters(s)
        with futures.ThreadPoolExecutor(1) as pool:
            t0 = time.time()
            f = pool.submit(s.execute, {"code": "import time\nprint('started', flush=True)\n"
                                                "time.sleep(8)\nprint('finished')\n"})
            sup, procs = None, []
            while time.time() - t0 < 5 and sup is None:
                new = {c for cs in children_of(zs).values() for c in cs} - old
                if new:
                    sup = min(new)
                time.sleep(0.01)
            check(sup is not None, "no supervisor appeared below the zygote")
            time.sleep(0.5)         # the program is running
            procs = tree(sup)
            check(len(procs) >= 2, f"the supervisor {sup} has no program below it: {procs}")
            os.kill(sup, signal.SIGKILL)
            t1 = time.time()
            j = f.result()
            took = time.time() - t1
        eq(j["status"], "internal_error", f"the run whose supervisor died ({j})")
        check(took < 3, f"answered {took:.1f} s after its supervisor died")
        deadline = time.time() + 3
        while E.alive(procs) and time.time() < deadline:
            time.sleep(0.05)
        check(not E.alive(procs), f"processes of the run left: {E.alive(procs)}")
        c = counters(s)
        # Not started again cold (a fallback), nor warm a second time.
        check(c[FALLBACK] == c0[FALLBACK] and c[WARM] - c0[WARM] <= 1,
              f"{WARM} rose by {c[WARM] - c0[WARM]}, {FALLBACK} by {c[FALLBACK] - c0[FALLBACK]}")
        warm_again(s)
    finally:
        s.close()


def warm_again(s, timeout=5.0):
    """Runs hello world until one goes warm (each answered ok), for up to
    timeout seconds: a zygote being replaced is ready within it."""
    deadline = time.time() + timeout
    while True:
        before = counters(s)
        j = s.execute({"code": HELLO})
        eq((j["status"], j["stdout"]), ("ok", "Hello World\n"), "hello world")
        time.sleep(0.05)        # the counters follow the answer
        now = counters(s)
        if now[WARM] > before[WARM]:
            return
        check(time.time() < deadline, f"no run warm again within {timeout:.0f} s")
        time.sleep(0.1)


@test
def zygote_ends_with_the_server(ctx):
    s = warm_server(ctx, "--workers", "1")
    try:
        warm_exec(s, {"code": HELLO})
        zs = all_zygotes(s)
        # A warm run under way when the server is told to stop is answered.
        with futures.ThreadPoolExecutor(1) as pool:
            f = pool.submit(s.execute, {"code": "import time\ntime.sleep(1.5)\nprint('finished')\n"})
            time.sleep(0.5)
            eq(s.stop(), 0, f"the server's exit status ({s.errors()[-300:]!r})")
            j = f.result()
        eq((j["status"], j["stdout"]), ("ok", "finished\n"), "the run under way at SIGTERM")
        for z in zs:
            check(pid_gone(z), f"the zygote {z} outlived its server's SIGTERM")
    finally:
        s.close()
    s = warm_server(ctx, "--workers", "1")
    zs = []
    try:
        warm_exec(s, {"code": HELLO})
        zs = all_zygotes(s)
        s.proc.kill()
        s.proc.wait()
        for z in zs:
            check(pid_gone(z), f"the zygote {z} outlived its server's SIGKILL")
    finally:
        for z in zs:
            if not pid_gone(z, 0.1):
                os.kill(z, signal.SIGKILL)
        s.close()


@test
def grace_period_ends_warm_runs_as_cold(ctx):
    # A warm run still going when the grace period ends is killed and
    # answered as a cold one is (tests/e2e/run.py's grace_period_expires),
    # and nothing of the server is left, zygote included.
    s = warm_server(ctx, "--grace-period", "1", "--workers", "1")
    try:
        warm_exec(s, {"code": HELLO})
        zs = set(all_zygotes(s))

        def kids():
            return {c for cs in children_of(zs).values() for c in cs}
        old = kids()
        with futures.ThreadPoolExecutor(1) as pool:
            f = pool.submit(s.post, "/run", {"code": "while True: pass"})
            deadline = time.time() + 5
            while not kids() - old and time.time() < deadline:
                time.sleep(0.02)
            check(kids() - old, "the run did not start below a zygote")
            time.sleep(0.3)
            procs = s.descendants()
            t0 = time.time()
            eq(s.stop(timeout=20), 0, f"exit status ({s.errors()[-300:]!r})")
            check(time.time() - t0 < 5, f"took {time.time() - t0:.1f} s to stop with a 1 s grace period")
            r = f.result(timeout=10)
        eq(r.status, 200, "the killed run is answered")
        j = r.json
        eq((j["status"], j["signal"], j["exit_code"]), ("signaled", 9, None), "the killed run")
        check("service stopped" in j["message"], f"message {j['message']!r}")
        deadline = time.time() + 3
        while E.alive(procs) and time.time() < deadline:
            time.sleep(0.05)
        eq(E.alive(procs), [], "processes of the server left behind")
    finally:
        s.close()


@test
def warm_settings_from_file_and_environment(ctx):
    d = tempfile.mkdtemp(prefix="safexec-warm-conf-")
    try:
        conf = os.path.join(d, "safexec.conf")
        with open(conf, "w") as f:
            f.write("warm = python\nwarm_runs = 2\nwarm_seconds = 60\nworkers = 1\n")
        s = E.Server(ctx.binary, "--runtimes", ctx.rt, "--config", conf)
        try:
            wait_zygote(s)
            c0 = settled(s)
            warm_runs_until(s, 5)
            deadline = time.time() + 5
            while counters(s)[STARTED] - c0[STARTED] < 2 and time.time() < deadline:
                time.sleep(0.05)
            check(counters(s)[STARTED] - c0[STARTED] >= 2, f"warm_runs = 2 from the file: {STARTED} from "
                  f"{c0[STARTED]} to {counters(s)[STARTED]} over 5 warm runs ({children(s)})")
        finally:
            s.close()
        s = E.Server(ctx.binary, "--runtimes", ctx.rt, "--workers", "1", env={"SAFEXEC_WARM": "python"})
        try:
            warm_exec(s, {"code": HELLO}, what="SAFEXEC_WARM=python")
        finally:
            s.close()
        for args, words in ((["--warm", "ruby"], ["warm", "ruby"]), (["--warm-runs", "0"], ["warm_runs"]),
                            (["--warm-seconds", "0"], ["warm_seconds"])):
            p = subprocess.run([ctx.binary, "serve", "--listen", "127.0.0.1:0", *args],
                               capture_output=True, text=True, timeout=20, cwd=d)
            eq(p.returncode, 2, f"exit status for {args}")
            for w in words:
                check(w in p.stderr.replace("-", "_"), f"{args}: message {p.stderr!r}")
    finally:
        shutil.rmtree(d, ignore_errors=True)


CONCURRENT = r'''
import os, sys, time
tok = sys.argv[1]
data = sys.stdin.read()
ns = [os.readlink('/proc/self/ns/' + n) for n in ('pid', 'mnt', 'net', 'ipc', 'uts', 'user', 'cgroup')]
open('/tmp/t', 'w').write(tok)
time.sleep(1)
print(tok, data, open('/tmp/t').read(), ' '.join(ns))
'''


@test
def concurrent_warm_runs_are_each_their_own(ctx):
    s = warm_server(ctx, "--workers", "16")
    try:
        warm_exec(s, {"code": HELLO})
        zns = {os.readlink(f"/proc/{z}/ns/{n}") for z in all_zygotes(s)
               for n in ("pid", "mnt", "net", "ipc", "uts", "user", "cgroup")}
        sns = {os.readlink(f"/proc/{s.proc.pid}/ns/{n}") for n in ("pid", "mnt", "net", "ipc", "uts", "user")}
        c0 = counters(s)
        toks = [token(f"t{i:02d}x") for i in range(16)]
        with futures.ThreadPoolExecutor(16) as pool:
            runs = list(pool.map(lambda t: s.execute({"code": f"# {t}\n" + CONCURRENT, "args": [t],
                                                      "stdin": "in-" + t}), toks))
        expect_delta(s, c0, 16, 0, "16 concurrent runs")
        seen = {}
        for t, j in zip(toks, runs):
            eq(j["status"], "ok", f"run {t} ({j['stderr'][-300:]!r})")
            f = j["stdout"].split()
            eq(f[:3], [t, "in-" + t, t], "the run's own argument, input and /tmp")
            ns = f[3:]
            eq(len(ns), 7, f"namespaces {ns}")
            for n in ns:
                check(n not in zns, f"run {t} shares the zygote's namespace {n}")
                check(n not in sns, f"run {t} shares the server's namespace {n}")
                check(n not in seen, f"runs {seen.get(n)} and {t} share the namespace {n}")
                seen[n] = t
        wall = [j["wall_time_ms"] for j in runs]
        check(max(wall) < 8000, f"wall times {wall}")
    finally:
        s.close()


# --- Runner -----------------------------------------------------------------------------

def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", required=True)
    ap.add_argument("only", nargs="*", help="glob patterns of test names")
    args = ap.parse_args()
    binary = os.path.abspath(args.bin)
    if not os.access(binary, os.X_OK):
        print(f"warm: {binary} is not executable")
        print("0 passed, 1 failed")
        return 1
    selected = [(n, f) for n, f in TESTS
                if not args.only or any(fnmatch.fnmatch(n, p) for p in args.only)]
    tally = E.Tally()
    start = time.time()

    ctx = Ctx()
    ctx.binary = binary
    ctx.rt = runtimes_dir()
    ctx.secret = "sxw" + os.urandom(20).hex()
    ctx.warm = ctx.cold = None
    try:
        try:
            ctx.warm = warm_server(ctx, "--workers", "1", "--max-body", "16M",
                                   env={"SAFEXEC_TEST_SECRET": ctx.secret})
            ctx.cold = cold_server(ctx, "--workers", "1", "--max-body", "16M",
                                   env={"SAFEXEC_TEST_SECRET": ctx.secret})
        except Exception as e:
            print(f"FAIL server_start: {e}")
            print(tally.summary(more_failed=1))
            return 1
        for n, f in selected:
            tally.run(n, f, ctx)

        def clean_stop():
            for s in (ctx.warm, ctx.cold):
                rc = s.stop()
                if rc != 0:
                    raise Fail(f"exit status {rc}; stderr: {s.errors()}")
        tally.run("shared_servers_stop_cleanly", clean_stop)
    finally:
        for s in (ctx.warm, ctx.cold):
            if s:
                s.close()
        shutil.rmtree(ctx.rt, ignore_errors=True)
    print(f"warm took {time.time() - start:.0f} s")
    print(tally.summary())
    return 1 if tally.failed else 0


if __name__ == "__main__":
    sys.exit(main())
