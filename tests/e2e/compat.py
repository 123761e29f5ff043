#!/usr/bin/env python3
"""What clients written for Judge0 and Piston, and users of /api/v1's jobs,
rely on, end to end against the real binary on loopback.

    tests/e2e/compat.py --bin build/safexec [NAME-GLOB ...]

- Judge0: the official Python SDK's (judge0/judge0-python) requests, in its
  order and with its headers and query encoding: /about, /config_info (every
  field its Config model requires, with its type), /languages, then
  submissions created with base64_encoded=true&wait=false and polled with
  fields=* until the status id is above 2, one by one or in batches; and the
  rest of the API (wait=true, fields, base64 off, 422 bodies, DELETE,
  additional_files, compiler_options, arguments, redirection, runs).
- Piston: /api/v2 with every file encoding, version selectors, limits and
  errors, JSON labelled text/plain; then Piston's own npm client
  (piston-client 1.0.2, installed into build/npm) through
  tests/e2e/piston_client.mjs.
- /api/v1: tests and verdicts, jobs, bounded waits.
- 200 concurrent submissions, each answered once; a SIGKILL and a SIGTERM
  in the middle of a batch, each followed by a restart on the same data:
  every accepted token ends done, each program run once to completion.
- Callbacks to a receiver in this process, and the addresses refused.

One line per test, then "N passed, N failed" (", N skipped").  Python 3
standard library only (plus node and npm for the Piston client).
"""
import argparse
import base64
import concurrent.futures as futures
import fnmatch
import gzip
import http.client
import http.server
import io
import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
import zipfile
from datetime import datetime, timezone

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from run import Fail, Server, Tally, check, eq  # noqa: E402  (the e2e suite's fixture)

ROOT = os.path.abspath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
NPM_DIR = os.path.join(ROOT, "build", "npm")
PISTON_CLIENT = "piston-client@1.0.2"

# What judge0-python's Client sends with every request (httpx's own
# headers and the SDK's two), and its Content-Type for json=.
SDK_HEADERS = {
    "Accept": "*/*",
    "Accept-Encoding": "gzip, deflate",
    "Connection": "keep-alive",
    "User-Agent": "python-httpx/0.28.1",
    "X-Judge0-App": "Judge0 Python SDK",
    "X-Judge0-App-Version": "0.0.5",
}
# httpx percent-encodes every query byte outside A-Za-z0-9-._~.
Q_ALL = "%2A"           # fields=*
COMMA = "%2C"           # tokens=a,b

# judge0-python's Config model: every field is required, with these types.
CONFIG_MODEL = {
    "allow_enable_network": bool,
    "allow_enable_per_process_and_thread_memory_limit": bool,
    "allow_enable_per_process_and_thread_time_limit": bool,
    "allowed_languages_for_compile_options": list,
    "callbacks_max_tries": int,
    "callbacks_timeout": float,
    "cpu_extra_time": float,
    "cpu_time_limit": float,
    "enable_additional_files": bool,
    "enable_batched_submissions": bool,
    "enable_callbacks": bool,
    "enable_command_line_arguments": bool,
    "enable_compiler_options": bool,
    "enable_network": bool,
    "enable_per_process_and_thread_memory_limit": bool,
    "enable_per_process_and_thread_time_limit": bool,
    "enable_submission_delete": bool,
    "enable_wait_result": bool,
    "maintenance_mode": bool,
    "max_cpu_extra_time": float,
    "max_cpu_time_limit": float,
    "max_extract_size": int,
    "max_file_size": int,
    "max_max_file_size": int,
    "max_max_processes_and_or_threads": int,
    "max_memory_limit": int,
    "max_number_of_runs": int,
    "max_processes_and_or_threads": int,
    "max_queue_size": int,
    "max_stack_limit": int,
    "max_submission_batch_size": int,
    "max_wall_time_limit": float,
    "memory_limit": int,
    "number_of_runs": int,
    "redirect_stderr_to_stdout": bool,
    "stack_limit": int,
    "submission_cache_duration": float,
    "use_docs_as_homepage": bool,
    "wall_time_limit": float,
}
# fields=*: Judge0 1.13.1's serializer's attributes.
J0_ALL_FIELDS = {
    "source_code", "language_id", "stdin", "expected_output", "stdout", "status_id",
    "created_at", "finished_at", "time", "memory", "stderr", "token", "number_of_runs",
    "cpu_time_limit", "cpu_extra_time", "wall_time_limit", "memory_limit", "stack_limit",
    "max_processes_and_or_threads", "enable_per_process_and_thread_time_limit",
    "enable_per_process_and_thread_memory_limit", "max_file_size", "compile_output",
    "exit_code", "exit_signal", "message", "wall_time", "compiler_options",
    "command_line_arguments", "redirect_stderr_to_stdout", "callback_url",
    "additional_files", "enable_network", "status", "language",
}
J0_DEFAULT_FIELDS = {"token", "time", "memory", "stdout", "stderr", "compile_output",
                     "message", "status"}

C_STDIN = ('#include <stdio.h>\nint main(void)\n{\n\tint a, b;\n'
           '\tif (scanf("%d %d", &a, &b) != 2)\n\t\treturn 2;\n'
           '\tprintf("%d\\n", a + b);\n\treturn 0;\n}\n')


# --- Helpers -------------------------------------------------------------------

def enc(s):
    return base64.b64encode(s.encode() if isinstance(s, str) else s).decode()


def dec(v):
    """As judge0-python's common.decode(): newlines dropped, strict base64."""
    if v is None:
        return None
    check(isinstance(v, str), f"a base64 field is {type(v).__name__}, not a string")
    try:
        return base64.b64decode(v.replace("\n", "").replace("\r", ""),
                                validate=True).decode(errors="backslashreplace")
    except ValueError as e:
        raise Fail(f"not base64 as the SDK decodes it: {v!r} ({e})")


class Resp:
    def __init__(self, status, headers, body):
        self.status, self.headers, self.body = status, headers, body

    def header(self, name):
        return self.headers.get(name.lower())

    @property
    def json(self):
        try:
            return json.loads(self.body)
        except ValueError:
            raise Fail(f"not JSON (HTTP {self.status}): {self.body[:300]!r}")

    def __repr__(self):
        return f"HTTP {self.status} {self.body[:300]!r}"


def call(s, method, path, body=None, headers=None, timeout=60):
    """One request on a connection of its own; gzip answers are inflated."""
    conn = http.client.HTTPConnection("127.0.0.1", s.port, timeout=timeout)
    try:
        if body is not None and not isinstance(body, (bytes, str)):
            body = json.dumps(body, separators=(",", ":"))
        if isinstance(body, str):
            body = body.encode()
        conn.request(method, path, body=body, headers=headers or {})
        r = conn.getresponse()
        data = r.read()
        hdrs = {k.lower(): v for k, v in r.getheaders()}
        if hdrs.get("content-encoding") == "gzip":
            data = gzip.decompress(data)
        return Resp(r.status, hdrs, data)
    finally:
        conn.close()


def sdk(s, method, path, body=None):
    """A request as judge0-python's Client makes it."""
    h = dict(SDK_HEADERS)
    if body is not None:
        h["Content-Type"] = "application/json"
    return call(s, method, path, body, h)


def j0(s, method, path, body=None, **kw):
    h = {"Content-Type": "application/json"} if body is not None else {}
    return call(s, method, path, body, h, **kw)


def post_json(s, path, obj, **kw):
    return call(s, "POST", path, obj, {"Content-Type": "application/json"}, **kw)


def ok_status(r, want, what):
    if r.status != want:
        raise Fail(f"{what}: HTTP {r.status}, want {want}: {r.body[:400]!r}")
    return r.json


def until(fn, timeout, what, every=0.1):
    deadline = time.time() + timeout
    while True:
        v = fn()
        if v:
            return v
        if time.time() > deadline:
            raise Fail(f"{what}: not within {timeout} s")
        time.sleep(every)


def sdk_check_submission(sub):
    """What Submission.set_attributes() does with a fields=* answer."""
    st = sub.get("status")
    check(isinstance(st, dict) and isinstance(st.get("id"), int) and 1 <= st["id"] <= 14
          and isinstance(st.get("description"), str), f"status {st!r}")
    for k in ("created_at", "finished_at"):
        if sub.get(k) is not None:
            try:
                datetime.strptime(sub[k], "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=timezone.utc)
            except ValueError:
                raise Fail(f"{k} {sub[k]!r} is not in the SDK's format")
    for k in ("time", "wall_time", "cpu_time_limit", "cpu_extra_time", "wall_time_limit"):
        if sub.get(k) is not None:
            try:
                float(sub[k])
            except (TypeError, ValueError):
                raise Fail(f"{k} {sub[k]!r} is not a number float() reads")
    for k in ("stdout", "stderr", "compile_output"):
        if sub.get(k):
            dec(sub[k])
    tok = sub.get("token")
    check(isinstance(tok, str) and len(tok) == 32, f"token {tok!r}")
    return sub


def sdk_create(s, body):
    """Client.create_submission()."""
    r = sdk(s, "POST", "/submissions?base64_encoded=true&wait=false", body)
    j = ok_status(r, 201, "POST /submissions")
    check(set(j) == {"token"}, f"a wait=false answer is the token alone: {j}")
    return j["token"]


def sdk_get(s, token):
    r = sdk(s, "GET", f"/submissions/{token}?base64_encoded=true&fields={Q_ALL}")
    return sdk_check_submission(ok_status(r, 200, "GET /submissions/{token}"))


def sdk_wait_one(s, token, timeout=30):
    """judge0.wait(): polled every 0.1 s until the status id is above 2."""
    return until(lambda: (lambda j: j if j["status"]["id"] > 2 else None)(sdk_get(s, token)),
                 timeout, f"submission {token} done")


def sdk_create_batch(s, bodies):
    """Client.create_submissions()."""
    r = sdk(s, "POST", "/submissions/batch?base64_encoded=true", {"submissions": bodies})
    j = ok_status(r, 201, "POST /submissions/batch")
    check(isinstance(j, list) and len(j) == len(bodies), f"one item per submission: {j}")
    for item in j:
        check(isinstance(item, dict) and set(item) == {"token"}, f"batch item {item}")
    return [item["token"] for item in j]


def sdk_get_batch(s, tokens):
    r = sdk(s, "GET", f"/submissions/batch?tokens={COMMA.join(tokens)}"
                      f"&base64_encoded=true&fields={Q_ALL}")
    j = ok_status(r, 200, "GET /submissions/batch")
    check(isinstance(j, dict) and isinstance(j.get("submissions"), list),
          f"batch read shape {str(j)[:200]}")
    eq(len(j["submissions"]), len(tokens), "one item per token")
    return [sdk_check_submission(x) for x in j["submissions"]]


def sdk_wait_many(s, tokens, timeout=60):
    """judge0.wait() over several: batches of tokens polled until all done."""
    left, done = list(tokens), {}
    deadline = time.time() + timeout
    while left:
        subs = sdk_get_batch(s, left) if len(left) > 1 else [sdk_get(s, left[0])]
        for tok, sub in zip(list(left), subs):
            eq(sub["token"], tok, "the batch answers in the order asked")
            if sub["status"]["id"] > 2:
                done[tok] = sub
                left.remove(tok)
        if left:
            if time.time() > deadline:
                raise Fail(f"{len(left)} submissions not done within {timeout} s")
            time.sleep(0.1)
    return [done[t] for t in tokens]


def job_get(s, token):
    return ok_status(call(s, "GET", f"/api/v1/jobs/{token}"), 200, f"GET /api/v1/jobs/{token}")


def job_wait(s, token, timeout=60):
    return until(lambda: (lambda j: j if j["state"] == "done" else None)(job_get(s, token)),
                 timeout, f"job {token} done")


def j0_wait_plain(s, token, timeout=60):
    def once():
        j = ok_status(j0(s, "GET", f"/submissions/{token}?fields=stdout,status,token"), 200,
                      "GET /submissions")
        return j if j["status"]["id"] > 2 else None
    return until(once, timeout, f"submission {token} done")


def history(s, since_id):
    """Every execution with an id above since_id, via the pages."""
    out, before = [], None
    while True:
        q = "/api/v1/executions?limit=100" + (f"&before={before}" if before else "")
        j = ok_status(call(s, "GET", q), 200, "GET /api/v1/executions")
        page = j["executions"]
        out += [e for e in page if e["id"] > since_id]
        if not page or page[-1]["id"] <= since_id or j.get("next_before") is None:
            return out
        before = j["next_before"]


def newest_id(s):
    j = ok_status(call(s, "GET", "/api/v1/executions?limit=1"), 200, "GET /api/v1/executions")
    return j["executions"][0]["id"] if j["executions"] else 0


def zip_b64(files):
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        for name, content in files.items():
            z.writestr(name, content)
    return base64.b64encode(buf.getvalue()).decode()


def expect_422(r, field, *words):
    eq(r.status, 422, f"HTTP status ({r.body[:300]!r})")
    j = r.json
    check(isinstance(j, dict) and field in j, f"the 422 body names {field!r}: {j}")
    msgs = j[field]
    check(isinstance(msgs, list) and msgs and all(isinstance(m, str) and m for m in msgs),
          f"{field}: a list of messages: {msgs!r}")
    for w in words:
        check(any(w in m for m in msgs), f"{field}'s messages {msgs!r} do not say {w!r}")
    return j


def piston_error(r, *words):
    eq(r.status, 400, f"HTTP status ({r.body[:300]!r})")
    j = r.json
    check(set(j) == {"message"} and isinstance(j["message"], str), f"Piston's error body: {j}")
    for w in words:
        check(w in j["message"], f"message {j['message']!r} does not say {w!r}")
    return j


class Receiver:
    """An HTTP server on 127.0.0.1 that records each PUT it gets."""

    def __init__(self):
        self.got = []
        self.lock = threading.Lock()
        outer = self

        class H(http.server.BaseHTTPRequestHandler):
            def do_PUT(self):
                n = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(n)
                with outer.lock:
                    outer.got.append(("PUT", self.path, dict(self.headers), body))
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def do_POST(self):
                n = int(self.headers.get("Content-Length") or 0)
                with outer.lock:
                    outer.got.append(("POST", self.path, dict(self.headers), self.rfile.read(n)))
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *a):
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), H)
        self.port = self.httpd.server_address[1]
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def for_path(self, path):
        with self.lock:
            return [g for g in self.got if g[1] == path]

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


# --- The registry ---------------------------------------------------------------

TESTS = []
SKIPS = []


class Skip(Exception):
    pass


def test(own=False):
    """own: the test starts the servers it needs (it receives the binary)."""
    def wrap(fn):
        TESTS.append((fn.__name__, fn, own))
        return fn
    return wrap


# --- Judge0: the official Python SDK's sequence ----------------------------------

@test()
def j0_sdk_client_start(s):
    # Client.__init__: /languages then /config_info; .version: /about.
    langs = ok_status(sdk(s, "GET", "/languages"), 200, "GET /languages")
    check(isinstance(langs, list) and langs, "languages is a non-empty list")
    for lang in langs:
        check(isinstance(lang.get("id"), int) and not isinstance(lang["id"], bool)
              and isinstance(lang.get("name"), str) and lang["name"],
              f"Language(id: int, name: str): {lang}")
    ids = [lang["id"] for lang in langs]
    check(71 in ids and 50 in ids, f"Python 3 (71) and C (50) offered: {ids}")
    eq(len(ids), len(set(ids)), "language ids are distinct")
    conf = ok_status(sdk(s, "GET", "/config_info"), 200, "GET /config_info")
    missing = sorted(set(CONFIG_MODEL) - set(conf))
    check(not missing, f"Config model fields missing: {missing}")
    for k, t in CONFIG_MODEL.items():
        v = conf[k]
        if t is bool:
            check(isinstance(v, bool), f"{k} = {v!r} is not a bool")
        elif t is int:
            check(isinstance(v, int) and not isinstance(v, bool), f"{k} = {v!r} is not an int")
        elif t is float:
            check(isinstance(v, (int, float)) and not isinstance(v, bool),
                  f"{k} = {v!r} is not a number")
        else:
            check(isinstance(v, list) and all(isinstance(x, str) for x in v),
                  f"{k} = {v!r} is not a list of strings")
    check(conf["max_submission_batch_size"] >= 2, "batches are offered")
    eq(conf["enable_batched_submissions"], True, "enable_batched_submissions")
    eq(conf["enable_wait_result"], True, "enable_wait_result")
    about = ok_status(sdk(s, "GET", "/about"), 200, "GET /about")
    eq(about.get("version"), "1.13.1", "/about's version (the SDK's id table)")


@test()
def j0_sdk_hello_python(s):
    tok = sdk_create(s, {"source_code": enc('print("Hello World")'), "language_id": 71})
    sub = sdk_wait_one(s, tok)
    eq(sub["status"], {"id": 3, "description": "Accepted"}, "status")
    eq(dec(sub["stdout"]), "Hello World\n", "stdout")
    eq(sub["token"], tok, "token")
    eq(dec(sub["source_code"]), 'print("Hello World")', "source_code echoed in base64")
    eq(sub["language_id"], 71, "language_id")
    eq(sub["exit_code"], 0, "exit_code")
    check(sub["finished_at"] is not None and sub["created_at"] is not None, "times set")


@test()
def j0_sdk_c_with_stdin(s):
    tok = sdk_create(s, {"source_code": enc(C_STDIN), "language_id": 50,
                         "stdin": enc("20 22\n")})
    sub = sdk_wait_one(s, tok)
    eq(sub["status"]["id"], 3, f"status ({sub.get('compile_output')!r})")
    eq(dec(sub["stdout"]), "42\n", "stdout")
    eq(dec(sub["stdin"]), "20 22\n", "stdin echoed")


@test()
def j0_sdk_test_cases(s):
    # judge0.run(source_code=..., test_cases=[...]): one submission per test
    # case, created in one batch, waited for with batched reads.
    code = "n = int(input())\nprint(n * 2)   \n"
    cases = [("2", "4"), ("5", "10\n\n"), ("3", "7")]
    toks = sdk_create_batch(s, [{"source_code": enc(code), "language_id": 71,
                                 "stdin": enc(i), "expected_output": enc(o)} for i, o in cases])
    eq(len(set(toks)), 3, "distinct tokens")
    subs = sdk_wait_many(s, toks)
    eq([x["status"]["id"] for x in subs], [3, 3, 4],
       "accepted, accepted (trailing blank lines ignored), wrong answer")
    eq(subs[2]["status"]["description"], "Wrong Answer", "description")
    eq(dec(subs[2]["stdout"]), "6\n", "the wrong answer's stdout")
    eq(dec(subs[1]["expected_output"]), "10\n\n", "expected_output echoed")


@test()
def j0_sdk_compile_error(s):
    tok = sdk_create(s, {"source_code": enc("int main( {\n"), "language_id": 50})
    sub = sdk_wait_one(s, tok)
    eq(sub["status"], {"id": 6, "description": "Compilation Error"}, "status")
    out = dec(sub["compile_output"])
    check("error" in out, f"compile_output is the compiler's: {out!r}")
    check(sub["stdout"] is None, f"no stdout: {sub['stdout']!r}")


@test()
def j0_sdk_time_limit(s):
    t0 = time.time()
    tok = sdk_create(s, {"source_code": enc("while True: pass\n"), "language_id": 71,
                         "cpu_time_limit": 0.5, "wall_time_limit": 5})
    sub = sdk_wait_one(s, tok)
    eq(sub["status"], {"id": 5, "description": "Time Limit Exceeded"}, "status")
    check(time.time() - t0 < 5, f"stopped near its 0.5 s limit ({time.time() - t0:.1f} s)")
    eq(sub["cpu_time_limit"], "0.5", "cpu_time_limit echoed as Judge0 shows it")


@test()
def j0_sdk_async_then_wait(s):
    # judge0.async_run() for several, one request each, then judge0.wait().
    toks = [sdk_create(s, {"source_code": enc(f"import time\ntime.sleep(0.2)\nprint({i})\n"),
                           "language_id": 71}) for i in range(4)]
    early = sdk_get_batch(s, toks)
    check(all(x["status"]["id"] in (1, 2, 3) for x in early),
          f"statuses while running: {[x['status'] for x in early]}")
    subs = sdk_wait_many(s, toks)
    eq([dec(x["stdout"]) for x in subs], [f"{i}\n" for i in range(4)], "each its own output")
    eq({x["status"]["id"] for x in subs}, {3}, "all accepted")


@test()
def j0_batch_mixed_and_unknown_tokens(s):
    r = j0(s, "POST", "/submissions/batch?base64_encoded=true", {"submissions": [
        {"source_code": enc("print('a')"), "language_id": 71},
        {"source_code": enc("x")},
        {"source_code": enc("print('b')"), "language_id": 71}]})
    j = ok_status(r, 201, "POST /submissions/batch with one bad item")
    eq(len(j), 3, "one item each")
    check("token" in j[0] and "token" in j[2], f"good items get tokens: {j}")
    check(j[1] == {"language_id": ["can't be blank"]}, f"the bad item's errors: {j[1]}")
    subs = sdk_wait_many(s, [j[0]["token"], j[2]["token"]])
    eq([dec(x["stdout"]) for x in subs], ["a\n", "b\n"], "outputs")
    unknown = "0" * 32
    r = j0(s, "GET", f"/submissions/batch?tokens={j[0]['token']},{unknown}&fields=stdout")
    got = ok_status(r, 200, "batch read with an unknown token")["submissions"]
    eq(got, [{"stdout": "a\n"}, None], "an unknown token reads as null")
    r = j0(s, "POST", "/submissions/batch", {"submissions": [
        {"source_code": "x", "language_id": 71}] * 21})
    eq(r.status, 400, f"21 submissions in one batch ({r.body[:200]!r})")
    check("error" in r.json, f"its body {r.json}")


@test()
def j0_wait_true_full_submission(s):
    r = j0(s, "POST", f"/submissions?base64_encoded=true&wait=true&fields={Q_ALL}",
           {"source_code": enc("import sys\nprint('out')\nprint('err', file=sys.stderr)\n"
                               "sys.exit(4)\n"), "language_id": 71})
    j = ok_status(r, 201, "POST /submissions?wait=true")
    missing = sorted(J0_ALL_FIELDS - set(j))
    check(not missing, f"fields=* lacks {missing}")
    eq(j["status"], {"id": 11, "description": "Runtime Error (NZEC)"}, "status")
    eq(j["status_id"], 11, "status_id")
    eq(j["exit_code"], 4, "exit_code")
    eq(dec(j["stdout"]), "out\n", "stdout")
    eq(dec(j["stderr"]), "err\n", "stderr")
    eq(j["language"]["id"], 71, "language")
    check(isinstance(j["memory"], int) and j["memory"] > 0, f"memory (KB) {j['memory']!r}")
    check(isinstance(j["time"], str) and float(j["time"]) >= 0, f"time {j['time']!r}")
    # Without fields: Judge0's default set.
    r = j0(s, "POST", "/submissions?wait=true", {"source_code": "print(1)", "language_id": 71})
    j = ok_status(r, 201, "POST /submissions?wait=true")
    eq(set(j), J0_DEFAULT_FIELDS, "the default fields")
    eq(j["stdout"], "1\n", "stdout")


@test()
def j0_fields_selection(s):
    tok = sdk_create(s, {"source_code": enc("print(7)"), "language_id": 71})
    sdk_wait_one(s, tok)
    j = ok_status(j0(s, "GET", f"/submissions/{tok}?fields=stdout,status_id,language_id"),
                  200, "GET with fields")
    eq(j, {"stdout": "7\n", "status_id": 3, "language_id": 71}, "exactly the fields asked")
    r = j0(s, "GET", f"/submissions/{tok}?fields=stdout,nonsense")
    eq(r.status, 400, f"an unknown field ({r.body[:200]!r})")
    check("nonsense" in r.json.get("error", ""), f"named: {r.json}")
    r = j0(s, "GET", "/submissions/" + "f" * 32)
    eq(r.status, 404, "an unknown token")
    check("error" in r.json, f"{r.json}")


@test()
def j0_base64_off(s):
    r = j0(s, "POST", "/submissions?wait=true&fields=stdout,stdin,source_code,status",
           {"source_code": "print(input()[::-1])", "language_id": 71, "stdin": "héllo"})
    j = ok_status(r, 201, "POST /submissions base64 off")
    eq(j["stdout"], "olléh\n", "stdout as text")
    eq(j["stdin"], "héllo", "stdin echoed as text")
    eq(j["source_code"], "print(input()[::-1])", "source echoed as text")
    # Output that is not UTF-8 cannot be shown as text: Judge0 says so.
    r = j0(s, "POST", "/submissions?wait=true&fields=stdout,status,message",
           {"source_code": "import sys; sys.stdout.buffer.write(b'\\xff\\xfe')",
            "language_id": 71})
    j = ok_status(r, 201, "binary output, base64 off")
    check(j["stdout"] is None or isinstance(j["stdout"], str), f"stdout {j['stdout']!r}")
    if j["stdout"] is None:
        check(j["message"] and "base64" in j["message"], f"the message says why: {j}")


@test()
def j0_422_bodies(s):
    expect_422(j0(s, "POST", "/submissions", {"language_id": 71}), "source_code",
               "can't be blank")
    expect_422(j0(s, "POST", "/submissions", {"source_code": "x"}), "language_id",
               "can't be blank")
    expect_422(j0(s, "POST", "/submissions", {"source_code": "x", "language_id": 9999}),
               "language_id", "9999")
    for field, value, words in (("cpu_time_limit", 100, "15"),
                                ("wall_time_limit", 1000, "20"),
                                ("memory_limit", 10 ** 8, "less than or equal"),
                                ("cpu_extra_time", 60, "5"),
                                ("stack_limit", 10 ** 7, "128000"),
                                ("max_file_size", 10 ** 6, "4096"),
                                ("number_of_runs", 21, "20")):
        expect_422(j0(s, "POST", "/submissions", {"source_code": "x", "language_id": 71,
                                                   field: value}), field, words)
    expect_422(j0(s, "POST", "/submissions", {"source_code": "x", "language_id": 71,
                                               "enable_network": True}), "enable_network")
    # Nothing was queued by them.
    j = ok_status(j0(s, "GET", "/workers"), 200, "GET /workers")
    check(isinstance(j, list) and j, f"/workers {j}")


@test()
def j0_meta_endpoints(s):
    st = ok_status(sdk(s, "GET", "/statuses"), 200, "GET /statuses")
    eq(len(st), 14, "14 statuses")
    eq([x["id"] for x in st], list(range(1, 15)), "ids 1..14")
    eq(st[2], {"id": 3, "description": "Accepted"}, "status 3")
    eq(st[12]["description"], "Internal Error", "status 13")
    lang = ok_status(sdk(s, "GET", "/languages/71"), 200, "GET /languages/71")
    eq(lang["id"], 71, "id")
    check(lang["name"].startswith("Python"), f"name {lang['name']!r}")
    for k in ("is_archived", "source_file", "compile_cmd", "run_cmd"):
        check(k in lang, f"/languages/71 has {k}: {lang}")
    eq(lang["is_archived"], False, "is_archived")
    r = sdk(s, "GET", "/languages/4242")
    eq(r.status, 404, "an unknown language")
    check(isinstance(r.json.get("error"), str), f"Judge0's error body: {r.json}")
    si = ok_status(sdk(s, "GET", "/system_info"), 200, "GET /system_info")
    check(isinstance(si, dict) and si, f"/system_info {si}")
    check(any("CPU" in k for k in si), f"lscpu's lines: {sorted(si)[:10]}")
    w = ok_status(sdk(s, "GET", "/workers"), 200, "GET /workers")
    check(isinstance(w, list) and w, "a list of queues")
    for k in ("queue", "size", "available", "idle", "working", "paused", "failed"):
        check(k in w[0], f"/workers has {k}: {w[0]}")


@test()
def j0_delete_refused_by_default(s):
    tok = sdk_create(s, {"source_code": enc("print(1)"), "language_id": 71})
    sdk_wait_one(s, tok)
    r = j0(s, "DELETE", f"/submissions/{tok}")
    eq(r.status, 403, f"DELETE without allow_delete ({r.body[:200]!r})")
    check(isinstance(r.json.get("error"), str), f"Judge0's error body: {r.json}")
    eq(sdk_get(s, tok)["status"]["id"], 3, "the submission is still there")


@test(own=True)
def j0_delete_allowed_for_done_only(binary):
    s = Server(binary, "--workers", "1", "--allow-delete", "1")
    try:
        conf = ok_status(j0(s, "GET", "/config_info"), 200, "config_info")
        eq(conf["enable_submission_delete"], True, "config_info says so")
        tok = sdk_create(s, {"source_code": enc("print(1)"), "language_id": 71})
        sdk_wait_one(s, tok)
        r = j0(s, "DELETE", f"/submissions/{tok}?fields=stdout,token")
        j = ok_status(r, 200, "DELETE a done submission")
        eq(j, {"stdout": "1\n", "token": tok}, "the deleted submission is answered")
        eq(j0(s, "GET", f"/submissions/{tok}").status, 404, "gone afterwards")
        slow = j0(s, "POST", "/submissions", {"source_code": "import time; time.sleep(3)",
                                              "language_id": 71}).json["token"]
        r = j0(s, "DELETE", f"/submissions/{slow}")
        check(r.status in (400, 422), f"DELETE of an unfinished submission: {r}")
        check(isinstance(r.json.get("error"), str), f"Judge0's error body: {r.json}")
        eq(j0_wait_plain(s, slow)["status"]["id"], 3, "the unfinished one still runs")
    finally:
        s.close()


@test()
def j0_additional_files(s):
    files = zip_b64({"data.txt": "from the zip\n", "helper.py": "X = 41\n"})
    code = "from helper import X\nprint(open('data.txt').read().strip(), X + 1)\n"
    r = j0(s, "POST", "/submissions?base64_encoded=true&wait=true&fields=stdout,status,stderr",
           {"source_code": enc(code), "language_id": 71, "additional_files": files})
    j = ok_status(r, 201, "additional_files")
    eq(j["status"]["id"], 3, f"status (stderr {dec(j['stderr'])!r})")
    eq(dec(j["stdout"]), "from the zip 42\n", "the program read the zip's files")
    # Multi-file program (89): the zip's run script runs.
    files = zip_b64({"run": "#!/bin/bash\necho multi $(cat in.txt)\n", "in.txt": "ok"})
    r = j0(s, "POST", "/submissions?wait=true&fields=stdout,status,stderr,compile_output",
           {"language_id": 89, "additional_files": files})
    j = ok_status(r, 201, "multi-file program")
    eq((j["status"]["id"], j["stdout"]), (3, "multi ok\n"), f"multi-file run ({j})")
    # A path that leaves the box is refused before anything runs.
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr(zipfile.ZipInfo("../x"), "escape")
    bad = base64.b64encode(buf.getvalue()).decode()
    expect_422(j0(s, "POST", "/submissions", {"source_code": "print(1)", "language_id": 71,
                                               "additional_files": bad}), "additional_files")
    expect_422(j0(s, "POST", "/submissions", {"source_code": "print(1)", "language_id": 71,
                                               "additional_files": "not a zip"}),
               "additional_files")


@test()
def j0_compiler_options(s):
    code = '#include <stdio.h>\nint main(void)\n{\n\tprintf("X=%d\\n", X);\n\treturn 0;\n}\n'
    r = j0(s, "POST", "/submissions?wait=true&fields=stdout,status,compile_output,"
                      "compiler_options",
           {"source_code": code, "language_id": 50, "compiler_options": "-DX=1 -O2"})
    j = ok_status(r, 201, "compiler_options -DX=1")
    eq(j["status"]["id"], 3, f"status ({j.get('compile_output')!r})")
    eq(j["stdout"], "X=1\n", "the macro reached the compiler")
    eq(j["compiler_options"], "-DX=1 -O2", "echoed")
    # An option the runtime does not allow: refused, the option named, in
    # Judge0's 422 shape ({"compiler_options": [...]}).
    r = j0(s, "POST", "/submissions",
           {"source_code": code, "language_id": 50, "compiler_options": "-fplugin=/tmp/x.so"})
    expect_422(r, "compiler_options", "-fplugin=/tmp/x.so")
    # Options for a language that is not compiled.
    r = j0(s, "POST", "/submissions",
           {"source_code": "print(1)", "language_id": 71, "compiler_options": "-O2"})
    eq(r.status, 422, f"compiler_options for Python ({r.body[:200]!r})")


@test()
def j0_command_line_arguments(s):
    r = j0(s, "POST", "/submissions?wait=true&fields=stdout,status",
           {"source_code": "import sys; print(sys.argv[1:])", "language_id": 71,
            "command_line_arguments": "a 'b c' \"d e\" f\\ g"})
    j = ok_status(r, 201, "command_line_arguments")
    eq(j["stdout"], "['a', 'b c', 'd e', 'f g']\n", "words as a shell splits them")


@test()
def j0_redirect_stderr_to_stdout(s):
    code = "import sys\nprint('one', flush=True)\nprint('two', file=sys.stderr, flush=True)\n"
    r = j0(s, "POST", "/submissions?wait=true&fields=stdout,stderr,status",
           {"source_code": code, "language_id": 71, "redirect_stderr_to_stdout": True})
    j = ok_status(r, 201, "redirect_stderr_to_stdout")
    eq(j["stdout"], "one\ntwo\n", "both streams in stdout")
    check(j["stderr"] in (None, ""), f"stderr empty: {j['stderr']!r}")


@test()
def j0_number_of_runs(s):
    r = j0(s, "POST", "/submissions?wait=true&fields=stdout,status,number_of_runs,time",
           {"source_code": "print('r')", "language_id": 71, "number_of_runs": 3})
    j = ok_status(r, 201, "number_of_runs 3")
    eq((j["status"]["id"], j["stdout"], j["number_of_runs"]), (3, "r\n", 3),
       "accepted, the last run's output, echoed")


# --- Piston ----------------------------------------------------------------------

def piston(s, body, headers=None):
    h = {"Content-Type": "application/json"}
    h.update(headers or {})
    return call(s, "POST", "/api/v2/execute", body, h)


@test()
def piston_runtimes(s):
    a = ok_status(call(s, "GET", "/api/v2/runtimes"), 200, "GET /api/v2/runtimes")
    b = ok_status(call(s, "GET", "/api/v2/piston/runtimes"), 200, "GET /api/v2/piston/runtimes")
    eq(a, b, "both paths")
    for rt in a:
        check(isinstance(rt["language"], str) and isinstance(rt["version"], str)
              and isinstance(rt["aliases"], list), f"runtime shape {rt}")
    names = {rt["language"] for rt in a}
    check({"python", "c", "c++"} <= names, f"python, c and c++ (Piston's name): {names}")


@test()
def piston_files_stdin_args(s):
    code = ("import sys\nprint(sys.argv[1:], input())\n"
            "print(open('b.txt').read(), open('h.txt').read())\n")
    r = piston(s, {"language": "python", "version": "*", "files": [
        {"name": "main.py", "content": code},
        {"name": "b.txt", "content": enc("from base64"), "encoding": "base64"},
        {"name": "h.txt", "content": "from hex".encode().hex(), "encoding": "hex"}],
        "stdin": "line", "args": ["x", "y z"]})
    j = ok_status(r, 200, "POST /api/v2/execute")
    eq(j["run"]["stdout"], "['x', 'y z'] line\nfrom base64 from hex\n", "stdout")
    eq((j["run"]["code"], j["run"]["status"], j["run"]["signal"]), (0, None, None), "a clean exit")
    eq(j["language"], "python", "language")
    check("compile" not in j, "no compile stage for Python")
    r = call(s, "POST", "/api/v2/piston/execute",
             {"language": "py", "version": "*", "files": [{"content": "print(3)"}]},
             {"Content-Type": "application/json"})
    eq(ok_status(r, 200, "the /api/v2/piston path")["run"]["stdout"], "3\n", "stdout")


@test()
def piston_version_selectors(s):
    rts = ok_status(call(s, "GET", "/api/v2/runtimes"), 200, "runtimes")
    pyver = next(rt["version"] for rt in rts if rt["language"] == "python")
    major = pyver.split(".")[0]
    for sel in ("*", f"{major}.x", pyver):
        j = ok_status(piston(s, {"language": "python", "version": sel,
                                 "files": [{"content": "print('v')"}]}), 200, f"version {sel}")
        eq((j["version"], j["run"]["stdout"]), (pyver, "v\n"), f"version {sel!r}")
    piston_error(piston(s, {"language": "python", "version": "1.x",
                            "files": [{"content": "print()"}]}), "runtime is unknown")


@test()
def piston_run_timeout(s):
    j = ok_status(piston(s, {"language": "python", "version": "*", "run_timeout": 500,
                             "files": [{"content": "import time\ntime.sleep(5)"}]}),
                  200, "run_timeout")
    eq(j["run"]["status"], "TO", "status")
    check(j["run"]["wall_time"] < 3000, f"stopped near 500 ms: {j['run']['wall_time']}")


@test()
def piston_c_compile_error(s):
    j = ok_status(piston(s, {"language": "c", "version": "*",
                             "files": [{"name": "main.c", "content": "int main( {\n"}]}),
                  200, "C compile error")
    check("compile" in j, f"a compile stage: {j}")
    check(j["compile"]["code"] not in (0, None), f"compile code {j['compile']['code']!r}")
    check("error" in j["compile"]["stderr"], f"the compiler's message: {j['compile']!r}")
    j = ok_status(piston(s, {"language": "c", "version": "*", "stdin": "1 2",
                             "files": [{"name": "main.c", "content": C_STDIN}]}), 200, "C")
    eq((j["compile"]["code"], j["run"]["stdout"]), (0, "3\n"), "compiled and run")


@test()
def piston_errors(s):
    for field, v in (("run_timeout", 10 ** 7), ("compile_timeout", 10 ** 7),
                     ("run_memory_limit", 10 ** 13), ("run_cpu_time", 10 ** 7)):
        piston_error(piston(s, {"language": "python", "version": "*", field: v,
                                "files": [{"content": "print()"}]}), field)
    piston_error(piston(s, {"language": "cobol-9000", "version": "*",
                            "files": [{"content": "x"}]}), "runtime is unknown")
    piston_error(piston(s, {"language": "python", "version": "*"}), "files")


@test()
def piston_text_plain_json(s):
    body = json.dumps({"language": "python", "version": "*", "files": [{"content": "print(8)"}]})
    tp = {"Content-Type": "text/plain;charset=UTF-8"}
    j = ok_status(call(s, "POST", "/api/v2/execute", body, tp), 200, "text/plain, no browser")
    eq(j["run"]["stdout"], "8\n", "stdout")
    for extra in ({"Sec-Fetch-Site": "cross-site"}, {"Origin": "http://evil.example"},
                  {"Origin": "http://evil.example", "Sec-Fetch-Site": "cross-site"}):
        r = call(s, "POST", "/api/v2/execute", body, {**tp, **extra})
        eq(r.status, 403, f"text/plain with {extra} ({r.body[:200]!r})")
    # Only Piston's clients label JSON so: Judge0's paths and ours keep
    # refusing it (Judge0 itself does not read such a body), and a
    # cross-site request is refused before its type is looked at.
    sub = json.dumps({"source_code": "print(9)", "language_id": 71})
    r = call(s, "POST", "/submissions?wait=true", sub, tp)
    eq(r.status, 415, f"Judge0 text/plain ({r.body[:200]!r})")
    r = call(s, "POST", "/api/v1/execute", json.dumps({"code": "print(9)"}), tp)
    eq(r.status, 415, f"v1 text/plain ({r.body[:200]!r})")
    r = call(s, "POST", "/submissions?wait=true", sub, {**tp, "Sec-Fetch-Site": "cross-site"})
    eq(r.status, 403, "Judge0 text/plain cross-site")


def npm_install():
    """piston-client 1.0.2 into build/npm; None, or why it cannot be."""
    if os.path.exists(os.path.join(NPM_DIR, "node_modules", "piston-client", "index.js")):
        return None
    if not shutil.which("npm"):
        return "npm is not installed (tools/install-deps.sh --test installs it)"
    os.makedirs(NPM_DIR, exist_ok=True)
    p = subprocess.run(["npm", "install", "--prefix", NPM_DIR, "--no-audit", "--no-fund",
                        "--ignore-scripts", "--no-save", PISTON_CLIENT],
                       capture_output=True, text=True, timeout=300)
    if p.returncode != 0:
        raise Fail(f"npm install {PISTON_CLIENT} failed: {p.stderr[-1000:]}")
    return None


@test()
def piston_npm_client(s):
    if not shutil.which("node"):
        raise Skip("node is not installed (tools/install-deps.sh --test installs it)")
    why = npm_install()
    if why:
        raise Skip(why)
    p = subprocess.run(["node", os.path.join(ROOT, "tests", "e2e", "piston_client.mjs"),
                        f"http://127.0.0.1:{s.port}"], capture_output=True, text=True,
                       timeout=180, env={**os.environ, "PISTON_CLIENT_DIR": NPM_DIR})
    lines = [json.loads(x) for x in p.stdout.splitlines() if x.startswith("{")]
    bad = [x for x in lines if not x.get("ok")]
    check(p.returncode == 0 and lines and not bad,
          f"exit {p.returncode}; failed: {json.dumps(bad)[:1500]} {p.stderr[-500:]}")
    check(any(x.get("test") == "all" and x.get("ok") for x in lines), "the final line")


# --- /api/v1 -------------------------------------------------------------------------

@test()
def v1_tests_and_verdicts(s):
    code = ("import sys\nx = sys.stdin.read().strip()\n"
            "if x == 'boom':\n    raise SystemExit(3)\nprint(int(x) * 2)\n")
    tests = [{"stdin": "2", "expected_output": "4  \n\n"}, {"stdin": "3", "expected_output": "7"},
             {"stdin": "boom"}, {"stdin": "1", "expected_output": "2"}]
    j = ok_status(post_json(s, "/api/v1/execute", {"language": "python", "code": code,
                                                  "tests": tests}), 200, "tests")
    eq([t["verdict"] for t in j["tests"]], ["accepted", "wrong_answer", "runtime_error",
                                            "accepted"], "verdicts")
    eq(j["totals"], {"tests": 4, "accepted": 2, "failed": 2, "not_run": 0}, "totals")
    eq(j["verdict"], "wrong_answer", "the first test not accepted decides")
    eq(j["stdout"], "6\n", "its result at the top")
    eq(j["tests"][2]["exit_code"], 3, "the runtime error's exit code")
    j = ok_status(post_json(s, "/api/v1/execute", {"language": "python", "code": code,
                                                  "tests": tests, "stop_on_failure": True}),
                  200, "stop_on_failure")
    eq([t["verdict"] for t in j["tests"]], ["accepted", "wrong_answer", "not_run", "not_run"],
       "verdicts")
    eq(j["tests"][2], {"verdict": "not_run"}, "a test not run has its verdict only")
    eq(j["totals"], {"tests": 4, "accepted": 1, "failed": 1, "not_run": 2}, "totals")
    j = ok_status(post_json(s, "/api/v1/execute", {"language": "c", "code": "int main( {",
                                                  "tests": tests}), 200, "compile error")
    eq(j["verdict"], "compile_error", "verdict")
    j = ok_status(post_json(s, "/api/v1/execute", {"language": "python", "code": code,
                                                  "tests": tests[:1]}), 200, "all accepted")
    eq(j["verdict"], "accepted", "verdict")


@test()
def v1_compile_options_runs_redirect(s):
    code = '#include <stdio.h>\nint main(void)\n{\n\tprintf("%d\\n", X);\n' \
           '\tfflush(stdout);\n\tfprintf(stderr, "e\\n");\n\treturn 0;\n}\n'
    j = ok_status(post_json(s, "/api/v1/execute", {
        "language": "c", "code": code, "compile_options": ["-DX=5"], "runs": 3,
        "redirect_stderr": True}), 200, "compile_options, runs, redirect")
    eq((j["status"], j["stdout"], j["stderr"]), ("ok", "5\ne\n", ""), "one stream, -DX=5")
    r = post_json(s, "/api/v1/execute", {"language": "c", "code": code,
                                         "compile_options": ["-fplugin=x.so"]})
    eq(r.status, 400, f"a compile option not allowed ({r.body[:200]!r})")
    r = post_json(s, "/api/v1/execute", {"language": "python", "code": "print()", "runs": 21})
    eq(r.status, 400, f"runs above 20 ({r.body[:200]!r})")


@test()
def v1_jobs(s):
    r = post_json(s, "/api/v1/jobs", {"language": "python", "code": "print('job')"})
    j = ok_status(r, 202, "POST /api/v1/jobs")
    eq(set(j), {"token", "state"}, "token and state")
    eq(j["state"], "queued", "state")
    tok = j["token"]
    check(len(tok) == 32 and all(c in "0123456789abcdef" for c in tok), f"token {tok!r}")
    d = job_wait(s, tok)
    eq(d["result"]["stdout"], "job\n", "result")
    for k in ("created_at", "started_at", "finished_at"):
        check(isinstance(d[k], str) and d[k].endswith("Z"), f"{k} {d[k]!r}")
    r = call(s, "GET", "/api/v1/jobs/" + "0" * 32)
    eq(r.status, 404, "an unknown token")
    eq(r.json["error"]["code"], "not_found", "error code")
    eq(call(s, "GET", "/api/v1/jobs/nothex").status, 404, "a malformed token")
    r = post_json(s, "/api/v1/jobs?wait=true", {"language": "python", "code": "print('w')"})
    j = ok_status(r, 200, "POST /api/v1/jobs?wait=true")
    eq((j["state"], j["result"]["stdout"]), ("done", "w\n"), "done at once")
    r = post_json(s, "/api/v1/jobs", {"language": "python"})
    eq(r.status, 400, f"a bad job is refused before a token ({r.body[:200]!r})")


@test(own=True)
def v1_wait_bounded(binary):
    s = Server(binary, "--workers", "1", "--wait-max", "1")
    try:
        t0 = time.time()
        r = post_json(s, "/api/v1/jobs?wait=true",
                      {"language": "python", "code": "import time\ntime.sleep(3)\nprint('late')"})
        took = time.time() - t0
        j = ok_status(r, 202, "a wait longer than wait_max")
        check(0.8 <= took < 2.5, f"answered after about 1 s: {took:.1f} s")
        check(j["state"] in ("queued", "running"), f"state {j['state']!r}")
        eq(j["result"], None, "no result yet")
        d = job_wait(s, j["token"], timeout=30)
        eq(d["result"]["stdout"], "late\n", "done later")
        # Judge0's wait=true under the same bound answers the submission as it is.
        t0 = time.time()
        r = j0(s, "POST", "/submissions?wait=true",
               {"source_code": "import time\ntime.sleep(3)", "language_id": 71})
        j = ok_status(r, 201, "Judge0 wait=true past wait_max")
        check(time.time() - t0 < 2.5, "bounded too")
        check(j["status"]["id"] in (1, 2), f"not done yet: {j['status']}")
        eq(j0_wait_plain(s, j["token"])["status"]["id"], 3, "done later")
    finally:
        s.close()


# --- Concurrency --------------------------------------------------------------------

@test(own=True)
def concurrency_200_submissions(binary):
    s = Server(binary, "--workers", "2", "--connection-limit", "512")
    try:
        before = newest_id(s)
        n = 200

        def code(i):
            return f"print({i} * 7 + 1)  # job {i}"

        def submit(i):
            if i % 2:
                r = j0(s, "POST", "/submissions?base64_encoded=true",
                       {"source_code": enc(code(i)), "language_id": 71})
                eq(r.status, 201, f"Judge0 submission {i}: {r}")
                return ("j0", r.json["token"])
            r = post_json(s, "/api/v1/jobs", {"language": "python", "code": code(i)})
            eq(r.status, 202, f"v1 job {i}: {r}")
            return ("v1", r.json["token"])

        with futures.ThreadPoolExecutor(64) as pool:
            toks = list(pool.map(submit, range(n)))
        eq(len({t for _, t in toks}), n, "distinct tokens")

        def result(i):
            kind, tok = toks[i]
            if kind == "v1":
                return job_wait(s, tok, timeout=120)["result"]["stdout"]
            return j0_wait_plain(s, tok, timeout=120)["stdout"]

        with futures.ThreadPoolExecutor(16) as pool:
            outs = list(pool.map(result, range(n)))
        wrong = [i for i in range(n) if outs[i] != f"{i * 7 + 1}\n"]
        check(not wrong, f"wrong outputs for {wrong[:10]}: {[outs[i] for i in wrong[:3]]}")
        hist = history(s, before)
        previews = [e["code_preview"] for e in hist]
        eq(len(hist), n, "executions recorded")
        eq(sorted(previews), sorted(code(i) for i in range(n)), "each program once")
    finally:
        s.close()


# --- Crash and restart --------------------------------------------------------------

def restart_batch(binary, stop):
    """30 submissions of about 0.3 s on one worker, stop(server) in the middle,
    a restart on the same data: every token done once, with its output."""
    a = Server(binary, "--workers", "1")
    b = None
    try:
        n = 30
        toks = []
        for i in range(n):
            code = f"import time\ntime.sleep(0.3)\nprint('r{i}')  # r{i}"
            if i % 2:
                r = j0(a, "POST", "/submissions", {"source_code": code, "language_id": 71})
                eq(r.status, 201, f"submission {i}")
            else:
                r = post_json(a, "/api/v1/jobs", {"language": "python", "code": code})
                eq(r.status, 202, f"job {i}")
            toks.append(r.json["token"])
        time.sleep(2.5)
        done_before = sum(1 for i in range(0, n, 2) if job_get(a, toks[i])["state"] == "done")
        check(done_before < n // 2, "the batch was stopped in its middle")
        stop(a)
        b = Server(binary, "--workers", "2", "--data-dir", a.data)
        outs = []
        for i, tok in enumerate(toks):
            if i % 2:
                outs.append(j0_wait_plain(b, tok, timeout=60)["stdout"])
            else:
                outs.append(job_wait(b, tok, timeout=60)["result"]["stdout"])
        wrong = [(i, outs[i]) for i in range(n) if outs[i] != f"r{i}\n"]
        check(not wrong, f"outputs: {wrong[:5]}")
        counts = {}
        for e in history(b, 0):
            counts[e["code_preview"].rsplit("# ", 1)[-1]] = \
                counts.get(e["code_preview"].rsplit("# ", 1)[-1], 0) + 1
        bad = {k: v for k, v in counts.items() if v != 1}
        missing = [i for i in range(n) if f"r{i}" not in counts]
        check(not bad and not missing,
              f"each job once in the history: more than once {bad}, missing {missing}")
    finally:
        a.close()
        if b:
            b.close()


@test(own=True)
def crash_sigkill_mid_batch_then_restart(binary):
    def kill(a):
        kids = a.descendants()
        a.proc.send_signal(signal.SIGKILL)
        a.proc.wait()
        # Sandboxes of the killed server must not outlive it for long.
        until(lambda: not [p for p, st in kids if os.path.exists(f"/proc/{p}")
                           and open(f"/proc/{p}/stat").read().rsplit(")", 1)[1].split()[0]
                           != "Z"], 10, "the killed server's sandboxes gone")
    restart_batch(binary, kill)


@test(own=True)
def sigterm_mid_batch_then_restart(binary):
    def term(a):
        eq(a.stop(signal.SIGTERM, timeout=30), 0, "exit status after SIGTERM")
    restart_batch(binary, term)


@test(own=True)
def sigterm_grace_expired_job_runs_again_once(binary):
    # A job still running when the grace period ends is killed and run
    # again after the restart: its answer is the second run's, and the
    # history holds that one execution, not the killed one besides.
    a = Server(binary, "--workers", "1", "--grace-period", "1")
    b = None
    try:
        code = "import time\ntime.sleep(3)\nprint('once')  # grace"
        tok = ok_status(post_json(a, "/api/v1/jobs", {"language": "python", "code": code}),
                        202, "POST /api/v1/jobs")["token"]
        until(lambda: job_get(a, tok)["state"] == "running", 10, "the job running")
        time.sleep(0.3)
        eq(a.stop(signal.SIGTERM, timeout=30), 0, "exit status after SIGTERM")
        b = Server(binary, "--workers", "1", "--data-dir", a.data)
        d = job_wait(b, tok, timeout=30)
        eq((d["result"]["status"], d["result"]["stdout"]), ("ok", "once\n"), "run again, whole")
        runs = [(e["id"], e["status"]) for e in history(b, 0)
                if e["code_preview"].endswith("# grace")]
        eq(len(runs), 1, f"executions of the job in the history {runs}")
    finally:
        a.close()
        if b:
            b.close()


# --- Callbacks ----------------------------------------------------------------------

@test(own=True)
def callbacks_put_results(binary):
    rcv = Receiver()
    s = Server(binary, "--workers", "2", "--callback-private", "1")
    try:
        base = f"http://127.0.0.1:{rcv.port}"
        r = post_json(s, "/api/v1/jobs", {"language": "python", "code": "print('cb1')",
                                          "callback_url": base + "/v1"})
        tok1 = ok_status(r, 202, "a job with callback_url")["token"]
        r = j0(s, "POST", "/submissions?base64_encoded=true",
               {"source_code": enc("print('cb2')"), "language_id": 71,
                "callback_url": base + "/j0"})
        tok2 = ok_status(r, 201, "a submission with callback_url")["token"]
        got1 = until(lambda: rcv.for_path("/v1"), 15, "the job's PUT")
        got2 = until(lambda: rcv.for_path("/j0"), 15, "the submission's PUT")
        time.sleep(1)
        eq((len(rcv.for_path("/v1")), len(rcv.for_path("/j0"))), (1, 1), "one PUT each")
        method, _, hdrs, body = got1[0]
        eq(method, "PUT", "method")
        j = json.loads(body)
        eq((j["token"], j["state"], j["result"]["stdout"]), (tok1, "done", "cb1\n"),
           "the job as GET /api/v1/jobs shows it")
        method, _, hdrs, body = got2[0]
        eq(method, "PUT", "method")
        check((hdrs.get("Content-Type") or "").startswith("application/json"),
              f"Content-Type {hdrs.get('Content-Type')!r}")
        j = json.loads(body)
        eq(j.get("token"), tok2, "token")
        eq(j.get("status"), {"id": 3, "description": "Accepted"}, "Judge0's status")
        eq(dec(j.get("stdout")), "cb2\n", "stdout in base64, as submitted")
        check("result" not in j and "state" not in j, f"Judge0's shape, not v1's: {sorted(j)}")
    finally:
        s.close()
        rcv.close()


@test()
def callbacks_private_refused_by_default(s):
    rcv = Receiver()
    try:
        for url in (f"http://127.0.0.1:{rcv.port}/", "http://169.254.169.254/latest/",
                    "http://10.0.0.1/", "http://[::1]/", "ftp://example.com/x",
                    "file:///etc/passwd", "gopher://example.com/"):
            r = post_json(s, "/api/v1/jobs", {"language": "python", "code": "print()",
                                              "callback_url": url})
            eq(r.status, 400, f"v1 callback_url {url} ({r.body[:200]!r})")
            r = j0(s, "POST", "/submissions", {"source_code": "print()", "language_id": 71,
                                               "callback_url": url})
            check(r.status in (400, 422), f"Judge0 callback_url {url}: {r}")
        # A name that resolves to loopback is accepted (names are resolved
        # when the PUT is made) but no PUT reaches it.
        r = post_json(s, "/api/v1/jobs", {"language": "python", "code": "print('x')",
                                          "callback_url": f"http://localhost:{rcv.port}/n"})
        if r.status == 202:
            job_wait(s, r.json["token"])
        else:
            eq(r.status, 400, f"localhost refused at once or accepted: {r}")
        r = j0(s, "POST", "/submissions", {"source_code": "print('x')", "language_id": 71,
                                           "callback_url": f"http://localhost:{rcv.port}/m"})
        if r.status == 201:
            j0_wait_plain(s, r.json["token"])
        time.sleep(3)
        eq(rcv.got, [], "nothing reached the loopback receiver")
    finally:
        rcv.close()


# --- Runner ---------------------------------------------------------------------------

def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", required=True)
    ap.add_argument("only", nargs="*", help="glob patterns of test names")
    args = ap.parse_args()
    binary = os.path.abspath(args.bin)
    if not os.access(binary, os.X_OK):
        print(f"compat: {binary} is not executable")
        print("0 passed, 1 failed")
        return 1
    selected = [(n, f, o) for n, f, o in TESTS
                if not args.only or any(fnmatch.fnmatch(n, p) for p in args.only)]
    tally = Tally(skip=Skip)
    start = time.time()

    shared = [(n, f) for n, f, o in selected if not o]
    if shared:
        try:
            s = Server(binary, "--workers", "2")
        except Exception as e:
            print(f"FAIL server_start: {e}")
            print(tally.summary(more_failed=1))
            return 1
        try:
            for n, f in shared:
                tally.run(n, f, s)
        finally:
            def clean_stop():
                rc = s.stop()
                if rc != 0:
                    raise Fail(f"exit status {rc}; stderr: {s.errors()}")
            tally.run("shared_server_stops_cleanly", clean_stop)
            s.close()
    for n, f, o in selected:
        if o:
            tally.run(n, f, binary)
    print(f"compat took {time.time() - start:.0f} s")
    print(tally.summary())
    return 1 if tally.failed else 0


if __name__ == "__main__":
    sys.exit(main())
