"""The escape-and-abuse cases for `safexec run`.

Each case is an untrusted Python program that attempts one real violation,
the `safexec run` options it runs with, and the precise safe outcome.  The
program prints its evidence (an errno name, a count, a listing) and the
expectation names the status and that evidence exactly.

A case is built by case(name, code, opts, expect, ...):

  code     program text, or a function of the mode M returning it; for
           Python PRELUDE (below) is prepended, so every program has
           os, sys, errno, ctypes, signal, time, socket, struct, json and the
           helpers sc() (raw syscall -> "OK" or errno name), lc() (libc call),
           tryf() (call -> "OK" or errno name) and say() (print + flush).
  opts     safexec run options, a list, or a function of the mode M.
  args     the program's own arguments: a list or a function of M.
  expect   a dict, or a function of M returning one:
             status, exit_code (None = must be null), signal,
             stdout (exact), stdout_re / stderr_re (full match, re.S),
             stdout_truncated, stderr_truncated, stdout_len, stderr_len,
             stdout_bytes, stderr_bytes (UTF-8), message (exact),
             wall_min, wall_max, cpu_min, cpu_max, mem_max (ms / bytes)
  check    host-side extra assertions: f(res, M) -> [problems]
  setup    f(M, st) before the run; teardown f(M, st, res) -> [problems],
           called even when the run failed
  custom   f(M, runner) -> [problems] for cases made of several runs
  tty      run safexec with a new pty as its controlling terminal
  raise_limits
           run safexec with RLIMIT_NICE, RLIMIT_RTPRIO and RLIMIT_MEMLOCK
           raised (as far as the host allows: M.raised), so that only the
           sandbox's own limits hold the program back
  skip_if  f(M) -> a reason to skip the case on this host, or None
  layers   which of the two layers that `run.py --without` can leave out
           this case is a test of: "seccomp" (the outcome is the filter's
           answer), "caps" (the outcome is the capability drop's), both or
           neither
  skip     {layer: reason}: why the case is skipped when that layer is left
           out although it tests the other one (its outcome is then a
           different one, legitimately)
  language None: Python; "c": C source run with `--language c`, compiled
           in a sandbox of its own first (the C cases are in cases_c.py,
           which says what expect holds for the compile stage)

Layer modes.  `run.py --without caps` runs a test build with every
capability of the sandbox's user namespace kept: only the cases whose layers
hold "seccomp" run, so that each seccomp rule is shown to hold by itself.
`--without seccomp` loads no filter: only the cases whose layers hold "caps"
run.  Every other case is skipped, and says why (the topic of its section,
or its own `skip` reason).  M.without is None, "caps" or "seccomp"; an
expect function may use it where the remaining layer's answer is another
errno than the full sandbox's.

M (the mode, see run.py) holds what `safexec check --json` says is in force
(M.cg_memory, M.cg_pids, M.cg_cpu, M.rootless), the layer left out
(M.without) and the host-side fixtures (M.secret, M.tcp_port,
M.abstract_name, M.unix_path, M.token, ...).
"""

import hashlib
import json
import os
import re
import signal
import socket
import subprocess
import time

PRELUDE = r'''
import os, sys, errno, ctypes, signal, time, socket, struct, json
libc = ctypes.CDLL(None, use_errno=True)
libc.syscall.restype = ctypes.c_long
def ename(n):
    return errno.errorcode.get(n, "E%d" % n)
def _arg(x):
    return ctypes.c_long(x) if isinstance(x, int) else x
def sc_raw(nr, *a):
    ctypes.set_errno(0)
    r = libc.syscall(ctypes.c_long(nr), *[_arg(x) for x in a])
    return r, ctypes.get_errno()
def sc(nr, *a):
    r, e = sc_raw(nr, *a)
    return ename(e) if r == -1 else "OK"
def lc(fn, *a):
    ctypes.set_errno(0)
    r = getattr(libc, fn)(*[_arg(x) for x in a])
    return ename(ctypes.get_errno()) if r == -1 else "OK"
def tryf(f, *a, **k):
    try:
        f(*a, **k)
        return "OK"
    except OSError as e:
        return ename(e.errno)
def say(*a):
    print(*a, flush=True)
def flt(nr, *a):
    # Makes call nr in a child process that first adds a filter of its own
    # answering nr with SECCOMP_RET_TRACE: with no tracer the call fails
    # with ENOSYS and never runs.  The sandbox's SECCOMP_RET_ERRNO takes
    # precedence over TRACE, so EPERM here is the sandbox filter's own
    # answer, whatever the kernel would have said; ENOSYS means the
    # sandbox's filter let the call through (or answers ENOSYS itself).
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:
        try:
            os.close(r)
            ins = [(0x20, 0, 0, 0),                 # A = seccomp_data.nr
                   (0x15, 0, 1, nr),                # A == nr ?
                   (0x06, 0, 0, 0x7ff00000),        # SECCOMP_RET_TRACE
                   (0x06, 0, 0, 0x7fff0000)]        # SECCOMP_RET_ALLOW
            code = ctypes.create_string_buffer(
                b"".join(struct.pack("HBBI", *i) for i in ins))
            prog = ctypes.create_string_buffer(
                struct.pack("HxxxxxxQ", len(ins), ctypes.addressof(code)))
            got = sc(317, 1, 0, prog)               # seccomp(SET_MODE_FILTER)
            os.write(w, (sc(nr, *a) if got == "OK" else "NOFILTER-" + got).encode())
        finally:
            os._exit(0)
    os.close(w)
    out = os.read(r, 64).decode() or "NOREPORT"
    os.close(r)
    os.waitpid(pid, 0)
    return out
'''

CASES = []

KILL = 9
SIGSYS = 31
MiB = 1 << 20

# Linux x86_64 syscall numbers Python has no wrapper for.
NR = dict(ioctl=16, clone=56, syslog=103, ptrace=101, pivot_root=155,
          acct=163, settimeofday=164, mount=165, umount2=166, swapon=167,
          swapoff=168, reboot=169, sethostname=170, setdomainname=171,
          iopl=172, ioperm=173, init_module=175, delete_module=176,
          quotactl=179, clock_settime=227, kexec_load=246, add_key=248,
          request_key=249, keyctl=250, unshare=272, perf_event_open=298,
          name_to_handle_at=303, open_by_handle_at=304, setns=308,
          process_vm_readv=310, process_vm_writev=311, kcmp=312,
          finit_module=313, kexec_file_load=320, bpf=321, userfaultfd=323,
          io_uring_setup=425, io_uring_enter=426, io_uring_register=427,
          open_tree=428, move_mount=429, fsopen=430, fsconfig=431,
          fsmount=432, fspick=433, pidfd_open=434, clone3=435,
          pidfd_getfd=438, mount_setattr=442, getpid=39, chroot=161,
          personality=135, process_madvise=440, clock_adjtime=305,
          adjtimex=159, quotactl_fd=443, vhangup=153, uselib=134, ustat=136,
          sysfs=139, _sysctl=156, lookup_dcookie=212, nfsservctl=180,
          fanotify_init=300, inotify_init=253, inotify_init1=294,
          memfd_create=319, shmget=29, socket=41, socketpair=53)


# What the layer modes call each layer, for the reasons of skipped cases.
LAYER_NAMES = {"seccomp": "the seccomp filter", "caps": "the capability drop"}
TOPIC = None


def section(topic):
    """The cases that follow test `topic` (said when a layer mode skips
    them)."""
    global TOPIC
    TOPIC = topic


# Every call seccomp_deny_list tries, by x86_64 number.
SYSCALL_NR = dict(NR, umount2=166, kexec_file_load=320, quotactl=179,
                  syslog=103, reboot=169, swapon=167, swapoff=168, acct=163,
                  settimeofday=164, clock_settime=227, setdomainname=171,
                  sethostname=170, pidfd_getfd=438)


def case(name, code, opts=(), expect=None, args=(), check=None, setup=None,
         teardown=None, custom=None, pass_fds=None, timeout=None, tty=False,
         raise_limits=False, skip_if=None, layers=(), skip=None, language=None):
    assert set(layers) <= set(LAYER_NAMES), name
    assert set(skip or {}) <= set(LAYER_NAMES), name
    assert language in (None, "c"), name
    assert name not in {c["name"] for c in CASES}, name
    CASES.append(dict(name=name, code=code, opts=opts, expect=expect or {},
                      args=args, check=check, setup=setup, teardown=teardown,
                      custom=custom, pass_fds=pass_fds, timeout=timeout,
                      tty=tty, raise_limits=raise_limits, skip_if=skip_if,
                      layers=frozenset(layers), skip=dict(skip or {}),
                      topic=TOPIC, language=language))


def layer_skip(cs, without):
    """Why case cs does not run with layer `without` left out, or None."""
    if without is None:
        return None
    other = "caps" if without == "seccomp" else "seccomp"
    if without in cs["skip"]:
        return cs["skip"][without]
    if other in cs["layers"]:
        return None
    if without in cs["layers"]:
        return "%s alone holds this, and this mode leaves it out" % LAYER_NAMES[without]
    return "tests %s, not %s" % (cs["topic"], LAYER_NAMES[other])


def lines(res):
    return res["stdout"].splitlines()


def kv(res):
    """stdout lines 'key rest...' as a dict key -> rest."""
    d = {}
    for ln in lines(res):
        k, _, v = ln.partition(" ")
        d[k] = v
    return d


def errno_lines(labels, allowed):
    """A stdout_re for lines 'label ERRNO', one per label, each errno in
    allowed (a list of names)."""
    alt = "(?:" + "|".join(allowed) + ")"
    return "".join(re.escape(l) + " " + alt + "\n" for l in labels)


def exact_lines(pairs):
    return "".join("%s %s\n" % p for p in pairs)


def timeout_expect(wall_limit, **more):
    """Killed by us at a limit: status timeout, SIGKILL, no exit code."""
    e = dict(status="timeout", exit_code=None, signal=KILL,
             wall_max=wall_limit + 1500)
    e.update(more)
    return e


# --------------------------------------------------------------------------
# CPU and time

section("the CPU and wall-time limits")


def _cg_cpu_min(M):
    # The cgroup measures the tree's CPU time exactly and the engine kills
    # the tree (SIGKILL); without it the engine only has the rusage of what
    # init reaped, and RLIMIT_CPU's soft limit ends the process with
    # SIGXCPU (the hard limit, a second later, with SIGKILL).
    return dict(cpu_min=950) if M.cg_cpu else dict(signal=signal.SIGXCPU)


case("cpu_loop", r'''
say("spinning")
while True:
    pass
''', opts=["--cpu-time", "1000", "--wall-time", "10000"],
    expect=lambda M: timeout_expect(1000, stdout="spinning\n", wall_max=8000,
                                    **_cg_cpu_min(M)))


def _cpu_procs_opts(M):
    # With the cgroup the tree's CPU is the limit and the wall time is far;
    # without it each process has its own RLIMIT_CPU and the idle main
    # program only ends at the wall limit.
    return ["--cpu-time", "1000", "--processes", "16",
            "--wall-time", "10000" if M.cg_cpu else "6000"]


def _cpu_procs_expect(M):
    if M.cg_cpu:
        # Main is idle: only counting the whole tree ends the run early.
        return timeout_expect(10000, stdout_re=r"forked 4\n(child signal 9\n)*",
                              cpu_min=950, wall_max=8000)
    # Each child dies at its own RLIMIT_CPU soft limit (SIGXCPU).
    return timeout_expect(6000, stdout="forked 4\n" + "child signal %d\n" % signal.SIGXCPU * 4,
                          wall_min=5900)


case("cpu_loop_processes", r'''
kids = []
for i in range(4):
    pid = os.fork()
    if pid == 0:
        while True:
            pass
    kids.append(pid)
say("forked", len(kids))
for k in kids:
    _, st = os.waitpid(k, 0)
    say("child", "signal %d" % os.WTERMSIG(st) if os.WIFSIGNALED(st)
        else "exit %d" % os.WEXITSTATUS(st))
while True:
    time.sleep(1)
''', opts=_cpu_procs_opts, expect=_cpu_procs_expect)

case("cpu_loop_threads", r'''
import threading, hashlib
data = b"x" * (1 << 20)
def spin():
    while True:
        hashlib.sha256(data).digest()   # releases the GIL: real parallel CPU
for i in range(4):
    threading.Thread(target=spin, daemon=True).start()
say("threads 4")
spin()
''', opts=["--cpu-time", "1000", "--wall-time", "10000", "--processes", "16"],
    expect=lambda M: timeout_expect(1000, stdout="threads 4\n", wall_max=8000,
                                    **_cg_cpu_min(M)))

case("sleep_past_wall", r'''
say("sleeping")
time.sleep(60)
say("woke")
''', opts=["--wall-time", "1000"],
    expect=timeout_expect(1000, stdout="sleeping\n", wall_min=990, cpu_max=500))

case("sigterm_ignored", r'''
for s in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP, signal.SIGQUIT,
          signal.SIGUSR1, signal.SIGALRM, signal.SIGXCPU):
    signal.signal(s, signal.SIG_IGN)
say("ignoring")
while True:
    time.sleep(0.05)
''', opts=["--wall-time", "1000"],
    expect=timeout_expect(1000, stdout="ignoring\n", wall_min=990))

case("signals_blocked", r'''
for s in signal.valid_signals():
    if s in (signal.SIGKILL, signal.SIGSTOP):
        continue
    try:
        signal.signal(s, signal.SIG_IGN)
    except (OSError, ValueError):
        pass
signal.pthread_sigmask(signal.SIG_BLOCK, signal.valid_signals())
say("blocked", len(signal.pthread_sigmask(signal.SIG_BLOCK, [])) >= 60)
while True:
    pass
''', opts=["--wall-time", "1000", "--cpu-time", "5000"],
    expect=timeout_expect(1000, stdout="blocked True\n", wall_min=990))

case("sigstop_self", r'''
say("stopping")
os.kill(os.getpid(), signal.SIGSTOP)
say("resumed")
''', opts=["--wall-time", "1000"],
    expect=timeout_expect(1000, stdout="stopping\n", wall_min=990))

case("stopped_child_left", r'''
pid = os.fork()
if pid == 0:
    os.kill(os.getpid(), signal.SIGSTOP)
    os._exit(0)
_, st = os.waitpid(pid, os.WUNTRACED)
say("child stopped" if os.WIFSTOPPED(st) else "child not stopped")
''', opts=["--wall-time", "5000"],
    expect=dict(status="ok", exit_code=0, stdout="child stopped\n",
                wall_max=1500))

DAEMON = r'''
def daemonize():
    r, w = os.pipe()
    if os.fork() == 0:
        os.setsid()
        if os.fork() == 0:
            for s in (signal.SIGTERM, signal.SIGHUP, signal.SIGINT):
                signal.signal(s, signal.SIG_IGN)
            os.write(w, b"%d" % os.getpid())
            fd = os.open("/dev/null", os.O_RDWR)
            for i in (0, 1, 2):
                os.dup2(fd, i)
            while True:
                time.sleep(1)
        os._exit(0)
    os.close(w)
    dpid = int(os.read(r, 32))
    os.wait()
    return dpid
'''

case("daemon_double_fork", DAEMON + r'''
dpid = daemonize()
time.sleep(0.1)
say("daemon", "alive" if os.path.exists("/proc/%d" % dpid) else "missing",
    "own_session", os.getsid(dpid) != os.getsid(0))
''', opts=["--wall-time", "5000"],
    expect=dict(status="ok", exit_code=0, stdout="daemon alive own_session True\n",
                wall_max=1500))

case("daemon_then_timeout", DAEMON + r'''
dpid = daemonize()
say("daemon started")
time.sleep(60)
''', opts=["--wall-time", "1000"],
    expect=timeout_expect(1000, stdout="daemon started\n"))

case("child_holds_stdout", r'''
pid = os.fork()
if pid == 0:
    for s in (signal.SIGTERM, signal.SIGHUP, signal.SIGPIPE):
        signal.signal(s, signal.SIG_IGN)
    while True:          # keeps fds 1 and 2 open forever
        time.sleep(1)
say("parent exits")
''', opts=["--wall-time", "5000"],
    expect=dict(status="ok", exit_code=0, stdout="parent exits\n",
                wall_max=1500))


# --------------------------------------------------------------------------
# Process and thread bombs

section("the process and thread limits")


def _count_between(rx, lo, hi):
    def chk(res, M):
        m = re.fullmatch(rx, res["stdout"], re.S)
        if not m:
            return []       # the stdout_re assertion already reports it
        n = int(m.group(1))
        if not lo <= n <= hi:
            return ["count %d not in [%d, %d]" % (n, lo, hi)]
        return []
    return chk


case("fork_bomb", r'''
n = 0
try:
    while True:
        pid = os.fork()
        if pid == 0:
            time.sleep(60)
            os._exit(0)
        n += 1
except OSError as e:
    say(ename(e.errno), n)
''', opts=["--processes", "16", "--wall-time", "5000"],
    expect=dict(status="ok", exit_code=0, stdout_re=r"EAGAIN (\d+)\n",
                wall_max=3000),
    check=_count_between(r"EAGAIN (\d+)\n", 5, 15))

case("fork_bomb_classic", r'''
say("bomb")
while True:
    try:
        os.fork()
    except OSError:
        pass
''', opts=["--processes", "16", "--wall-time", "1500"],
    expect=timeout_expect(1500, stdout="bomb\n"))

case("thread_bomb", r'''
import _thread
n = 0
try:
    while True:
        _thread.start_new_thread(time.sleep, (60,))
        n += 1
except RuntimeError as e:
    say("RuntimeError", e, n)
os._exit(0)
''', opts=["--processes", "16", "--wall-time", "5000"],
    expect=dict(status="ok", exit_code=0,
                stdout_re=r"RuntimeError can't start new thread (\d+)\n",
                wall_max=3000),
    check=_count_between(r"RuntimeError can't start new thread (\d+)\n", 5, 15))


# --------------------------------------------------------------------------
# Memory: the cgroup's OOM killer as root; RLIMIT_AS without a memory cgroup
# (the program gets MemoryError / ENOMEM and exits 3: runtime_error).

section("the memory, file-size and file-count limits")


MEM = ["--memory", "64M", "--wall-time", "10000"]


def _mem_expect(root_stdout, rl_stdout):
    def f(M):
        if M.cg_memory:
            return dict(status="memory_limit", exit_code=None, signal=KILL,
                        stdout=root_stdout, mem_max=64 * MiB + MiB)
        return dict(status="runtime_error", exit_code=3, signal=None,
                    stdout_re=rl_stdout)
    return f


case("mem_huge_alloc", r'''
say("start")
try:
    b = b"x" * (1 << 30)
    say("allocated", len(b))
except MemoryError:
    say("MemoryError")
    sys.exit(3)
''', opts=MEM, expect=_mem_expect("start\n", r"start\nMemoryError\n"))

case("mem_gradual", r'''
chunks = []
say("start")
try:
    while True:
        chunks.append(b"y" * (1 << 20))
except MemoryError:
    say("MemoryError", len(chunks) < 64)
    sys.exit(3)
''', opts=MEM, expect=_mem_expect("start\n", r"start\nMemoryError True\n"),
    check=lambda res, M: ([] if not M.cg_memory or
                          res["memory_bytes"] >= 40 * MiB else
                          ["memory_bytes %d: the peak of a 64M run that hit "
                           "the limit should be reported" % res["memory_bytes"]]))

case("mem_mmap_touch", r'''
import mmap
say("start")
try:
    m = mmap.mmap(-1, 512 << 20, flags=mmap.MAP_PRIVATE | mmap.MAP_ANONYMOUS)
except OSError as e:
    say(ename(e.errno))
    sys.exit(3)
for off in range(0, len(m), 4096):
    m[off] = 1
say("touched")
''', opts=MEM, expect=_mem_expect("start\n", r"start\nENOMEM\n"))


def _mem_tree_expect(M):
    if M.cg_memory:
        # 4 x 24 MiB cannot fit in 64 MiB at once: the OOM killer strikes
        # and the tree's peak stays within the limit.
        return dict(status="memory_limit", mem_max=64 * MiB + MiB,
                    stdout_re=r"(child allocated\n|child killed 9\n)*")
    # RLIMIT_AS holds per process only: 24 MiB each fits.  `safexec check`
    # reports the missing memory cgroup (asserted in check_features).
    return dict(status="ok", exit_code=0,
                stdout_re=r"(child allocated\n){4}all children done\n")


def _mem_tree_check(res, M):
    notes = " ".join(M.features.get("notes") or [])
    if not M.cg_memory and "RLIMIT_AS" not in notes:
        return ["without a memory cgroup `safexec check` must say memory is "
                "per-process RLIMIT_AS; notes: %s" % notes]
    return []


case("mem_tree", r'''
kids = []
for i in range(4):
    pid = os.fork()
    if pid == 0:
        b = b"m" * (24 << 20)
        os.write(1, b"child allocated\n")     # one write: lines stay whole
        time.sleep(2)
        os._exit(0)
    kids.append(pid)
for k in kids:
    _, st = os.waitpid(k, 0)
    if os.WIFSIGNALED(st):
        os.write(1, b"child killed %d\n" % os.WTERMSIG(st))
        sys.exit(0)
say("all children done")
''', opts=["--memory", "64M", "--processes", "16", "--wall-time", "8000"],
    expect=_mem_tree_expect, check=_mem_tree_check)

FILL = r'''
def fill(d):
    total = 0
    i = 0
    try:
        while True:
            with open("%s/f%d" % (d, i), "wb", buffering=0) as f:
                for _ in range(8):      # 8 MiB files: below RLIMIT_FSIZE
                    f.write(b"z" * (1 << 20))
                    total += 1
            i += 1
    except OSError as e:
        say(ename(e.errno), total <= 65)
        sys.exit(3)
say("start")
'''


def _fill_expect(M):
    if M.cg_memory:
        # tmpfs pages are charged to the run's memory cgroup: 64 MiB of
        # them plus the interpreter cannot fit.
        return dict(status="memory_limit", exit_code=None, signal=KILL,
                    stdout="start\n", mem_max=64 * MiB + MiB)
    # Not charged anywhere: the tmpfs size (= the memory limit) holds.
    return dict(status="runtime_error", exit_code=3,
                stdout="start\nENOSPC True\n")


case("mem_dev_shm", FILL + 'fill("/dev/shm")\n', opts=MEM, expect=_fill_expect)
case("fill_tmp", FILL + 'fill("/tmp")\n', opts=MEM, expect=_fill_expect)
case("fill_box", FILL + 'fill("/box")\n', opts=MEM, expect=_fill_expect)

def _memfd_expect(M):
    if M.cg_memory:
        return dict(status="memory_limit", exit_code=None, signal=KILL,
                    stdout="start\n", mem_max=64 * MiB + MiB)
    # No cgroup: something per process must still stop one process from
    # holding more than its memory limit (memfd pages are outside
    # RLIMIT_AS; only RLIMIT_FSIZE per file and RLIMIT_NOFILE bound them).
    return dict(status="runtime_error", exit_code=3,
                stdout_re=r"start\n(?:ENOMEM|EFBIG|EMFILE|ENOSPC|EPERM|MemoryError) True\n")


case("mem_memfd", r'''
say("start")
total = 0
fds = []
try:
    while total < 512:
        fd = os.memfd_create("m%d" % len(fds))
        fds.append(fd)
        for _ in range(8):
            os.write(fd, b"q" * (1 << 20))
            total += 1
except OSError as e:
    say(ename(e.errno), total <= 65)
    sys.exit(3)
except MemoryError:
    say("MemoryError", total <= 65)
    sys.exit(3)
say("held MiB", total)
''', opts=MEM, expect=_memfd_expect)

case("rlimits_raise", r'''
class rlimit(ctypes.Structure):
    _fields_ = [("cur", ctypes.c_ulong), ("max", ctypes.c_ulong)]
INF = (1 << 64) - 1
for name, res in (("CPU", 0), ("FSIZE", 1), ("NPROC", 6), ("NOFILE", 7), ("AS", 9)):
    cur = rlimit()
    libc.getrlimit(res, ctypes.byref(cur))
    if cur.max == INF:
        say(name, "unlimited")
        continue
    new = rlimit(cur.max + 1, cur.max + 1)
    say(name, lc("setrlimit", res, ctypes.byref(new)))
''', expect=lambda M: dict(status="ok", exit_code=0, stdout=(
    "CPU EPERM\nFSIZE EPERM\nNPROC EPERM\nNOFILE EPERM\n"
    + ("AS unlimited\n" if M.cg_memory else "AS EPERM\n"))))

case("tmp_inodes", r'''
n = 0
try:
    while True:
        os.close(os.open("/tmp/i%d" % n, os.O_CREAT | os.O_WRONLY, 0o600))
        n += 1
except OSError as e:
    say(ename(e.errno), n)
''', opts=["--wall-time", "10000"],
    expect=dict(status="ok", exit_code=0, stdout_re=r"ENOSPC (\d+)\n"),
    check=_count_between(r"ENOSPC (\d+)\n", 1000, 4096))

case("file_size", r'''
n = 0
try:
    with open("/tmp/big", "wb", buffering=0) as f:
        while True:
            f.write(b"f" * (1 << 20))
            n += 1
except OSError as e:
    say(ename(e.errno), n)
''', opts=MEM, expect=dict(status="ok", exit_code=0, stdout="EFBIG 16\n"))


# --------------------------------------------------------------------------
# Output

section("the output limits")

case("output_flood_stdout", r'''
chunk = "A" * 65536
while True:
    sys.stdout.write(chunk)
''', opts=["--output", "10000", "--wall-time", "5000"],
    expect=dict(status="output_limit", exit_code=None, signal=KILL,
                stdout="A" * 10000, stdout_truncated=True,
                stderr_truncated=False, wall_max=2000))

case("output_flood_stderr", r'''
chunk = "E" * 65536
while True:
    sys.stderr.write(chunk)
''', opts=["--output", "10000", "--wall-time", "5000"],
    expect=dict(status="output_limit", exit_code=None, signal=KILL,
                stdout="", stderr="E" * 10000, stderr_truncated=True,
                stdout_truncated=False, wall_max=2000))

case("output_flood_tree", r'''
for i in range(4):
    if os.fork() == 0:
        break
line = "B" * 999 + "\n"
while True:
    sys.stdout.write(line)
''', opts=["--output", "10000", "--wall-time", "5000", "--processes", "16"],
    expect=dict(status="output_limit", exit_code=None, signal=KILL,
                stdout=("B" * 999 + "\n") * 10, stdout_truncated=True,
                wall_max=2000))

case("output_one_byte_over", r'''
sys.stdout.write("x" * 10001)
''', opts=["--output", "10000"],
    expect=dict(status="output_limit", stdout="x" * 10000, stdout_truncated=True,
                stderr_truncated=False))

case("binary_output", r'''
sys.stdout.buffer.write(bytes(range(256)))
sys.stdout.buffer.write("|é€😀\n".encode())
sys.stderr.buffer.write(b"\xff\xfe\x00err\xc3")
''', expect=dict(status="ok", exit_code=0,
                 stdout=bytes(range(256)).decode("utf-8", "replace") + "|é€😀\n",
                 stderr="\ufffd\ufffd\x00err\ufffd"),
    check=lambda res, M: [] if all(
        _utf8_clean(res[k]) for k in ("stdout", "stderr", "output"))
    else ["a string in the JSON holds a lone surrogate (invalid UTF-8)"])


def _utf8_clean(s):
    try:
        s.encode("utf-8")
        return True
    except UnicodeEncodeError:
        return False


case("nul_output", r'''
sys.stdout.buffer.write(b"a\x00b\x00\n")
sys.stdout.buffer.write(b"\x00" * 5)
sys.stderr.buffer.write(b"\x00e\x00")
''', expect=dict(status="ok", exit_code=0, stdout="a\x00b\x00\n" + "\x00" * 5,
                 stderr="\x00e\x00"))


# --------------------------------------------------------------------------
# The file system: writes outside /tmp and /box, host files

section("the file system view and its read-only mounts")


RO = ["EROFS", "EACCES"]

case("write_root", r'''
say("create", tryf(lambda: open("/evil", "w")))
say("mkdir", tryf(os.mkdir, "/evil"))
say("symlink", tryf(os.symlink, "/tmp", "/evil"))
say("rename", tryf(os.rename, "/box", "/evil"))
say("rmdir", tryf(os.rmdir, "/tmp"))
''', expect=dict(status="ok", exit_code=0,
                 stdout_re=errno_lines(["create", "mkdir", "symlink", "rename"], RO)
                 + "rmdir (?:EROFS|EACCES|EBUSY)\n"),
    check=lambda res, M: ["/evil exists on the host"] if os.path.lexists("/evil") else [])

case("write_etc", r'''
say("append_passwd", tryf(lambda: open("/etc/passwd", "a")))
say("create", tryf(lambda: open("/etc/evil", "w")))
say("rename", tryf(os.rename, "/etc/hosts", "/etc/h2"))
say("unlink", tryf(os.unlink, "/etc/group"))
say("chmod", tryf(os.chmod, "/etc/passwd", 0o666))
''', expect=dict(status="ok", exit_code=0,
                 stdout_re=errno_lines(["append_passwd", "create", "rename", "unlink"], RO)
                 + "chmod (?:EROFS|EPERM)\n"),
    check=lambda res, M: ["/etc/evil exists on the host"] if os.path.lexists("/etc/evil") else [])


def _usr_setup(M, st):
    real = os.path.realpath("/usr/bin/python3")
    s = os.stat(real)
    st["py"] = (real, s.st_mtime_ns, s.st_size, s.st_mode)


def _usr_teardown(M, st, res):
    real, mt, size, mode = st["py"]
    s = os.stat(real)
    out = []
    if (s.st_mtime_ns, s.st_size, s.st_mode) != (mt, size, mode):
        out.append("host %s changed" % real)
    for p in ("/usr/lib/safexec-evil", "/usr/bin/safexec-evil", "/usr/bin/env2"):
        if os.path.lexists(p):
            out.append("%s exists on the host" % p)
    if not os.path.lexists("/usr/bin/env"):
        out.append("/usr/bin/env is gone from the host")
    return out


# /usr is the host's, bound read-only.  Its files and directories belong to
# root, which the sandbox's user namespace does not map, so the permission
# bits refuse the sandbox's uid as well; but for the calls that create,
# remove, rename or change attributes the kernel looks at the read-only
# mount before the permission bits, so EROFS (and nothing else) shows that
# the mount is read-only.  Opening an existing file for writing meets the
# permission bits first: EACCES.  truncate() meets them first on recent
# kernels and the read-only mount first on 6.1 (Debian 12's): either
# refusal, never success.
case("write_usr", r'''
say("python_rw", tryf(lambda: open("/usr/bin/python3", "r+b")))
say("self_exe_rw", tryf(lambda: open("/proc/self/exe", "r+b")))
say("create_lib", tryf(lambda: open("/usr/lib/safexec-evil", "w")))
say("mkdir_lib", tryf(os.mkdir, "/usr/lib/safexec-evil"))
say("symlink_bin", tryf(os.symlink, "/tmp/x", "/usr/bin/safexec-evil"))
say("unlink_env", tryf(os.unlink, "/usr/bin/env"))
say("rename_env", tryf(os.rename, "/usr/bin/env", "/usr/bin/env2"))
say("chmod_suid", tryf(os.chmod, "/usr/bin/python3", 0o4755))
say("utime", tryf(os.utime, "/usr/bin/python3", (0, 0)))
say("truncate_python", tryf(os.truncate, "/usr/bin/python3", 0))
''', expect=dict(status="ok", exit_code=0,
                 stdout_re=re.escape(exact_lines(
                                     [("python_rw", "EACCES"), ("self_exe_rw", "EACCES")]
                                     + [(k, "EROFS") for k in (
                                         "create_lib", "mkdir_lib", "symlink_bin",
                                         "unlink_env", "rename_env", "chmod_suid",
                                         "utime")]))
                 + r"truncate_python (?:EACCES|EROFS)\n"),
    setup=_usr_setup, teardown=_usr_teardown)

PROC_SYS = ["/proc/sys/kernel/hostname", "/proc/sys/kernel/core_pattern",
            "/proc/sys/kernel/modprobe", "/proc/sys/vm/drop_caches",
            "/proc/sysrq-trigger"]


def _procsys_setup(M, st):
    st["vals"] = {}
    for p in PROC_SYS[:3]:
        try:
            with open(p) as f:
                st["vals"][p] = f.read()
        except OSError:
            pass            # not on this host (e.g. no module support)


def _procsys_teardown(M, st, res):
    out = []
    for p, v in st["vals"].items():
        with open(p) as f:
            if f.read() != v:
                out.append("host %s changed" % p)
    return out


case("proc_sys_write", r'''
for p in %r:
    r = tryf(lambda: os.close(os.open(p, os.O_WRONLY)))
    if r == "OK":
        # Opened for writing: that alone is the failure; write nothing.
        say(p, "OPENED")
    else:
        say(p, r)
''' % (PROC_SYS,), expect=dict(
    status="ok", exit_code=0,
    stdout_re=errno_lines(PROC_SYS, ["EACCES", "EROFS", "EPERM", "ENOENT"])),
    setup=_procsys_setup, teardown=_procsys_teardown)

ABSENT = ["/etc/shadow", "/etc/gshadow", "/etc/ssh", "/etc/resolv.conf",
          "/root", "/home", "/var", "/run", "/sys", "/boot", "/mnt", "/srv",
          "/opt", "/work", "/media", "/proc/kcore", "/proc/sysrq-trigger"]


def _secret_files_check(res, M):
    out = []
    d = {}
    for ln in lines(res):
        k, _, v = ln.partition(" ")
        d[k] = v
    allowed_root = {"bin", "box", "dev", "etc", "lib", "lib32", "lib64",
                    "libx32", "proc", "sbin", "tmp", "usr"}
    try:
        root = set(json.loads(d.get("root", "null")) or [])
        etc = json.loads(d.get("etc", "null"))
        users = set(json.loads(d.get("users", "null")) or [])
    except ValueError:
        return ["unparsable listing"]
    if not root <= allowed_root or not {"box", "tmp", "usr", "proc", "dev", "etc"} <= root:
        out.append("/ holds %s, expected a subset of %s" % (sorted(root), sorted(allowed_root)))
    # The sandbox's own files only: hostname is its own, and so is
    # Python's site (src/pysite/: Debian's python3.X reads its
    # sitecustomize there, matplotlib its matplotlibrc, fontconfig its
    # fonts.conf; safexec/ holds the plotting backend and matplotlib's
    # font list; alternatives/ links to the libraries the host chose);
    # anything else (e.g. a bind of the host's ld.so.cache) is a host file.
    base = [e for e in etc or [] if e in ("group", "hostname", "hosts", "passwd")]
    site = [e for e in etc or [] if e in ("alternatives", "fonts", "matplotlibrc", "safexec")
            or re.fullmatch(r"python3\.[0-9]+", e)]
    if base not in (["group", "hosts", "passwd"], ["group", "hostname", "hosts", "passwd"]) \
            or len(base) + len(site) != len(etc or []):
        out.append("/etc holds %s, expected only its own passwd, group, hosts "
                   "(and hostname), and Python's site: never the host's files" % (etc,))
    # Every file of the site is safexec's: none holds a host file's bytes;
    # every link is one of alternatives/, into /usr, as the host's is.
    try:
        tree = json.loads(d.get("etc_tree", "null")) or {}
    except ValueError:
        return out + ["unparsable /etc tree"]
    for path, (kind, value) in sorted(tree.items()):
        rel = path[len("/etc/"):]
        if rel.split("/")[0] in ("group", "hostname", "hosts", "passwd"):
            continue
        if kind == "file":
            try:
                with open(path, "rb") as f:
                    host = hashlib.sha256(f.read()).hexdigest()
            except OSError:
                host = None
            if host == value:
                out.append("%s holds the host's file" % path)
        elif kind == "link":
            try:
                host = os.readlink(path)
            except OSError:
                host = None
            if not rel.startswith("alternatives/") or not value.startswith("/usr/") \
                    or value != host:
                out.append("%s links to %r (the host's: %r)" % (path, value, host))
        else:
            out.append("%s is a %s" % (path, kind))
    if not users <= {"root", "sandbox", "nobody"} or "sandbox" not in users:
        out.append("/etc/passwd users %s" % sorted(users))
    if d.get("tmpdir") != "False":
        out.append("the suite's host directory %s is visible inside" % M.tmp)
    return out


case("secret_files", r'''
for p in %r:
    say("absent" if not os.path.lexists(p) else "PRESENT", p)
say("tmpdir", os.path.lexists(sys.argv[1]))
say("root", json.dumps(sorted(os.listdir("/"))))
say("etc", json.dumps(sorted(os.listdir("/etc"))))
tree = {}
for d, dirs, files in os.walk("/etc"):
    for name in dirs + files:
        p = os.path.join(d, name)
        if os.path.islink(p):
            tree[p] = ["link", os.readlink(p)]
        elif os.path.isfile(p):
            import hashlib
            tree[p] = ["file", hashlib.sha256(open(p, "rb").read()).hexdigest()]
        elif not os.path.isdir(p):
            tree[p] = ["other", oct(os.lstat(p).st_mode)]
say("etc_tree", json.dumps(tree))
say("users", json.dumps(sorted(l.split(":")[0] for l in open("/etc/passwd"))))
''' % (ABSENT,), args=lambda M: [M.tmp],
    expect=dict(status="ok", exit_code=0,
                stdout_re="".join("absent %s\n" % re.escape(p) for p in ABSENT)
                + r"tmpdir False\nroot .*\netc .*\netc_tree .*\nusers .*\n"),
    check=_secret_files_check)


def _env_check(res, M):
    ls = lines(res)
    try:
        env = json.loads(ls[0])
    except (ValueError, IndexError):
        return ["no environment dump"]
    out = []
    if sorted(env) != ["HOME", "LANG", "PATH", "TMPDIR"]:
        out.append("environment names %s, expected HOME LANG PATH TMPDIR" % sorted(env))
    want = dict(HOME="/box", LANG="C.UTF-8", TMPDIR="/tmp")
    for k, v in want.items():
        if env.get(k) != v:
            out.append("%s=%r, expected %r" % (k, env.get(k), v))
    return out


case("secret_env", r'''
say(json.dumps(dict(os.environ), sort_keys=True))
say(repr(open("/proc/self/environ", "rb").read()))
''', expect=dict(status="ok", exit_code=0), check=_env_check)


def _proc_environ_check(res, M):
    d = kv(res)
    v = d.get("p1env", "")
    if v != "EACCES" and not v.startswith("readable"):
        return ["/proc/1/environ: %r, expected EACCES or readable without the secret" % v]
    return []


case("secret_proc_environ", r'''
dump = []
for p in sorted(os.listdir("/proc")):
    if not p.isdigit():
        continue
    for f in ("environ", "cmdline"):
        try:
            data = open("/proc/%s/%s" % (p, f), "rb").read()
        except OSError as e:
            data = ename(e.errno).encode()
        dump.append("%s/%s %r" % (p, f, data))
try:
    d = open("/proc/1/environ", "rb").read()
    say("p1env", "readable", len(d))
except OSError as e:
    say("p1env", ename(e.errno))
say("dump", " | ".join(dump))
''', expect=dict(status="ok", exit_code=0, stdout_re=r"p1env [^\n]*\ndump [^\n]*\n"),
    check=_proc_environ_check)


def _host_cmdline_check(res, M):
    out = []
    for what, s in (("the suite's host directory", M.tmp),
                    ("the safexec binary's host path", M.bin)):
        if s in res["stdout"]:
            out.append("%s (%s) is readable inside: %s" % (what, s, short_line(res, s)))
    return out


def short_line(res, s):
    for ln in lines(res):
        if s in ln:
            return ln[:160]
    return ""


case("host_cmdline", r'''
for p in sorted(os.listdir("/proc")):
    if p.isdigit():
        try:
            say(p, repr(open("/proc/%s/cmdline" % p, "rb").read()))
        except OSError as e:
            say(p, ename(e.errno))
''', expect=dict(status="ok", exit_code=0), check=_host_cmdline_check)


# --------------------------------------------------------------------------
# /proc, devices, identity

section("/proc, devices and the sandbox's identity")


def _proc_pids_check(res, M):
    d = kv(res)
    out = []
    name, _, ppid = d.get("init", "").partition(" ppid ")
    if ppid != "0":
        out.append("/proc/1 has PPid %r, expected 0 (the namespace's init)" % ppid)
    if name == M.host_pid1_comm:
        out.append("/proc/1 is the host's PID 1 (%s)" % name)
    return out


case("proc_own_pids", r'''
pid = os.fork()
if pid == 0:
    time.sleep(60)
    os._exit(0)
pids = sorted(int(p) for p in os.listdir("/proc") if p.isdigit())
want = sorted({1, os.getpid(), pid})
say("pids", "own" if pids == want else pids)
st = dict(l.split(":\t", 1) for l in open("/proc/1/status").read().splitlines() if ":\t" in l)
say("init", st.get("Name"), "ppid", st.get("PPid"))
say("self_ns_pid", open("/proc/self/status").read().split("NSpid:\t")[1].split("\n")[0])
os.kill(pid, signal.SIGKILL)
os.waitpid(pid, 0)
''', expect=dict(status="ok", exit_code=0,
                 stdout_re=r"pids own\ninit \S+ ppid 0\nself_ns_pid \d+\n"),
    check=_proc_pids_check)

SUID_DUMPABLE = "/proc/sys/fs/suid_dumpable"


def _dumpable_setup(M, st):
    # As root, the init's change of uid (host root to the sandbox's host
    # uid) already leaves it undumpable on a host with fs.suid_dumpable 0,
    # so that its own PR_SET_DUMPABLE 0 would go untested.  Hosts set
    # suid_dumpable 1 for debugging: make it 1 for the run, so that only
    # the init's own protection stands.  (Rootless the kernel uid does not
    # change: the init stays dumpable unless it protects itself.)
    if os.getuid() != 0:
        return
    with open(SUID_DUMPABLE) as f:
        st["suid_dumpable"] = f.read().strip()
    with open(SUID_DUMPABLE, "w") as f:
        f.write("1")


def _dumpable_teardown(M, st, res):
    if "suid_dumpable" not in st:
        return []
    with open(SUID_DUMPABLE, "w") as f:
        f.write(st["suid_dumpable"])
    return []


case("proc_init_protected", r'''
say("root", tryf(os.listdir, "/proc/1/root"))
say("cwd", tryf(os.readlink, "/proc/1/cwd"))
say("exe", tryf(os.readlink, "/proc/1/exe"))
say("fd", tryf(os.listdir, "/proc/1/fd"))
say("mem", tryf(lambda: open("/proc/1/mem", "rb")))
say("environ", tryf(lambda: open("/proc/1/environ", "rb").read()))
say("ns_mnt", tryf(lambda: os.open("/proc/1/ns/mnt", os.O_RDONLY)))
say("exe_open", tryf(lambda: open("/proc/1/exe", "rb")))
''', expect=dict(status="ok", exit_code=0, stdout=exact_lines(
    [(k, "EACCES") for k in ("root", "cwd", "exe", "fd", "mem", "environ", "ns_mnt",
                             "exe_open")])),
    setup=_dumpable_setup, teardown=_dumpable_teardown)

# The init keeps nothing once the root is built: no capability in any set
# (it would make it a target worth reaching), no_new_privs, and a session
# of its own (not the supervisor's terminal).
case("init_holds_no_privileges", r'''
status = dict(l.split(":\t", 1) for l in open("/proc/1/status").read().splitlines() if ":\t" in l)
for k in ("CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb", "NoNewPrivs"):
    say(k, status[k].strip())
stat = open("/proc/1/stat").read().rsplit(")", 1)[1].split()
say("session_leader", stat[3] == "1")
say("tty_nr", stat[4])
''', expect=dict(status="ok", exit_code=0, stdout=exact_lines(
    [(k, "0000000000000000") for k in ("CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb")] +
    [("NoNewPrivs", "1"), ("session_leader", "True"), ("tty_nr", "0")])),
    tty=True, layers=("caps",))

def _views_check(res, M):
    d = {}
    for ln in lines(res):
        k, _, v = ln.partition(" ")
        d.setdefault(k, []).append(v)
    out = []
    bad = [l for l in d.get("cgroup", []) if not l.endswith(":/")]
    if bad:
        out.append("/proc/self/cgroup shows host cgroup paths: %s" % bad)
    allowed = {"/", "/usr", "/etc/ld.so.cache", "/dev", "/dev/shm", "/proc", "/tmp",
               "/box", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32"}
    allowed |= {"/dev/" + n for n in DEV_OK}
    extra = sorted(set(d.get("mount", [])) - allowed)
    if extra:
        out.append("unexpected mounts inside: %s" % extra)
    for s in (M.tmp, "/work", "/root", "/home"):
        if any(s in v for v in d.get("raw", [])):
            out.append("mountinfo names the host path %s" % s)
    return out


case("cgroup_and_mount_view", r'''
for l in open("/proc/self/cgroup").read().splitlines():
    say("cgroup", l)
for l in open("/proc/self/mountinfo").read().splitlines():
    say("mount", l.split()[4])
    say("raw", l)
say("sys_fs_cgroup", os.path.lexists("/sys/fs/cgroup"))
''', expect=dict(status="ok", exit_code=0, stdout_re=r".*sys_fs_cgroup False\n"),
    check=_views_check)

DEV_OK = {"null": (1, 3), "zero": (1, 5), "full": (1, 7), "random": (1, 8),
          "urandom": (1, 9)}
DEV_ABSENT = ["sda", "vda", "nvme0n1", "mem", "kmem", "port", "kmsg", "tty",
              "console", "ptmx", "pts", "net/tun", "kvm", "fuse", "loop0",
              "loop-control", "vsock", "vhost-vsock", "hpet", "rtc0", "cpu",
              "userfaultfd", "dri", "input", "mapper", "mqueue", "hugepages"]


def _devices_check(res, M):
    d = kv(res)
    try:
        listing = set(json.loads(d.get("dev", "null")) or [])
        nodes = json.loads(d.get("nodes", "null")) or []
    except ValueError:
        return ["unparsable listing"]
    out = []
    allowed = set(DEV_OK) | {"fd", "stdin", "stdout", "stderr", "shm"}
    if not listing <= allowed or not set(DEV_OK) <= listing:
        out.append("/dev holds %s, expected %s" % (sorted(listing), sorted(allowed)))
    if sorted(nodes) != sorted("/dev/" + n for n in DEV_OK):
        out.append("device nodes under /dev: %s" % sorted(nodes))
    return out


case("devices", r'''
import stat
say("dev", json.dumps(sorted(os.listdir("/dev"))))
nodes = []
for root, dirs, files in os.walk("/dev"):
    for n in files + dirs:
        p = os.path.join(root, n)
        try:
            m = os.lstat(p).st_mode
        except OSError:
            continue
        if stat.S_ISCHR(m) or stat.S_ISBLK(m):
            nodes.append(p)
say("nodes", json.dumps(nodes))
for n, (ma, mi) in sorted(%r.items()):
    st = os.stat("/dev/" + n)
    say(n, stat.S_ISCHR(st.st_mode), os.major(st.st_rdev), os.minor(st.st_rdev))
for n in %r:
    say(n, "absent" if not os.path.lexists("/dev/" + n) else "PRESENT")
''' % (DEV_OK, DEV_ABSENT), expect=dict(
    status="ok", exit_code=0,
    stdout_re=r"dev [^\n]*\nnodes [^\n]*\n"
    + "".join("%s True %d %d\n" % (n, ma, mi) for n, (ma, mi) in sorted(DEV_OK.items()))
    + "".join("%s absent\n" % re.escape(n) for n in DEV_ABSENT)),
    check=_devices_check)

case("mknod", r'''
import stat
say("blk_tmp", tryf(os.mknod, "/tmp/sda", stat.S_IFBLK | 0o600, os.makedev(8, 0)))
say("chr_tmp", tryf(os.mknod, "/tmp/mem", stat.S_IFCHR | 0o600, os.makedev(1, 1)))
say("chr_box", tryf(os.mknod, "/box/kmsg", stat.S_IFCHR | 0o600, os.makedev(1, 11)))
say("chr_shm", tryf(os.mknod, "/dev/shm/port", stat.S_IFCHR | 0o600, os.makedev(1, 4)))
say("chr_dev", tryf(os.mknod, "/dev/sda", stat.S_IFBLK | 0o600, os.makedev(8, 0)))
''', expect=dict(status="ok", exit_code=0,
                 stdout=exact_lines([("blk_tmp", "EPERM"), ("chr_tmp", "EPERM"),
                                     ("chr_box", "EPERM"), ("chr_shm", "EPERM")])
                 + "chr_dev EROFS\n"))

ZERO_CAPS = "0000000000000000"


def _identity_check(res, M):
    d = kv(res)
    if d.get("groups") not in ("[]", "[1000]"):
        return ["supplementary groups %s, expected [] or [1000]" % d.get("groups")]
    return []


def _identity_expect(M):
    # Each layer mode shows here that its layer is really gone and the
    # other one in place: with the capabilities kept, every set holds
    # some; without the filter, Seccomp is 0.
    caps = ZERO_CAPS if M.without != "caps" else "(?!%s)[0-9a-f]{16}" % ZERO_CAPS
    return dict(status="ok", exit_code=0,
                stdout_re=r"ids 1000 1000 1000 1000\ngroups [^\n]*\nuser sandbox\n"
                + "".join("%s %s\n" % (k, caps) for k in
                          ("CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb"))
                + "NoNewPrivs 1\nSeccomp %d\n" % (0 if M.without == "seccomp" else 2))


case("identity", r'''
import pwd
say("ids", os.getuid(), os.geteuid(), os.getgid(), os.getegid())
say("groups", sorted(os.getgroups()))
say("user", pwd.getpwuid(os.getuid()).pw_name)
st = dict(l.split(":", 1) for l in open("/proc/self/status").read().splitlines() if ":" in l)
for k in ("CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb", "NoNewPrivs", "Seccomp"):
    say(k, st[k].strip())
''', expect=_identity_expect, check=_identity_check, layers=("seccomp", "caps"))

case("setuid_root", r'''
say("setuid", tryf(os.setuid, 0))
say("setgid", tryf(os.setgid, 0))
say("setresuid", tryf(os.setresuid, 0, 0, 0))
say("setresgid", tryf(os.setresgid, 0, 0, 0))
say("setreuid", tryf(os.setreuid, -1, 0))
say("setgroups", tryf(os.setgroups, [0]))
def wmap(f, s):
    fd = os.open("/proc/self/" + f, os.O_WRONLY)
    try:
        os.write(fd, s)
    finally:
        os.close(fd)
say("uid_map", tryf(wmap, "uid_map", b"0 0 1\n"))
say("capset", lc("capset", ctypes.c_char_p(struct.pack("II", 0x20080522, 0)),
                 ctypes.c_char_p(struct.pack("6I", *([0xffffffff] * 6)))))
say("uid", os.getuid(), os.geteuid())
''', expect=dict(status="ok", exit_code=0, stdout_re=exact_lines(
    [(k, "(?:EINVAL|EPERM)") for k in ("setuid", "setgid", "setresuid",
                                       "setresgid", "setreuid")])
    + "setgroups EPERM\nuid_map (?:EPERM|EACCES)\ncapset EPERM\nuid 1000 1000\n"),
    layers=("caps",),
    skip=dict(caps="its outcome is the capability drop's: with the capabilities kept "
              "capset() succeeds and setgroups() and setuid(0) fail only because "
              "0 is not mapped (EINVAL); the filter has no rule here"))

# safexec runs with a pty as its controlling terminal (tty=True): the
# program, in a session of its own, must not have it (TIOCSTI, job-control
# signals, /dev/tty).
case("no_tty", r'''
import fcntl, termios
say("dev_tty", tryf(lambda: open("/dev/tty", "rb")))
stat = open("/proc/self/stat").read().rsplit(")", 1)[1].split()
say("tty_nr", stat[4])
say("session_leader", os.getsid(0) == os.getpid())
say("ttyname1", tryf(os.ttyname, 1))
say("tiocsctty", tryf(fcntl.ioctl, 1, termios.TIOCSCTTY, 0))
''', expect=dict(status="ok", exit_code=0,
                 stdout_re=r"dev_tty (?:ENOENT|ENXIO)\ntty_nr 0\nsession_leader True\n"
                 r"ttyname1 ENOTTY\ntiocsctty (?:ENOTTY|EPERM)\n"),
    tty=True)

case("hostname", r'''
say(socket.gethostname(), os.uname().nodename)
say("sethostname", lc("sethostname", b"evil", 4))
say("setdomainname", lc("setdomainname", b"evil", 4))
say(socket.gethostname())
''', expect=dict(status="ok", exit_code=0,
                 stdout="sandbox sandbox\nsethostname EPERM\nsetdomainname EPERM\nsandbox\n"),
    layers=("seccomp", "caps"))

case("mount_flags", r'''
for p in ("/", "/usr", "/etc", "/tmp", "/box", "/dev", "/dev/shm", "/proc"):
    f = os.statvfs(p).f_flag
    say(p, "ro" if f & os.ST_RDONLY else "rw",
        "nosuid" if f & os.ST_NOSUID else "suid",
        "nodev" if f & os.ST_NODEV else "dev")
''', expect=dict(status="ok", exit_code=0,
                 stdout="/ ro nosuid nodev\n/usr ro nosuid nodev\n/etc ro nosuid nodev\n"
                 "/tmp rw nosuid nodev\n/box rw nosuid nodev\n/dev ro nosuid nodev\n"
                 "/dev/shm rw nosuid nodev\n/proc rw nosuid nodev\n"))


# --------------------------------------------------------------------------
# Other processes: ptrace, kill

section("what the program can do to the sandbox's other processes")

case("ptrace", r'''
class iovec(ctypes.Structure):
    _fields_ = [("base", ctypes.c_void_p), ("len", ctypes.c_size_t)]
buf = ctypes.create_string_buffer(16)
pid = os.fork()
if pid == 0:
    time.sleep(60)
    os._exit(0)
say("traceme", sc(NR_ptrace, 0, 0, 0, 0))
say("attach_child", sc(NR_ptrace, 16, pid, 0, 0))
say("seize_child", sc(NR_ptrace, 0x4206, pid, 0, 0))
say("attach_init", sc(NR_ptrace, 16, 1, 0, 0))
io = iovec(ctypes.cast(buf, ctypes.c_void_p), 16)
say("vm_readv", sc(NR_process_vm_readv, pid, ctypes.byref(io), 1, ctypes.byref(io), 1, 0))
say("vm_writev", sc(NR_process_vm_writev, pid, ctypes.byref(io), 1, ctypes.byref(io), 1, 0))
os.kill(pid, signal.SIGKILL)
os.waitpid(pid, 0)
'''.replace("NR_ptrace", str(NR["ptrace"]))
   .replace("NR_process_vm_readv", str(NR["process_vm_readv"]))
   .replace("NR_process_vm_writev", str(NR["process_vm_writev"])),
    expect=dict(status="ok", exit_code=0, stdout=exact_lines(
        [(k, "EPERM") for k in ("traceme", "attach_child", "seize_child",
                                "attach_init", "vm_readv", "vm_writev")])),
    layers=("seccomp",))

# What ptrace and process_vm_readv would do, through /proc.  The program's
# own descendants are open to it this way, as in any process tree: they run
# as its uid and are dumpable after execve(), and no per-sandbox setting
# refuses /proc/PID/mem (only the host-wide Yama ptrace_scope 2 does).  It
# reaches nothing the program does not own: the init refuses it
# (proc_init_protected), other runs are not in its /proc (two_runs_at_once).
# The case pins that documented behaviour down: the child's memory at an
# address mapped in it (the fork's copy of a buffer of the parent) reads
# back the parent's bytes, and a write lands.
case("child_mem", r'''
buf = ctypes.create_string_buffer(b"parent-secret", 16)
addr = ctypes.addressof(buf)
pid = os.fork()
if pid == 0:
    time.sleep(60)
    os._exit(0)
def peek():
    with open("/proc/%d/mem" % pid, "rb", buffering=0) as f:
        f.seek(addr)
        if f.read(13) != b"parent-secret":
            raise OSError(errno.EIO, "read something else")
def poke():
    with open("/proc/%d/mem" % pid, "r+b", buffering=0) as f:
        f.seek(addr)
        f.write(b"X")
say("child_mem_read", tryf(peek))
say("child_mem_write", tryf(poke))
os.kill(pid, signal.SIGKILL)
os.waitpid(pid, 0)
''', expect=dict(status="ok", exit_code=0,
                 stdout="child_mem_read OK\nchild_mem_write OK\n"))


def _sentinel_setup(M, st):
    # A host process running as the sandbox's host uid: kill(-1) inside
    # must not reach it (as root the inner uid maps to its own host uid;
    # rootless it is the suite's own uid).
    if os.getuid() == 0 and M.host_uid is not None:
        cmd = ["setpriv", "--reuid=%d" % M.host_uid, "--regid=%d" % M.host_gid,
               "--clear-groups", "sleep", "60"]
    else:
        cmd = ["sleep", "60"]
    st["sentinel"] = subprocess.Popen(cmd)
    time.sleep(0.05)


def _sentinel_teardown(M, st, res):
    p = st["sentinel"]
    alive = p.poll() is None
    if alive:
        p.kill()
    p.wait()
    return [] if alive else ["a host process of the sandbox's host uid died "
                             "(returncode %s)" % p.returncode]


case("kill_all", r'''
pid = os.fork()
if pid == 0:
    time.sleep(60)
    os._exit(0)
time.sleep(0.1)
say("kill-1", tryf(os.kill, -1, signal.SIGKILL))
_, st = os.waitpid(pid, 0)
say("child", os.WTERMSIG(st) if os.WIFSIGNALED(st) else "exited")
say("survived")
''', expect=dict(status="ok", exit_code=0, stdout="kill-1 OK\nchild 9\nsurvived\n"),
    setup=_sentinel_setup, teardown=_sentinel_teardown)

case("oom_unkillable", r'''
def w(path, v):
    with open(path, "w") as f:
        f.write(v)
say("self", tryf(w, "/proc/self/oom_score_adj", "-1000"))
say("init", tryf(w, "/proc/1/oom_score_adj", "-1000"))
say("now", open("/proc/self/oom_score_adj").read().strip())
''', expect=dict(status="ok", exit_code=0,
                 stdout_re=r"self (?:EACCES|EPERM)\ninit (?:EACCES|EPERM)\nnow \d+\n"))

case("crash_no_core", r'''
import resource
say("core", *resource.getrlimit(resource.RLIMIT_CORE))
ctypes.string_at(0)
say("survived")
''', expect=dict(status="signaled", exit_code=None, signal=11, stdout="core 0 0\n"),
    check=lambda res, M: ["a core file appeared on the host"]
    if any(n.startswith("core") for n in os.listdir(M.tmp)) else [])

case("kill_init", r'''
res = [tryf(os.kill, 1, s) for s in (signal.SIGKILL, signal.SIGTERM, signal.SIGSTOP,
                                      signal.SIGINT, signal.SIGHUP, signal.SIGSEGV)]
say("kill", " ".join(res))
time.sleep(0.3)
state = [l for l in open("/proc/1/status") if l.startswith("State:")][0].split()[1]
say("init alive", state)
''', expect=dict(status="ok", exit_code=0,
                 stdout_re=r"kill ((?:OK|EPERM) ?){6}\ninit alive [SR]\n"))


# --------------------------------------------------------------------------
# Namespaces, mounts, privileged kernel interfaces: seccomp and no caps

section("namespaces, mounts and privileged kernel interfaces")

# Every namespace but a user namespace needs CAP_SYS_ADMIN in the user
# namespace that owns it: both the filter and the capability drop refuse
# these.  A new user namespace needs no capability at all, and would hold
# every capability in it: only the filter refuses that (user_namespace).
NS_FLAGS = [("NEWNS", 0x20000), ("NEWNET", 0x40000000),
            ("NEWPID", 0x20000000), ("NEWUTS", 0x04000000), ("NEWIPC", 0x08000000),
            ("NEWCGROUP", 0x02000000), ("NEWTIME", 0x80)]
NEWUSER = 0x10000000
NO_USERNS = ("a user namespace needs no capability: the filter alone refuses it "
             "(the capability-checked namespaces are in unshare, clone_namespaces "
             "and setns)")

case("unshare", "".join('say("%s", sc(%d, %d))\n' % (n, NR["unshare"], f)
                        for n, f in NS_FLAGS),
     expect=dict(status="ok", exit_code=0,
                 stdout=exact_lines([(n, "EPERM") for n, f in NS_FLAGS])),
     layers=("seccomp", "caps"))

case("setns", r"""
fd = os.open("/proc/self/ns/net", os.O_RDONLY)
say("setns_net", sc(%d, fd, 0))
r, e = sc_raw(%d, 1, 0)
say("pidfd_open_init", "OK" if r >= 0 else ename(e))
if r >= 0:
    say("setns_pidfd", sc(%d, r, 0x20000 | 0x40000000))
else:
    say("setns_pidfd", "EPERM")
""" % (NR["setns"], NR["pidfd_open"], NR["setns"]),
    expect=dict(status="ok", exit_code=0,
                stdout_re=r"setns_net EPERM\npidfd_open_init \w+\nsetns_pidfd EPERM\n"),
    layers=("seccomp", "caps"))

case("clone_namespaces", r"""
for name, flag in %r:
    r, e = sc_raw(%d, flag | signal.SIGCHLD, 0, 0, 0, 0)
    if r == 0:
        os._exit(0)          # a child: the clone got through
    if r > 0:
        os.waitpid(r, 0)
        say(name, "CLONED")
    else:
        say(name, ename(e))
pid = os.fork()
if pid == 0:
    os._exit(7)
say("plain_fork", os.WEXITSTATUS(os.waitpid(pid, 0)[1]))
""" % ([f for f in NS_FLAGS if f[0] != "NEWTIME"], NR["clone"]),
    expect=dict(status="ok", exit_code=0, stdout=exact_lines(
        [(n, "EPERM") for n, f in NS_FLAGS if n != "NEWTIME"]) + "plain_fork 7\n"),
    layers=("seccomp", "caps"))

case("user_namespace", r"""
say("unshare", sc(%(unshare)d, %(NEWUSER)d))
r, e = sc_raw(%(clone)d, %(NEWUSER)d | signal.SIGCHLD, 0, 0, 0, 0)
if r == 0:
    os._exit(0)
if r > 0:
    os.waitpid(r, 0)
say("clone", "CLONED" if r > 0 else ename(e))
fd = os.open("/proc/self/ns/user", os.O_RDONLY)
say("setns_own", sc(%(setns)d, fd, 0))
r, e = sc_raw(%(pidfd_open)d, 1, 0)
say("setns_init_pidfd", sc(%(setns)d, r, %(NEWUSER)d) if r >= 0 else ename(e))
""" % dict(NR, NEWUSER=NEWUSER),
    expect=dict(status="ok", exit_code=0, stdout=exact_lines(
        [(k, "EPERM") for k in ("unshare", "clone", "setns_own", "setns_init_pidfd")])),
    layers=("seccomp",), skip=dict(seccomp=NO_USERNS))

case("clone3", r"""
def clone3(flags):
    args = struct.pack("8Q", flags, 0, 0, 0, signal.SIGCHLD, 0, 0, 0)
    buf = ctypes.create_string_buffer(args, len(args))
    r, e = sc_raw(%d, buf, len(args))
    if r == 0:
        os._exit(0)
    if r > 0:
        os.waitpid(r, 0)
        return "CLONED"
    return ename(e)
say("newuser", clone3(0x10000000))
say("plain", clone3(0))
""" % NR["clone3"], expect=dict(status="ok", exit_code=0,
                                 stdout="newuser ENOSYS\nplain ENOSYS\n"),
    layers=("seccomp",))

case("mount", r"""
say("tmpfs", sc(%(m)d, b"none", b"/tmp", b"tmpfs", 0, None))
say("bind", sc(%(m)d, b"/usr", b"/tmp", None, 0x1000, None))
say("remount_rw", sc(%(m)d, None, b"/", None, 0x20, None))
say("proc", sc(%(m)d, b"proc", b"/tmp", b"proc", 0, None))
say("umount_usr", sc(%(u)d, b"/usr", 2))
say("umount_proc", sc(%(u)d, b"/proc", 0))
""" % dict(m=NR["mount"], u=NR["umount2"]),
    expect=dict(status="ok", exit_code=0, stdout=exact_lines(
        [(k, "EPERM") for k in ("tmpfs", "bind", "remount_rw", "proc",
                                "umount_usr", "umount_proc")])),
    layers=("seccomp", "caps"))

case("pivot_root_chroot", r"""
os.mkdir("/tmp/old")
say("pivot_root", sc(%d, b"/tmp", b"/tmp/old"))
say("pivot_dot", sc(%d, b".", b"."))
say("chroot", tryf(os.chroot, "/tmp"))
say("root_still", sorted(os.listdir("/"))[:3])
""" % (NR["pivot_root"], NR["pivot_root"]),
    expect=dict(status="ok", exit_code=0,
                stdout_re=r"pivot_root EPERM\npivot_dot EPERM\nchroot EPERM\n"
                r"root_still \['bin', 'box', 'dev'\]\n"),
    layers=("seccomp", "caps"))


def _mount_api_expect(M):
    # fsconfig() acts on a file-system context, which only fsopen() and
    # fspick() make, both refused: without the filter it finds none (fd 3
    # is some other file or none: EINVAL or EBADF).
    fsconfig = "EPERM" if M.without != "seccomp" else "(?:EINVAL|EBADF)"
    return dict(status="ok", exit_code=0, stdout_re=exact_lines(
        [(k, "EPERM") for k in ("open_tree", "move_mount", "fsopen")])
        + "fsconfig %s\n" % fsconfig + exact_lines(
        [(k, "EPERM") for k in ("fsmount", "fspick", "mount_setattr")]))


case("new_mount_api", r"""
AT = -100
say("open_tree", sc(%(open_tree)d, AT, b"/usr", 1))
say("move_mount", sc(%(move_mount)d, AT, b"/usr", AT, b"/tmp", 4))
say("fsopen", sc(%(fsopen)d, b"tmpfs", 0))
say("fsconfig", sc(%(fsconfig)d, 3, 6, None, None, 0))
say("fsmount", sc(%(fsmount)d, 3, 0, 0))
say("fspick", sc(%(fspick)d, AT, b"/", 0))
# struct mount_attr (size 32): attr_clr MOUNT_ATTR_RDONLY on the read-only /
attr = ctypes.create_string_buffer(struct.pack("QQQQ", 0, 1, 0, 0))
say("mount_setattr", sc(%(mount_setattr)d, AT, b"/", 0, attr, 32))
""" % NR, expect=_mount_api_expect, layers=("seccomp", "caps"))

# Only a holder of CAP_SYS_BOOT in the pid namespace's user namespace may
# call reboot(); with it, LINUX_REBOOT_CMD_CAD_OFF would answer EINVAL in a
# pid namespace (and RESTART would end the sandbox's init).
case("reboot", r"""
say("cad_off", sc(%(reboot)d, 0xfee1dead, 672274793, 0, None))
say("halt", sc(%(reboot)d, 0xfee1dead, 672274793, 0xcdef0123, None))
""" % NR, expect=dict(status="ok", exit_code=0, stdout="cad_off EPERM\nhalt EPERM\n"),
    layers=("seccomp", "caps"))

# --------------------------------------------------------------------------
# Per-user kernel budgets: the user namespace's creator (root for the
# service) is charged for them on the host, so a run must not drain them.

section("the per-user kernel budgets")

case("inotify_budget", r"""
n = 0
while n < 200:
    ctypes.set_errno(0)
    if libc.inotify_init1(0) < 0:
        break
    n += 1
say("inotify", n, ename(ctypes.get_errno()))
say("inotify_init", sc(%(inotify_init)d))
""" % NR, expect=dict(status="ok", exit_code=0, stdout="inotify 0 EPERM\ninotify_init EPERM\n"),
    layers=("seccomp",),
    skip=dict(seccomp="the kernel gives any user 128 inotify instances, counted against "
              "the user namespace's creator: the filter alone refuses them"))

case("queued_signals_budget", r"""
sig = signal.SIGRTMIN
signal.pthread_sigmask(signal.SIG_BLOCK, {sig})
class sigval(ctypes.Union):
    _fields_ = [("i", ctypes.c_int), ("p", ctypes.c_void_p)]
libc.sigqueue.argtypes = [ctypes.c_int, ctypes.c_int, sigval]
n = 0
while n < 100000:
    ctypes.set_errno(0)
    if libc.sigqueue(os.getpid(), sig, sigval(0)) < 0:
        break
    n += 1
say("queued", n, ename(ctypes.get_errno()))
""", expect=dict(status="ok", exit_code=0, stdout="queued 256 EAGAIN\n"))

case("posix_mqueue_budget", r"""
rt = ctypes.CDLL("librt.so.1", use_errno=True)
ctypes.set_errno(0)
fd = rt.mq_open(b"/safexec-test", os.O_CREAT | os.O_RDWR, 0o600, None)
say("mq_open", "OK" if fd >= 0 else ename(ctypes.get_errno()))
""", expect=dict(status="ok", exit_code=0, stdout="mq_open EMFILE\n"))

# safexec runs with RLIMIT_NICE, RLIMIT_RTPRIO and RLIMIT_MEMLOCK raised as
# far as this host lets the suite (raise_limits; M.raised holds the values):
# what the program cannot do then, only the sandbox's own limits refuse.
# Where the host's limits already refuse it, the case could not tell the
# sandbox's limits from the host's, and is skipped.
def _raised_skip(need):
    def f(M):
        short = ["RLIMIT_%s %s < %d" % (k, M.raised.get(k), v) for k, v in need.items()
                 if M.raised.get(k, 0) < v]
        if not short:
            return None
        return ("safexec cannot be given limits high enough here (%s: the hard limit "
                "is lower and the suite lacks CAP_SYS_RESOURCE): the host's own limits "
                "would refuse this, not the sandbox's" % ", ".join(short))
    return f


case("priority_raise", r"""
say("nice", tryf(os.setpriority, os.PRIO_PROCESS, 0, -5))
say("fifo", tryf(os.sched_setscheduler, 0, os.SCHED_FIFO, os.sched_param(1)))
""", expect=dict(status="ok", exit_code=0, stdout="nice EACCES\nfifo EPERM\n"),
    raise_limits=True, skip_if=_raised_skip(dict(NICE=25, RTPRIO=1)))

case("locked_memory_budget", r"""
say("mlock", lc("mlock", ctypes.create_string_buffer(1 << 20), 1 << 20))
""", expect=dict(status="ok", exit_code=0, stdout="mlock ENOMEM\n"),
    raise_limits=True, skip_if=_raised_skip(dict(MEMLOCK=4 << 20)))


def _tmpfs_total_expect(M):
    # Without a memory cgroup the three tmpfs mounts share the memory limit
    # (64 MiB here); with one, the cgroup counts their pages and the tree
    # is killed, or a mount fills up, first.
    if M.cg_memory:
        return dict(status="memory_limit", signal=KILL)
    return dict(status="ok", exit_code=0, stdout_re=r"total (\d+) MiB\n")


def _tmpfs_total_check(res, M):
    import re as _re
    m = _re.search(r"total (\d+) MiB", res["stdout"])
    if m and int(m.group(1)) > 64:
        return ["the three tmpfs mounts held %s MiB with --memory 64M" % m.group(1)]
    return []


case("tmpfs_total_within_memory", r"""
chunk = b"x" * (1 << 20)
total = 0
for d in ("/tmp", "/box", "/dev/shm"):
    i = 0
    while True:
        try:
            with open("%s/fill%d" % (d, i), "wb") as f:
                f.write(chunk)
        except OSError:
            break
        total += 1
        i += 1
say("total", total, "MiB")
""", opts=["--memory", "64M", "--file-size", "8M"], expect=_tmpfs_total_expect,
    check=_tmpfs_total_check)

# --------------------------------------------------------------------------
# The syscall policy: calls with no use for a program, refused by the filter.
# With the capabilities kept (`run.py --without caps`) the filter alone must
# give exactly these answers.  Where the kernel's own answer to a caller
# without capabilities would be EPERM too, a line with arguments the kernel
# rejects first (EINVAL, EBADF...) or seccomp_deny_list tells the filter's
# answer from the kernel's.

section("the seccomp filter's policy")

case("keyctl", r'''
say("add_key", sc(%(add_key)d, b"user", b"k", b"v", 1, -2))
say("request_key", sc(%(request_key)d, b"user", b"k", None, 0))
say("keyctl_get", sc(%(keyctl)d, 0, -3, 0))
say("keyctl_join", sc(%(keyctl)d, 1, b"evil"))
''' % NR, expect=dict(status="ok", exit_code=0, stdout=exact_lines(
    [(k, "EPERM") for k in ("add_key", "request_key", "keyctl_get", "keyctl_join")])),
    layers=("seccomp",))

case("bpf", r'''
attr = ctypes.create_string_buffer(struct.pack("IIII", 2, 4, 8, 1) + b"\0" * 112)
say("map_create", sc(%(bpf)d, 0, attr, 128))
prog = ctypes.create_string_buffer(b"\0" * 128)
say("prog_load", sc(%(bpf)d, 5, prog, 128))
say("bad_cmd", sc(%(bpf)d, 0x7fff, prog, 128))    # the kernel: EINVAL
''' % NR, expect=dict(status="ok", exit_code=0,
                      stdout="map_create EPERM\nprog_load EPERM\nbad_cmd EPERM\n"),
    layers=("seccomp",))

case("perf_event_open", r'''
attr = ctypes.create_string_buffer(struct.pack("IIQ", 1, 128, 0) + b"\0" * 112)
say("self_cpu_clock", sc(%(perf_event_open)d, attr, 0, -1, -1, 0))
say("all_cpu0", sc(%(perf_event_open)d, attr, -1, 0, -1, 0))
''' % NR, expect=dict(status="ok", exit_code=0,
                      stdout="self_cpu_clock EPERM\nall_cpu0 EPERM\n"),
    layers=("seccomp",))

case("userfaultfd", r'''
say("userfaultfd", sc(%(userfaultfd)d, 0))
say("userfaultfd_user", sc(%(userfaultfd)d, 1))
say("dev_userfaultfd", tryf(lambda: open("/dev/userfaultfd", "rb")))
''' % NR, expect=dict(status="ok", exit_code=0,
                      stdout="userfaultfd EPERM\nuserfaultfd_user EPERM\n"
                      "dev_userfaultfd ENOENT\n"),
    layers=("seccomp",))

case("io_uring", r'''
params = ctypes.create_string_buffer(120)
say("setup", sc(%(io_uring_setup)d, 8, params))
say("enter", sc(%(io_uring_enter)d, 3, 1, 0, 0, None, 0))
say("register", sc(%(io_uring_register)d, 3, 0, None, 0))
''' % NR, expect=dict(status="ok", exit_code=0,
                      stdout="setup EPERM\nenter EPERM\nregister EPERM\n"),
    layers=("seccomp",))

case("tiocsti", r'''
import fcntl, termios
ch = ctypes.c_char_p(b"x")
say("fcntl_ioctl", tryf(fcntl.ioctl, 0, termios.TIOCSTI, b"x"))
for fd in (0, 1, 2):
    say("plain_%%d" %% fd, sc(%(ioctl)d, fd, 0x5412, ch))
say("high_bits", sc(%(ioctl)d, 0, 0x100005412, ch))
say("all_high_bits", sc(%(ioctl)d, 0, -0xffffabee, ch))
say("tioclinux", sc(%(ioctl)d, 0, 0x541C, ch))
say("tioclinux_high", sc(%(ioctl)d, 0, 0x70000541C, ch))
''' % NR, expect=dict(status="ok", exit_code=0, stdout=exact_lines(
    [(k, "EPERM") for k in ("fcntl_ioctl", "plain_0", "plain_1", "plain_2",
                            "high_bits", "all_high_bits", "tioclinux",
                            "tioclinux_high")])),
    layers=("seccomp",))

# A call through another architecture's table kills the whole process
# (SECCOMP_RET_KILL_PROCESS), not only the calling thread, and never returns
# an error.  The call is made in a second thread while the main thread
# waits: were only the thread killed, the main thread would go on and say
# so; were the call refused with an errno, the thread would say "after".
THREADED = r'''
import threading
def bad():
    r = call()
    say("after", r)
say("before")
t = threading.Thread(target=bad, daemon=True)
t.start()
t.join(3)
say("main thread alive; call thread alive:", t.is_alive())
'''

case("x32_syscall", r'''
def call():
    return sc(0x40000000 | %(getpid)d)
''' % NR + THREADED, expect=dict(status="signaled", exit_code=None, signal=SIGSYS,
                                 stdout="before\n"),
    layers=("seccomp",))

case("x32_unshare", r'''
def call():
    return sc(0x40000000 | %(unshare)d, 0x10000000)
''' % NR + THREADED, expect=dict(status="signaled", exit_code=None, signal=SIGSYS,
                                 stdout="before\n"),
    layers=("seccomp",))

INT80_CODE = r'''
import mmap
m = mmap.mmap(-1, 4096, prot=mmap.PROT_READ | mmap.PROT_WRITE | mmap.PROT_EXEC)
# mov eax, 20 (i386 getpid); int 0x80; ret
m.write(b"\xb8\x14\x00\x00\x00\xcd\x80\xc3")
f = ctypes.CFUNCTYPE(ctypes.c_int)(ctypes.addressof(ctypes.c_char.from_buffer(m)))
'''
# run.py's probe: does this host run int 0x80 at all (outside any sandbox)?
INT80 = INT80_CODE + r'''
print("before", flush=True)
r = f()
print("after", r, flush=True)
'''

case("i386_int80", INT80_CODE + r'''
def call():
    return f()
''' + THREADED,
     expect=lambda M: dict(status="signaled", exit_code=None,
                           # Where the host has no i386 emulation int 0x80
                           # faults (SIGSEGV) before any filter runs.
                           signal=SIGSYS if M.int80 else 11, stdout="before\n"),
     layers=("seccomp",))

case("kernel_admin_syscalls", r'''
ts = ctypes.create_string_buffer(struct.pack("qq", int(time.time()) + 3600, 0))
tv = ctypes.create_string_buffer(struct.pack("qq", int(time.time()) + 3600, 0))
bad_tv = ctypes.create_string_buffer(struct.pack("qq", 0, 2000000))
buf = ctypes.create_string_buffer(256)
tests = [
    ("syslog", %(syslog)d, (3, buf, 256)),
    ("reboot", %(reboot)d, (0xfee1dead, 672274793, 0, None)),
    ("kexec_load", %(kexec_load)d, (0, 0, None, 0)),
    ("kexec_file_load", %(kexec_file_load)d, (-1, -1, 0, b"", 0)),
    ("init_module", %(init_module)d, (buf, 16, b"")),
    ("finit_module", %(finit_module)d, (0, b"", 0)),
    ("delete_module", %(delete_module)d, (b"loop", 0)),
    ("swapon", %(swapon)d, (b"/tmp/swap", 0)),
    ("swapoff", %(swapoff)d, (b"/tmp/swap",)),
    ("acct", %(acct)d, (b"/tmp/acct",)),
    ("quotactl", %(quotactl)d, (0x800001, b"/tmp", 0, None)),
    ("clock_settime", %(clock_settime)d, (0, ts)),
    ("settimeofday", %(settimeofday)d, (tv, None)),
    ("iopl", %(iopl)d, (3,)),
    ("ioperm", %(ioperm)d, (0x80, 1, 1)),
    # Arguments the kernel rejects before it looks at capabilities (EINVAL
    # without the filter, whatever the capabilities):
    ("swapon_bad_flags", %(swapon)d, (b"/tmp/swap", 0x7fffffff)),
    ("clock_settime_monotonic", %(clock_settime)d, (1, ts)),
    ("settimeofday_bad_usec", %(settimeofday)d, (bad_tv, None)),
]
for name, nr, a in tests:
    say(name, sc(nr, *a))
''' % NR, expect=dict(status="ok", exit_code=0, stdout=exact_lines(
    [(k, "EPERM") for k in ("syslog", "reboot", "kexec_load", "kexec_file_load",
                            "init_module", "finit_module", "delete_module",
                            "swapon", "swapoff", "acct", "quotactl",
                            "clock_settime", "settimeofday", "iopl", "ioperm",
                            "swapon_bad_flags", "clock_settime_monotonic",
                            "settimeofday_bad_usec")])),
    layers=("seccomp",))

case("handle_syscalls", r'''
AT = -100
handle = ctypes.create_string_buffer(struct.pack("Ii", 128, 0) + b"\0" * 128)
mnt = ctypes.c_int(0)
say("name_to_handle_at", sc(%(name_to_handle_at)d, AT, b"/usr", handle, ctypes.byref(mnt), 0))
say("open_by_handle_at", sc(%(open_by_handle_at)d, AT, handle, 0))
r, e = sc_raw(%(pidfd_open)d, os.getpid(), 0)
say("pidfd_open_self", "OK" if r >= 0 else ename(e))
say("pidfd_getfd_self", sc(%(pidfd_getfd)d, r, 1, 0) if r >= 0 else "EPERM")
say("kcmp", sc(%(kcmp)d, os.getpid(), os.getpid(), 0, 0, 1))
say("open_by_handle_at_bad_fd", sc(%(open_by_handle_at)d, 9999, handle, 0))
''' % NR, expect=dict(status="ok", exit_code=0,
                      stdout="name_to_handle_at EPERM\nopen_by_handle_at EPERM\n"
                      "pidfd_open_self OK\npidfd_getfd_self EPERM\nkcmp EPERM\n"
                      "open_by_handle_at_bad_fd EPERM\n"),
    layers=("seccomp",))


case("personality", r"""
say("query", sc(%(personality)d, 0xffffffff))
say("addr_no_randomize", sc(%(personality)d, 0x0040000))
say("read_implies_exec", sc(%(personality)d, 0x0400000))
say("persona", open("/proc/self/personality").read().strip())
""" % NR, expect=dict(status="ok", exit_code=0, stdout=exact_lines(
    [(k, "EPERM") for k in ("query", "addr_no_randomize", "read_implies_exec")])
    + "persona 00000000\n"),
    layers=("seccomp",),
    skip=dict(seccomp="personality() needs no capability (turning ASLR off, "
              "READ_IMPLIES_EXEC): the filter alone refuses it"))

case("process_madvise", r"""
import mmap
m = mmap.mmap(-1, 1 << 16)
m[0:1] = b"x"
base = ctypes.addressof(ctypes.c_char.from_buffer(m))
iov = ctypes.create_string_buffer(struct.pack("QQ", base, 1 << 16))
r, e = sc_raw(%(pidfd_open)d, os.getpid(), 0)
say("pidfd_open_self", "OK" if r >= 0 else ename(e))
say("self_cold", sc(%(process_madvise)d, r, iov, 1, 20, 0))       # MADV_COLD
say("self_pageout", sc(%(process_madvise)d, r, iov, 1, 21, 0))    # MADV_PAGEOUT
say("bad_flags", sc(%(process_madvise)d, r, iov, 1, 20, 1))       # the kernel: EINVAL
pid = os.fork()
if pid == 0:
    time.sleep(60)
    os._exit(0)
c, e = sc_raw(%(pidfd_open)d, pid, 0)
say("child_cold", sc(%(process_madvise)d, c, iov, 1, 20, 0))
os.kill(pid, signal.SIGKILL)
os.waitpid(pid, 0)
""" % NR, expect=dict(status="ok", exit_code=0, stdout="pidfd_open_self OK\n" + exact_lines(
    [(k, "EPERM") for k in ("self_cold", "self_pageout", "bad_flags", "child_cold")])),
    layers=("seccomp",),
    skip=dict(seccomp="a process may advise the kernel about its own memory without "
              "any capability: the filter alone refuses process_madvise()"))

case("clock_adjtime", r"""
tx = ctypes.create_string_buffer(208)                            # struct timex
tx_offset = ctypes.create_string_buffer(struct.pack("I", 0x0001) + b"\0" * 204)
say("clock_adjtime_read", sc(%(clock_adjtime)d, 0, tx))          # modes 0: a read
say("clock_adjtime_offset", sc(%(clock_adjtime)d, 0, tx_offset)) # ADJ_OFFSET
say("clock_adjtime_monotonic", sc(%(clock_adjtime)d, 1, tx))     # the kernel: EOPNOTSUPP
say("adjtimex_read", sc(%(adjtimex)d, tx))
say("adjtimex_offset", sc(%(adjtimex)d, tx_offset))
""" % NR, expect=dict(status="ok", exit_code=0, stdout=exact_lines(
    [(k, "EPERM") for k in ("clock_adjtime_read", "clock_adjtime_offset",
                            "clock_adjtime_monotonic", "adjtimex_read",
                            "adjtimex_offset")])),
    layers=("seccomp",),
    skip=dict(seccomp="reading the clock's adjustment state needs no capability: "
              "the filter alone refuses clock_adjtime() and adjtimex()"))

case("quotactl_fd", r"""
QCMD = lambda cmd, typ: (cmd << 8) | typ
buf = ctypes.create_string_buffer(256)
fd = os.open("/tmp", os.O_RDONLY)
say("getinfo", sc(%(quotactl_fd)d, fd, QCMD(0x800005, 0), 0, buf))  # Q_GETINFO
say("quotaon", sc(%(quotactl_fd)d, fd, QCMD(0x800002, 0), 0, None)) # Q_QUOTAON
say("bad_fd", sc(%(quotactl_fd)d, 9999, QCMD(0x800005, 0), 0, buf)) # the kernel: EBADF
""" % NR, expect=dict(status="ok", exit_code=0,
                      stdout="getinfo EPERM\nquotaon EPERM\nbad_fd EPERM\n"),
    layers=("seccomp",))

# vhangup() needs CAP_SYS_TTY_CONFIG of the initial user namespace, which no
# sandbox has: the kernel's answer is EPERM too, and only the filter probe
# (flt, see PRELUDE) shows the filter's own.
case("vhangup", r"""
say("vhangup", sc(%(vhangup)d))
say("vhangup_filter", flt(%(vhangup)d))
say("probe_works", flt(%(getpid)d))
""" % NR, expect=dict(status="ok", exit_code=0,
                      stdout="vhangup EPERM\nvhangup_filter EPERM\nprobe_works ENOSYS\n"),
    layers=("seccomp",))

case("old_syscalls", r"""
buf = ctypes.create_string_buffer(256)
say("uselib", sc(%(uselib)d, b"/usr/lib/x86_64-linux-gnu/libc.so.6"))
say("ustat", sc(%(ustat)d, os.stat("/tmp").st_dev, buf))         # the kernel: OK
say("sysfs", sc(%(sysfs)d, 3))                                   # the kernel: OK
say("_sysctl", sc(%(_sysctl)d, buf))
say("lookup_dcookie", sc(%(lookup_dcookie)d, 0, buf, 100))
say("nfsservctl", sc(%(nfsservctl)d, 0, None, None))
say("fanotify_init", sc(%(fanotify_init)d, 0x200, 0))           # FAN_REPORT_FID
""" % NR, expect=dict(status="ok", exit_code=0, stdout=exact_lines(
    [(k, "EPERM") for k in ("uselib", "ustat", "sysfs", "_sysctl", "lookup_dcookie",
                            "nfsservctl", "fanotify_init")])),
    layers=("seccomp",))

# Every call of seccomp.c's deny-list, made through flt() (see PRELUDE): the
# answer is the sandbox filter's own, never the kernel's, so that a rule
# missing from the filter shows here even where the kernel would refuse the
# call for want of a capability (vhangup, swapoff, acct, syslog...).  The
# arguments matter only for the rules that look at them.  Names that are no
# call on x86_64 have no rule there.
DENIED = ["unshare", "setns", "mount", "umount2", "pivot_root", "chroot",
          "fsopen", "fsconfig", "fsmount", "fspick", "open_tree", "move_mount",
          "mount_setattr", "keyctl", "add_key", "request_key", "bpf",
          "perf_event_open", "userfaultfd", "io_uring_setup", "io_uring_enter",
          "io_uring_register", "ptrace", "process_vm_readv", "process_vm_writev",
          "kcmp", "pidfd_getfd", "process_madvise", "open_by_handle_at",
          "name_to_handle_at", "kexec_load", "kexec_file_load", "init_module",
          "finit_module", "delete_module", "reboot", "swapon", "swapoff", "acct",
          "quotactl", "quotactl_fd", "syslog", "settimeofday", "clock_settime",
          "clock_adjtime", "adjtimex", "iopl", "ioperm", "uselib", "ustat",
          "sysfs", "_sysctl", "lookup_dcookie", "nfsservctl", "vhangup",
          "personality", "fanotify_init", "setdomainname", "sethostname",
          "inotify_init", "inotify_init1"]
NOT_ON_X86_64 = ["umount"]
DENIED_WITHOUT_MEMCG = ["memfd_create", "shmget"]
# Calls the filter refuses only with some arguments: (label, call, args,
# answer).  ENOSYS: let through (the controls, which show that the probe
# can tell).
AF_UNIX, AF_INET, AF_INET6, AF_NETLINK, AF_PACKET = 1, 2, 10, 16, 17
ARG_RULES = (
    [("getpid", "getpid", (), "ENOSYS"),
     ("clone_plain", "clone", (17,), "ENOSYS")]
    + [("clone_" + n.lower(), "clone", (f | 17,), "EPERM")
       for n, f in NS_FLAGS if n != "NEWTIME"]
    + [("clone_newuser", "clone", (NEWUSER | 17,), "EPERM"),
       ("clone3", "clone3", (0, 88), "ENOSYS"),     # the policy's own ENOSYS
       ("ioctl_tiocsti", "ioctl", (0, 0x5412, 0), "EPERM"),
       ("ioctl_tiocsti_high_bits", "ioctl", (0, 0x100005412, 0), "EPERM"),
       ("ioctl_tioclinux", "ioctl", (0, 0x541C, 0), "EPERM"),
       ("ioctl_fionread", "ioctl", (0, 0x541B, 0), "ENOSYS")]
    + [("%s_%d" % (call, fam), call, (fam, 1, 0) + ((0,) if call == "socketpair" else ()),
        "ENOSYS" if fam in (AF_UNIX, AF_INET, AF_INET6) else "EPERM")
       for call in ("socket", "socketpair")
       for fam in (0, AF_UNIX, AF_INET, 3, 4, 5, 6, 7, 8, 9, AF_INET6, 11,
                   AF_NETLINK, AF_PACKET, 40, 0x100000002)])


def _deny_list_expect(M):
    memcg = "ENOSYS" if M.cg_memory else "EPERM"
    return dict(status="ok", exit_code=0, stdout=exact_lines(
        [(n, "EPERM") for n in DENIED]
        + [(n, memcg) for n in DENIED_WITHOUT_MEMCG]
        + [(label, want) for label, _, _, want in ARG_RULES]))


def policy_names(path):
    """The names in seccomp.c's denied[] and denied_without_memcg[]."""
    with open(path) as f:
        src = f.read()
    out = {}
    for arr in ("denied", "denied_without_memcg"):
        m = re.search(r"\b%s\[\]\s*=\s*\{(.*?)\};" % arr, src, re.S)
        body = re.sub(r"/\*.*?\*/", "", m.group(1), flags=re.S) if m else ""
        out[arr] = re.findall(r'"(\w+)"', body)
    return out


def _deny_list_check(res, M):
    if not M.policy_src:
        return ["src/sandbox/seccomp.c not found: cannot hold this case's list "
                "against the policy"]
    names = policy_names(M.policy_src)
    out = []
    if not names["denied"]:
        out.append("no denied[] list found in %s" % M.policy_src)
    for arr, mine in (("denied", DENIED + NOT_ON_X86_64),
                      ("denied_without_memcg", DENIED_WITHOUT_MEMCG)):
        missing = sorted(set(names[arr]) - set(mine))
        extra = sorted(set(mine) - set(names[arr]))
        if missing:
            out.append("seccomp.c %s[] has %s, which this case does not try" % (arr, missing))
        if extra:
            out.append("this case tries %s, which seccomp.c %s[] no longer has" % (extra, arr))
    return out


case("seccomp_deny_list", r"""
NRS = %r
for name in %r:
    say(name, flt(NRS[name]))
for label, call, args in %r:
    say(label, flt(NRS[call], *args))
""" % (dict((k, SYSCALL_NR[k]) for k in SYSCALL_NR),
       DENIED + DENIED_WITHOUT_MEMCG,
       [(label, call, args) for label, call, args, _ in ARG_RULES]),
    expect=_deny_list_expect, check=_deny_list_check, layers=("seccomp",))


# --------------------------------------------------------------------------
# Network

section("the network namespace")


NET = r'''
def tcp(host, port, fam=socket.AF_INET):
    s = socket.socket(fam, socket.SOCK_STREAM)
    s.settimeout(3)
    try:
        s.connect((host, port))
        return "CONNECTED"
    except socket.timeout:
        return "TIMEOUT"
    except OSError as e:
        return ename(e.errno)
def udp(host, port, fam=socket.AF_INET):
    s = socket.socket(fam, socket.SOCK_DGRAM)
    try:
        s.sendto(b"x", (host, port))
        return "SENT"
    except OSError as e:
        return ename(e.errno)
'''

case("net_tcp_outside", NET + r'''
for h, p in (("1.1.1.1", 80), ("8.8.8.8", 53), ("169.254.169.254", 80),
             ("10.0.0.1", 22), ("192.168.0.1", 80)):
    say(h, tcp(h, p))
''', expect=dict(status="ok", exit_code=0, stdout=exact_lines(
    [(h, "ENETUNREACH") for h in ("1.1.1.1", "8.8.8.8", "169.254.169.254",
                                  "10.0.0.1", "192.168.0.1")])))

case("net_udp", NET + r'''
say("dns", udp("8.8.8.8", 53))
say("loopback", udp("127.0.0.1", 53))
say("broadcast", udp("255.255.255.255", 67))
''', expect=dict(status="ok", exit_code=0,
                 stdout="dns ENETUNREACH\nloopback ENETUNREACH\nbroadcast ENETUNREACH\n"))

case("net_ipv6", NET + r'''
say("tcp6_loopback", tcp("::1", 80, socket.AF_INET6))
say("tcp6_outside", tcp("2001:4860:4860::8888", 53, socket.AF_INET6))
say("udp6_outside", udp("2001:4860:4860::8888", 53, socket.AF_INET6))
say("tcp6_mapped", tcp("::ffff:1.1.1.1", 80, socket.AF_INET6))
''', expect=dict(status="ok", exit_code=0, stdout_re=errno_lines(
    ["tcp6_loopback", "tcp6_outside", "udp6_outside", "tcp6_mapped"],
    ["ENETUNREACH", "EADDRNOTAVAIL"])))

case("net_raw", r'''
say("inet_raw_icmp", tryf(socket.socket, socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP))
say("inet_raw_raw", tryf(socket.socket, socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_RAW))
say("inet6_raw", tryf(socket.socket, socket.AF_INET6, socket.SOCK_RAW, socket.IPPROTO_ICMPV6))
say("inet_packet", tryf(socket.socket, socket.AF_INET, 10, 0x300))
''', expect=dict(status="ok", exit_code=0, stdout_re=exact_lines(
    [(k, "EPERM") for k in ("inet_raw_icmp", "inet_raw_raw", "inet6_raw")])
    + "inet_packet (?:EPERM|EINVAL|ESOCKTNOSUPPORT|EPROTONOSUPPORT)\n"),
    layers=("caps",),
    skip=dict(caps="raw AF_INET and AF_INET6 sockets are the capability drop's "
              "(CAP_NET_RAW of the sandbox's own network namespace): the filter "
              "allows those families"))

case("net_packet", r'''
say("packet_raw", tryf(socket.socket, 17, socket.SOCK_RAW, 0x0300))
say("packet_dgram", tryf(socket.socket, 17, socket.SOCK_DGRAM, 0x0300))
say("packet_raw_libc", lc("socket", 17, 3, 0x0300))
say("packet_high_bits", sc(41, 0x100000011, 3, 0x0300))
''', expect=dict(status="ok", exit_code=0, stdout=exact_lines(
    [(k, "EPERM") for k in ("packet_raw", "packet_dgram", "packet_raw_libc",
                            "packet_high_bits")])),
    layers=("seccomp", "caps"))

FAMILIES = [("netlink_route", 16, 3, 0), ("netlink_audit", 16, 3, 9),
            ("netlink_high_bits", 0x100000010, 3, 0), ("vsock", 40, 1, 0),
            ("alg", 38, 5, 0), ("key", 15, 3, 2), ("xdp", 44, 3, 0),
            ("bluetooth", 31, 3, 1), ("unspec", 0, 1, 0), ("can", 29, 3, 1),
            ("tipc", 30, 5, 0), ("rds", 21, 5, 0), ("family_4", 4, 2, 0)]

case("net_netlink_other_families", r'''
for name, fam, typ, proto in %r:
    say(name, sc(41, fam, typ, proto))
say("socketpair_netlink", sc(53, 16, 3, 0, ctypes.create_string_buffer(8)))
say("unix_ok", sc(41, 1, 1, 0))
''' % (FAMILIES,), expect=dict(status="ok", exit_code=0, stdout=exact_lines(
    [(f[0], "EPERM") for f in FAMILIES]) + "socketpair_netlink EPERM\nunix_ok OK\n"),
    layers=("seccomp",),
    skip=dict(seccomp="netlink, vsock and the other families need no capability to "
              "open a socket: the filter alone refuses them"))


def _host_tcp_check(res, M):
    n = M.tcp_listener.count()
    return ["the host's TCP listener accepted %d connection(s)" % n] if n else []


case("net_host_loopback_tcp", NET + r'''
import fcntl
port = int(sys.argv[1])
for h in sys.argv[2:]:
    say(h, tcp(h, port))
ifr = struct.pack("16sH14s", b"lo", 0x1 | 0x40, b"")
say("lo_up", tryf(fcntl.ioctl, socket.socket(), 0x8914, ifr))
say("loopback_again", tcp("127.0.0.1", port))
''', args=lambda M: [str(M.tcp_port)] + M.tcp_hosts,
    expect=lambda M: dict(status="ok", exit_code=0, stdout=exact_lines(
        [(h, "ENETUNREACH") for h in M.tcp_hosts]) + "lo_up EPERM\n"
        "loopback_again ENETUNREACH\n"),
    setup=lambda M, st: M.tcp_listener.reset(),
    check=_host_tcp_check, layers=("caps",),
    skip=dict(caps="bringing lo up is the capability drop's (CAP_NET_ADMIN of the "
              "sandbox's own network namespace): with it the loopback answers, "
              "and the filter has no rule here"))


def _abstract_check(res, M):
    n = M.abstract_listener.count()
    return ["the host's abstract socket accepted %d connection(s)" % n] if n else []


case("net_host_abstract_unix", r'''
name = "\0" + sys.argv[1]
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
say("connect", tryf(s.connect, name))
d = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
say("sendto", tryf(d.sendto, b"x", name))
b = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
say("bind_same_name", tryf(b.bind, name))
''', args=lambda M: [M.abstract_name],
    expect=dict(status="ok", exit_code=0,
                stdout="connect ECONNREFUSED\nsendto ECONNREFUSED\nbind_same_name OK\n"),
    setup=lambda M, st: M.abstract_listener.reset(),
    check=_abstract_check)


def _unix_path_check(res, M):
    n = M.unix_listener.count()
    return ["the host's unix socket accepted %d connection(s)" % n] if n else []


case("net_host_path_unix", r'''
path = sys.argv[1]
say("exists", os.path.lexists(path))
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
say("connect", tryf(s.connect, path))
for p in ("/run/docker.sock", "/var/run/docker.sock", "/run/dbus/system_bus_socket",
          "/run/systemd/private"):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    say(p, tryf(s.connect, p))
''', args=lambda M: [M.unix_path],
    expect=dict(status="ok", exit_code=0,
                stdout="exists False\nconnect ENOENT\n" + exact_lines(
                    [(p, "ENOENT") for p in ("/run/docker.sock", "/var/run/docker.sock",
                                             "/run/dbus/system_bus_socket",
                                             "/run/systemd/private")])),
    setup=lambda M, st: M.unix_listener.reset(),
    check=_unix_path_check)


# --------------------------------------------------------------------------
# Inherited fds

section("the file descriptors safexec passes on")


def _fd_setup(M, st):
    # A secret file, a listening socket and high-numbered duplicates, all
    # inheritable (no O_CLOEXEC) and passed to safexec.
    path = os.path.join(M.tmp, "fd-secret")
    with open(path, "w") as f:
        f.write(M.secret)
    fd = os.open(path, os.O_RDONLY)
    os.set_inheritable(fd, True)
    hi = [os.dup2(fd, 50), os.dup2(fd, 200), os.dup2(fd, 1000)]
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(1)
    sock.set_inheritable(True)
    st["fds"] = [fd] + hi + [sock.fileno()]
    st["sock"] = sock
    st["pass_fds"] = tuple(st["fds"])


def _fd_teardown(M, st, res):
    for fd in st["fds"][:-1]:
        os.close(fd)
    st["sock"].close()
    return []


case("fd_leak", r'''
d = "/proc/self/fd"
fds = []
for n in os.listdir(d):
    try:
        os.readlink(d + "/" + n)
    except OSError:
        continue        # the listing's own directory fd, closed by now
    fds.append(int(n))
say("stdin", tryf(os.fstat, 0))
say("fds", sorted(fds))
found = []
for fd in range(3, 1 << 16):
    try:
        os.fstat(fd)
        found.append(fd)
    except OSError:
        pass
say("scan", found)
''', expect=dict(status="ok", exit_code=0, stdout="stdin OK\nfds [0, 1, 2]\nscan []\n"),
    setup=_fd_setup, teardown=_fd_teardown)


# --------------------------------------------------------------------------
# Several runs: what one leaves, what two running at once see of each other

section("what a run leaves for, or sees of, another")


LEAVE = r'''
tok = sys.argv[1]
key = int(sys.argv[2])
for d in ("/tmp", "/box", "/dev/shm"):
    with open("%s/%s" % (d, tok), "w") as f:
        f.write("left")
os.mkdir("/tmp/dir-" + tok)
libc.shmget.restype = ctypes.c_int
say("shmget", "OK" if libc.shmget(key, 4096, 0o1000 | 0o666) >= 0 else ename(ctypes.get_errno()))
say("written")
'''

FIND = r'''
tok = sys.argv[1]
key = int(sys.argv[2])
for d in ("/tmp", "/box", "/dev/shm"):
    say(d, os.path.lexists("%s/%s" % (d, tok)))
say("tmp_list", sorted(os.listdir("/tmp")))
say("box_list", sorted(os.listdir("/box")))
say("shm_list", sorted(os.listdir("/dev/shm")))
libc.shmget.restype = ctypes.c_int
say("shmget", "OK" if libc.shmget(key, 0, 0) >= 0 else ename(ctypes.get_errno()))
'''


def _files_left(M, runner):
    out = []
    key = 0x5afe0000 + (os.getpid() & 0xffff)
    args = [M.token, str(key)]
    r1, err = runner.run("leave", PRELUDE + LEAVE, [], args)
    if err:
        return ["run 1: " + err]
    # Without a memory cgroup SysV shared memory is refused outright (no
    # rlimit would count it); with one, a segment must not outlive its run.
    made, found = ("OK", "ENOENT") if M.cg_memory else ("EPERM", "EPERM")
    out += runner.judge(r1, dict(status="ok", exit_code=0, stdout="shmget %s\nwritten\n" % made),
                        "run 1: ")
    r2, err = runner.run("find", PRELUDE + FIND, [], args)
    if err:
        return out + ["run 2: " + err]
    out += runner.judge(r2, dict(status="ok", exit_code=0, stdout=(
        "/tmp False\n/box False\n/dev/shm False\ntmp_list []\n"
        "box_list ['main.py']\nshm_list []\nshmget %s\n" % found)), "run 2: ")
    for d in ("/tmp", "/dev/shm"):
        if os.path.lexists("%s/%s" % (d, M.token)):
            out.append("%s/%s exists on the host" % (d, M.token))
    try:
        with open("/proc/sysvipc/shm") as f:
            keys = [int(l.split()[0]) for l in f.read().splitlines()[1:] if l.strip()]
        if key in keys:
            out.append("the run's SysV shm segment exists on the host")
    except (OSError, ValueError):
        pass
    return out


case("files_left_for_next_run", None, custom=_files_left)


def _supervisor_killed(M, runner):
    """safexec itself dies (SIGKILL) while its program and a daemon run:
    nothing of the run may survive it (checked by the leftover check that
    follows every case), and the next safexec must not inherit its
    cgroups."""
    code = PRELUDE + DAEMON + r'''
dpid = daemonize()
if os.fork() == 0:
    while True:
        pass
say("ready")
time.sleep(60)
'''
    opts = ["--wall-time", "30000", "--processes", "16"]
    p = runner.start("supervisor-killed", code, opts, [])
    time.sleep(1.0)
    os.kill(p.pid, signal.SIGKILL)      # the safexec this case started
    p.communicate()
    r, err = runner.run("after-kill", PRELUDE + 'say("next")\n', [], [])
    if err:
        return ["the next run: " + err]
    return runner.judge(r, dict(status="ok", exit_code=0, stdout="next\n"),
                        "the next run: ")


case("supervisor_killed", None, custom=_supervisor_killed)

PEER = r'''
me, peer = sys.argv[1], sys.argv[2]
open("/tmp/" + me, "w").close()
srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
srv.bind("\0" + me)
srv.listen(8)
c = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
say("self", tryf(c.connect, "\0" + me))
child = os.fork()
if child == 0:
    time.sleep(60)
    os._exit(0)
seen = set()
res = "none"
deadline = time.time() + 1.5
while time.time() < deadline:
    seen |= {int(p) for p in os.listdir("/proc") if p.isdigit()}
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    res = tryf(s.connect, "\0" + peer)
    s.close()
    if res == "OK":
        break
    time.sleep(0.05)
say("peer", res)
say("pids", "own" if seen == {1, os.getpid(), child} else sorted(seen))
say("peer_file", os.path.lexists("/tmp/" + peer))
'''


def _two_at_once(M, runner):
    a, b = M.token + "-A", M.token + "-B"
    res = runner.run_many([("peer-a", PRELUDE + PEER, ["--processes", "8"], [a, b]),
                           ("peer-b", PRELUDE + PEER, ["--processes", "8"], [b, a])])
    out = []
    want = dict(status="ok", exit_code=0,
                stdout="self OK\npeer ECONNREFUSED\npids own\npeer_file False\n")
    spans = []
    for tag, (r, err, t0, t1) in zip("AB", res):
        if err:
            out.append("run %s: %s" % (tag, err))
            continue
        out += runner.judge(r, want, "run %s: " % tag)
        spans.append((t0, t1))
    if len(spans) == 2:
        overlap = min(spans[0][1], spans[1][1]) - max(spans[0][0], spans[1][0])
        if overlap < 1.0:
            out.append("the two runs overlapped only %.2f s" % overlap)
    return out


case("two_runs_at_once", None, custom=_two_at_once)


# --------------------------------------------------------------------------
# The output directory (--collect-out): what comes back of /box/out

section("the output directory")

OUT = ["--collect-out"]
OUT_NAME = re.compile(r"[A-Za-z0-9_+][A-Za-z0-9._+-]{0,63}")
OUT_REASONS = {"not a regular file", "name not allowed", "over the count bound",
               "over the size bound", "changed while read", "not readable"}
OUT_MAX_DROPPED = 32
# Bytes that would show something of the host, or of a file the reader
# followed: the host's secret and marker, any passwd file's lines.
OUT_LEAKS = ("SAFEXEC_TEST_SECRET", "AWS_SECRET", "root:x:0:0", "sandbox:x:1000",
             "nobody:x:65534")


def _out_check(files=None, drops=None, max_files=64, max_bytes=16 * MiB, more=None):
    """A check of the result's out_files and out_dropped: the bounds, the
    names (the input file name rule; dropped ones printable ASCII), no
    host byte in any returned file.  files: {name: bytes or None (any)},
    exactly the files returned; drops: {escaped name: reason}, each listed;
    more: f(res, M, {name: bytes}) -> [problems]."""
    import base64

    def check(res, M):
        out = []
        got, listed = res.get("out_files"), res.get("out_dropped")
        total = res.get("out_dropped_total")
        if not isinstance(got, list) or not isinstance(listed, list) or not isinstance(total, int):
            return ["no out_files, out_dropped or out_dropped_total: %s %s %s" % (
                short(got), short(listed), short(total))]
        data = {}
        for f in got:
            name = f.get("name")
            try:
                b = base64.b64decode(f.get("content_base64", ""), validate=True)
            except (ValueError, TypeError):
                out.append("file %r: content is not base64" % name)
                continue
            if not isinstance(name, str) or not OUT_NAME.fullmatch(name):
                out.append("a returned name breaks the rule: %r" % name)
            if f.get("size") != len(b):
                out.append("file %r: size %r, content %d bytes" % (name, f.get("size"), len(b)))
            if name in data:
                out.append("file %r returned twice" % name)
            data[name] = b
            for leak in (M.secret, M.marker) + OUT_LEAKS:
                if leak.encode() in b:
                    out.append("file %r holds %r" % (name, leak[:24]))
        if len(got) > max_files:
            out.append("%d files returned, the bound is %d" % (len(got), max_files))
        if sum(len(b) for b in data.values()) > max_bytes:
            out.append("%d bytes returned, the bound is %d" % (
                sum(len(b) for b in data.values()), max_bytes))
        if len(listed) > OUT_MAX_DROPPED or total < len(listed):
            out.append("%d drops listed of %d" % (len(listed), total))
        for d in listed:
            n = d.get("name")
            if not isinstance(n, str) or not all(0x20 <= ord(c) < 0x7f for c in n):
                out.append("a dropped name is not printable ASCII: %r" % n)
            if d.get("reason") not in OUT_REASONS:
                out.append("unknown drop reason %r" % d.get("reason"))
        if files is not None:
            if sorted(data) != sorted(files):
                out.append("files returned: %s, expected %s" % (sorted(data), sorted(files)))
            for k, v in files.items():
                if v is not None and k in data and data[k] != v:
                    out.append("file %r: %s, expected %s" % (k, short(data[k]), short(v)))
        have = {d.get("name"): d.get("reason") for d in listed}
        for k, v in (drops or {}).items():
            if have.get(k) != v:
                out.append("drop %r: %r, expected %r (listed: %s)" % (k, have.get(k), v,
                                                                      short(have, 300)))
        if more:
            out += more(res, M, data)
        return out
    return check


def short(v, n=160):
    s = repr(v)
    return s if len(s) <= n else s[:n - 20] + "..." + s[-17:]


case("out_symlinks_to_host_files", r'''
d = os.environ["SAFEXEC_OUT"]
for name, target in [("passwd", "/etc/passwd"), ("init_environ", "/proc/1/environ"),
                     ("self_environ", "/proc/self/environ"), ("root", "/"),
                     ("up", "../../etc/passwd"), ("init_root", "/proc/1/root/etc/passwd")]:
    os.symlink(target, os.path.join(d, name))
open(os.path.join(d, "ok.txt"), "w").write("ok\n")
say("made")
''', opts=OUT, expect=dict(status="ok", exit_code=0, stdout="made\n", wall_max=5000),
    check=_out_check(files={"ok.txt": b"ok\n"},
                     drops={n: "not a regular file" for n in
                            ("passwd", "init_environ", "self_environ", "root", "up",
                             "init_root")}))


case("out_hard_links", r'''
d = os.environ["SAFEXEC_OUT"]
say("own", tryf(os.link, "/box/main.py", d + "/own.py"))
for label, src in [("usr", "/usr/bin/python3"), ("etc", "/etc/passwd"),
                   ("proc", "/proc/1/environ"), ("dev", "/dev/null")]:
    say(label, tryf(os.link, src, d + "/" + label))
''', opts=OUT,
    expect=dict(status="ok", exit_code=0,
                stdout_re="own OK\n" + errno_lines(["usr", "etc", "proc", "dev"],
                                                    ["EXDEV", "EPERM"])),
    check=_out_check(more=lambda res, M, data: [] if set(data) == {"own.py"} and
                     b"os.link" in data["own.py"] else ["own.py not returned as itself: %s"
                                                          % short(data)]))


case("out_fifo_does_not_block", r'''
d = os.environ["SAFEXEC_OUT"]
os.mkfifo(d + "/fifo")
os.mkfifo(d + "/held")
if os.fork() == 0:
    fd = os.open(d + "/held", os.O_RDWR)   # a writer that never writes
    time.sleep(3600)
say("made")
''', opts=OUT + ["--wall-time", "5000"],
    expect=dict(status="ok", exit_code=0, stdout="made\n", wall_max=3000),
    check=_out_check(files={}, drops={"fifo": "not a regular file",
                                      "held": "not a regular file"}))


def _grow_more(res, M, data):
    b = data.get("grow.log")
    if b is not None and set(b) - {ord("g")}:
        return ["grow.log holds other bytes than the writer's"]
    return []


case("out_file_still_growing", r'''
d = os.environ["SAFEXEC_OUT"]
if os.fork() == 0:
    f = open(d + "/grow.log", "ab", buffering=0)
    while True:
        f.write(b"g" * 4096)
open(d + "/ok.txt", "w").write("ok")
time.sleep(0.3)
say("exit")
''', opts=OUT + ["--out-max-bytes", "64K", "--wall-time", "5000"],
    expect=dict(status="ok", exit_code=0, stdout="exit\n", wall_max=3000),
    check=_out_check(max_bytes=64 << 10, more=_grow_more))


def _many_more(res, M, data):
    m = re.fullmatch(r"made (\d+) (\w+)\n", res.get("stdout", ""))
    if not m:
        return ["no count of the files made"]
    made = int(m.group(1))
    out = []
    if len(data) != 64:
        out.append("%d files returned of %d made, expected the bound, 64" % (len(data), made))
    if res.get("out_dropped_total") != made - 64:
        out.append("out_dropped_total %r, expected %d" % (res.get("out_dropped_total"),
                                                          made - 64))
    if len(res.get("out_dropped") or []) != OUT_MAX_DROPPED:
        out.append("%d drops listed, expected %d" % (len(res.get("out_dropped") or []),
                                                     OUT_MAX_DROPPED))
    return out


case("out_100000_files", r'''
d = os.environ["SAFEXEC_OUT"]
made, why = 0, "OK"
for i in range(100000):
    try:
        with open("%s/f%06d.txt" % (d, i), "w") as f:
            f.write("x")
    except OSError as e:
        why = errno.errorcode[e.errno]
        break
    made += 1
say("made", made, why)
''', opts=OUT, expect=dict(status="ok", exit_code=0, stdout_re=r"made \d+ (ENOSPC|OK)\n",
                           wall_max=8000),
    check=_out_check(more=_many_more))


case("out_sparse_100g", r'''
d = os.environ["SAFEXEC_OUT"]
with open(d + "/sparse.bin", "wb") as f:
    say("100G", tryf(f.truncate, 100 << 30))
    say("16G", tryf(f.truncate, 16 << 30))
say("size", os.stat(d + "/sparse.bin").st_size >> 30)
''', opts=OUT + ["--file-size", "16G"],
    expect=dict(status="ok", exit_code=0, stdout="100G EFBIG\n16G OK\nsize 16\n",
                wall_max=3000),
    check=_out_check(files={}, drops={"sparse.bin": "over the size bound"}))


case("out_replaced_by_symlink", r'''
d = os.environ["SAFEXEC_OUT"]
os.rename(d, "/box/old")
open("/box/old/kept.txt", "w").write("kept")
os.mkdir("/box/other")
open("/box/other/new.txt", "w").write("new")
os.symlink("/", d)
say("out is", os.readlink(d), sorted(os.listdir(d))[:3])
''', opts=OUT, expect=dict(status="ok", exit_code=0, stdout_re=r"out is / \[.*\]\n"),
    check=_out_check(files={"kept.txt": b"kept"}))


case("out_chmod_refused_to_reader", r'''
d = os.environ["SAFEXEC_OUT"]
open(d + "/shut.txt", "w").write("shut")
os.chmod(d + "/shut.txt", 0)
open(d + "/open.txt", "w").write("open")
os.chmod(d, 0)
say("done")
''', opts=OUT, expect=dict(status="ok", exit_code=0, stdout="done\n"),
    check=_out_check(files={"open.txt": b"open"}, drops={"shut.txt": "not readable"}))


case("out_bad_names", r'''
d = os.environ["SAFEXEC_OUT"].encode()
for n in [b"nl\nname", b"\xff\xfe.txt", b"caf\xc3\xa9", b"-rf", b".hidden", b"sp ace",
          b"back\\slash", b"x" * 65]:
    open(d + b"/" + n, "w").write("dropped")
say("dotdot", tryf(lambda: open(d + b"/../dotdot.txt", "w").write("x")))
try:
    open(d + b"/a\0b", "w")
    say("nul", "OK")
except ValueError as e:
    say("nul", type(e).__name__)
say("dotdot is", sorted(os.listdir(b"/box/out")).count(b"dotdot.txt"))
open(d + b"/good.txt", "w").write("good")
''', opts=OUT,
    expect=dict(status="ok", exit_code=0,
                stdout="dotdot OK\nnul ValueError\ndotdot is 0\n"),
    check=_out_check(files={"good.txt": b"good"},
                     drops={"nl\\x0aname": "name not allowed",
                            "\\xff\\xfe.txt": "name not allowed",
                            "caf\\xc3\\xa9": "name not allowed",
                            "-rf": "name not allowed", ".hidden": "name not allowed",
                            "sp ace": "name not allowed",
                            "back\\x5cslash": "name not allowed",
                            "x" * 64 + "...": "name not allowed"}))


# --------------------------------------------------------------------------
# What `safexec check` says is in force

section("what `safexec check` reports")


def _check_features(M, runner):
    f = M.features
    out = []
    if M.rootless:
        if f.get("root") is not False:
            out.append("check says root=%r in the unprivileged run" % f.get("root"))
        if f.get("cgroup") != "none":
            out.append("check says cgroup=%r, expected \"none\" without a writable cgroup"
                       % f.get("cgroup"))
        if any((f.get("controllers") or {}).values()):
            out.append("check lists controllers %r without a cgroup" % f.get("controllers"))
        if not f.get("notes"):
            out.append("check has no notes about the missing cgroup limits")
    else:
        if f.get("root") is not True:
            out.append("check says root=%r" % f.get("root"))
        if f.get("cgroup") not in ("v1", "v2"):
            out.append("check says cgroup=%r as root" % f.get("cgroup"))
        c = f.get("controllers") or {}
        for k in ("memory", "pids", "cpu"):
            if c.get(k) is not True:
                out.append("controller %s not in force as root" % k)
    for k in ("userns", "seccomp"):
        if f.get(k) is not True:
            out.append("check says %s=%r" % (k, f.get(k)))
    if f.get("ok") is not True:
        out.append("check says ok=%r" % f.get("ok"))
    return out


case("check_features", None, custom=_check_features)
