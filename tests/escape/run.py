#!/usr/bin/env python3
"""The escape-and-abuse suite for `safexec run`.

    python3 tests/escape/run.py --bin build/safexec [NAME...]
    python3 tests/escape/run.py --bin build/safexec --rootless [NAME...]
    python3 tests/escape/run.py --bin build/layers/safexec --without caps
    python3 tests/escape/run.py --bin build/layers/safexec --without seccomp
    python3 tests/escape/run.py --bin build/safexec [--rootless] --warm [NAME...]

Runs every case of cases.py and cases_c.py (or those whose name contains one
of NAME) as an untrusted program under `safexec run --json` (the C cases
with `--language c`: compiled in a sandbox, then run) and asserts its
precise safe outcome.  No answer may hold the host's secret (in safexec's
environment) or the marker line of a host file (M.marker, in M.marker_file,
readable by anyone on the host).

--without LAYER runs a test build (`make layers`) with one protection layer
left out (SAFEXEC_TEST_WITHOUT=LAYER), to show that the other holds by
itself: `caps` keeps every capability of the sandbox's user namespace, so
that only the seccomp filter stands; `seccomp` loads no filter, so that only
the capability drop stands.  Only the cases that test the remaining layer
run (see `layers` in cases.py); the others are skipped, each with its
reason.  A first run checks that the layer is really gone (a binary that
ignores the variable would make the mode prove nothing).  Without --without
the variable is removed from safexec's environment.

--warm runs every Python case with `safexec run --warm`: the program runs
in a process forked from a zygote started for that one invocation (the code
path of `safexec serve --warm python`), and must give exactly the outcome
the cold run gives, checked alike.  The C cases are skipped in this mode
(C runs cold).  The zygote is a `BINARY zygote` process that must end with
its `safexec run`: one left behind is a leftover like any other (and it,
its descendants and the cgroups it holds are never taken for someone
else's, as another safexec's would be).

After each case it checks that nothing was left behind:

  processes  no process that appeared during the case, outside this suite,
             that runs as the sandbox's host uid, has /box/main (main.py, or
             a compiled program) on its command line, or lives in another
             pid namespace and, where runs have cgroups, in a run's cgroup
             (a concurrent run of someone else's safexec, a live process
             whose comm is "safexec" in our pid namespace, and its
             descendants, are not ours and are ignored, and so are
             processes in someone else's cgroups, see below); nor any
             zygote of the binary under test (`BINARY zygote`), whatever
             its uid;
  cgroups    no new directory under any cgroup or cgroup2 mount whose path
             has a `safexec` component above it (the instance and run
             cgroups, `.../safexec/inst-<hex>/run-<n>`; the `safexec`
             directory itself stays), nor of the older name safexec-run-*.
             Someone else's: a safexec-run-<pid>-* of a live safexec that is
             not ours; an instance directory that was there before the case
             (each safexec this suite starts makes a new one) or whose lock
             (the flock each safexec holds on its instance directory while
             it lives) a live process not started by this suite holds; on
             v1, anything below another cgroup than the suite's own (each
             safexec works below its own cgroup, and ours have the
             suite's);
  mounts     /proc/self/mountinfo of the host unchanged.

A leftover may take a moment to go: each check is retried for up to 2 s
before it counts.  Cases run one at a time, so each check is exact for its
case (two_runs_at_once starts its two runs together and is checked after
both).

The C cases name the tree's runtime files (runtimes/, with --runtimes):
safexec would look beside its binary, where the layers build has none.

--rootless, started as root, copies the binary and the suite (with
runtimes/c.conf) to a fresh directory and re-runs the suite as nobody
(uid 65534) through setpriv, with --without and --warm as given; started
unprivileged it just runs.  Expectations follow what
`safexec check --json` says is in force, and the check itself must report
the missing cgroup limits.

Output: one line per case, `ok   name`, `FAIL name: expected ..., got ...`
or `skip name: reason`, then `N passed, N failed, N skipped`; the exit
status is 1 when anything failed.
"""

import argparse
import hashlib
import json
import os
import re
import resource
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import cases as C  # noqa: E402
import cases_c  # noqa: E402,F401  (registers the C cases in C.CASES)

NOBODY = 65534
GRACE_S = 2.0
# raise_limits: safexec runs with these (soft = hard), so that only the
# sandbox's own rlimits hold the program's priority and locked memory back;
# without CAP_SYS_RESOURCE only up to the hard limits (see raised_limits).
RAISED_LIMITS = {"NICE": 40, "RTPRIO": 99, "MEMLOCK": 64 << 20}
CAP_SYS_RESOURCE = 24
RESULT_KEYS = {
    "status": str, "exit_code": (int, type(None)), "signal": (int, type(None)),
    "stdout": str, "stderr": str, "output": str, "stdout_truncated": bool,
    "stderr_truncated": bool, "wall_time_ms": int, "cpu_time_ms": int,
    "memory_bytes": int,
}
STATUSES = {"ok", "runtime_error", "signaled", "timeout", "memory_limit",
            "output_limit", "internal_error"}
# The compile stage's result, in the answer of a compiled language.
COMPILE_KEYS = {
    "status": str, "exit_code": (int, type(None)), "signal": (int, type(None)),
    "stdout": str, "stderr": str, "output": str, "stdout_truncated": bool,
    "stderr_truncated": bool, "wall_time_ms": int, "cpu_time_ms": int,
    "memory_bytes": int, "message": str,
}


def short(v, n=160):
    s = repr(v)
    return s if len(s) <= n else s[:n - 20] + "..." + s[-17:]


# --------------------------------------------------------------------------
# Host-side fixtures: services the sandbox must not reach

class Listener:
    """Accepts and counts connections on a listening socket, in a thread."""

    def __init__(self, sock):
        self.sock = sock
        self.n = 0
        threading.Thread(target=self._loop, daemon=True).start()

    def _loop(self):
        while True:
            try:
                c, _ = self.sock.accept()
            except OSError:
                return
            self.n += 1
            c.close()

    def count(self):
        return self.n

    def reset(self):
        self.n = 0


class Mode:
    """What the cases' expectations depend on (the `M` of cases.py)."""


def host_ipv4s():
    ips = []
    try:
        out = subprocess.run(["ip", "-o", "-4", "addr", "show"], capture_output=True,
                             text=True, timeout=5).stdout
        for m in re.finditer(r"\binet (\d+\.\d+\.\d+\.\d+)/", out):
            if not m.group(1).startswith("127."):
                ips.append(m.group(1))
    except (OSError, subprocess.SubprocessError):
        pass
    return ips


def python():
    """The interpreter for the suite's own helpers: the one the sandbox runs,
    which an unprivileged user can always execute."""
    return "/usr/bin/python3" if os.access("/usr/bin/python3", os.X_OK) else sys.executable


def probe_int80():
    """Does this host run i386 code through int 0x80 at all?"""
    try:
        r = subprocess.run([python(), "-c", "import ctypes\n" + C.INT80],
                           capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.SubprocessError) as e:
        print("# int 0x80 probe failed: %s" % e)
        return False
    if r.returncode != 0 or "after" not in r.stdout:
        print("# int 0x80 probe: exit %s, %s" % (r.returncode, short(r.stderr)))
        return False
    return True


# --------------------------------------------------------------------------
# Leftover checks

def proc_snapshot():
    snap = {}
    for p in os.listdir("/proc"):
        if not p.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % p) as f:
                s = f.read()
        except OSError:
            continue
        rest = s.rsplit(")", 1)[1].split()
        comm = s[s.index("(") + 1:s.rindex(")")]
        snap[int(p)] = (int(rest[19]), int(rest[1]), comm)   # start, ppid, comm
    return snap


def read_quiet(path, binary=False):
    try:
        with open(path, "rb" if binary else "r") as f:
            return f.read()
    except OSError:
        return None


def pidns(pid):
    try:
        return os.readlink("/proc/%d/ns/pid" % pid)
    except OSError:
        return None


def proc_uids(pid):
    st = read_quiet("/proc/%d/status" % pid) or ""
    m = re.search(r"^Uid:\s+(\d+)\s+(\d+)", st, re.M)
    return {int(m.group(1)), int(m.group(2))} if m else set()


def proc_argv(pid):
    return (read_quiet("/proc/%d/cmdline" % pid, True) or b"").split(b"\0")


_BINARY_DIGEST = {}


def binary_digest(path):
    if path not in _BINARY_DIGEST:
        try:
            with open(path, "rb") as f:
                _BINARY_DIGEST[path] = hashlib.sha256(f.read()).digest()
        except OSError:
            _BINARY_DIGEST[path] = None
    return _BINARY_DIGEST[path]


def is_zygote_of(pid, M):
    """Is pid a zygote of the binary under test, or a supervisor it forked
    (the same command line: `NAME zygote PARENT-PID`)?  Its parent pid is a
    `safexec run` this suite started, or its binary is the one under test
    (by path, or by content: the zygote may run a copy in memory)."""
    argv = proc_argv(pid)
    if len(argv) < 2 or argv[1] != b"zygote":
        return False
    if len(argv) > 2 and argv[2].isdigit() and int(argv[2]) in M.our_safexec:
        return True
    real = os.path.realpath(M.bin)
    try:
        exe = os.readlink("/proc/%d/exe" % pid)
    except OSError:
        exe = None
    if exe == real or os.path.realpath(argv[0].decode(errors="replace")) == real:
        return True
    digest = read_quiet("/proc/%d/exe" % pid, True) if exe is not None else None
    return digest is not None and hashlib.sha256(digest).digest() == binary_digest(M.bin)


def descendants(snap, roots):
    kids = {}
    for pid, (_, ppid, _) in snap.items():
        kids.setdefault(ppid, []).append(pid)
    seen, stack = set(), list(roots)
    while stack:
        p = stack.pop()
        if p in seen:
            continue
        seen.add(p)
        stack += kids.get(p, [])
    return seen


def flock_holders():
    """{(major, minor, inode): pid} of every flock() lock on the host."""
    out = {}
    for ln in (read_quiet("/proc/locks") or "").splitlines():
        f = ln.split()
        if len(f) < 6 or f[1] != "FLOCK" or "->" in f:
            continue
        try:
            major, minor, ino = f[5].split(":")
            out[(int(major, 16), int(minor, 16), int(ino))] = int(f[4])
        except ValueError:
            pass
    return out


class Leftovers:
    def __init__(self, M):
        self.M = M
        self.my_ns = pidns(os.getpid())
        self.before = None
        self.own_ctrls, self.own_v1 = self.own_v1_cgroups()

    @staticmethod
    def own_v1_cgroups():
        """This suite's own cgroup in each v1 hierarchy: {controllers:
        path} and {mount point: path}.  On v1 a safexec puts its cgroups
        below its own cgroup of each hierarchy, and the safexecs this suite
        starts have the suite's: cgroups below another cgroup of a v1
        hierarchy are someone else's (another user of the host, or a
        container of its own).  Unknown (empty) when SAFEXEC_CGROUP names
        the parent instead."""
        if os.environ.get("SAFEXEC_CGROUP"):
            return {}, {}
        own = {}
        for ln in (read_quiet("/proc/self/cgroup") or "").splitlines():
            _, ctrls, path = ln.split(":", 2)
            if ctrls:
                own[frozenset(ctrls.split(","))] = path.rstrip("/")
        out = {}
        for ln in Leftovers.mountinfo():
            left, _, right = ln.partition(" - ")
            r = right.split()
            if len(r) < 3 or r[0] != "cgroup":
                continue
            opts = set(r[2].split(","))
            for ctrls, path in own.items():
                if ctrls <= opts:
                    out[left.split()[4]] = path
        return own, out

    @staticmethod
    def _above_safexec(rel):
        """The part of a cgroup path above its safexec component."""
        comps = rel.split("/")
        for i, c in enumerate(comps):
            if c == "safexec" or c.startswith("safexec-run-"):
                return "/".join(comps[:i])
        return None

    def _elsewhere(self, path, ctrls=None):
        """Is this safexec cgroup below another cgroup than the suite's own
        in a v1 hierarchy?  path: a file system path, or with ctrls (the
        controllers of a line of /proc/PID/cgroup) a path in that
        hierarchy."""
        if ctrls is not None:
            own, rel = self.own_ctrls.get(frozenset(ctrls.split(","))), path
        else:
            own = rel = None
            for mp, o in self.own_v1.items():
                if path.startswith(mp + "/"):
                    own, rel = o, path[len(mp):]
        if own is None:
            return False
        above = self._above_safexec(rel)
        return above is not None and above != own

    def snapshot(self):
        self.before = (proc_snapshot(), self.cgroups(), self.mountinfo())

    @staticmethod
    def cgroup_mounts():
        """Mount points of every cgroup and cgroup2 file system."""
        pts = set()
        for ln in Leftovers.mountinfo():
            left, _, right = ln.partition(" - ")
            fields = left.split()
            if right.split()[:1] in (["cgroup"], ["cgroup2"]) and len(fields) > 4:
                pts.add(re.sub(r"\\([0-7]{3})", lambda m: chr(int(m.group(1), 8)),
                               fields[4]))
        if not pts and os.path.isdir("/sys/fs/cgroup"):
            pts.add("/sys/fs/cgroup")
        return sorted(pts)

    @staticmethod
    def cgroups():
        """Every run or instance cgroup of any safexec: a directory below a
        `safexec` one (not that one itself), or named safexec-run-*."""
        found = set()
        for mp in Leftovers.cgroup_mounts():
            for root, dirs, _ in os.walk(mp):
                for d in dirs:
                    path = os.path.join(root, d)
                    comps = os.path.relpath(path, mp).split("/")
                    if (any(c.startswith("safexec-run-") for c in comps)
                            or ("safexec" in comps[:-1] and comps[-1] != "safexec")):
                        found.add(path)
        return found

    @staticmethod
    def cg_owner(path):
        """("pid", pid) for a safexec-run-<pid>-* cgroup (or one below it),
        ("inst", instance directory) for one below a `safexec` directory."""
        comps = path.split("/")
        for c in comps:
            m = re.match(r"safexec-run-(\d+)-", c)
            if m:
                return "pid", int(m.group(1))
        for i in range(len(comps) - 2, -1, -1):
            if comps[i] == "safexec":
                return "inst", "/".join(comps[:i + 2])
        return None, None

    @staticmethod
    def mountinfo():
        return (read_quiet("/proc/self/mountinfo") or "").splitlines()

    def _foreign_safexecs(self, now, mine):
        """Live safexec processes outside this suite, in our pid namespace
        (or one we may not look at: another user's): someone else's."""
        return [pid for pid, (_, _, comm) in now.items()
                if comm == "safexec" and pid not in mine
                and pidns(pid) in (self.my_ns, None)
                and not (proc_uids(pid) & self.M.sandbox_uids)
                and not is_zygote_of(pid, self.M)]

    def _ours(self, pid):
        """A safexec this suite started, or a zygote of the binary under
        test (which only this suite's runs start)."""
        return pid in self.M.our_safexec or is_zygote_of(pid, self.M)

    def _live_instances(self, paths):
        """Names of the instance cgroups among paths that are someone
        else's: a live process this suite did not start holds its lock
        (each safexec holds an flock() on its instance directory for as
        long as it lives; the engine's own sweep goes by the same lock), or
        a copy of it lies below another cgroup than the suite's own in a v1
        hierarchy."""
        holders = flock_holders()
        names = set()
        for path in paths:
            kind, key = self.cg_owner(path)
            if kind != "inst" or path != key:
                continue
            if self._elsewhere(path):
                names.add(os.path.basename(path))
            try:
                st = os.stat(path)
            except OSError:
                continue
            pid = holders.get((os.major(st.st_dev), os.minor(st.st_dev), st.st_ino))
            if (pid and not self._ours(pid)
                    and os.path.exists("/proc/%d" % pid)):
                names.add(os.path.basename(path))
        return names

    def _foreign_cgroup(self, path, live, ctrls=None):
        """Is cgroup path (or a process in it) someone else's?  ctrls: see
        _elsewhere."""
        kind, key = self.cg_owner(path)
        if kind and self._elsewhere(path, ctrls):
            return True
        if kind == "pid":
            return not self._ours(key) and os.path.exists("/proc/%d" % key)
        return kind == "inst" and os.path.basename(key) in live

    def _procs(self):
        M = self.M
        before = self.before[0]
        now = proc_snapshot()
        mine = descendants(now, [os.getpid()])
        foreign = descendants(now, self._foreign_safexecs(now, mine))
        live = None
        left = []
        for pid, info in now.items():
            if pid in mine or pid in foreign:
                continue
            if pid in before and before[pid][0] == info[0]:
                continue        # was there before the case
            cmd = (read_quiet("/proc/%d/cmdline" % pid, True) or b"").replace(b"\0", b" ")
            uids = proc_uids(pid)
            ns = pidns(pid)
            cgs = [ln.split(":", 2)[1:] for ln in
                   (read_quiet("/proc/%d/cgroup" % pid) or "").splitlines() if ln.count(":") >= 2]
            in_runs = any(self.cg_owner(c)[0] for _, c in cgs)
            why = []
            # A zygote of a `safexec run --warm` (or a supervisor it
            # forked, whose command line is the same) ends with it.
            zygote = is_zygote_of(pid, M)
            if zygote:
                why.append("a zygote or its supervisor left behind")
            # A sandboxed program whose host uid is not the one this mode
            # maps to belongs to another user's safexec.
            if b"/box/main" in cmd and (not uids or not M.sandbox_uids
                                        or uids & M.sandbox_uids):
                why.append("runs /box/main*")
            if uids & M.sandbox_uids:
                why.append("uid %s" % sorted(uids))
            # Another pid namespace: where runs have cgroups, a sandbox's
            # process is in one of them from its start (a container of
            # someone else's is not).
            if (ns is not None and self.my_ns is not None and ns != self.my_ns
                    and (in_runs or M.features.get("cgroup") in (None, "none"))):
                why.append("pid namespace %s" % ns)
            if why:
                # In a cgroup of a run of someone else's live safexec (or
                # of another program built on the engine, the unit tests).
                if live is None:
                    live = self._live_instances(self.cgroups())
                if not zygote and any(self._foreign_cgroup(c, live, ctrls) for ctrls, c in cgs):
                    continue
                left.append((pid, "pid %d (%s, %s: %s)" % (
                    pid, info[2], cmd.decode(errors="replace").strip()[:60],
                    ", ".join(why))))
        return left

    def _cgroups(self):
        """New cgroups of this case's safexecs."""
        cur = self.cgroups()
        new = cur - self.before[1]
        if not new:
            return []
        live = self._live_instances(cur)
        left = []
        for path in sorted(new):
            kind, key = self.cg_owner(path)
            if self._foreign_cgroup(path, live):
                continue            # someone else's
            if kind == "inst" and key in self.before[1]:
                continue            # an instance older than the case
            left.append(path)
        return left

    def _mounts(self):
        b = self.before[2]
        now = self.mountinfo()
        added = [l for l in now if l not in b]
        removed = [l for l in b if l not in now]
        return added, removed

    def check(self):
        """Problems found; retried for GRACE_S.  Kills leftover processes
        (ours, by pid) so that one failure does not spill into the next."""
        deadline = time.monotonic() + GRACE_S
        while True:
            procs = self._procs()
            cgs = self._cgroups()
            added, removed = self._mounts()
            if not (procs or cgs or added or removed) or time.monotonic() > deadline:
                break
            time.sleep(0.1)
        out = []
        if procs:
            out.append("left processes: " + "; ".join(d for _, d in procs))
            for pid, _ in procs:
                try:
                    os.kill(pid, signal.SIGKILL)
                except OSError:
                    pass
        if cgs:
            out.append("left cgroups: " + ", ".join(cgs))
            time.sleep(0.2)     # the processes just killed leave them
            # Deepest first, so that a failure does not spill into the next
            # cases; rmdir only ever succeeds on an empty cgroup.
            for path in sorted(cgs, key=lambda p: -p.count("/")):
                kind, key = self.cg_owner(path)
                if kind == "inst" or (kind == "pid" and key in self.M.our_safexec):
                    try:
                        os.rmdir(path)
                    except OSError:
                        pass
        if added:
            out.append("host mounts added: " + " | ".join(l[:120] for l in added))
        if removed:
            out.append("host mounts removed: " + " | ".join(l[:120] for l in removed))
        return out


# --------------------------------------------------------------------------
# Running safexec

def wall_limit_s(opts, option="--wall-time"):
    for i, o in enumerate(opts):
        if o == option and i + 1 < len(opts):
            return int(opts[i + 1]) / 1000
    return 10.0


class Runner:
    def __init__(self, M, binary):
        self.M = M
        self.bin = binary
        self.env = dict(os.environ)
        # The secret lives in safexec's own environment: nothing of it may
        # reach the program.
        self.env["SAFEXEC_TEST_SECRET"] = M.secret
        self.env["AWS_SECRET_ACCESS_KEY"] = M.secret
        # The layer to leave out, in a test build; never by accident.
        self.env.pop("SAFEXEC_TEST_WITHOUT", None)
        if M.without:
            self.env["SAFEXEC_TEST_WITHOUT"] = M.without
        self.ptys = {}

    def start(self, tag, code, opts, args, pass_fds=(), tty=False, raise_limits=False,
              language=None):
        """tty: safexec starts in a session of its own whose controlling
        terminal is a new pty (setsid --ctty fails, and so does the case,
        when it cannot be made so).  raise_limits: safexec starts with the
        limits M.raised (prlimit fails, and so does the case, when it
        cannot set them).  language: "c" runs the code as C."""
        path = os.path.join(self.M.tmp, tag + (".c" if language == "c" else ".py"))
        with open(path, "w") as f:
            f.write(code)
        lang = ["--language", language, "--runtimes", self.M.runtimes] if language else []
        warm = ["--warm"] if self.M.warm and not language else []
        cmd = [self.bin, "run", "--json"] + warm + lang + list(opts) + [path]
        if args:
            cmd += ["--"] + list(args)
        if raise_limits:
            cmd = ["prlimit"] + ["--%s=%d" % (k.lower(), v)
                                 for k, v in self.M.raised.items()] + ["--"] + cmd
        stdin, master = None, None
        if tty:
            master, stdin = os.openpty()
            cmd = ["setsid", "--ctty"] + cmd
        try:
            p = subprocess.Popen(cmd, stdin=stdin, stdout=subprocess.PIPE,
                                 stderr=subprocess.PIPE, env=self.env,
                                 pass_fds=tuple(pass_fds), close_fds=True)
        finally:
            if stdin is not None:
                os.close(stdin)
        if master is not None:
            self.ptys[p] = master   # open until safexec ends: no hang-up
        self.M.our_safexec.add(p.pid)
        return p

    def finish(self, p, opts, timeout=None, language=None):
        limit = timeout or wall_limit_s(opts) + 20
        if language and not timeout:
            limit += wall_limit_s(opts, "--compile-wall-time")
        try:
            try:
                out, err = p.communicate(timeout=limit)
            except subprocess.TimeoutExpired:
                p.kill()
                p.communicate()
                return None, "safexec did not finish within %.0f s" % limit
        finally:
            if p in self.ptys:
                os.close(self.ptys.pop(p))
        raw = out.decode("utf-8", "replace")
        problems = []
        if self.M.secret in raw or "SAFEXEC_TEST_SECRET" in raw:
            problems.append("the host's secret appears in the result")
        if self.M.marker in raw:
            problems.append("the marker line of a host file appears in the result")
        try:
            res = json.loads(out)
        except ValueError:
            return None, "no valid JSON (exit %d): stdout %s, stderr %s" % (
                p.returncode, short(raw), short(err.decode("utf-8", "replace")))
        if not isinstance(res, dict):
            return None, "JSON is not an object: %s" % short(res)
        for k, t in RESULT_KEYS.items():
            if k not in res:
                problems.append("result lacks %s" % k)
            elif not isinstance(res[k], t) or (t is int and isinstance(res[k], bool)):
                problems.append("%s has type %s" % (k, type(res[k]).__name__))
        if res.get("status") not in STATUSES | ({"compile_error"} if language else set()):
            problems.append("unknown status %s" % short(res.get("status")))
        if res.get("status") == "internal_error":
            problems.append("internal_error: %s" % short(res.get("error")))
        if language:
            comp = res.get("compile")
            if not isinstance(comp, dict):
                problems.append("result lacks the compile stage's (compile: %s)" % short(comp))
            else:
                for k, t in COMPILE_KEYS.items():
                    if k not in comp:
                        problems.append("compile lacks %s" % k)
                    elif not isinstance(comp[k], t) or (t is int and isinstance(comp[k], bool)):
                        problems.append("compile.%s has type %s" % (k, type(comp[k]).__name__))
                if comp.get("status") not in STATUSES:
                    problems.append("unknown compile status %s" % short(comp.get("status")))
                if comp.get("status") == "internal_error":
                    problems.append("compile internal_error: %s" % short(comp.get("error")))
                if (comp.get("status") == "ok") != (res.get("status") != "compile_error"):
                    problems.append("compile status %s with status %s" % (
                        short(comp.get("status")), short(res.get("status"))))
        res["_problems"] = problems
        res["_raw"] = raw
        return res, None

    def run(self, tag, code, opts, args, pass_fds=(), timeout=None, **how):
        p = self.start(tag, code, opts, args, pass_fds, **how)
        return self.finish(p, opts, timeout, how.get("language"))

    def run_many(self, specs):
        """Starts every (tag, code, opts, args) at once; returns
        [(res, err, t_start, t_end)] in order."""
        procs = []
        for tag, code, opts, args in specs:
            procs.append((self.start(tag, code, opts, args), opts, time.monotonic()))
        results = [None] * len(procs)

        def wait(i, p, opts, t0):
            res, err = self.finish(p, opts)
            results[i] = (res, err, t0, time.monotonic())
        ts = [threading.Thread(target=wait, args=(i,) + x) for i, x in enumerate(procs)]
        for t in ts:
            t.start()
        for t in ts:
            t.join()
        return results

    @staticmethod
    def judge(res, exp, prefix=""):
        out = list(res.get("_problems", []))
        if "compile" in exp:
            comp = res.get("compile")
            if isinstance(comp, dict):
                out += Runner.judge(comp, exp["compile"], prefix + "compile.")
            else:
                out.append("%scompile: expected a result, got %s" % (prefix, short(comp)))

        def bad(what, want, got):
            out.append("%s%s: expected %s, got %s" % (prefix, what, short(want), short(got)))
        for k in ("status", "exit_code", "signal", "stdout", "stderr",
                  "stdout_truncated", "stderr_truncated", "message"):
            if k in exp and res.get(k) != exp[k]:
                bad(k, exp[k], res.get(k))
                if k == "stdout" and isinstance(res.get(k), str):
                    out.append(line_diff(exp[k], res[k]))
        for k in ("stdout", "stderr"):
            rx = exp.get(k + "_re")
            if rx is not None and not re.fullmatch(rx, res.get(k) or "", re.S):
                bad(k, "/%s/" % rx, res.get(k))
            n = exp.get(k + "_len")
            if n is not None and len(res.get(k) or "") != n:
                bad(k + " length", n, len(res.get(k) or ""))
            n = exp.get(k + "_bytes")
            if n is not None and len((res.get(k) or "").encode()) != n:
                bad(k + " length in UTF-8 bytes", n, len((res.get(k) or "").encode()))
        for key, field, cmp in (("wall_min", "wall_time_ms", "ge"),
                                ("wall_max", "wall_time_ms", "le"),
                                ("cpu_min", "cpu_time_ms", "ge"),
                                ("cpu_max", "cpu_time_ms", "le"),
                                ("mem_max", "memory_bytes", "le")):
            if key in exp:
                got = res.get(field)
                if not isinstance(got, int):
                    bad(field, "a number", got)
                elif cmp == "ge" and got < exp[key]:
                    bad(field, ">= %d" % exp[key], got)
                elif cmp == "le" and got > exp[key]:
                    bad(field, "<= %d" % exp[key], got)
        return out


def line_diff(want, got, most=40):
    """The lines that differ between two outputs, as 'want' -> 'got'."""
    w, g = want.splitlines(), got.splitlines()
    pairs = [(a, b) for a, b in zip(w, g) if a != b]
    pairs += [(a, None) for a in w[len(g):]] + [(None, b) for b in g[len(w):]]
    text = "; ".join("%r -> %r" % p for p in pairs[:most])
    return "lines: " + text + ("; ..." if len(pairs) > most else "")


def context(res):
    s = "[status=%s exit=%s signal=%s wall=%s cpu=%s mem=%s stdout=%s stderr=%s]" % (
        res.get("status"), res.get("exit_code"), res.get("signal"),
        res.get("wall_time_ms"), res.get("cpu_time_ms"), res.get("memory_bytes"),
        short(res.get("stdout"), 120), short(res.get("stderr"), 200))
    if isinstance(res.get("compile"), dict):
        s += " [compile: " + context(res["compile"])[1:]
    return s


def run_case(cs, M, runner, leftovers):
    st = {}
    problems = []
    leftovers.snapshot()
    set_up = False
    try:
        if cs["setup"]:
            set_up = True
            cs["setup"](M, st)
        if cs["custom"]:
            problems += cs["custom"](M, runner)
        else:
            opts = cs["opts"](M) if callable(cs["opts"]) else list(cs["opts"])
            args = cs["args"](M) if callable(cs["args"]) else list(cs["args"])
            exp = cs["expect"](M) if callable(cs["expect"]) else cs["expect"]
            code = cs["code"](M) if callable(cs["code"]) else cs["code"]
            if not cs["language"]:
                code = C.PRELUDE + code
            res, err = runner.run(cs["name"], code, opts, args,
                                  st.get("pass_fds", ()), cs["timeout"],
                                  tty=cs["tty"], raise_limits=cs["raise_limits"],
                                  language=cs["language"])
            if err:
                problems.append(err)
            else:
                p = runner.judge(res, exp)
                if cs["check"]:
                    p += cs["check"](res, M)
                if p:
                    p.append(context(res))
                problems += p
    except Exception as e:      # a broken case is a failure, not a crash
        problems.append("suite error: %s: %s" % (type(e).__name__, e))
    # The teardown undoes what the setup changed on the host: always.
    if cs["teardown"] and (set_up or not cs["setup"]):
        try:
            problems += cs["teardown"](M, st, None)
        except Exception as e:
            problems.append("suite error in teardown: %s: %s" % (type(e).__name__, e))
    problems += leftovers.check()
    return problems


# --------------------------------------------------------------------------

def setup_mode(args):
    M = Mode()
    M.bin = os.path.abspath(args.bin)
    M.rootless = args.rootless or os.getuid() != 0
    M.without = args.without
    M.warm = args.warm
    M.policy_src = policy_source()
    M.runtimes = runtimes_dir()
    M.raised = raised_limits()
    M.tmp = tempfile.mkdtemp(prefix="safexec-escape-")
    os.chmod(M.tmp, 0o755)
    M.secret = "s3cr3t-" + secrets.token_hex(16)
    M.token = "safexec-escape-" + secrets.token_hex(6)
    # A host file anyone may read, holding a line no answer may show.
    M.marker = "host-marker-" + secrets.token_hex(16)
    M.marker_text = '#define HOST_MARKER "%s"\n%s\n' % (M.marker, M.marker)
    M.marker_file = os.path.join(M.tmp, "host-marker.h")
    with open(M.marker_file, "w") as f:
        f.write(M.marker_text)
    os.chmod(M.marker_file, 0o644)
    M.our_safexec = set()
    M.host_pid1_comm = (read_quiet("/proc/1/comm") or "").strip()
    M.int80 = probe_int80()

    M.features = {}
    try:
        r = subprocess.run([M.bin, "check", "--json"], capture_output=True, timeout=30)
        M.features = json.loads(r.stdout)
    except (OSError, ValueError, subprocess.SubprocessError) as e:
        print("# safexec check --json failed: %s" % e)
    ctl = M.features.get("controllers") or {}
    M.cg_memory = bool(ctl.get("memory"))
    M.cg_pids = bool(ctl.get("pids"))
    M.cg_cpu = bool(ctl.get("cpu"))

    # Fixtures on the host's loopback and in its network namespace.
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    s.listen(16)
    M.tcp_port = s.getsockname()[1]
    M.tcp_listener = Listener(s)
    extra = []
    for ip in host_ipv4s():
        try:
            t = socket.socket()
            t.bind((ip, M.tcp_port))
            t.listen(16)
            extra.append(Listener(t))
        except OSError:
            pass
    M.tcp_hosts = ["127.0.0.1"] + host_ipv4s()
    M.extra_listeners = extra
    M.abstract_name = M.token + "-abstract"
    a = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    a.bind("\0" + M.abstract_name)
    a.listen(16)
    M.abstract_listener = Listener(a)
    M.unix_path = os.path.join(M.tmp, "host.sock")
    u = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    u.bind(M.unix_path)
    u.listen(16)
    M.unix_listener = Listener(u)
    return M


def runtimes_dir():
    """The tree's runtime files, for the C cases: in the tree, or beside
    this file in the copy --rootless makes (safexec looks beside its
    binary, which the layers build and that copy do not have)."""
    here = os.path.dirname(os.path.abspath(__file__))
    for p in (os.path.join(here, "..", "..", "runtimes"), os.path.join(here, "runtimes")):
        if os.path.isfile(os.path.join(p, "c.conf")):
            return os.path.normpath(p)
    return os.path.join(here, "runtimes")       # the C cases then fail, saying so


def policy_source():
    """seccomp.c, for seccomp_deny_list: in the tree, or beside this file in
    the copy --rootless makes."""
    here = os.path.dirname(os.path.abspath(__file__))
    for p in (os.path.join(here, "..", "..", "src", "sandbox", "seccomp.c"),
              os.path.join(here, "seccomp.c")):
        if os.path.isfile(p):
            return os.path.normpath(p)
    return None


def has_cap(cap):
    st = read_quiet("/proc/self/status") or ""
    m = re.search(r"^CapEff:\s*([0-9a-f]+)", st, re.M)
    return bool(m and int(m.group(1), 16) >> cap & 1)


def raised_limits():
    """What safexec can be started with for raise_limits: RAISED_LIMITS,
    or with no CAP_SYS_RESOURCE (an unprivileged user; a root without
    it) no more than the hard limits."""
    out = {}
    for name, v in RAISED_LIMITS.items():
        hard = resource.getrlimit(getattr(resource, "RLIMIT_" + name))[1]
        if not has_cap(CAP_SYS_RESOURCE) and hard != resource.RLIM_INFINITY:
            v = min(v, hard)
        out[name] = v
    return out


def check_layer_gone(M, runner):
    """--without LAYER: is the layer really left out?  Problems, if not."""
    code = C.PRELUDE + r'''
st = dict(l.split(":", 1) for l in open("/proc/self/status").read().splitlines() if ":" in l)
say(st["CapEff"].strip(), st["Seccomp"].strip())
'''
    res, err = runner.run("layer-probe", code, [], [])
    if err or res.get("status") != "ok":
        return ["the probe run failed: %s" % (err or context(res))]
    f = res["stdout"].split()
    if len(f) != 2:
        return ["the probe printed %s" % short(res["stdout"])]
    cap_eff, seccomp = f
    if M.without == "caps" and int(cap_eff, 16) == 0:
        return ["SAFEXEC_TEST_WITHOUT=caps left the program no capability (CapEff %s): "
                "%s is not a `make layers` build" % (cap_eff, M.bin)]
    if M.without == "seccomp" and seccomp != "0":
        return ["SAFEXEC_TEST_WITHOUT=seccomp left a filter (Seccomp %s): "
                "%s is not a `make layers` build" % (seccomp, M.bin)]
    print("# layer left out: %s (program's CapEff %s, Seccomp %s)" % (
        M.without, cap_eff, seccomp))
    return []


def check_warm(M, runner):
    """--warm: does the program really run below a zygote of the binary?
    Problems, if not (a binary that ran --warm cold would make the mode
    prove nothing)."""
    code = C.PRELUDE + 'say("ready")\ntime.sleep(2)\nsay("done")\n'
    p = runner.start("warm-probe", code, [], [])
    seen = None
    # Looked for as long as the run lasts: a slow machine (an emulated
    # one) may take seconds to start the zygote.
    deadline = time.monotonic() + 60
    while seen is None and time.monotonic() < deadline and p.poll() is None:
        snap = proc_snapshot()
        for z in descendants(snap, [p.pid]):
            if z != p.pid and is_zygote_of(z, M):
                runs = descendants(snap, [z]) - {z}
                if runs:
                    seen = (z, sorted(runs))
                    break
        time.sleep(0.02)
    res, err = runner.finish(p, [])
    if err or res.get("status") != "ok" or res.get("stdout") != "ready\ndone\n":
        return ["the probe run failed: %s" % (err or context(res))]
    if seen is None:
        return ["no program ran below a zygote (`%s zygote`) of `safexec run --warm`: "
                "it ran cold" % M.bin]
    print("# warm: the probe ran below zygote %d (processes %s)" % seen)
    return []


def calibrate(M, runner):
    """One plain run: the host uid and gid the sandbox's uid 1000 maps to."""
    code = C.PRELUDE + r'''
say(open("/proc/self/uid_map").read().strip().replace("\n", ";"))
say(open("/proc/self/gid_map").read().strip().replace("\n", ";"))
'''
    M.host_uid = M.host_gid = None
    res, err = runner.run("calibrate", code, [], [])
    if err or res.get("status") != "ok":
        print("# calibration run failed: %s" % (err or context(res)))
    else:
        maps = []
        for ln in res["stdout"].splitlines()[:2]:
            m = {}
            for ent in ln.split(";"):
                f = ent.split()
                if len(f) == 3:
                    inside, outside, count = map(int, f)
                    for i in range(min(count, 70000)):
                        m[inside + i] = outside + i
            maps.append(m)
        if len(maps) == 2:
            M.host_uid = maps[0].get(1000)
            M.host_gid = maps[1].get(1000)
    uids = set()
    if M.host_uid is not None:
        uids.add(M.host_uid)
    if M.rootless:
        uids.add(os.getuid())
    uids.discard(0)
    M.sandbox_uids = uids


def reexec_unprivileged(args):
    """As root: copy the binary and the suite where nobody can reach them and
    run the suite again as nobody."""
    d = tempfile.mkdtemp(prefix="safexec-escape-rootless-")
    try:
        os.chmod(d, 0o755)
        binary = os.path.join(d, "safexec")
        shutil.copy2(args.bin, binary)
        os.chmod(binary, 0o755)
        here = os.path.dirname(os.path.abspath(__file__))
        for f in ("run.py", "cases.py", "cases_c.py"):
            shutil.copy2(os.path.join(here, f), os.path.join(d, f))
            os.chmod(os.path.join(d, f), 0o644)
        rt = runtimes_dir()
        if os.path.isfile(os.path.join(rt, "c.conf")):
            os.mkdir(os.path.join(d, "runtimes"), 0o755)
            shutil.copy2(os.path.join(rt, "c.conf"), os.path.join(d, "runtimes", "c.conf"))
            os.chmod(os.path.join(d, "runtimes", "c.conf"), 0o644)
        src = policy_source()
        if src:
            shutil.copy2(src, os.path.join(d, "seccomp.c"))
            os.chmod(os.path.join(d, "seccomp.c"), 0o644)
        cmd = (["setpriv", "--reuid=%d" % NOBODY, "--regid=%d" % NOBODY,
                "--clear-groups", "--inh-caps=-all",
                python(), os.path.join(d, "run.py"), "--bin", binary, "--rootless"]
               + (["--without", args.without] if args.without else [])
               + (["--warm"] if args.warm else []) + args.names)
        if has_cap(CAP_SYS_RESOURCE):
            # Hard limits high enough for raise_limits (the cases that need
            # them raise the soft ones).
            cmd = (["prlimit"] + ["--%s=:%d" % (k.lower(), v)
                                  for k, v in RAISED_LIMITS.items()] + ["--"] + cmd)
        env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "LANG": "C.UTF-8",
               "HOME": d}
        sys.stdout.flush()
        return subprocess.call(cmd, env=env, cwd=d)
    finally:
        shutil.rmtree(d, ignore_errors=True)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--bin", default="build/safexec")
    ap.add_argument("--rootless", action="store_true",
                    help="run as an unprivileged user (re-executed as nobody when root)")
    ap.add_argument("--without", choices=sorted(C.LAYER_NAMES),
                    help="leave this layer out (a `make layers` binary) and run the "
                    "cases of the other one")
    ap.add_argument("--warm", action="store_true",
                    help="run the Python cases with `safexec run --warm` (from a zygote); "
                    "skip the C cases")
    ap.add_argument("--skip", action="append", default=[], metavar="NAME",
                    help="leave out the case NAME (exactly), for a caller whose setting it "
                         "does not fit; the caller says why")
    ap.add_argument("names", nargs="*", help="run only cases whose name contains one of these")
    args = ap.parse_args()

    if not os.access(args.bin, os.X_OK):
        print("FAIL setup: %s is not an executable" % args.bin)
        print("0 passed, 1 failed, 0 skipped")
        return 1
    if args.rootless and os.getuid() == 0:
        return reexec_unprivileged(args)

    t_start = time.monotonic()
    M = setup_mode(args)
    runner = Runner(M, M.bin)
    calibrate(M, runner)
    f = M.features
    print("# mode: %s, uid %d%s%s; check: cgroup=%s controllers=%s notes=%s" % (
        "rootless" if M.rootless else "root", os.getuid(),
        ", without %s" % C.LAYER_NAMES[M.without] if M.without else "",
        ", warm (safexec run --warm)" if M.warm else "", f.get("cgroup"),
        f.get("controllers"), short(f.get("notes"), 200)))
    print("# sandbox uid 1000 is host uid %s; i386 int 0x80 on this host: %s" % (
        M.host_uid, "yes" if M.int80 else "no (SIGSEGV expected)"))
    sys.stdout.flush()

    leftovers = Leftovers(M)
    pre = Leftovers.cgroups()
    if pre:
        print("# note: safexec cgroups present before the suite: %s" % ", ".join(sorted(pre)))

    if M.warm:
        bad = check_warm(M, runner)
        if bad:
            shutil.rmtree(M.tmp, ignore_errors=True)
            print("FAIL setup: %s" % "; ".join(bad))
            print("0 passed, 1 failed, 0 skipped")
            return 1

    if M.without:
        bad = check_layer_gone(M, runner)
        if bad:
            print("FAIL setup: %s" % "; ".join(bad))
            print("0 passed, 1 failed, 0 skipped")
            return 1

    selected = [c for c in C.CASES
                if not args.names or any(n in c["name"] for n in args.names)]
    passed = failed = skipped = 0
    for cs in selected:
        why = ((cs["name"] in args.skip and "left out by --skip")
               or C.layer_skip(cs, M.without)
               or (M.warm and cs["language"] and "C runs cold: the warm mode is Python's")
               or (cs["skip_if"] and cs["skip_if"](M)))
        if why:
            skipped += 1
            print("skip %s: %s" % (cs["name"], why))
            sys.stdout.flush()
            continue
        t0 = time.monotonic()
        problems = run_case(cs, M, runner, leftovers)
        dt = time.monotonic() - t0
        if problems:
            failed += 1
            print("FAIL %s: %s" % (cs["name"], "; ".join(problems)))
        else:
            passed += 1
            print("ok   %s" % cs["name"])
        if os.environ.get("ESCAPE_VERBOSE"):
            print("#    %.2fs" % dt)
        sys.stdout.flush()

    shutil.rmtree(M.tmp, ignore_errors=True)
    print("# %d cases in %.0f s (%s%s%s)" % (
        len(selected), time.monotonic() - t_start, "rootless" if M.rootless else "root",
        ", without %s" % M.without if M.without else "", ", warm" if M.warm else ""))
    print("%d passed, %d failed, %d skipped" % (passed, failed, skipped))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
