#!/usr/bin/env python3
"""The `safexec run` contract, as `safexec run --help` states it.

    python3 tests/cli/run.py --bin build/safexec [NAME...]

Exit status: the program's own exit code; 128+N when signal N ended it (a
limit ends it with SIGKILL: 137); 125 when the run could not be set up (a
limit the host cannot grant, a program or --stdin file that cannot be read);
2 on a usage error (an unknown option, a missing or bad value, no program),
with a message that names the option.  -c CODE, FILE, `-` (the program from
standard input), arguments after `--`, --stdin FILE (default: empty input),
--json (the full result as one JSON object), the documented limit defaults,
and the one-line explanations on stderr when a limit ended the run.

Runs each test (or those whose name contains one of NAME), one line each:
`ok   name` or `FAIL name: why`, then `N passed, N failed`; exits 1 when
anything failed.  Where the host decides the outcome (without a memory
cgroup a memory limit is a MemoryError, not a kill; without a CPU cgroup the
CPU limit is RLIMIT_CPU, SIGXCPU), the test expects what
`safexec check --json` says is in force.  Standard library only.
"""

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import traceback

RESULT_KEYS = {
    "status": str, "exit_code": (int, type(None)), "signal": (int, type(None)),
    "stdout": str, "stderr": str, "output": str, "stdout_truncated": bool,
    "stderr_truncated": bool, "wall_time_ms": int, "cpu_time_ms": int,
    "memory_bytes": int,
}
LIMIT_OPTIONS = ["--wall-time", "--cpu-time", "--memory", "--processes",
                 "--output", "--file-size", "--open-files"]
# A value below each option's allowed range (0 is below every one), and one
# that parses but is far above it.
TOO_SMALL = {"--wall-time": "0", "--cpu-time": "0", "--memory": "1K",
             "--processes": "1", "--output": "0", "--file-size": "0",
             "--open-files": "15"}
TOO_LARGE = {"--wall-time": "999999999", "--cpu-time": "999999999",
             "--memory": "999G", "--processes": "999999", "--output": "999G",
             "--file-size": "999G", "--open-files": "99999999"}
RUN_TIMEOUT_S = 60

BIN = None
TMP = None
FEATURES = {}
TESTS = []


class Fail(Exception):
    pass


def test(fn):
    TESTS.append(fn)
    return fn


def check(cond, msg):
    if not cond:
        raise Fail(msg)


def short(b, n=300):
    if isinstance(b, bytes):
        b = b.decode("utf-8", "replace")
    return repr(b if len(b) <= n else b[:n] + "...")


class Res:
    def __init__(self, args, rc, out, err):
        self.args, self.rc, self.out, self.err = args, rc, out, err

    def __str__(self):
        return "exit %s, stdout %s, stderr %s" % (self.rc, short(self.out), short(self.err))

    def json(self):
        try:
            j = json.loads(self.out)
        except ValueError as e:
            raise Fail("stdout is not JSON (%s): %s" % (e, self))
        check(isinstance(j, dict), "the JSON is not an object: %s" % self)
        return j


def run(*args, stdin=b"", nofile=None):
    """`safexec run ARGS...`; nofile sets RLIMIT_NOFILE (soft and hard) of
    safexec itself first."""
    pre = None
    if nofile is not None:
        def pre():
            resource.setrlimit(resource.RLIMIT_NOFILE, (nofile, nofile))
    cmd = [BIN, "run"] + list(args)
    try:
        p = subprocess.run(cmd, input=stdin, capture_output=True,
                           timeout=RUN_TIMEOUT_S, preexec_fn=pre)
    except subprocess.TimeoutExpired:
        raise Fail("safexec run %s did not end within %d s" % (args, RUN_TIMEOUT_S))
    return Res(args, p.returncode, p.stdout, p.stderr)


def code(src, *args, **kw):
    """`safexec run -c SRC ARGS...`"""
    return run("-c", src, *args, **kw)


def each(items, fn):
    """fn(item) for every item; one Fail naming every item that failed."""
    problems = []
    for item in items:
        try:
            fn(item)
        except Fail as e:
            problems.append("%s: %s" % (item, e))
    check(not problems, "; ".join(problems))


def expect_rc(r, rc):
    check(r.rc == rc, "expected exit %d, got %s" % (rc, r))


def write(name, data):
    path = os.path.join(TMP, name)
    with open(path, "wb") as f:
        f.write(data if isinstance(data, bytes) else data.encode())
    return path


def check_result_json(j, r):
    keys = set(RESULT_KEYS)
    if j.get("status") == "internal_error":
        keys.add("error")
    check(set(j) == keys, "JSON keys %s, expected %s" % (sorted(j), sorted(keys)))
    for k, t in RESULT_KEYS.items():
        check(isinstance(j[k], t) and not (t is int and isinstance(j[k], bool)),
              "JSON %s is %r" % (k, j[k]))
    for k in ("wall_time_ms", "cpu_time_ms", "memory_bytes"):
        check(j[k] >= 0, "JSON %s is %r" % (k, j[k]))


def usage_error(r, name):
    """Exit 2, nothing on stdout, a message on stderr that names `name`."""
    check(r.rc == 2, "expected exit 2 (usage error), got %s" % r)
    check(r.out == b"", "a usage error printed on stdout: %s" % r)
    check(name.encode() in r.err, "the message does not name %s: %s" % (name, r))


def memory_cgroup():
    return bool((FEATURES.get("controllers") or {}).get("memory"))


# --- help ------------------------------------------------------------------

def help_text():
    r = run("--help")
    expect_rc(r, 0)
    return r.out.decode()


@test
def help_on_stdout_exit_0():
    for opt in ("--help", "-h"):
        r = run(opt)
        expect_rc(r, 0)
        check(r.out.startswith(b"usage: safexec run"), "%s: stdout %s" % (opt, short(r.out)))
        check(r.err == b"", "%s: stderr %s" % (opt, short(r.err)))


@test
def help_names_every_option_and_status():
    h = help_text()
    for opt in ["-c CODE", "--json", "--stdin FILE"] + LIMIT_OPTIONS:
        check(opt in h, "the help does not mention %s" % opt)
    for s in ("128+N", "125", "2 on a usage error"):
        check(s in h, "the help does not say %r" % s)


@test
def help_defaults_are_accepted():
    # Each "--option ARG ... (default V)" line of the help: V is a valid value.
    n = 0
    for line in help_text().splitlines():
        words = line.split()
        if not words or words[0] not in LIMIT_OPTIONS or "(default " not in line:
            continue
        value = line.split("(default ", 1)[1].split(")")[0]
        r = code("print('ran')", words[0], value)
        check(r.rc == 0 and r.out == b"ran\n",
              "%s %s (its documented default) is refused: %s" % (words[0], value, r))
        n += 1
    check(n == len(LIMIT_OPTIONS), "the help gives a default for %d of the %d limits"
          % (n, len(LIMIT_OPTIONS)))


# --- the program's exit status ---------------------------------------------

@test
def exit_code_is_the_programs():
    def one(c):
        r = code("import sys; sys.exit(%d)" % c)
        expect_rc(r, c)
        check(r.err == b"", "stderr %s" % short(r.err))
    each((0, 1, 3, 42, 125, 255), one)


@test
def uncaught_exception_exits_1_with_traceback():
    r = code("raise ValueError('boom')")
    expect_rc(r, 1)
    check(b"ValueError: boom" in r.err, "stderr %s" % short(r.err))


@test
def signal_n_gives_128_plus_n():
    cases = {
        15: "import os, signal; os.kill(os.getpid(), signal.SIGTERM)",
        11: "import os, signal; os.kill(os.getpid(), signal.SIGSEGV)",
        6: "import os; os.abort()",
        9: "import os, signal; os.kill(os.getpid(), signal.SIGKILL)",
    }

    def one(sig):
        expect_rc(code(cases[sig]), 128 + sig)
        j = code(cases[sig], "--json").json()
        check(j["status"] == "signaled" and j["signal"] == sig and j["exit_code"] is None,
              "--json: %s" % j)
    each(cases, one)


@test
def wall_time_limit_kills_137():
    r = code("import time; time.sleep(30)", "--wall-time", "300")
    expect_rc(r, 137)
    check(b"time limit exceeded" in r.err and b"300" in r.err,
          "no explanation naming the 300 ms limit: %s" % r)


@test
def cpu_time_limit_kills_137():
    r = code("while True: pass", "--cpu-time", "300", "--wall-time", "30000")
    if (FEATURES.get("controllers") or {}).get("cpu"):
        expect_rc(r, 137)
    else:
        # Without a CPU cgroup RLIMIT_CPU holds, in whole seconds: SIGXCPU.
        expect_rc(r, 128 + 24)
    check(b"time limit exceeded" in r.err and b"300" in r.err,
          "no explanation naming the 300 ms limit: %s" % r)


@test
def output_limit_kills_137_keeping_exactly_the_limit():
    r = code("import sys\nwhile True: sys.stdout.write('x' * 4096)", "--output", "1K")
    expect_rc(r, 137)
    check(r.out == b"x" * 1024, "stdout has %d bytes, expected exactly 1024" % len(r.out))
    check(b"output limit exceeded" in r.err, "no explanation: %s" % r)


@test
def memory_limit():
    r = code("b = b'x' * (100 << 20)\nprint('survived')", "--memory", "32M")
    if memory_cgroup():
        expect_rc(r, 137)
        check(b"memory limit exceeded" in r.err, "no explanation: %s" % r)
    else:
        # Without a memory cgroup RLIMIT_AS holds: MemoryError in Python.
        expect_rc(r, 1)
        check(b"MemoryError" in r.err, "stderr %s" % short(r.err))
    check(b"survived" not in r.out, "the program survived: %s" % r)


@test
def normal_run_adds_nothing_to_the_streams():
    src = ("import sys\nsys.stdout.buffer.write(b'out\\xff\\x00end')\n"
           "sys.stderr.buffer.write(b'err\\xfe')")
    r = code(src)
    expect_rc(r, 0)
    check(r.out == b"out\xff\x00end", "stdout %s" % short(r.out))
    check(r.err == b"err\xfe", "stderr %s" % short(r.err))


# --- set-up failures: 125 --------------------------------------------------

@test
def limit_the_host_cannot_grant_exits_125():
    # 1024 open files is a valid limit, but not under a hard RLIMIT_NOFILE
    # of 64: the sandbox cannot raise it.
    r = code("print('ran')", "--open-files", "1024", nofile=64)
    expect_rc(r, 125)
    check(r.out == b"", "stdout %s" % short(r.out))
    check(r.err.startswith(b"safexec") and b"failed" in r.err, "stderr %s" % short(r.err))
    # The control: the same run with a limit the host grants works.
    r = code("print('ran')", "--open-files", "64", nofile=64)
    check(r.rc == 0 and r.out == b"ran\n", "with --open-files 64: %s" % r)


@test
def limit_the_host_cannot_grant_json_125():
    r = code("print('ran')", "--json", "--open-files", "1024", nofile=64)
    expect_rc(r, 125)
    j = r.json()
    check_result_json(j, r)
    check(j["status"] == "internal_error", "status %r" % j["status"])
    check(isinstance(j.get("error"), str) and j["error"], "no error text: %s" % j)


@test
def missing_program_file_exits_125():
    path = os.path.join(TMP, "no-such-program.py")
    r = run(path)
    expect_rc(r, 125)
    check(r.out == b"", "stdout %s" % short(r.out))
    check(path.encode() in r.err, "the message does not name the file: %s" % r)


@test
def unreadable_program_file_exits_125():
    r = run(TMP)   # a directory
    expect_rc(r, 125)
    check(TMP.encode() in r.err, "the message does not name the file: %s" % r)


@test
def missing_stdin_file_exits_125():
    path = os.path.join(TMP, "no-such-input")
    r = code("print('ran')", "--stdin", path)
    expect_rc(r, 125)
    check(b"ran" not in r.out, "the program ran: %s" % r)
    check(path.encode() in r.err and b"--stdin" in r.err,
          "the message does not name --stdin and the file: %s" % r)


# --- usage errors: 2 -------------------------------------------------------

@test
def no_program_is_a_usage_error():
    for args in ([], ["--json"], ["--memory", "64M"]):
        r = run(*args)
        check(r.rc == 2 and r.out == b"" and b"usage: safexec run" in r.err,
              "safexec run %s: %s" % (" ".join(args), r))


@test
def unknown_option_is_a_usage_error():
    r = run("--no-such-option", "-c", "print('ran')")
    usage_error(r, "--no-such-option")
    check(b"usage: safexec run" in r.err, "no usage text: %s" % r)


@test
def option_without_its_value_is_a_usage_error():
    r = run("-c")
    check(r.rc == 2 and r.out == b"" and (b"-c" in r.err or b"'c'" in r.err),
          "-c without CODE: %s" % r)
    each(LIMIT_OPTIONS + ["--stdin"], lambda opt: usage_error(run(opt), opt))


@test
def bad_memory_value_names_memory():
    def one(v):
        r = code("print('ran')", "--memory", v)
        usage_error(r, "--memory")
        check(r.err.startswith(b"safexec run: "), "message %s" % short(r.err))
    each(("abc", "", "-5", "12X", "1.5G", "1K", "0", "999G", "18446744073709551617"), one)


@test
def not_a_number_names_the_option():
    each(LIMIT_OPTIONS, lambda opt: usage_error(code("print('ran')", opt, "abc"), opt))


@test
def below_range_names_the_option():
    each(LIMIT_OPTIONS,
         lambda opt: usage_error(code("print('ran')", opt, TOO_SMALL[opt]), opt))


@test
def above_range_names_the_option():
    each(LIMIT_OPTIONS,
         lambda opt: usage_error(code("print('ran')", opt, TOO_LARGE[opt]), opt))


@test
def more_than_256_arguments_is_a_usage_error():
    r = code("print('ran')", "--", *(["a"] * 257))
    check(r.rc == 2 and b"256" in r.err and b"ran" not in r.out, "got %s" % r)
    r = code("import sys; print(len(sys.argv) - 1)", "--", *(["a"] * 256))
    check(r.rc == 0 and r.out == b"256\n", "256 arguments: %s" % r)


# --- the program, its arguments, its input ---------------------------------

@test
def c_code_runs():
    r = code("print('hello')")
    check(r.rc == 0 and r.out == b"hello\n" and r.err == b"", "got %s" % r)


@test
def file_runs():
    r = run(write("prog.py", "print('from a file')"))
    check(r.rc == 0 and r.out == b"from a file\n", "got %s" % r)


@test
def dash_reads_the_program_from_stdin():
    r = run("-", stdin=b"print('from stdin')")
    check(r.rc == 0 and r.out == b"from stdin\n", "got %s" % r)


@test
def arguments_after_double_dash():
    src = "import sys; print(sys.argv[1:])"
    r = code(src, "--", "a", "b c", "--json", "--memory", "1K", "")
    check(r.rc == 0 and r.out == b"['a', 'b c', '--json', '--memory', '1K', '']\n",
          "-c: %s" % r)
    r = run(write("args.py", src), "--", "x", "-c", "y")
    check(r.rc == 0 and r.out == b"['x', '-c', 'y']\n", "FILE: %s" % r)


@test
def stdin_file_is_the_programs_input():
    data = bytes(range(256)) * 64 + b"\n\x00end"
    src = "import sys; sys.stdout.buffer.write(sys.stdin.buffer.read())"
    r = code(src, "--stdin", write("input.bin", data))
    check(r.rc == 0 and r.out == data, "input not passed exactly: %s" % r)


@test
def stdin_is_empty_by_default():
    src = "import sys; print(repr(sys.stdin.read()))"
    r = code(src, stdin=b"safexec's own input is not the program's\n")
    check(r.rc == 0 and r.out == b"''\n", "got %s" % r)


@test
def dash_program_with_stdin_file():
    r = run("--stdin", write("in.txt", "42\n"), "-",
            stdin=b"import sys; print(int(sys.stdin.read()) + 1)")
    check(r.rc == 0 and r.out == b"43\n", "got %s" % r)


# --- --json ----------------------------------------------------------------

@test
def json_has_every_field():
    r = code("import sys; print('x'); print('e', file=sys.stderr)", "--json")
    expect_rc(r, 0)
    check(r.err == b"", "stderr %s" % short(r.err))
    j = r.json()
    check_result_json(j, r)
    want = {"status": "ok", "exit_code": 0, "signal": None, "stdout": "x\n",
            "stderr": "e\n", "stdout_truncated": False, "stderr_truncated": False}
    for k, v in want.items():
        check(j[k] == v, "JSON %s is %r, expected %r" % (k, j[k], v))
    check(j["output"] in ("x\ne\n", "e\nx\n"), "JSON output %r" % j["output"])


@test
def json_exit_status_is_the_programs():
    r = code("import sys; sys.exit(3)", "--json")
    expect_rc(r, 3)
    j = r.json()
    check_result_json(j, r)
    check(j["status"] == "runtime_error" and j["exit_code"] == 3 and j["signal"] is None,
          "JSON %s" % j)


@test
def json_limits():
    r = code("import time; time.sleep(30)", "--json", "--wall-time", "300")
    expect_rc(r, 137)
    j = r.json()
    check_result_json(j, r)
    check(j["status"] == "timeout" and j["signal"] == 9 and j["exit_code"] is None,
          "wall limit: JSON %s" % j)
    check(j["wall_time_ms"] >= 300, "wall_time_ms %r below the limit" % j["wall_time_ms"])

    r = code("import sys\nwhile True: sys.stdout.write('y' * 4096)", "--json", "--output", "1K")
    expect_rc(r, 137)
    j = r.json()
    check_result_json(j, r)
    check(j["status"] == "output_limit" and j["stdout_truncated"] is True
          and j["stdout"] == "y" * 1024, "output limit: status %r, truncated %r, %d bytes"
          % (j["status"], j["stdout_truncated"], len(j["stdout"])))


@test
def json_replaces_invalid_utf8():
    r = code("import sys; sys.stdout.buffer.write(b'a\\xffb')", "--json")
    expect_rc(r, 0)
    j = r.json()
    check(j["stdout"] == "a\ufffdb", "JSON stdout %r" % j["stdout"])


# --- the documented defaults -----------------------------------------------

@test
def default_output_limit_is_1M():
    r = code("import sys\nsys.stdout.write('z' * (1 << 20))\nsys.stdout.flush()\n"
             "print('more')")
    expect_rc(r, 137)
    check(r.out == b"z" * (1 << 20), "stdout has %d bytes, expected 1 MiB" % len(r.out))
    r = code("import sys; sys.stdout.write('z' * (1 << 20))")
    check(r.rc == 0 and len(r.out) == 1 << 20, "exactly 1 MiB: exit %s, %d bytes"
          % (r.rc, len(r.out)))


@test
def default_open_files_is_256():
    src = ("import os\nfds = []\ntry:\n    while True:\n"
           "        fds.append(os.open('/dev/null', os.O_RDONLY))\n"
           "except OSError as e:\n    print(max(fds), e.errno)")
    r = code(src)
    check(r.rc == 0 and r.out == b"255 24\n", "highest fd and errno %s, expected 255 24 "
          "(EMFILE)" % short(r.out))


@test
def default_file_size_is_16M():
    src = ("f = open('/tmp/big', 'wb'); f.write(b'x' * (16 << 20)); f.flush()\n"
           "try:\n    f.write(b'x'); f.flush(); print('wrote more')\n"
           "except OSError as e:\n    print('refused', e.errno)")
    r = code(src)
    check(r.rc == 0 and r.out == b"refused 27\n", "expected EFBIG past 16 MiB: %s" % r)


@test
def default_processes_is_64():
    src = ("import threading, time\nn = 0\ntry:\n    for i in range(200):\n"
           "        threading.Thread(target=time.sleep, args=(2,), daemon=True).start()\n"
           "        n += 1\nexcept RuntimeError:\n    pass\nprint(n + 1)")
    r = code(src)
    check(r.rc == 0 and r.out == b"64\n", "threads including the main one: %s" % r)


@test
def default_memory_is_128M():
    r = code("b = b'x' * (64 << 20)\nprint('64M ok')")
    check(r.rc == 0 and r.out == b"64M ok\n", "64 MiB under the default: %s" % r)
    r = code("b = b'x' * (200 << 20)\nprint('survived')")
    if memory_cgroup():
        expect_rc(r, 137)
        check(b"memory limit exceeded" in r.err and b"128 MiB" in r.err,
              "no explanation naming 128 MiB: %s" % r)
    else:
        expect_rc(r, 1)
        check(b"MemoryError" in r.err, "stderr %s" % short(r.err))


@test
def files_named_like_options_are_refused():
    # Given to a compiler by a glob, "-specs=s.c" would be read as an
    # option (a specs file can run any command during the compile).
    here = os.path.dirname(os.path.abspath(__file__))
    runtimes = os.path.join(here, "..", "..", "runtimes")
    main = write("main.c", "int main(void){return 0;}\n")
    specs = write("s.c", ".c:\nsh payload.sh\n")
    dash = write("-specs=s.c", "")
    payload = write("payload.sh", "echo compile stage ran request code >&2\n")
    r = run("--runtimes", runtimes, "--language", "c", main, dash, specs, payload)
    expect_rc(r, 2)
    check(b"-specs=s.c: not a file name" in r.err, "stderr %s" % short(r.err))
    check(b"ran request code" not in r.out + r.err, "the compile ran the request's code")


# --- --out DIR ---------------------------------------------------------------

OUT_PROG = r"""
import os
o = os.environ["SAFEXEC_OUT"]
open(o + "/a.txt", "w").write("A1")
open(o + "/plot.png", "wb").write(b"\x89PNG\r\n\x1a\n" + bytes(range(256)))
os.symlink("/etc/passwd", o + "/link")
os.mkfifo(o + "/fifo")
print("made")
"""


def out_dir(name):
    return os.path.join(TMP, name)


@test
def out_writes_the_files_and_makes_the_directory():
    d = out_dir("out1")
    check(not os.path.exists(d), "%s exists already" % d)
    r = code(OUT_PROG, "--out", d)
    expect_rc(r, 0)
    check(r.out == b"made\n", "stdout %s" % short(r.out))
    check(sorted(os.listdir(d)) == ["a.txt", "plot.png"], "DIR holds %s" % os.listdir(d))
    with open(os.path.join(d, "a.txt"), "rb") as f:
        check(f.read() == b"A1", "a.txt differs")
    with open(os.path.join(d, "plot.png"), "rb") as f:
        check(f.read() == b"\x89PNG\r\n\x1a\n" + bytes(range(256)), "plot.png differs")
    # What was not returned is named on stderr, with why.
    check(b"out/link: not returned: not a regular file" in r.err, "stderr %s" % short(r.err))
    check(b"out/fifo: not returned: not a regular file" in r.err, "stderr %s" % short(r.err))


@test
def out_implies_collect_out_and_json_has_the_files():
    d = out_dir("out2")
    r = code(OUT_PROG, "--json", "--out", d)
    expect_rc(r, 0)
    j = r.json()
    names = sorted(f["name"] for f in j.get("out_files", []))
    check(names == ["a.txt", "plot.png"], "out_files %s" % names)
    check(sorted(os.listdir(d)) == ["a.txt", "plot.png"], "DIR holds %s" % os.listdir(d))


@test
def out_refuses_to_overwrite_without_force():
    d = out_dir("out3")
    os.mkdir(d)
    with open(os.path.join(d, "a.txt"), "w") as f:
        f.write("mine")
    r = code(OUT_PROG, "--out", d)
    expect_rc(r, 125)
    check(b"a.txt exists; not overwritten" in r.err, "stderr %s" % short(r.err))
    with open(os.path.join(d, "a.txt")) as f:
        check(f.read() == "mine", "a.txt was overwritten")
    # The other file is written all the same.
    check(os.path.exists(os.path.join(d, "plot.png")), "plot.png missing")
    r = code(OUT_PROG, "--out", d, "--force")
    expect_rc(r, 0)
    with open(os.path.join(d, "a.txt")) as f:
        check(f.read() == "A1", "--force did not replace a.txt")


@test
def out_never_follows_a_symlink_in_dir():
    d = out_dir("out4")
    os.mkdir(d)
    target = os.path.join(TMP, "victim")
    with open(target, "w") as f:
        f.write("victim")
    os.symlink(target, os.path.join(d, "a.txt"))
    dangling = os.path.join(TMP, "nowhere")
    os.symlink(dangling, os.path.join(d, "plot.png"))
    r = code(OUT_PROG, "--out", d)
    expect_rc(r, 125)
    with open(target) as f:
        check(f.read() == "victim", "written through a symlink")
    check(not os.path.exists(dangling), "a dangling symlink was followed")
    # --force replaces the link itself, never what it points to.
    r = code(OUT_PROG, "--out", d, "--force")
    expect_rc(r, 0)
    check(not os.path.islink(os.path.join(d, "a.txt")), "a.txt is still a link")
    with open(target) as f:
        check(f.read() == "victim", "--force wrote through a symlink")
    check(not os.path.exists(dangling), "--force followed a dangling symlink")


@test
def out_usage_errors():
    usage_error(code("print(1)", "--force"), "--force")
    f = write("not-a-dir", "x")
    r = code("print(1)", "--out", f)
    usage_error(r, "--out")
    r = code("print(1)", "--out", os.path.join(TMP, "no", "such", "dir"))
    usage_error(r, "--out")
    r = run("--out")
    check(r.rc == 2, "--out without DIR: %s" % r)


@test
def out_with_a_compiled_language():
    here = os.path.dirname(os.path.abspath(__file__))
    runtimes = os.path.join(here, "..", "..", "runtimes")
    d = out_dir("out5")
    src = write("outprog.c", '#include <stdio.h>\n#include <stdlib.h>\nint main(void){'
                'char p[256]; snprintf(p, sizeof p, "%s/c.csv", getenv("SAFEXEC_OUT"));'
                'FILE *f = fopen(p, "w"); fputs("x,y\\n", f); fclose(f); return 0;}\n')
    r = run("--runtimes", runtimes, "--language", "c", "--out", d, src)
    if r.rc == 125 and b"not available" in r.err:
        return  # no C compiler on this host
    expect_rc(r, 0)
    check(os.listdir(d) == ["c.csv"], "DIR holds %s (the compile's files too?)" % os.listdir(d))
    with open(os.path.join(d, "c.csv")) as f:
        check(f.read() == "x,y\n", "c.csv differs")


def main():
    global BIN, TMP, FEATURES
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--bin", default="build/safexec")
    ap.add_argument("names", nargs="*", help="run only tests whose name contains one of these")
    args = ap.parse_args()
    BIN = os.path.abspath(args.bin)
    if not os.access(BIN, os.X_OK):
        print("FAIL setup: %s is not an executable" % args.bin)
        print("0 passed, 1 failed")
        return 1
    try:
        p = subprocess.run([BIN, "check", "--json"], capture_output=True, timeout=RUN_TIMEOUT_S)
        FEATURES = json.loads(p.stdout)
    except (OSError, ValueError, subprocess.TimeoutExpired) as e:
        print("FAIL setup: safexec check --json: %s" % e)
        print("0 passed, 1 failed")
        return 1
    print("# %s; memory limit by %s" % (BIN, "cgroup" if memory_cgroup() else "rlimit"))
    sys.stdout.flush()

    TMP = tempfile.mkdtemp(prefix="safexec-cli-")
    passed = failed = 0
    try:
        for fn in TESTS:
            name = fn.__name__
            if args.names and not any(n in name for n in args.names):
                continue
            try:
                fn()
            except Fail as e:
                failed += 1
                print("FAIL %s: %s" % (name, e))
            except Exception:
                failed += 1
                print("FAIL %s: %s" % (name, traceback.format_exc().strip().replace("\n", " | ")))
            else:
                passed += 1
                print("ok   %s" % name)
            sys.stdout.flush()
    finally:
        shutil.rmtree(TMP, ignore_errors=True)
    print("%d passed, %d failed" % (passed, failed))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
