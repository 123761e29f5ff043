#!/usr/bin/env python3
"""End-to-end tests of `safexec serve` against the real binary on loopback.

    tests/e2e/run.py --bin build/safexec [--quick] [NAME-GLOB ...]
    tests/e2e/run.py --port PORT [--log FILE] [--quick] [NAME-GLOB ...]

Each server runs on a free loopback port with its own temporary data
directory.  One line per test, then "N passed, N failed" (", N skipped"
when this host cannot run some, each with a "skip NAME: why" line).  --quick runs
only the fast tests (bad input, one hello world), for the ASan build.
--port runs the tests of the shared server against a server already
listening on 127.0.0.1:PORT (one in a container, tests/container/run), with
its executions' log in FILE; the tests that start servers of their own are
skipped.  --no-memory-cgroup says that server has no memory cgroup (`safexec
check --json` there says so: a container whose cgroups are read-only), so a
program past its memory limit is stopped by RLIMIT_AS instead, and ends as
a runtime_error with Python's MemoryError, which is what is then asserted.
Python 3 standard library only.
"""
import argparse
import base64
import concurrent.futures as futures
import fnmatch
import http.client
import json
import os
import re
import shutil
import signal
import socket
import sqlite3
import struct
import subprocess
import sys
import tempfile
import threading
import time
import traceback

HELLO = 'print("Hello World")'
MEMORY_CGROUP = True  # False with --no-memory-cgroup
JSON_CT = {"Content-Type": "application/json"}


class Fail(Exception):
    pass


class Tally:
    """Runs a suite's tests one at a time and counts them: `ok NAME (Ts)`,
    `skip NAME: why` (skip: the exception classes that mean a skip) or
    `FAIL NAME: why`, with a traceback for anything but a Fail."""

    def __init__(self, skip=None):
        self.skip = skip or Skip
        self.passed = self.failed = self.skipped = 0

    def run(self, name, fn, *a):
        t0 = time.time()
        try:
            fn(*a)
            print(f"ok   {name} ({time.time() - t0:.1f}s)", flush=True)
            self.passed += 1
        except self.skip as e:
            print(f"skip {name}: {e}", flush=True)
            self.skipped += 1
        except Exception as e:
            self.failed += 1
            print(f"FAIL {name}: {e}", flush=True)
            if not isinstance(e, Fail):
                traceback.print_exc(file=sys.stdout)

    def summary(self, more_failed=0):
        """The result line, with more_failed failures besides the counted."""
        return (f"{self.passed} passed, {self.failed + more_failed} failed"
                + (f", {self.skipped} skipped" if self.skipped else ""))


class Skip(Exception):
    """A test this host cannot run: "skip NAME: why", counted apart."""


def check(cond, what):
    if not cond:
        raise Fail(what)


def eq(got, want, what=""):
    if got != want:
        raise Fail(f"{what}: got {got!r}, want {want!r}" if what else f"got {got!r}, want {want!r}")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Response:
    def __init__(self, status, headers, body):
        self.status = status
        self.headers = headers
        self.body = body

    def header(self, name):
        for k, v in self.headers:
            if k.lower() == name.lower():
                return v
        return None

    @property
    def json(self):
        try:
            return json.loads(self.body)
        except ValueError:
            raise Fail(f"not JSON (HTTP {self.status}): {self.body[:200]!r}")


class Server:
    """One `safexec serve` process with its own data directory."""

    def __init__(self, binary, *args, env=None, prefix=()):
        self.dir = tempfile.mkdtemp(prefix="safexec-e2e-")
        self.port = free_port()
        self.data = os.path.join(self.dir, "data")
        self.log = os.path.join(self.dir, "logs", "executions.log")
        self.db = os.path.join(self.data, "history.db")
        cmd = [*prefix, binary, "serve", "--listen", f"127.0.0.1:{self.port}",
               "--data-dir", self.data, "--log", self.log, *args]
        self.stderr = open(os.path.join(self.dir, "stderr.log"), "w+")
        e = dict(os.environ)
        for k in ("SAFEXEC_LISTEN", "SAFEXEC_CONFIG", "SAFEXEC_DATA_DIR", "SAFEXEC_WORKERS"):
            e.pop(k, None)
        e.update(env or {})
        self.proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=self.stderr,
                                     cwd=self.dir, env=e)
        deadline = time.time() + 15
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise Fail(f"server exited with {self.proc.returncode}: {self.errors()}")
            try:
                if self.get("/healthz", timeout=2).status == 200:
                    return
            except OSError:
                pass
            time.sleep(0.05)
        self.proc.kill()
        raise Fail("server did not answer /healthz within 15 s")

    def errors(self):
        self.stderr.flush()
        self.stderr.seek(0)
        return self.stderr.read()[-3000:]

    def request(self, method, path, body=None, headers=None, timeout=60):
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)
        try:
            if isinstance(body, str):
                body = body.encode()
            conn.request(method, path, body=body, headers=headers or {})
            r = conn.getresponse()
            return Response(r.status, r.getheaders(), r.read())
        finally:
            conn.close()

    def get(self, path, **kw):
        return self.request("GET", path, **kw)

    def post(self, path, obj, **kw):
        return self.request("POST", path, json.dumps(obj), JSON_CT, **kw)

    def run(self, code, **kw):
        r = self.post("/run", {"code": code}, **kw)
        eq(r.status, 200, f"POST /run status ({r.body[:300]!r})")
        return r.json

    def execute(self, obj, **kw):
        r = self.post("/api/v1/execute", obj, **kw)
        eq(r.status, 200, f"POST /api/v1/execute status ({r.body[:300]!r})")
        return r.json

    def descendants(self):
        """Pids (with start times) of every process below the server."""
        children = {}
        for p in os.listdir("/proc"):
            if not p.isdigit():
                continue
            try:
                with open(f"/proc/{p}/stat") as f:
                    fields = f.read().rsplit(")", 1)[1].split()
                children.setdefault(int(fields[1]), []).append((int(p), fields[19]))
            except (OSError, IndexError):
                pass
        out, todo = [], [self.proc.pid]
        while todo:
            for pid, start in children.get(todo.pop(), []):
                out.append((pid, start))
                todo.append(pid)
        return out

    def stop(self, sig=signal.SIGTERM, timeout=30):
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
                raise Fail(f"server did not stop within {timeout} s")
        return self.proc.returncode

    def close(self):
        try:
            self.stop()
        except Fail:
            pass
        self.stderr.close()
        shutil.rmtree(self.dir, ignore_errors=True)


class Attached(Server):
    """A server this suite did not start, on 127.0.0.1:port."""

    def __init__(self, port, log):
        self.port, self.log = port, log
        if self.get("/healthz", timeout=10).status != 200:
            raise Fail(f"127.0.0.1:{port} does not answer /healthz with 200")

    def errors(self):
        return "(a server this suite did not start)"

    def stop(self, sig=signal.SIGTERM, timeout=30):
        return 0

    def close(self):
        pass


def alive(procs):
    """The processes of procs still running (same pid and start time)."""
    left = []
    for pid, start in procs:
        try:
            with open(f"/proc/{pid}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
            if fields[19] == start and fields[0] != "Z":
                left.append(pid)
        except (OSError, IndexError):
            pass
    return left


# --- The registry -----------------------------------------------------------

TESTS = []


def test(quick=False):
    def wrap(fn):
        TESTS.append((fn.__name__, fn, quick))
        return fn
    return wrap


def expect_error(r, status, code, *words):
    eq(r.status, status, f"HTTP status for {code} ({r.body[:200]!r})")
    check((r.header("Content-Type") or "").startswith("application/json"),
          f"error Content-Type is {r.header('Content-Type')!r}")
    j = r.json
    check(set(j) == {"error"}, f"error body has keys {sorted(j)}")
    eq(j["error"].get("code"), code, "error code")
    msg = j["error"].get("message")
    check(isinstance(msg, str) and msg, "error message is a non-empty string")
    for w in words:
        check(w in msg, f"error message {msg!r} does not mention {w!r}")
    return j


# --- The original service's examples ------------------------------------------

@test(quick=True)
def run_hello_world(s, slow):
    j = s.run(HELLO)
    eq(j["output"], "Hello World\n", "output")
    eq(j["status"], "ok", "status")
    eq(j["message"], "", "message")
    eq(j["exit_code"], 0, "exit_code")
    check(isinstance(j["id"], int) and j["id"] > 0, "id is a positive integer")


@test()
def run_exception_traceback(s, slow):
    j = s.run("def f():\n    return 1 / 0\nf()\n")
    check("Traceback (most recent call last)" in j["output"], "traceback in output")
    check("ZeroDivisionError: division by zero" in j["output"], "exception in output")
    eq(j["status"], "runtime_error", "status")
    eq(j["exit_code"], 1, "exit_code")
    eq(j["message"], "Exited with code 1", "message")


@test()
def run_infinite_loop_times_out(s, slow):
    j = slow["loop"].result()
    eq(j["status"], "timeout", "status")
    eq(j["message"], "Time limit exceeded (10 s)", "message")
    check(9000 <= j["wall_time_ms"] <= 15000, f"wall_time_ms {j['wall_time_ms']} is about 10 s")


def expect_memory_limit(j, mib):
    """A Python program past a memory limit of mib MiB: killed by the
    memory cgroup, or, on a server with none, stopped by RLIMIT_AS."""
    out = f"(output {j['output'][-300:]!r})"
    if MEMORY_CGROUP:
        eq(j["status"], "memory_limit", f"status {out}")
        eq(j["message"], f"Memory limit exceeded ({mib} MiB)", "message")
    else:
        eq(j["status"], "runtime_error", f"status under RLIMIT_AS {out}")
        check(j["output"].rstrip().endswith("MemoryError"), f"MemoryError {out}")


@test()
def run_memory_bomb(s, slow):
    expect_memory_limit(slow["memory"].result(), 128)


@test()
def run_network_fails(s, slow):
    code = ("import socket, urllib.request\n"
            "try:\n"
            "    urllib.request.urlopen('http://93.184.216.34/', timeout=3)\n"
            "    print('FETCHED')\n"
            "except Exception as e:\n"
            "    print('failed:', type(e).__name__, e)\n"
            "s = socket.socket()\n"
            "s.settimeout(3)\n"
            "try:\n"
            "    s.connect(('1.1.1.1', 53))\n"
            "    print('CONNECTED')\n"
            "except OSError as e:\n"
            "    print('connect failed:', e)\n")
    j = s.run(code)
    check("FETCHED" not in j["output"] and "CONNECTED" not in j["output"],
          f"network reachable: {j['output']!r}")
    check("failed:" in j["output"] and "connect failed:" in j["output"], f"output {j['output']!r}")
    check(j["wall_time_ms"] < 3000, "network failures are immediate, not timeouts")


@test()
def run_etc_passwd_is_the_sandboxs(s, slow):
    j = s.run("print(open('/etc/passwd').read())")
    eq(j["status"], "ok", "status")
    check("sandbox" in j["output"], f"sandbox user in {j['output']!r}")
    check("root:x:0:0" not in j["output"], "the host's root line is not visible")


@test()
def run_root_and_etc_are_read_only(s, slow):
    code = ("for p in ['/etc/evil', '/evil', '/usr/evil']:\n"
            "    try:\n"
            "        open(p, 'w').write('x')\n"
            "        print(p, 'WRITTEN')\n"
            "    except OSError as e:\n"
            "        print(p, e.strerror)\n")
    j = s.run(code)
    check("WRITTEN" not in j["output"], f"a write outside /tmp worked: {j['output']!r}")
    for p in ("/etc/evil", "/evil", "/usr/evil"):
        check(f"{p} Read-only file system" in j["output"], f"{p} read-only: {j['output']!r}")


@test()
def run_tmp_is_private_scratch(s, slow):
    j = s.run("open('/tmp/marker', 'w').write('x' * 1000)\n"
              "print(open('/tmp/marker').read() == 'x' * 1000)\n")
    eq(j["output"], "True\n", "/tmp writable")
    j = s.run("import os\nprint(os.path.exists('/tmp/marker'), os.listdir('/tmp'))\n")
    eq(j["output"], "False []\n", "/tmp gone at the next run")


# --- The execute API -----------------------------------------------------------

RESULT_FIELDS = {"status", "exit_code", "signal", "stdout", "stderr", "output",
                 "stdout_truncated", "stderr_truncated", "wall_time_ms", "cpu_time_ms",
                 "memory_bytes"}
LIMIT_NAMES = {"wall_time_ms", "cpu_time_ms", "memory_bytes", "max_processes", "output_bytes"}


@test(quick=True)
def execute_every_field(s, slow):
    j = s.execute({"language": "python", "code": "import sys\n"
                   "data = sys.stdin.read()\n"
                   "print('out', sys.argv[1:], repr(data))\n"
                   "print('err', file=sys.stderr)\n",
                   "stdin": "line 1\nline 2\n", "args": ["a", "b c", ""],
                   "limits": {"wall_time_ms": 5000, "cpu_time_ms": 4000,
                              "memory_bytes": 100 << 20, "max_processes": 10,
                              "output_bytes": 4096, "file_size_bytes": 65536}})
    want = RESULT_FIELDS | {"id", "language", "limits", "message"}
    check(want <= set(j), f"missing fields: {sorted(want - set(j))}")
    eq(j["stdout"], "out ['a', 'b c', ''] 'line 1\\nline 2\\n'\n", "stdout")
    eq(j["stderr"], "err\n", "stderr")
    eq(j["output"], j["stdout"] + j["stderr"], "output interleaved in write order")
    eq(j["language"], "python", "language")
    eq(j["status"], "ok", "status")
    eq(j["exit_code"], 0, "exit_code")
    eq(j["signal"], None, "signal")
    eq(j["stdout_truncated"], False, "stdout_truncated")
    eq(j["stderr_truncated"], False, "stderr_truncated")
    eq(j["message"], "", "message")
    eq(j["limits"], {"wall_time_ms": 5000, "cpu_time_ms": 4000, "memory_bytes": 100 << 20,
                     "max_processes": 10, "output_bytes": 4096, "file_size_bytes": 65536},
       "effective limits")
    for f in ("wall_time_ms", "cpu_time_ms", "memory_bytes"):
        check(isinstance(j[f], int) and j[f] >= 0, f"{f} is a non-negative integer")
    check(j["memory_bytes"] > 1 << 20, "memory_bytes measured")
    check(isinstance(j["id"], int) and j["id"] > 0, "id")


@test()
def execute_defaults_and_aliases(s, slow):
    j = s.execute({"code": "print(1)"})
    eq(j["language"], "python", "default language")
    eq(j["limits"], {"wall_time_ms": 10000, "cpu_time_ms": 10000, "memory_bytes": 128 << 20,
                     "max_processes": 64, "output_bytes": 1 << 20, "file_size_bytes": 16 << 20},
       "default limits")
    for alias in ("python3", "py"):
        j = s.execute({"language": alias, "code": "import sys; print(sys.version_info[0])"})
        eq(j["output"], "3\n", f"{alias} output")
        eq(j["language"], "python", f"{alias} canonical name")


@test()
def execute_exit_code_and_signal(s, slow):
    j = s.execute({"code": "import sys; sys.exit(3)"})
    eq((j["status"], j["exit_code"], j["message"]), ("runtime_error", 3, "Exited with code 3"))
    j = s.execute({"code": "import os, signal; os.kill(os.getpid(), signal.SIGSEGV)"})
    eq((j["status"], j["exit_code"], j["signal"]), ("signaled", None, 11))
    eq(j["message"], "Killed by signal 11 (SIGSEGV)", "message")


@test()
def execute_unicode_and_nul(s, slow):
    j = s.execute({"code": "import sys\nprint('h\u00e9llo \u20ac \U0001F600')\n"
                   "sys.stdout.flush()\nsys.stdout.buffer.write(b'\\xff\\x00end\\n')\n"})
    eq(j["stdout"], "h\u00e9llo \u20ac \U0001F600\n\ufffd\u0000end\n",
       "UTF-8 kept, bad bytes become U+FFFD, NUL kept")
    j = s.execute({"code": "import sys; print(repr(sys.stdin.read()))", "stdin": "a\u0000b"})
    eq(j["stdout"], "'a\\x00b'\n", "NUL in stdin reaches the program")


@test()
def limit_wall_time(s, slow):
    j = slow["wall"].result()
    eq(j["status"], "timeout", "status")
    eq(j["message"], "Time limit exceeded (1 s)", "message")
    check(900 <= j["wall_time_ms"] < 4000, f"wall_time_ms {j['wall_time_ms']}")


@test()
def limit_cpu_time(s, slow):
    j = slow["cpu"].result()
    eq(j["status"], "timeout", "status")
    eq(j["message"], "CPU time limit exceeded (500 ms)", "message")
    check(j["wall_time_ms"] < 9000, f"stopped by CPU, not wall: {j['wall_time_ms']} ms")
    check(450 <= j["cpu_time_ms"] < 3000, f"cpu_time_ms {j['cpu_time_ms']}")


@test()
def limit_memory(s, slow):
    lim = {"memory_bytes": 64 << 20}
    j = s.execute({"code": "x = bytearray(200 * 1024 * 1024)\nprint(len(x))", "limits": lim})
    expect_memory_limit(j, 64)
    j = s.execute({"code": "x = bytearray(16 * 1024 * 1024)\nprint(len(x))", "limits": lim})
    eq((j["status"], j["output"]), ("ok", f"{16 * 1024 * 1024}\n"), "16 MiB fits in 64 MiB")


@test()
def limit_processes(s, slow):
    code = ("import os, time\n"
            "n = 0\n"
            "try:\n"
            "    for i in range(40):\n"
            "        if os.fork() == 0:\n"
            "            time.sleep(3)\n"
            "            os._exit(0)\n"
            "        n += 1\n"
            "    print('forked', n)\n"
            "except OSError as e:\n"
            "    print('fork failed after', n)\n")
    j = s.execute({"code": code, "limits": {"max_processes": 5}})
    check(j["output"].startswith("fork failed after "), f"output {j['output']!r}")
    check(int(j["output"].split()[-1]) < 5, f"at most 4 children: {j['output']!r}")
    j = s.execute({"code": code, "limits": {"max_processes": 64}})
    eq(j["output"], "forked 40\n", "40 children fit in 64")


@test()
def limit_output(s, slow):
    j = s.execute({"code": "print('x' * 5000)", "limits": {"output_bytes": 1000}})
    eq(j["status"], "output_limit", "status")
    eq(j["stdout_truncated"], True, "stdout_truncated")
    check(len(j["stdout"]) <= 1000, f"stdout is {len(j['stdout'])} bytes")
    check(j["message"].startswith("Output limit exceeded ("), f"message {j['message']!r}")
    j = s.execute({"code": "print('x' * 900)", "limits": {"output_bytes": 1000}})
    eq((j["status"], j["stdout_truncated"]), ("ok", False), "under the limit")


@test(quick=True)
def limit_validation(s, slow):
    for name in sorted(LIMIT_NAMES):
        for bad in (0, -1, 1.5, "100", True, [1]):
            r = s.post("/api/v1/execute", {"code": "print(1)", "limits": {name: bad}})
            expect_error(r, 400, "invalid_limit", name)
    maxima = {"wall_time_ms": 20000, "cpu_time_ms": 15000, "memory_bytes": 512 << 20,
              "max_processes": 256, "output_bytes": 1 << 20}
    minima = {"wall_time_ms": 1, "cpu_time_ms": 1, "memory_bytes": 4 << 20,
              "max_processes": 2, "output_bytes": 1}
    for name, m in maxima.items():
        r = s.post("/api/v1/execute", {"code": "print(1)", "limits": {name: m + 1}})
        expect_error(r, 400, "limit_exceeded", name, str(m + 1),
                     f"from {minima[name]} to {m}")
        if minima[name] > 1:
            r = s.post("/api/v1/execute", {"code": "print(1)",
                                           "limits": {name: minima[name] - 1}})
            expect_error(r, 400, "invalid_limit", name, f"from {minima[name]} to {m}")
    r = s.post("/api/v1/execute", {"code": "print(1)", "limits": {"wall_time": 1000}})
    expect_error(r, 400, "invalid_request", "wall_time")
    r = s.post("/api/v1/execute", {"code": "print(1)", "limits": 1000})
    expect_error(r, 400, "invalid_request", "limits")


# --- Bad input -----------------------------------------------------------------

@test(quick=True)
def bad_input_bodies(s, slow):
    def post(path, body, headers=JSON_CT):
        return s.request("POST", path, body, headers)

    for path in ("/run", "/api/v1/execute"):
        expect_error(post(path, b""), 400, "empty_body")
        expect_error(post(path, b"   \n"), 400, "empty_body")
        expect_error(post(path, b'{"code": "print(1)"'), 400, "invalid_json")
        expect_error(post(path, b'{"code": "x",}'), 400, "invalid_json")
        expect_error(post(path, b'{"code": "a", "code": "b"}'), 400, "invalid_json", "duplicate")
        expect_error(post(path, b'{"code": "\xff\xfe"}'), 400, "invalid_utf8")
        expect_error(post(path, b'{"code": "\xed\xa0\x80"}'), 400, "invalid_utf8")
        deep = b'{"code": "x", "a": ' + b"[" * 40 + b"]" * 40 + b"}"
        expect_error(post(path, deep), 400, "too_deep")
        expect_error(post(path, b"[" * 100000), 400, "too_deep")
        expect_error(post(path, b'"print(1)"'), 400, "invalid_request", "object")
        expect_error(post(path, b'{"code": 5}'), 400, "invalid_request", "code")
        expect_error(post(path, b'{"code": ["print(1)"]}'), 400, "invalid_request", "code")
        expect_error(post(path, b"{}"), 400, "missing_field", "code")
        expect_error(post(path, b'{"stdin": "x"}'), 400, "missing_field", "code")
        expect_error(post(path, b'{"code": "x"}', {"Content-Type": "text/plain"}),
                     415, "unsupported_media_type")
        expect_error(post(path, b'{"code": "x"}',
                          {"Content-Type": "application/x-www-form-urlencoded"}),
                     415, "unsupported_media_type")
    # JSON with parameters and without a Content-Type at all is accepted.
    r = post("/run", b'{"code": "print(2)"}', {"Content-Type": "application/json; charset=utf-8"})
    eq((r.status, r.json["output"]), (200, "2\n"), "charset parameter")
    r = post("/run", b'{"code": "print(3)"}', {})
    eq((r.status, r.json["output"]), (200, "3\n"), "no Content-Type")


@test(quick=True)
def unknown_host_names_are_refused(s, slow):
    # DNS rebinding: a name the attacker controls, pointed at this server.
    for path in ("/healthz", "/api/v1/executions", "/"):
        expect_error(s.request("GET", path, None, {"Host": "evil.example:8080"}),
                     403, "unknown_host")
    r = s.request("POST", "/run", b'{"code": "print(1)"}', dict(JSON_CT, Host="evil.example"))
    expect_error(r, 403, "unknown_host")
    for host in (f"127.0.0.1:{s.port}", f"localhost:{s.port}"):
        eq(s.request("GET", "/healthz", None, {"Host": host}).status, 200, f"Host {host}")


@test(quick=True)
def cross_site_pages_cannot_run_code(s, slow):
    # A page on another site can make a browser send a request here; the
    # browser says so (Sec-Fetch-Site, Origin), and nothing runs.
    evil = dict(JSON_CT, Origin="https://evil.example")
    for path in ("/run", "/api/v1/execute"):
        expect_error(s.request("POST", path, b'{"code": "print(1)"}', evil),
                     403, "cross_origin")
        expect_error(s.request("POST", path, b'{"code": "print(1)"}',
                               dict(JSON_CT, **{"Sec-Fetch-Site": "cross-site"})),
                     403, "cross_origin")
        expect_error(s.request("POST", path, b'{"code": "print(1)"}',
                               dict(JSON_CT, Origin="null")), 403, "cross_origin")
    # The page itself (same origin) and clients that are not browsers run.
    own = dict(JSON_CT, Origin=f"http://127.0.0.1:{s.port}", **{"Sec-Fetch-Site": "same-origin"})
    r = s.request("POST", "/run", b'{"code": "print(5)"}', own)
    eq((r.status, r.json.get("output")), (200, "5\n"), "same-origin request")
    r = s.request("POST", "/run", b'{"code": "print(6)"}', dict(JSON_CT, Origin=f"http://127.0.0.1:{s.port}"))
    eq((r.status, r.json.get("output")), (200, "6\n"), "same-origin Origin only")


@test(quick=True)
def bad_input_execute_fields(s, slow):
    def ex(obj):
        return s.post("/api/v1/execute", obj)

    expect_error(ex({"code": "x", "language": "cobol-85"}), 400, "unknown_language", "cobol-85")
    expect_error(ex({"code": "x", "language": "python", "version": "2.7"}), 400,
                 "unknown_language", "2.7")
    expect_error(ex({"code": "x", "language": 3}), 400, "invalid_request", "language")
    expect_error(ex({"code": "x", "stdin": 3}), 400, "invalid_request", "stdin")
    expect_error(ex({"code": "x", "args": "a b"}), 400, "invalid_request", "args")
    expect_error(ex({"code": "x", "args": [1]}), 400, "invalid_request", "args[0]")
    expect_error(ex({"code": "x", "args": ["a\u0000b"]}), 400, "invalid_request", "NUL")
    expect_error(ex({"code": "x", "args": ["a"] * 257}), 400, "invalid_request", "256")
    expect_error(ex({"code": "x", "timeout": 3}), 400, "invalid_request", "timeout")
    # The original endpoint ignores extra fields, as the original service
    # did; a language it takes, and checks.
    r = s.post("/run", {"code": "print(4)", "extra": [1], "stdin": 3})
    eq((r.status, r.json["output"]), (200, "4\n"), "/run ignores extra fields")
    expect_error(s.post("/run", {"code": "x", "language": "cobol"}), 400, "unknown_language",
                 "cobol")


@test(quick=True)
def bad_input_too_large(s, slow):
    # The answer comes from the headers alone, before any of the body is
    # read: send only the headers of a too large request.
    for extra in (b"", b"Expect: 100-continue\r\n"):
        with socket.create_connection(("127.0.0.1", s.port), timeout=10) as c:
            c.sendall(b"POST /run HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
                      b"Content-Length: %d\r\n%s\r\n" % ((1 << 20) + 1, extra))
            data = b""
            while b"\r\n\r\n" not in data:
                more = c.recv(4096)
                check(more, "connection closed without an answer")
                data += more
            check(data.startswith(b"HTTP/1.1 413 "), f"answer {data[:40]!r}")
            check(b"100 Continue" not in data, "no 100 Continue for a body that is refused")
    # Chunked, so that the size is known only while reading.
    conn = http.client.HTTPConnection("127.0.0.1", s.port, timeout=30)
    try:
        conn.putrequest("POST", "/api/v1/execute")
        conn.putheader("Content-Type", "application/json")
        conn.putheader("Transfer-Encoding", "chunked")
        conn.endheaders()
        chunk = b"x" * 65536
        try:
            for _ in range(20):
                conn.send(b"%x\r\n%s\r\n" % (len(chunk), chunk))
            conn.send(b"0\r\n\r\n")
        except OSError:
            pass    # the server may answer and close before the end
        r = conn.getresponse()
        expect_error(Response(r.status, r.getheaders(), r.read()), 413, "payload_too_large")
    finally:
        conn.close()
    # Just under the maximum is fine.
    ok = json.dumps({"code": "print(5)#" + "x" * ((1 << 20) - 100)}).encode()
    check(len(ok) <= 1 << 20, "test body fits")
    r = s.request("POST", "/run", ok, JSON_CT)
    eq((r.status, r.json.get("output")), (200, "5\n"), "a body just under the maximum")


@test(quick=True)
def bad_input_methods_and_paths(s, slow):
    r = s.request("GET", "/run")
    expect_error(r, 405, "method_not_allowed")
    eq(r.header("Allow"), "POST", "Allow for /run")
    r = s.request("PUT", "/api/v1/execute", b"{}", JSON_CT)
    expect_error(r, 405, "method_not_allowed")
    eq(r.header("Allow"), "POST", "Allow for /api/v1/execute")
    for path in ("/healthz", "/metrics", "/api/v1/languages", "/api/v1/executions",
                 "/api/v1/executions/1", "/"):
        r = s.request("POST", path, b"{}", JSON_CT)
        expect_error(r, 405, "method_not_allowed")
        eq(r.header("Allow"), "GET, HEAD", f"Allow for {path}")
    r = s.request("DELETE", "/api/v1/executions/1")
    expect_error(r, 405, "method_not_allowed")
    for path in ("/nope", "/run/", "/api/v1", "/api/v3/execute", "/api/v1/executions/abc",
                 "/api/v1/executions/0", "/api/v1/executions/99999999",
                 "/../../etc/passwd", "/index.html/x", "/%2e%2e/etc/passwd"):
        expect_error(s.get(path), 404, "not_found")


@test(quick=True)
def bad_input_queries(s, slow):
    for q in ("limit=0", "limit=101", "limit=abc", "limit=-1", "limit=", "before=0",
              "before=x", "before=-5", "limit=5&before=1.5"):
        expect_error(s.get("/api/v1/executions?" + q), 400, "invalid_request")


@test(quick=True)
def bad_input_malformed_http(s, slow):
    for raw in (b"GARBAGE\r\n\r\n", b"GET / HTTP/9.9\r\n\r\n",
                b"POST /run HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: nope\r\n\r\n",
                b"\x00\xff\r\n\r\n"):
        with socket.create_connection(("127.0.0.1", s.port), timeout=3) as c:
            c.sendall(raw)
            try:
                data = c.recv(4096)
            except socket.timeout:
                # libmicrohttpd waits for more of a request line holding a
                # NUL; the connection timeout ends it.  Others go on.
                eq(s.get("/healthz").status, 200, f"serving while {raw!r} waits")
                continue
            # Closed, a 4xx, or 505 for an unknown HTTP version; never a 500.
            check(data == b"" or re.match(rb"HTTP/1\.[01] (4\d\d|505) ", data),
                  f"{raw!r} answered {data[:40]!r}")
    eq(s.get("/healthz").status, 200, "still serving after malformed requests")


# --- Other endpoints ------------------------------------------------------------

@test(quick=True)
def web_page_and_assets(s, slow):
    r = s.get("/")
    eq(r.status, 200, "GET /")
    check(r.header("Content-Type").startswith("text/html"), "HTML Content-Type")
    check(b"<html" in r.body.lower(), "an HTML page")
    # Everything from the server itself, and images also from data: URLs
    # (the files a program returns, which the page shows as <img>).
    eq(r.header("Content-Security-Policy"), "default-src 'self'; img-src 'self' data:", "CSP")
    eq(r.header("X-Content-Type-Options"), "nosniff", "nosniff")
    eq(r.header("Referrer-Policy"), "no-referrer", "Referrer-Policy")
    ext = re.findall(rb'(?:src|href|action)\s*=\s*["\']?(?:https?:)?//', r.body, re.I)
    check(not ext, f"external references in the page: {ext[:3]!r}")
    eq(s.get("/index.html").body, r.body, "/index.html is the page")
    for path, ctype in (("/app.js", "text/javascript"), ("/style.css", "text/css")):
        r = s.get(path)
        eq(r.status, 200, path)
        check(r.header("Content-Type").startswith(ctype), f"{path}: {r.header('Content-Type')}")
    r = s.request("HEAD", "/")
    eq((r.status, r.body), (200, b""), "HEAD /")


@test(quick=True)
def healthz_and_languages(s, slow):
    j = s.get("/healthz").json
    eq(j["status"], "ok", "status")
    check(j["cgroup"] in ("v1", "v2", "none"), f"cgroup {j['cgroup']!r}")
    r = s.get("/api/v1/languages")
    eq(r.status, 200, "languages")
    j = r.json
    py = [x for x in j if x["language"] == "python"]
    eq(len(py), 1, "python is listed once")
    py = py[0]
    eq(sorted(py["aliases"]), ["py", "python3"], "aliases")
    check(py["version"].startswith("3."), f"version {py['version']!r}")
    eq((py["compiled"], py["source_file"]), (False, "main.py"), "python is not compiled")
    eq(py["limits"]["run"]["default"]["memory_bytes"], 128 << 20, "python's default memory")


@test()
def metrics(s, slow):
    s.run(HELLO)
    s.request("GET", "/nope")
    # The same C program twice: one compile, then one from the cache.
    c = {"language": "c", "code": "int main(void) { return 0; } /* metrics */"}
    for _ in range(2):
        eq(s.execute(c)["status"], "ok", "C run")
    r = s.get("/metrics")
    eq(r.status, 200, "status")
    check(r.header("Content-Type").startswith("text/plain"), "text format")
    text = r.body.decode()
    lines = dict(l.rsplit(" ", 1) for l in text.splitlines() if l and not l.startswith("#"))
    for st in ("ok", "runtime_error", "signaled", "timeout", "memory_limit", "output_limit",
               "internal_error"):
        check(f'safexec_runs_total{{status="{st}"}}' in lines, f"runs_total for {st}")
    check(int(lines['safexec_runs_total{status="ok"}']) >= 1, "ok runs counted")
    check(int(lines['safexec_run_duration_seconds_bucket{le="+Inf"}']) >= 1, "histogram")
    check("safexec_run_duration_seconds_sum" in lines, "histogram sum")
    check("safexec_queue_length" in lines, "queue length")
    check("safexec_sandboxes_running" in lines, "sandboxes running")
    check(int(lines['safexec_http_requests_total{code="200"}']) >= 1, "200s counted")
    check(int(lines['safexec_http_requests_total{code="404"}']) >= 1, "404s counted")
    check(int(lines['safexec_compile_cache_lookups_total{result="hit"}']) >= 1,
          "the second compile came from the cache")
    check(int(lines['safexec_compile_cache_entries']) >= 1, "cache entries")
    eq(lines["safexec_submissions"], "0", "no submissions open")
    check(int(lines["safexec_submissions_max"]) > 0, "submissions bound")
    for o in ("delivered", "failed", "refused"):
        check(f'safexec_callbacks_total{{outcome="{o}"}}' in lines, f"callbacks {o}")


# --- History ---------------------------------------------------------------------

def list_all(s):
    items, before = [], None
    while True:
        r = s.get("/api/v1/executions?limit=100" + (f"&before={before}" if before else ""))
        eq(r.status, 200, "list")
        page = r.json
        items += page["executions"]
        before = page["next_before"]
        if before is None:
            return items


@test()
def history_records_both_endpoints(s, slow):
    a = s.run("print('from run')")
    b = s.execute({"code": "import sys; print(sys.argv[1], input())", "stdin": "in\n",
                   "args": ["arg"], "limits": {"max_processes": 7}})
    ra = s.get(f"/api/v1/executions/{a['id']}").json
    rb = s.get(f"/api/v1/executions/{b['id']}").json
    eq((ra["endpoint"], ra["code"], ra["output"], ra["client"]),
       ("run", "print('from run')", "from run\n", "127.0.0.1"), "run record")
    eq((rb["endpoint"], rb["stdin"], rb["args"], rb["output"]),
       ("execute", "in\n", ["arg"], "arg in\n"), "execute record")
    eq(rb["limits"], b["limits"], "recorded limits are the effective ones")
    eq(rb["limits"]["max_processes"], 7, "requested limit recorded")
    for f in RESULT_FIELDS:
        eq(rb[f], b[f], f"recorded {f}")
    check(rb["created_at"].endswith("Z"), "created_at in UTC")


@test()
def history_pagination(s, slow):
    ids = [s.run(f"print({i})")["id"] for i in range(5)]
    check(ids == sorted(ids), "ids grow")
    r = s.get("/api/v1/executions?limit=2").json
    eq([e["id"] for e in r["executions"]], ids[:-3:-1], "newest first")
    eq(r["next_before"], ids[-2], "next_before")
    r2 = s.get(f"/api/v1/executions?limit=2&before={r['next_before']}").json
    eq([e["id"] for e in r2["executions"]], [ids[-3], ids[-4]], "second page")
    first = r["executions"][0]
    for f in ("id", "created_at", "client", "endpoint", "language", "status", "exit_code",
              "signal", "wall_time_ms", "cpu_time_ms", "memory_bytes", "code_preview"):
        check(f in first, f"summary field {f}")
    eq(first["code_preview"], "print(4)", "code_preview")
    # Enough records that a page of 20 cannot be all of them.
    for i in range(max(0, 21 - len(list_all(s)))):
        s.run("pass")
    r = s.get("/api/v1/executions").json
    eq(len(r["executions"]), 20, "a page holds 20 by default")
    check(r["next_before"] is not None, "more pages after the first 20")
    all_items = list_all(s)
    got = [e["id"] for e in all_items]
    eq(got, sorted(got, reverse=True), "whole history newest first")
    eq(len(set(got)), len(got), "no duplicates across pages")


@test()
def history_log_matches_database(s, slow):
    items = list_all(s)
    check(len(items) >= 5, "some history")
    with open(s.log) as f:
        lines = [json.loads(l) for l in f if l.strip()]
    by_id = {l["id"]: l for l in lines}
    for e in items:
        check(e["id"] in by_id, f"execution {e['id']} in the log")
    for e in items[:10]:
        full = s.get(f"/api/v1/executions/{e['id']}").json
        eq(by_id[e["id"]], full, f"log line of {e['id']} equals the database record")


# --- Load, slow clients, shutdown ----------------------------------------------------

@test()
def concurrency_150_slow_requests(binary):
    s = Server(binary, "--workers", "2", "--queue", "16", "--max-wall-time-ms", "3000")
    try:
        r = s.post("/api/v1/execute", {"code": "print(1)", "limits": {"wall_time_ms": 3001}})
        expect_error(r, 400, "limit_exceeded", "3000")
        before = len(list_all(s))
        results = [None] * 150
        threads_before = len(os.listdir(f"/proc/{s.proc.pid}/task"))

        def one(i):
            try:
                results[i] = s.post("/run", {"code": "import time; time.sleep(1); print('slept')"},
                                    timeout=120)
            except Exception as e:      # a lost request
                results[i] = e
        ts = [threading.Thread(target=one, args=(i,)) for i in range(150)]
        for t in ts:
            t.start()
        time.sleep(0.5)
        threads_during = len(os.listdir(f"/proc/{s.proc.pid}/task"))
        for t in ts:
            t.join()
        lost = [r for r in results if not isinstance(r, Response)]
        check(not lost, f"{len(lost)} requests lost, e.g. {lost[:1]!r}")
        codes = [r.status for r in results]
        check(set(codes) <= {200, 503}, f"statuses {sorted(set(codes))}")
        ok = [r for r in results if r.status == 200]
        busy = [r for r in results if r.status == 503]
        for r in ok:
            eq(r.json["output"], "slept\n", "output of a 200")
        for r in busy:
            expect_error(r, 503, "queue_full")
            eq(r.header("Retry-After"), "1", "Retry-After")
        check(len(ok) >= 18, f"only {len(ok)} ran (2 workers + 16 queued should)")
        eq(len(list_all(s)) - before, len(ok), "history records == number of 200s")
        check(threads_during - threads_before < 10,
              f"threads grew from {threads_before} to {threads_during} under load")
        print(f"     ({len(ok)} ran, {len(busy)} got 503; server threads {threads_during})")
    finally:
        s.close()


@test()
def history_reads_do_not_hold_the_server(s, slow):
    # A large record (binary output is six bytes a byte in JSON: ~24 MB) is
    # built and serialized off the event thread: while several clients
    # fetch it, the server keeps answering others.
    j = s.run("import os\nos.write(1, b'\\x01' * (1 << 20))\nos.write(2, b'\\x02' * (1 << 20))")
    rid = j["id"]
    errors = []

    def fetch():
        try:
            r = s.get(f"/api/v1/executions/{rid}", timeout=60)
            if r.status != 200 or len(r.body) < 20_000_000:
                errors.append(f"GET: {r.status}, {len(r.body)} bytes")
        except Exception as e:
            errors.append(f"GET: {e}")
    ts = [threading.Thread(target=fetch) for _ in range(8)]
    for t in ts:
        t.start()
    time.sleep(0.05)
    worst = 0.0
    for _ in range(10):
        t0 = time.time()
        eq(s.get("/healthz", timeout=10).status, 200, "healthz during the reads")
        worst = max(worst, time.time() - t0)
        time.sleep(0.02)
    for t in ts:
        t.join()
    check(not errors, "; ".join(errors))
    check(worst < 1.0, f"/healthz took {worst:.2f} s while the record was read")


@test()
def unread_answers_hold_their_slot(binary):
    # An answer the client does not read stays in memory until it is sent
    # or the connection times out: it must count against the queue, or
    # clients that never read could pile up answers without bound.
    s = Server(binary, "--workers", "1", "--queue", "0", "--connection-timeout", "5")
    big = json.dumps({"code": "import os\nos.write(1, b'\\x01' * (1 << 20))"}).encode()
    c = socket.create_connection(("127.0.0.1", s.port), timeout=10)
    try:
        c.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        c.sendall(b"POST /run HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
                  b"Content-Length: %d\r\n\r\n" % len(big) + big)
        wait_runs_finished(s, 1)    # the run is over; its ~18 MB answer waits
        r = s.post("/run", {"code": "print(1)"})
        expect_error(r, 503, "queue_full")
        check(r.header("Retry-After") is not None, "Retry-After on 503")
        c.close()               # the answer is dropped: the slot frees
        deadline = time.time() + 5
        while True:
            r = s.post("/run", {"code": "print(1)"})
            if r.status == 200 or time.time() > deadline:
                break
            time.sleep(0.2)
        eq((r.status, r.json.get("output")), (200, "1\n"), "after the reader left")
    finally:
        c.close()
        s.stop()


@test()
def idle_connections_do_not_block(binary):
    s = Server(binary, "--connection-timeout", "3")
    socks = []
    try:
        for i in range(200):
            c = socket.create_connection(("127.0.0.1", s.port), timeout=10)
            if i % 2:
                c.sendall(b"POST /run HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Le")
            socks.append(c)
        t0 = time.time()
        j = s.run(HELLO, timeout=10)
        eq(j["output"], "Hello World\n", "output")
        check(time.time() - t0 < 3, f"a normal request took {time.time() - t0:.1f} s")
        # A body that stops half way also waits without blocking others.
        c = socket.create_connection(("127.0.0.1", s.port), timeout=10)
        c.sendall(b"POST /run HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
                  b"Content-Length: 100\r\n\r\n{\"code\": ")
        socks.append(c)
        eq(s.run(HELLO, timeout=10)["output"], "Hello World\n", "second request")
        # The idle ones are closed after the connection timeout.
        time.sleep(4.5)
        closed = 0
        for c in socks:
            c.settimeout(3)
            try:
                while c.recv(4096):
                    pass
                closed += 1
            except socket.timeout:
                pass
            except OSError:
                closed += 1
        check(closed == len(socks), f"only {closed} of {len(socks)} idle connections closed")
    finally:
        for c in socks:
            c.close()
        s.close()


@test()
def graceful_sigterm(binary):
    s = Server(binary, "--grace-period", "10")
    try:
        box = {}

        def slow_req():
            try:
                box["r"] = s.post("/run", {"code": "import time; time.sleep(2); print('finished')"})
            except Exception as e:
                box["r"] = e
        t = threading.Thread(target=slow_req)
        t.start()
        deadline = time.time() + 5
        while not s.descendants() and time.time() < deadline:
            time.sleep(0.05)
        time.sleep(0.3)
        procs = s.descendants()
        check(procs, "the run started")
        t0 = time.time()
        s.proc.send_signal(signal.SIGTERM)
        time.sleep(0.3)
        try:
            s.get("/healthz", timeout=2)
            raise Fail("a new connection was accepted after SIGTERM")
        except OSError:
            pass
        t.join(30)
        r = box.get("r")
        check(isinstance(r, Response), f"the running request got no answer: {r!r}")
        eq((r.status, r.json["output"]), (200, "finished\n"), "the running execution finished")
        rc = s.stop(timeout=20)
        eq(rc, 0, "exit status")
        check(time.time() - t0 < 8, "stopped soon after the run finished")
        eq(alive(procs), [], "sandbox processes left behind")
        db = sqlite3.connect(s.db)
        n = db.execute("SELECT COUNT(*) FROM executions WHERE id = ?", (r.json["id"],)).fetchone()[0]
        db.close()
        eq(n, 1, "the execution is in the history")
    finally:
        s.close()


@test()
def grace_period_expires(binary):
    s = Server(binary, "--grace-period", "1", "--workers", "1", "--queue", "4")
    try:
        box = {}

        def req(name, code):
            try:
                box[name] = s.post("/run", {"code": code})
            except Exception as e:
                box[name] = e
        ts = [threading.Thread(target=req, args=("long", "while True: pass")),
              threading.Thread(target=req, args=("queued", "print('never')"))]
        for t in ts:
            t.start()
            time.sleep(0.3)
        deadline = time.time() + 5
        while not s.descendants() and time.time() < deadline:
            time.sleep(0.05)
        time.sleep(0.3)
        procs = s.descendants()
        check(procs, "the long run started")
        t0 = time.time()
        rc = s.stop(timeout=20)
        elapsed = time.time() - t0
        eq(rc, 0, "exit status")
        check(elapsed < 5, f"took {elapsed:.1f} s to stop with a 1 s grace period")
        for t in ts:
            t.join(10)
        long, queued = box.get("long"), box.get("queued")
        check(isinstance(long, Response), f"the killed run got no answer: {long!r}")
        eq(long.status, 200, "the killed run is answered")
        eq((long.json["status"], long.json["signal"], long.json["exit_code"]),
           ("signaled", 9, None), "the killed run reports the SIGKILL it got")
        check("service stopped" in long.json["message"], f"message {long.json['message']!r}")
        check(isinstance(queued, Response), f"the queued request got no answer: {queued!r}")
        expect_error(queued, 503, "shutting_down")
        eq(alive(procs), [], "sandbox processes left behind")
        db = sqlite3.connect(s.db)
        n = db.execute("SELECT COUNT(*) FROM executions WHERE id = ?",
                       (long.json["id"],)).fetchone()[0]
        db.close()
        eq(n, 1, "the killed run is in the history")
    finally:
        s.close()


@test(quick=True)
def config_errors_exit_2(binary):
    d = tempfile.mkdtemp(prefix="safexec-e2e-")
    try:
        conf = os.path.join(d, "bad.conf")
        with open(conf, "w") as f:
            f.write("# fine\nworkers = 2\nqueue = many\n")
        p = subprocess.run([binary, "serve", "--config", conf], capture_output=True, text=True,
                           timeout=20, cwd=d)
        eq(p.returncode, 2, "exit status for a bad config file")
        check(f"{conf}:3:" in p.stderr and "queue" in p.stderr, f"message {p.stderr!r}")
        p = subprocess.run([binary, "serve", "--workers", "0x"], capture_output=True, text=True,
                           timeout=20, cwd=d)
        eq(p.returncode, 2, "exit status for a bad flag")
        check("--workers" in p.stderr, f"message {p.stderr!r}")
        p = subprocess.run([binary, "serve", "--help"], capture_output=True, text=True,
                           timeout=20, cwd=d)
        eq(p.returncode, 0, "--help")
        check("--max-wall-time-ms" in p.stdout, "--help lists the settings")
    finally:
        shutil.rmtree(d, ignore_errors=True)


@test(quick=True)
def config_file_and_environment(binary):
    d = tempfile.mkdtemp(prefix="safexec-e2e-")
    try:
        conf = os.path.join(d, "safexec.conf")
        with open(conf, "w") as f:
            f.write("max_wall_time_ms = 4000\nmax_body = 64K\nworkers = 1\n")
        s = Server(binary, "--config", conf, env={"SAFEXEC_WORKERS": "3"})
        try:
            r = s.post("/api/v1/execute", {"code": "x", "limits": {"wall_time_ms": 4001}})
            expect_error(r, 400, "limit_exceeded", "4000")
            big = json.dumps({"code": "#" * 70000})
            expect_error(s.request("POST", "/run", big, JSON_CT), 413, "payload_too_large")
            eq(s.get("/healthz").json["workers"], 3, "environment beats the file")
            eq(s.stop(), 0, "exit status")
        finally:
            s.close()
    finally:
        shutil.rmtree(d, ignore_errors=True)


# --- Robustness ----------------------------------------------------------------

def metric(s, name):
    """The value of one unlabelled metric line of /metrics."""
    for line in s.get("/metrics").body.decode().splitlines():
        if line.startswith(name + " "):
            return float(line.split()[1])
    raise Fail(f"no metric {name}")


def wait_runs_finished(s, n, timeout=30):
    deadline = time.time() + timeout
    while metric(s, "safexec_run_duration_seconds_count") < n:
        check(time.time() < deadline, f"{n} runs did not finish within {timeout} s")
        time.sleep(0.05)


@test(quick=True)
def limits_below_the_sandbox_minimum_do_not_crash(s, slow):
    # These once passed the API and failed in the sandbox, whose cleanup
    # then closed descriptor 0 (a client's socket, another run's pipe) and
    # soon aborted the server.
    for _ in range(6):
        for limits, name in (({"max_processes": 1}, "max_processes"),
                             ({"memory_bytes": 1}, "memory_bytes")):
            r = s.post("/api/v1/execute", {"code": "", "limits": limits})
            expect_error(r, 400, "invalid_limit", f"limits.{name}", "must be from")
    eq(s.get("/healthz").status, 200, "the server still answers")
    eq(s.run(HELLO)["output"], "Hello World\n", "and still runs code")
    j = s.execute({"code": "import os; print(os.fork() > 0 or 0)",
                   "limits": {"max_processes": 2, "memory_bytes": 4 << 20}})
    check(j["status"] != "internal_error", f"the minima themselves run: {j['status']}")


@test(quick=True)
def request_sizes_are_client_errors(s, slow):
    big = "a" * (128 << 10)
    r = s.post("/api/v1/execute", {"code": "print(1)", "args": [big]})
    expect_error(r, 413, "payload_too_large", "args[0]", str((128 << 10) - 1))
    ok = "a" * ((128 << 10) - 1)
    j = s.execute({"code": "import sys; print(len(sys.argv[1]))", "args": [ok]})
    eq(j["output"], f"{len(ok)}\n", "the longest argument allowed runs")


@test()
def code_and_stdin_bounded_when_max_body_is_raised(binary):
    s = Server(binary, "--max-body", "20M")
    try:
        r = s.post("/run", {"code": "#" * ((16 << 20) + 1)}, timeout=60)
        expect_error(r, 413, "payload_too_large", "code", str(16 << 20))
        r = s.post("/api/v1/execute", {"code": "#" * ((16 << 20) + 1)}, timeout=60)
        expect_error(r, 413, "payload_too_large", "code")
        # Each argument allowed, not all of them together (1 MiB).
        arg = "a" * 100000
        r = s.post("/api/v1/execute", {"code": "print(1)", "args": [arg] * 11})
        expect_error(r, 413, "payload_too_large", "args", str(1 << 20))
        j = s.execute({"code": "import sys; print(sum(map(len, sys.argv[1:])))",
                       "args": [arg] * 10})
        eq(j["output"], f"{10 * len(arg)}\n", "1 MB of arguments in all runs")
        j = s.execute({"code": "import sys; print(len(sys.stdin.read()))",
                       "stdin": "x" * (19 << 20)}, timeout=60)
        eq(j["output"], f"{19 << 20}\n", "a large stdin within max_body runs")
    finally:
        s.close()


def rss_peak_mb(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    raise Fail("no VmHWM")


@test()
def unread_answers_keep_memory_bounded(binary):
    # 40 clients that never read, each run writing 1 MiB of \x01 to both
    # streams: each answer is ~24 MB of JSON.  Answers may hold at most
    # 256 MiB; the server once grew to ~900 MB here.
    s = Server(binary, "--workers", "2", "--queue", "64", "--connection-timeout", "60")
    code = "import os\nb = b'\\x01' * (1 << 20)\nos.write(1, b)\nos.write(2, b)\n"
    body = json.dumps({"code": code}).encode()
    socks = []
    try:
        base = rss_peak_mb(s.proc.pid)
        for _ in range(40):
            c = socket.create_connection(("127.0.0.1", s.port), timeout=10)
            c.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
            c.sendall(b"POST /run HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
                      b"Content-Length: %d\r\n\r\n" % len(body) + body)
            socks.append(c)
        # Runs finish until the answers held reach the bound (one more
        # would pass it), then no more finish.
        bound = metric(s, "safexec_answer_bytes_max")
        deadline = time.time() + 120
        while metric(s, "safexec_answer_bytes") < bound - (32 << 20):
            check(time.time() < deadline, "the answers held never reached their bound: "
                  f"{metric(s, 'safexec_answer_bytes') / 2**20:.0f} MiB")
            time.sleep(0.2)
        # Then no more than the bound's worth: each answer is ~24 MiB, and
        # each of the 2 workers may hold a finished run waiting for room.
        last, stable_since = -1, time.time()
        while time.time() - stable_since < 3:
            n = metric(s, "safexec_run_duration_seconds_count")
            if n != last:
                last, stable_since = n, time.time()
            check(time.time() < deadline, "runs never stopped")
            time.sleep(0.2)
        check(metric(s, "safexec_answer_bytes") <= bound, "the bound holds")
        most = bound // (24 << 20) + 2
        check(8 <= last <= most, f"{last:.0f} runs finished while answers were unread "
              f"(expected 8 to {most:.0f})")
        eq(s.get("/healthz", timeout=5).status, 200, "healthz while answers wait")
        peak = rss_peak_mb(s.proc.pid)
        check(peak - base < 256 + 96, f"server RSS grew by {peak - base:.0f} MB "
              f"(from {base:.0f} MB) with {last:.0f} unread answers")
        for c in socks:
            c.close()
        socks = []
        j = s.run(HELLO, timeout=60)
        eq(j["output"], "Hello World\n", "runs go on once the readers leave")
        print(f"     ({last:.0f} answers held, peak RSS {peak:.0f} MB from {base:.0f} MB)")
    finally:
        for c in socks:
            c.close()
        s.close()


def cgroup_parent(binary):
    p = subprocess.run([binary, "check", "--json"], capture_output=True, text=True, timeout=60)
    return json.loads(p.stdout).get("cgroup_path") or None


def instances(parent):
    return {n for n in os.listdir(parent) if n.startswith("inst-")} if parent else set()


@test()
def instances_in_two_pid_namespaces_share_a_cgroup_parent(binary):
    # Two services (two containers, say) with one cgroup parent: the one
    # that starts second must not take the first one's live runs for
    # leftovers, though it cannot see its pids; one killed outright leaves
    # leftovers that the next start removes; a restart as pid 1 again works.
    if os.geteuid() != 0:
        print("     (skipped: needs root)")
        return
    parent = cgroup_parent(binary)
    check(parent, "a cgroup parent is in use")
    unshare = ["unshare", "--pid", "--fork", "--mount-proc", "--kill-child"]
    a = Server(binary, "--workers", "1")
    b = c = None
    try:
        box = {}
        t = threading.Thread(target=lambda: box.update(r=a.run(
            "import time; time.sleep(3); print('survived')", timeout=30)))
        t.start()
        deadline = time.time() + 5
        while not a.descendants() and time.time() < deadline:
            time.sleep(0.05)
        before = instances(parent)
        b = Server(binary, "--workers", "1", prefix=unshare)
        t.join(30)
        eq(box.get("r", {}).get("output"), "survived\n", "the first one's run survived "
           "the second one's start")
        # Kill the second one (pid 1 of its namespace) in the middle of a run.
        def doomed():
            try:
                b.run("import time; time.sleep(30)", timeout=60)
            except OSError:
                pass        # its server is killed under it
        threading.Thread(target=doomed, daemon=True).start()
        time.sleep(1)
        mine = instances(parent) - before
        eq(len(mine), 1, "the second one's instance")
        b.proc.kill()
        b.proc.wait()
        time.sleep(0.5)
        check(mine <= instances(parent), "a killed service leaves its instance behind")
        c = Server(binary, "--workers", "1", prefix=unshare)
        check(not (mine & instances(parent)), "the next start removed the leftover")
        eq(c.run(HELLO)["output"], "Hello World\n", "a restart as pid 1 runs code")
        eq(a.run(HELLO)["output"], "Hello World\n", "the first one still runs code")
    finally:
        for x in (c, b, a):
            if x:
                x.close()


@test()
def start_up_failures_are_clear_and_leave_nothing(binary):
    d = tempfile.mkdtemp(prefix="safexec-e2e-")
    try:
        with socket.socket() as busy:
            busy.bind(("127.0.0.1", 0))
            busy.listen(1)
            port = busy.getsockname()[1]
            data = os.path.join(d, "data")
            p = subprocess.run([binary, "serve", "--listen", f"127.0.0.1:{port}",
                                "--data-dir", data, "--no-log"],
                               capture_output=True, text=True, timeout=30, cwd=d)
        eq(p.returncode, 1, "exit status with the port taken")
        check("listen" in p.stderr and "in use" in p.stderr, f"message {p.stderr!r}")
        check(not os.path.exists(data), "no data directory made by a failed start")
        p = subprocess.run([binary, "serve", "--listen", "nowhere"],
                           capture_output=True, text=True, timeout=30, cwd=d)
        eq(p.returncode, 2, "exit status for a bad --listen")
        check("--listen" in p.stderr and "HOST:PORT" in p.stderr, f"message {p.stderr!r}")
        conf = os.path.join(d, "c.conf")
        with open(conf, "w") as f:
            f.write("listen = 1.2.3.4\n")
        p = subprocess.run([binary, "serve", "--config", conf],
                           capture_output=True, text=True, timeout=30, cwd=d)
        eq(p.returncode, 2, "exit status for a bad listen in a file")
        check(f"{conf}:1:" in p.stderr, f"message names the file and line: {p.stderr!r}")
        p = subprocess.run([binary, "serve", "--max-processes", "1"],
                           capture_output=True, text=True, timeout=30, cwd=d)
        eq(p.returncode, 2, "a maximum below the sandbox's minimum")
        check("--max-processes" in p.stderr and "minimum 2" in p.stderr, f"message {p.stderr!r}")
        p = subprocess.run(["sh", "-c", f"ulimit -n 512 && exec {binary} serve "
                            "--connection-limit 4096 --listen 127.0.0.1:0"],
                           capture_output=True, text=True, timeout=30, cwd=d)
        eq(p.returncode, 2, "connection_limit above the open-file limit")
        check("connection_limit" in p.stderr and "512" in p.stderr, f"message {p.stderr!r}")
        # No sandbox can start in a chroot (the kernel refuses it user
        # namespaces): the service says so and why, and does not listen.
        if os.geteuid() == 0:
            root = os.path.join(d, "root")
            for sub in ("usr", "proc", "tmp", "sys", "dev", "lib", "lib64", "bin"):
                os.makedirs(os.path.join(root, sub), exist_ok=True)
            script = (f"set -e; for x in usr lib lib64 bin; do [ -e /$x ] && "
                      f"mount --rbind /$x {root}/$x || true; done; "
                      f"mount -t proc proc {root}/proc; mount --rbind /dev {root}/dev; "
                      f"mount --rbind /sys {root}/sys; cp {binary} {root}/tmp/safexec; "
                      f"exec chroot {root} /tmp/safexec serve --listen 127.0.0.1:0 "
                      f"--data-dir /tmp/data --no-log")
            p = subprocess.run(["unshare", "--mount", "sh", "-c", script],
                               capture_output=True, text=True, timeout=60, cwd=d)
            eq(p.returncode, 1, f"exit status in a chroot ({p.stderr!r})")
            check("no sandbox can run here" in p.stderr and "chroot" in p.stderr,
                  f"the cause is named: {p.stderr!r}")
            check("pivot_root" in p.stderr, f"and the fix: {p.stderr!r}")
    finally:
        shutil.rmtree(d, ignore_errors=True)


@test(quick=True)
def file_names_like_options_are_refused(s, slow):
    # A compiler given "-v.c" by a glob would read an option.
    for name in ("-v.c", "-specs.c"):
        r = s.post("/api/v1/execute", {"language": "c", "files": [
            {"name": "main.c", "content": "int main(void){return 0;}\n"},
            {"name": name, "content": ""}]})
        expect_error(r, 400, "invalid_request", f"'{name}'", "not starting with '.' or '-'")


@test()
def history_records_carry_their_message(s, slow):
    j = s.run("import sys; sys.exit(3)")
    r = s.get(f"/api/v1/executions/{j['id']}").json
    eq(r["message"], "Exited with code 3", "message of the record")
    eq(r["message"], j["message"], "the same message as the answer")


# --- Output files ------------------------------------------------------------------

OUT_NAME = re.compile(r"[A-Za-z0-9_+][A-Za-z0-9._+-]{0,63}")
OUT_REASONS = {"not a regular file", "name not allowed", "over the count bound",
               "over the size bound", "changed while read", "not readable"}
MIME = {"png": "image/png", "jpg": "image/jpeg", "svg": "image/svg+xml", "csv": "text/csv",
        "txt": "text/plain", "json": "application/json", "html": "text/plain",
        "bin": "application/octet-stream"}
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def out_files(j, max_files=64, max_bytes=16 << 20, what="files"):
    """{name: bytes} of an answer's files, each checked: exactly name, size,
    mime_type and content, the content base64 of size bytes, the name by the
    rule, within the bounds; the drops listed with known reasons and
    printable names."""
    files = j.get("files")
    check(isinstance(files, list), f"{what}: no files list: {str(j)[:300]}")
    got = {}
    for f in files:
        eq(sorted(f), ["content", "mime_type", "name", "size"], f"{what}: fields of a file")
        name = f["name"]
        check(OUT_NAME.fullmatch(name) is not None, f"{what}: a name breaks the rule: {name!r}")
        check(name not in got, f"{what}: {name} twice")
        data = base64.b64decode(f["content"], validate=True)
        eq(f["size"], len(data), f"{what}: size of {name}")
        ext = name.rsplit(".", 1)[-1].lower() if "." in name else ""
        eq(f["mime_type"], MIME.get(ext, "application/octet-stream"), f"{what}: type of {name}")
        got[name] = data
    check(len(got) <= max_files, f"{what}: {len(got)} files, the bound is {max_files}")
    check(sum(map(len, got.values())) <= max_bytes, f"{what}: more bytes than {max_bytes}")
    listed, total = j.get("files_dropped", []), j.get("files_dropped_total", 0)
    check(("files_dropped" in j) == ("files_dropped_total" in j) == (total > 0),
          f"{what}: files_dropped {listed!r} with files_dropped_total {total!r}")
    check(len(listed) <= 32 and len(listed) <= total, f"{what}: {len(listed)} drops listed of {total}")
    for d in listed:
        eq(sorted(d), ["name", "reason"], f"{what}: fields of a drop")
        check(all(0x20 <= ord(c) < 0x7f for c in d["name"]), f"{what}: dropped name {d['name']!r}")
        check(d["reason"] in OUT_REASONS, f"{what}: reason {d['reason']!r}")
    return got


def drops(j):
    return {d["name"]: d["reason"] for d in j.get("files_dropped", [])}


def png_size(data):
    check(data[:8] == PNG_MAGIC and data[12:16] == b"IHDR", f"not a PNG: {data[:16]!r}")
    return struct.unpack(">II", data[16:24])


@test(quick=True)
def output_files_come_back_with_name_size_type_and_content(s, slow):
    code = ("import os\n"
            "d = os.environ['SAFEXEC_OUT']\n"
            "print(d, sorted(os.listdir(d)), oct(os.stat(d).st_mode & 0o777))\n"
            "open(d + '/a.csv', 'w').write('x,y\\n1,2\\n')\n"
            "open(d + '/image.png', 'wb').write(b'\\x89PNG\\r\\n\\x1a\\n' + bytes(range(256)))\n"
            "open(d + '/empty.txt', 'w').close()\n"
            "open(d + '/data.json', 'w').write('{\"k\": 1}')\n"
            "open(d + '/page.html', 'w').write('<script>alert(1)</script>')\n"
            "open(d + '/raw.bin', 'wb').write(bytes(range(256)) * 4)\n"
            "open('/box/not-out.txt', 'w').write('stays')\n")
    j = s.execute({"code": code, "output_files": True})
    eq(j["status"], "ok", f"status ({j['stderr'][-300:]!r})")
    eq(j["stdout"], "/box/out [] 0o700\n", "an empty /box/out of the program's own")
    got = out_files(j)
    eq(got, {"a.csv": b"x,y\n1,2\n", "image.png": PNG_MAGIC + bytes(range(256)), "empty.txt": b"",
             "data.json": b'{"k": 1}', "page.html": b"<script>alert(1)</script>",
             "raw.bin": bytes(range(256)) * 4}, "the files")
    check("files_dropped" not in j, "files_dropped without a drop")
    # The same through a job.
    r = s.post("/api/v1/jobs?wait=true", {"code": code, "output_files": True})
    eq(r.status, 200, f"job ({r.body[:200]!r})")
    eq(out_files(r.json["result"], what="the job's files"), got, "the job's files")
    # Not asked for: no directory, no variable, no field.
    for extra in ({}, {"output_files": False}, {"output_files": None}):
        j = s.execute({"code": "import os\nprint(os.path.exists('/box/out'), "
                               "'SAFEXEC_OUT' in os.environ)\n", **extra})
        eq(j["stdout"], "False False\n", f"without output_files {extra}")
        check("files" not in j and "files_dropped" not in j, f"files in the answer with {extra}")
    # Bad values are refused before anything runs.
    for bad, code_ in (("yes", "invalid_request"), ({"max_files": 0}, "invalid_limit"),
                       ({"max_bytes": "1"}, "invalid_limit"), ({"max_files": 1025}, "limit_exceeded"),
                       ({"max_bytes": (16 << 20) + 1}, "limit_exceeded"),
                       ({"count": 1}, "invalid_request")):
        expect_error(s.post("/api/v1/execute", {"code": "", "output_files": bad}), 400, code_)


@test()
def output_files_request_bounds_drop_and_leave_the_status(s, slow):
    # Five files of 300 bytes, two allowed: three over the count; the
    # program's exit status stays its own.
    code = ("import os, sys\n"
            "for i in range(5):\n"
            "    open(os.environ['SAFEXEC_OUT'] + '/f%d.txt' % i, 'w').write(str(i) * 300)\n"
            "sys.exit(3)\n")
    j = s.execute({"code": code, "output_files": {"max_files": 2}})
    eq((j["status"], j["exit_code"]), ("runtime_error", 3), "status unchanged by drops")
    got = out_files(j, max_files=2)
    eq(len(got), 2, "files returned")
    eq(j["files_dropped_total"], 3, "files_dropped_total")
    eq(sorted(drops(j).values()), ["over the count bound"] * 3, "reasons")
    eq(sorted(set(got) | set(drops(j))), [f"f{i}.txt" for i in range(5)], "every file accounted for")
    # 1000 bytes: three files of 300 fit, by their sizes, before any is read.
    j = s.execute({"code": code, "output_files": {"max_bytes": 1000}})
    got = out_files(j, max_bytes=1000)
    eq(len(got), 3, "files within 1000 bytes")
    eq(sorted(drops(j).values()), ["over the size bound"] * 2, "reasons")
    # Both bounds, and the listing's own: 40 files, 32 listed.
    j = s.execute({"code": "import os\nfor i in range(41):\n"
                           "    open(os.environ['SAFEXEC_OUT'] + '/g%02d' % i, 'w').write('x')\n",
                   "output_files": {"max_files": 1, "max_bytes": 1}})
    out_files(j, max_files=1, max_bytes=1)
    eq((j["status"], len(j["files"]), len(j["files_dropped"]), j["files_dropped_total"]),
       ("ok", 1, 32, 40), "status, files, listed and total")
    # A run killed at a limit returns nothing of its directory.
    j = s.execute({"code": "import os, time\nopen(os.environ['SAFEXEC_OUT'] + '/x', 'w').write('x')\n"
                           "time.sleep(5)\n", "output_files": True, "limits": {"wall_time_ms": 500}})
    eq((j["status"], j["files"]), ("timeout", []), "a run killed at its limit")


@test()
def output_files_with_tests_each_tests_own(s, slow):
    code = ("import os, sys\n"
            "s = input()\n"
            "open(os.environ['SAFEXEC_OUT'] + '/' + s + '.txt', 'w').write(s * 3)\n"
            "print(sorted(os.listdir(os.environ['SAFEXEC_OUT'])))\n")
    j = s.execute({"code": code, "output_files": True,
                   "tests": [{"stdin": "a", "expected_output": "['a.txt']"},
                             {"stdin": "b", "expected_output": "['b.txt']"},
                             {"stdin": "c", "expected_output": "wrong"}]})
    eq(j["verdict"], "wrong_answer", "verdict")
    for i, name in enumerate("abc"):
        eq(out_files(j["tests"][i], what=f"test {i}"), {name + ".txt": name.encode() * 3},
           f"test {i}'s files (each test has a /box/out of its own)")
    eq(out_files(j), {"c.txt": b"ccc"}, "the decisive test's files at the top level")
    # Each test's share of what an answer may hold.
    expect_error(s.post("/api/v1/execute", {"code": code, "output_files": {"max_bytes": 16 << 20},
                                            "tests": [{"stdin": "a"}] * 8}), 400, "limit_exceeded",
                 "with 8 tests")


@test()
def output_files_history_keeps_names_and_sizes(s, slow):
    code = ("import os\nd = os.environ['SAFEXEC_OUT']\n"
            "open(d + '/small.txt', 'w').write('kept')\n"
            "open(d + '/big.bin', 'wb').write(b'b' * (2 << 20))\n"
            "os.symlink('/etc/passwd', d + '/link')\n")
    j = s.execute({"code": code, "output_files": True})
    got = out_files(j)
    eq(sorted((k, len(v)) for k, v in got.items()), [("big.bin", 2 << 20), ("small.txt", 4)], "the answer")
    h = s.get(f"/api/v1/executions/{j['id']}").json
    files = {f["name"]: f for f in h["files"]}
    eq(sorted((n, f["size"], f["mime_type"]) for n, f in files.items()),
       [("big.bin", 2 << 20, "application/octet-stream"), ("small.txt", 4, "text/plain")],
       "names, sizes and types in the history")
    # Within history_files_max (1 MiB): the small file's content, not the big one's.
    eq(base64.b64decode(files["small.txt"]["content"]), b"kept", "the small file's content kept")
    check("content" not in files["big.bin"], "content past history_files_max kept")
    eq(h["files_dropped"], [{"name": "link", "reason": "not a regular file"}], "drops in the history")
    eq(h["files_dropped_total"], 1, "files_dropped_total in the history")


@test()
def output_files_many_and_sparse_and_growing_are_bounded(s, slow):
    # 100000 small files: /box runs out of inodes first; 64 come back, the
    # rest are counted, 32 listed, and the answer is quick.
    t0 = time.time()
    j = s.execute({"code": "import os, errno\nd = os.environ['SAFEXEC_OUT']\nmade, why = 0, 'OK'\n"
                           "for i in range(100000):\n"
                           "    try:\n"
                           "        open('%s/f%06d.txt' % (d, i), 'w').write('x')\n"
                           "    except OSError as e:\n"
                           "        why = errno.errorcode[e.errno]\n"
                           "        break\n"
                           "    made += 1\n"
                           "print(made, why)\n", "output_files": True})
    m = re.fullmatch(r"(\d+) (ENOSPC|OK)\n", j["stdout"])
    check(m is not None, f"stdout {j['stdout']!r}")
    made = int(m.group(1))
    got = out_files(j)
    eq((len(got), len(j["files_dropped"]), j["files_dropped_total"]), (64, 32, made - 64),
       f"files, listed and total of {made} made")
    check(set(drops(j).values()) == {"over the count bound"}, "reasons")
    check(time.time() - t0 < 20, f"the answer took {time.time() - t0:.1f} s")
    # A sparse file: 100 GiB is past any file size a request may allow; the
    # largest, 16 GiB, is dropped by its size without a byte read.
    j = s.execute({"code": "import os\nf = open(os.environ['SAFEXEC_OUT'] + '/sparse.bin', 'wb')\n"
                           "for n in (100 << 30, 16 << 30):\n"
                           "    try:\n"
                           "        f.truncate(n)\n"
                           "        print(n >> 30, 'OK')\n"
                           "    except OSError as e:\n"
                           "        print(n >> 30, e.strerror)\n",
                   "output_files": True, "limits": {"file_size_bytes": 16 << 30}})
    eq(j["stdout"], "100 File too large\n16 OK\n", "the sparse file")
    eq((out_files(j), drops(j)), ({}, {"sparse.bin": "over the size bound"}), "sparse file dropped")
    check(j["wall_time_ms"] < 3000, f"wall_time_ms {j['wall_time_ms']}")
    # A file a background process still writes: bounded, and only its bytes.
    j = s.execute({"code": "import os, time\nd = os.environ['SAFEXEC_OUT']\n"
                           "if os.fork() == 0:\n"
                           "    f = open(d + '/grow.log', 'ab', buffering=0)\n"
                           "    while True:\n"
                           "        f.write(b'g' * 4096)\n"
                           "open(d + '/ok.txt', 'w').write('ok')\n"
                           "time.sleep(0.3)\n",
                   "output_files": {"max_bytes": 65536}, "limits": {"wall_time_ms": 5000}})
    eq(j["status"], "ok", "status")
    got = out_files(j, max_bytes=65536)
    eq(got.get("ok.txt"), b"ok", "ok.txt")
    check(set(got.get("grow.log", b"")) <= {ord("g")}, "grow.log holds other bytes")
    check(set(got) | set(drops(j)) == {"ok.txt", "grow.log"}, f"files {sorted(got)} drops {drops(j)}")
    check(j["wall_time_ms"] < 3000, f"wall_time_ms {j['wall_time_ms']}")


@test()
def output_files_from_c_and_never_from_its_compile(s, slow):
    langs = {x["language"] for x in s.get("/api/v1/languages").json}
    prog = ("#include <stdio.h>\n#include <stdlib.h>\n"
            "int main(void)\n{\n"
            "\tchar path[256];\n"
            "\tsnprintf(path, sizeof(path), \"%s/squares.csv\", getenv(\"SAFEXEC_OUT\"));\n"
            "\tFILE *f = fopen(path, \"w\");\n"
            "\tfor (int i = 1; i <= 3; i++)\n\t\tfprintf(f, \"%d,%d\\n\", i, i * i);\n"
            "\treturn fclose(f) != 0;\n}\n")
    j = s.execute({"language": "c", "code": prog, "output_files": True})
    eq((j["status"], j["compile"]["status"]), ("ok", "ok"), f"status ({j.get('compile')})")
    eq(out_files(j), {"squares.csv": b"1,1\n2,4\n3,9\n"}, "C's file")
    # A compile stage has no output directory; what it leaves in /box/out
    # is not the run's, which starts empty.
    check("multifile" in langs, "no multifile language to compile with a script")
    j = s.execute({"language": "multifile", "output_files": True, "files": [
        {"name": "run.sh", "content": "ls -A /box/out\necho run > \"$SAFEXEC_OUT/from_run.txt\"\n"},
        {"name": "compile.sh", "content": "echo \"out: ${SAFEXEC_OUT-none}\"\nmkdir out\n"
                                          "echo compile > out/from_compile.txt\n"}]})
    eq(j["compile"]["stdout"], "out: none\n", "the compile stage's environment")
    eq((j["status"], j["stdout"]), ("ok", ""), f"the run's /box/out at its start ({j['stderr']!r})")
    eq(out_files(j), {"from_run.txt": b"run\n"}, "only the run's file")


MATPLOTLIB = "/usr/lib/python3/dist-packages/matplotlib/__init__.py"
PLOT = ("import os, sys, time\n"
        "t = time.monotonic()\n"
        "import matplotlib.pyplot as plt\n"
        "imported = time.monotonic() - t\n"
        "plt.plot([1, 2, 3], [1, 4, 9])\n"
        "plt.savefig(os.environ['SAFEXEC_OUT'] + '/plot.png')\n"
        "plt.savefig('out/relative.png', dpi=50)\n"
        "plt.figure()\n"
        "plt.bar([1, 2], [2, 1])\n"
        "plt.show()\n"
        "d = os.environ['MPLCONFIGDIR']\n"
        "print(plt.get_backend(), d, [(n[:9], os.path.islink(d + '/' + n)) for n in os.listdir(d)])\n"
        "print('import', round(imported, 2), file=sys.stderr)\n")


def check_plot(j, what):
    eq(j["status"], "ok", f"{what}: status ({j['stderr'][-400:]!r})")
    # Quiet: no warning, no font cache built: only the program's own line.
    check(re.fullmatch(r"import [0-9.]+\n", j["stderr"]) is not None, f"{what}: stderr {j['stderr']!r}")
    eq(j["stdout"], "module://safexec_plot /tmp/matplotlib [('fontlist-', True)]\n",
       f"{what}: backend, configuration directory and the font list built once")
    got = out_files(j)
    eq(sorted(got), ["figure-1.png", "figure-2.png", "plot.png", "relative.png"], f"{what}: files")
    eq(png_size(got["plot.png"]), (640, 480), f"{what}: plot.png")
    eq(png_size(got["relative.png"]), (320, 240), f"{what}: relative.png")
    eq(png_size(got["figure-2.png"]), (640, 480), f"{what}: figure-2.png (plt.show())")
    return float(j["stderr"].split()[1])


@test()
def output_files_matplotlib_savefig_and_show(s, slow):
    if not MEMORY_CGROUP:
        raise Skip("no memory cgroup: RLIMIT_AS counts address space, and importing "
                   "matplotlib.pyplot reserves about 380 MiB of it, past the 128 MiB default")
    if isinstance(s, Attached):
        if s.execute({"code": "import matplotlib"})["status"] != "ok":
            raise Skip("no matplotlib in the server's Python (a container built without it)")
    elif not os.path.exists(MATPLOTLIB):
        raise Skip("no python3-matplotlib (Debian's) on this host")
    times = [check_plot(s.execute({"code": PLOT, "output_files": True}), "python runtime")
             for _ in range(2)]
    # Without output_files matplotlib draws with Agg, quietly, and a figure
    # shown goes nowhere.
    j = s.execute({"code": "import matplotlib.pyplot as plt\nplt.plot([1])\nplt.show()\n"
                           "print(plt.get_backend())\n"})
    eq((j["status"], j["stdout"], j["stderr"]), ("ok", "agg\n", ""), "no output_files")
    check(min(times) < 5, f"import matplotlib.pyplot took {times} s")


@test()
def output_files_matplotlib_in_the_built_in_python(binary):
    # A server with no runtime files runs its built-in Python: the same
    # site, the same plots.
    if not os.path.exists(MATPLOTLIB):
        raise Skip("no python3-matplotlib (Debian's) on this host")
    empty = tempfile.mkdtemp(prefix="safexec-e2e-runtimes-")
    s = Server(binary, "--runtimes", empty)
    try:
        eq([x["language"] for x in s.get("/api/v1/languages").json], ["python"], "languages")
        check_plot(s.execute({"code": PLOT, "output_files": True}), "built-in python")
        check("matplotlib's font list" in s.errors(), f"the server's log: {s.errors()!r}")
    finally:
        s.close()
        shutil.rmtree(empty, ignore_errors=True)


@test()
def output_files_server_maxima(binary):
    s = Server(binary, "--max-output-files", "3", "--max-output-files-bytes", "2048")
    try:
        code = ("import os\nfor i in range(5):\n"
                "    open(os.environ['SAFEXEC_OUT'] + '/f%d' % i, 'w').write('x' * 600)\n")
        j = s.execute({"code": code, "output_files": True})
        got = out_files(j, max_files=3, max_bytes=2048)
        eq((j["status"], len(got), j["files_dropped_total"]), ("ok", 3, 2), "the server's count bound")
        j = s.execute({"code": code, "output_files": {"max_files": 3, "max_bytes": 1300}})
        eq(len(out_files(j, max_files=3, max_bytes=1300)), 2, "a lower request bound")
        expect_error(s.post("/api/v1/execute", {"code": code, "output_files": {"max_files": 4}}),
                     400, "limit_exceeded", "output_files.max_files is 4", "from 1 to 3")
        expect_error(s.post("/api/v1/execute", {"code": code, "output_files": {"max_bytes": 2049}}),
                     400, "limit_exceeded", "output_files.max_bytes is 2049", "from 1 to 2048")
    finally:
        s.close()


@test()
def output_files_never_follow_block_or_leak(binary):
    # The server's environment holds a secret: /proc/self/environ of the
    # reader would be its copy.  No returned byte may be the host's.
    secret = "SAFEXEC_E2E_SECRET_" + os.urandom(8).hex()
    s = Server(binary, env={"SAFEXEC_E2E_SECRET": secret})
    try:
        code = ("import os, time\nd = os.environ['SAFEXEC_OUT'].encode()\n"
                "for name, target in [(b'passwd', '/etc/passwd'), (b'self_environ', '/proc/self/environ'),\n"
                "                     (b'init_environ', '/proc/1/environ'), (b'up', '../../etc/passwd'),\n"
                "                     (b'root', '/')]:\n"
                "    os.symlink(target, d + b'/' + name)\n"
                "os.link('/box/main.py', d + b'/own.py')\n"
                "for src in ('/etc/passwd', '/usr/bin/python3', '/proc/1/environ'):\n"
                "    try:\n"
                "        os.link(src, d + b'/hard')\n"
                "        print('LINKED', src)\n"
                "    except OSError as e:\n"
                "        print('link', src, e.strerror)\n"
                "os.mkfifo(d + b'/fifo')\n"
                "os.mkfifo(d + b'/held')\n"
                "if os.fork() == 0:\n"
                "    fd = os.open(d + b'/held', os.O_RDWR)\n"
                "    time.sleep(3600)\n"
                "for n in (b'nl\\nname', b'\\xff\\xfe.txt', b'caf\\xc3\\xa9', b'.hidden', b'-rf', b'x' * 65):\n"
                "    open(d + b'/' + n, 'w').write('dropped')\n"
                "open(d + b'/../dotdot.txt', 'w').write('in /box, not out')\n"
                "try:\n"
                "    open(d + b'/a\\0b', 'w')\n"
                "except ValueError as e:\n"
                "    print('nul', type(e).__name__)\n"
                "open(d + b'/ok.txt', 'w').write('ok')\n")
        t0 = time.time()
        r = s.post("/api/v1/execute", {"code": code, "output_files": True, "limits": {"wall_time_ms": 5000}})
        elapsed = time.time() - t0
        eq(r.status, 200, f"status ({r.body[:300]!r})")
        for leak in (secret.encode(), b"root:x:0:0", b"SAFEXEC_E2E_SECRET"):
            check(leak not in r.body, f"the answer holds {leak[:24]!r}")
        j = r.json
        eq(j["status"], "ok", f"status ({j['stderr'][-300:]!r})")
        check(elapsed < 4 and j["wall_time_ms"] < 3000, f"a FIFO blocked: {elapsed:.1f} s")
        for src in ("/etc/passwd", "/usr/bin/python3", "/proc/1/environ"):
            check(re.search(rf"^link {re.escape(src)} (Invalid cross-device link|Operation not permitted)$",
                            j["stdout"], re.M), f"a hard link to {src}: {j['stdout']!r}")
        check("nul ValueError" in j["stdout"], "a NUL in a name")
        got = out_files(j)
        eq(sorted(got), ["ok.txt", "own.py"], "the files returned")
        eq(got["own.py"], code.encode(), "a hard link to the program's own file is its own data")
        want = {n: "not a regular file" for n in ("passwd", "self_environ", "init_environ", "up", "root",
                                                  "fifo", "held")}
        want.update({n: "name not allowed" for n in ("nl\\x0aname", "\\xff\\xfe.txt", "caf\\xc3\\xa9",
                                                     ".hidden", "-rf", "x" * 64 + "...")})
        eq(drops(j), want, "the drops")
        eq(j["files_dropped_total"], len(want), "files_dropped_total")
        # The server still answers at once.
        eq(s.run(HELLO)["output"], "Hello World\n", "the server after it")
    finally:
        s.close()


# --- Runner ------------------------------------------------------------------------

# Tests that take their own server receive the binary; the others share one.
OWN_SERVER = {"concurrency_150_slow_requests", "unread_answers_hold_their_slot",
              "code_and_stdin_bounded_when_max_body_is_raised",
              "unread_answers_keep_memory_bounded",
              "instances_in_two_pid_namespaces_share_a_cgroup_parent",
              "start_up_failures_are_clear_and_leave_nothing",
              "idle_connections_do_not_block",
              "graceful_sigterm", "grace_period_expires", "config_errors_exit_2",
              "config_file_and_environment", "output_files_matplotlib_in_the_built_in_python",
              "output_files_server_maxima", "output_files_never_follow_block_or_leak"}


def start_slow(s, pool):
    """Starts the slow runs at once so that their waits overlap."""
    return {
        "loop": pool.submit(s.run, "while True: pass"),
        "memory": pool.submit(s.run, 'x = "a" * 1000000000'),
        "wall": pool.submit(s.execute, {"code": "import time; time.sleep(5)",
                                         "limits": {"wall_time_ms": 1000}}),
        "cpu": pool.submit(s.execute, {"code": "while True: pass",
                                        "limits": {"cpu_time_ms": 500, "wall_time_ms": 10000}}),
    }


def own_server_skip():
    raise Skip("starts servers of its own: not with --port")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin")
    ap.add_argument("--port", type=int)
    ap.add_argument("--log")
    ap.add_argument("--no-memory-cgroup", action="store_true")
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("only", nargs="*", help="glob patterns of test names")
    args = ap.parse_args()
    if bool(args.bin) == bool(args.port):
        ap.error("give one of --bin and --port")
    binary = os.path.abspath(args.bin) if args.bin else None
    global MEMORY_CGROUP
    MEMORY_CGROUP = not args.no_memory_cgroup
    if binary and not os.access(binary, os.X_OK):
        print(f"e2e: {binary} is not executable")
        print("0 passed, 1 failed")
        return 1

    selected = [(n, f, q) for n, f, q in TESTS
                if (q or not args.quick) and (not args.only or any(fnmatch.fnmatch(n, p)
                                                                   for p in args.only))]
    tally = Tally()
    start = time.time()

    shared = [(n, f) for n, f, _ in selected if n not in OWN_SERVER]
    if shared:
        try:
            s = Attached(args.port, args.log) if args.port else Server(binary, "--workers", "4")
        except Exception as e:
            print(f"FAIL server_start: {e}")
            print(tally.summary(more_failed=1))
            return 1
        pool = futures.ThreadPoolExecutor(4)
        slow = {} if args.quick else start_slow(s, pool)
        try:
            for n, f in shared:
                tally.run(n, f, s, slow)
        finally:
            pool.shutdown(wait=True)

            def clean_stop():
                rc = s.stop()
                if rc != 0:
                    raise Fail(f"exit status {rc}; stderr: {s.errors()}")
            if not args.port:
                tally.run("shared_server_stops_cleanly", clean_stop)
            s.close()
    for n, f, _ in selected:
        if n in OWN_SERVER and args.port:
            tally.run(n, own_server_skip)
        elif n in OWN_SERVER:
            tally.run(n, f, binary)
    print(f"e2e took {time.time() - start:.0f} s")
    print(tally.summary())
    return 1 if tally.failed else 0


if __name__ == "__main__":
    sys.exit(main())
