#!/usr/bin/env python3
"""The API's OpenAPI 3.1 document (docs/openapi.json, served at
GET /api/v1/openapi.json) checked by real validators from npm, and the
server's answers checked against it.

    tests/e2e/openapi.py --bin build/safexec [NAME-GLOB ...]

- error_codes_match_the_code: every error code of src/api/error.c, and only
  those, is in the document's ErrorCode enum, listed only under its own HTTP
  status, and in docs/api.md's table with that status (no npm needed).
- routes_match_the_code: the document's paths and methods are those of
  src/http/route.c's own API (not Judge0's or Piston's).
- document_served: the server answers the document, byte for byte the
  file, as application/json, cacheable as the web page's files are.
- document_valid: @apidevtools/swagger-parser (pinned below, installed with
  npm into build/npm/openapi) validates the document fetched from the server
  against the OpenAPI 3.1 schema, every $ref resolved; Ajv compiles every
  schema in it in strict mode (an unknown keyword fails), and its examples
  fit their schemas (tests/e2e/openapi_check.mjs).
- document_mutations_refused: copies with a broken $ref, a response
  without its description, a path parameter not required, content that is
  not a map, a misspelt keyword and a wrong example fail it: the validators
  really validate.
- answers_match_document: a broad set of requests (good ones of every
  operation; bad ones producing every error code a client can cause; a
  server with one worker and no queue for queue_full, 202 from a bounded
  wait, and 503 shutting_down; a server with API keys and rate limits for
  401, 403 forbidden and 429) and each answer's status, headers and body
  validated by Ajv (JSON Schema 2020-12) against the document's schema for
  its path, method and status; a status the operation does not document
  fails, and so does a request the server took that the document's request
  schema refuses.
- wrong_answers_refused: answers made wrong on purpose (a bad status value,
  a missing or unknown field, an undocumented status, a missing header...)
  fail the same check.

When npm cannot reach the registry (or node or npm is missing), the tests
that need the packages print "skip NAME: why".  One line per test, then "N
passed, N failed" (", N skipped").  Python 3 standard library, node and npm.
"""
import argparse
import base64
import copy
import fnmatch
import http.client
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from run import Fail, Response, Server, Tally, check, eq  # noqa: E402  (the e2e suite's fixture)

ROOT = os.path.abspath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
DOC_FILE = os.path.join(ROOT, "docs", "openapi.json")
ERROR_C = os.path.join(ROOT, "src", "api", "error.c")
ROUTE_C = os.path.join(ROOT, "src", "http", "route.c")
API_MD = os.path.join(ROOT, "docs", "api.md")
CHECKER = os.path.join(ROOT, "tests", "e2e", "openapi_check.mjs")
# A folder of its own: npm removes from a prefix what it was not asked for,
# and the compat suite installs piston-client into build/npm.
NPM_DIR = os.path.join(ROOT, "build", "npm", "openapi")
# Exact versions, each working with Debian 12's nodejs 18 and npm 9.
PACKAGES = {"@apidevtools/swagger-parser": "12.1.0", "ajv": "8.17.1", "ajv-formats": "3.0.1"}
JSON_CT = {"Content-Type": "application/json"}
C_HELLO = '#include <stdio.h>\nint main(void)\n{\n\tputs("hi");\n\treturn 0;\n}\n'
C_SUM = ('#include <stdio.h>\nint main(void)\n{\n\tint a, b;\n'
         '\tif (scanf("%d %d", &a, &b) != 2)\n\t\treturn 3;\n'
         '\tprintf("%d\\n", a + b);\n\treturn 0;\n}\n')
# What no request can make a healthy server with a local store answer.
NOT_FROM_CLIENTS = {"internal_error", "store_unavailable", "not_finished"}


class Skip(Exception):
    pass


# --- npm and the checker -------------------------------------------------------

_npm = {}


def installed():
    for name, version in PACKAGES.items():
        try:
            with open(os.path.join(NPM_DIR, "node_modules", name, "package.json")) as f:
                if json.load(f).get("version") != version:
                    return False
        except (OSError, ValueError):
            return False
    return True


def npm_install():
    """The pinned packages into NPM_DIR (once); raises Skip when npm cannot
    reach the registry, Fail when it reaches it and the install fails."""
    if "why" in _npm:
        if _npm["why"]:
            raise Skip(_npm["why"])
        return
    _npm["why"] = None
    if not shutil.which("node"):
        _npm["why"] = "node is not installed (tools/install-deps.sh --test installs it)"
    elif not installed() and not shutil.which("npm"):
        _npm["why"] = "npm is not installed (tools/install-deps.sh --test installs it)"
    elif not installed():
        os.makedirs(NPM_DIR, exist_ok=True)
        specs = [f"{n}@{v}" for n, v in PACKAGES.items()]
        try:
            p = subprocess.run(["npm", "install", "--prefix", NPM_DIR, "--no-audit", "--no-fund",
                                "--ignore-scripts", "--no-save", "--fetch-retries=1",
                                "--fetch-retry-mintimeout=2000", "--fetch-retry-maxtimeout=10000",
                                "--fetch-timeout=30000", *specs],
                               capture_output=True, text=True, timeout=100)
            ok, err = p.returncode == 0, p.stderr
        except subprocess.TimeoutExpired:
            ok, err = False, "npm install did not end within 100 s"
        if not ok:
            try:
                ping = subprocess.run(["npm", "ping", "--fetch-retries=0",
                                       "--fetch-timeout=15000"],
                                      capture_output=True, text=True, timeout=30)
                reachable = ping.returncode == 0
            except subprocess.TimeoutExpired:
                reachable = False
            if not reachable:
                lines = [x.replace("npm ERR!", "").strip() for x in err.splitlines()]
                why = ([x for x in lines if "request to" in x or "reason" in x] +
                       [x for x in lines if x.startswith("code ")] + [x for x in lines if x])
                _npm["why"] = f"npm cannot reach the registry: {(why or ['?'])[0][:200]}"
            else:
                _npm["why"] = ""
                raise Fail(f"npm install {' '.join(specs)} failed: {err[-1500:]}")
        elif not installed():
            _npm["why"] = ""
            raise Fail(f"npm install left {NPM_DIR} without {', '.join(specs)}")
    if _npm["why"]:
        raise Skip(_npm["why"])


def checker(*args):
    """Runs openapi_check.mjs; (exit status, JSON lines, stderr)."""
    npm_install()
    p = subprocess.run(["node", CHECKER, *args], capture_output=True, text=True, timeout=120,
                       env={**os.environ, "OPENAPI_NPM_DIR": NPM_DIR})
    lines = [json.loads(x) for x in p.stdout.splitlines() if x.startswith("{")]
    if p.returncode == 2:
        raise Fail(f"the checker could not run: {p.stderr[-1000:]}")
    return p.returncode, lines, p.stderr


def write_json(tmp, name, value):
    path = os.path.join(tmp, name)
    with open(path, "w") as f:
        json.dump(value, f)
    return path


# --- The document, read here -------------------------------------------------------

def load_doc():
    with open(DOC_FILE) as f:
        return json.load(f)


def deref(doc, node):
    """Follows local $refs ("#/a/b") until node is not one."""
    seen = 0
    while isinstance(node, dict) and "$ref" in node:
        ref = node["$ref"]
        check(ref.startswith("#/"), f"not a local $ref: {ref}")
        node = doc
        for part in ref[2:].split("/"):
            node = node[part.replace("~1", "/").replace("~0", "~")]
        seen += 1
        check(seen < 20, f"a loop of $refs at {ref}")
    return node


def error_codes_of(doc, response):
    """The error codes a response object's JSON schema allows: its enum or
    const for error.code, or every code when it is the plain Error."""
    response = deref(doc, response)
    schema = (response.get("content", {}).get("application/json") or {}).get("schema")
    if not schema:
        return set()
    schema = deref(doc, schema)
    all_codes = set(doc["components"]["schemas"]["ErrorCode"]["enum"])
    refs = [x.get("$ref") for x in schema.get("allOf", [])]
    if schema.get("$ref") == "#/components/schemas/Error" or (
            "#/components/schemas/Error" in refs and "properties" not in schema):
        return all_codes
    if "#/components/schemas/Error" not in refs:
        return set()
    code = schema["properties"]["error"]["properties"]["code"]
    return set(code["enum"]) if "enum" in code else {code["const"]}


def c_error_codes():
    """{code: HTTP status} from src/api/error.c's table."""
    with open(ERROR_C) as f:
        text = f.read()
    pairs = re.findall(r'\[API_E_\w+\]\s*=\s*\{\s*"(\w*)"\s*,\s*(\d+)\s*\}', text)
    codes = {name: int(status) for name, status in pairs if name}
    check(len(codes) >= 15, f"only {len(codes)} codes read from {ERROR_C}: its table changed shape")
    return codes


# --- Recording answers --------------------------------------------------------------

class Recorder:
    """Requests to one server, each answer kept in the checker's form."""

    def __init__(self, server, answers):
        self.s = server
        self.answers = answers

    def keep(self, method, path, r, request=None):
        ct = r.header("Content-Type") or ""
        entry = {"method": method, "path": path, "status": r.status,
                 "headers": {k: v for k, v in r.headers}, "content_type": ct}
        if ct.split(";")[0].strip().lower() == "application/json":
            entry["body"] = r.json
        else:
            entry["body"] = r.body.decode("utf-8", "replace")
        if request is not None:
            entry["request"] = request
        self.answers.append(entry)
        return r

    def __call__(self, method, path, body=None, raw=None, headers=None, want=None, timeout=60):
        hdrs = dict(JSON_CT) if body is not None else {}
        hdrs.update(headers or {})
        data = raw if raw is not None else (json.dumps(body) if body is not None else None)
        r = self.s.request(method, path, data, hdrs, timeout=timeout)
        self.keep(method, path, r, body)
        if want is not None:
            eq(r.status, want, f"{method} {path} ({r.body[:300]!r})")
        return r

    def get(self, path, **kw):
        return self("GET", path, **kw)


def big_content_length(s, path, length):
    """A POST that announces a body larger than max_body and sends none:
    answered before any body is read."""
    conn = http.client.HTTPConnection("127.0.0.1", s.port, timeout=30)
    try:
        conn.putrequest("POST", path)
        conn.putheader("Content-Type", "application/json")
        conn.putheader("Content-Length", str(length))
        conn.endheaders()
        r = conn.getresponse()
        return Response(r.status, r.getheaders(), r.read())
    finally:
        conn.close()


def job_until_done(rec, token, timeout=60):
    deadline = time.time() + timeout
    while time.time() < deadline:
        r = rec.get(f"/api/v1/jobs/{token}", want=200)
        if r.json["state"] == "done":
            return r.json
        time.sleep(0.1)
    raise Fail(f"job {token} not done within {timeout} s")


def good_requests(rec, langs):
    """Good requests of every operation, and answers of every shape."""
    names = {x["language"] for x in langs}
    python = next(x for x in langs if x["language"] == "python")
    c = "c" in names

    def run(body, want=200):
        return rec("POST", "/run", body, want=want).json

    def execute(body, want=200):
        return rec("POST", "/api/v1/execute", body, want=want).json

    run({"code": 'print("Hello World")'})
    run({"code": "import sys\nsys.exit(3)", "ignored": True})
    run({"code": "print(1)", "language": "python", "version": python["version"]})
    if c:
        run({"language": "c", "code": C_HELLO})
        run({"language": "c", "code": "int main(void) { return x; }"})
    execute({"language": "python", "version": python["version"],
             "code": "import sys\nprint(sys.argv[1:], input())\nprint('e', file=sys.stderr)",
             "stdin": "hello\n", "args": ["-v", "x", ""],
             "limits": {"wall_time_ms": 5000, "cpu_time_ms": 4000, "memory_bytes": 67108864,
                        "max_processes": 16, "output_bytes": 65536, "file_size_bytes": 65536},
             "runs": 2, "redirect_stderr": False, "stop_on_failure": None,
             "callback_url": None, "output_files": False})
    execute({"code": "print('x' * 5000)", "limits": {"output_bytes": 100}})
    execute({"code": "while True: pass", "limits": {"wall_time_ms": 300, "cpu_time_ms": 200}})
    execute({"code": "import os, signal\nos.kill(os.getpid(), signal.SIGSEGV)"})
    execute({"code": "x = bytearray(200 << 20)\nprint(len(x))",
             "limits": {"memory_bytes": 33554432}})
    execute({"code": "import sys\nprint('out')\nprint('err', file=sys.stderr)",
             "redirect_stderr": True, "language": None, "stdin": None, "args": None,
             "limits": None, "tests": None, "runs": None, "compile_options": None})
    execute({"code": "print(1)", "callback_url": "https://example.com/hook"})
    # Tests: accepted, wrong answer, runtime error; then stop_on_failure.
    tests = [{"stdin": "2", "expected_output": "4"}, {"stdin": "3", "expected_output": "7"},
             {"stdin": "boom"}, {"args": ["a"], "stdin": None, "expected_output": None}]
    code = ("import sys\nx = sys.stdin.read().strip()\n"
            "if x == 'boom':\n    raise SystemExit(3)\nprint(int(x or 0) * 2)\n")
    j = execute({"code": code, "tests": tests})
    eq(j["verdict"], "wrong_answer", "tests' verdict")
    j = execute({"code": code, "tests": tests, "stop_on_failure": True})
    eq(j["totals"]["not_run"], 2, "not_run tests")
    execute({"code": code, "tests": [{"stdin": "1", "expected_output": "2"}]})
    # Output files, one dropped; and with tests.
    files_code = ("import os\nd = os.environ['SAFEXEC_OUT']\n"
                  "open(d + '/a.csv', 'w').write('x,y\\n1,2\\n')\n"
                  "open(d + '/p.png', 'wb').write(bytes(range(256)))\n"
                  "open(d + '/notes.txt', 'w').write('n')\n"
                  "os.symlink('/etc/passwd', d + '/link')\n")
    j = execute({"code": files_code, "output_files": True})
    check(j["files"] and j.get("files_dropped_total") == 1, f"output files: {j.get('files')}")
    execute({"code": files_code, "output_files": {"max_files": 2, "max_bytes": 1048576}})
    execute({"code": files_code, "output_files": {"max_files": None},
             "tests": [{"stdin": ""}, {"stdin": "x"}]})
    # Files, one in base64.
    util = base64.b64encode(b"def x():\n    return 42\n").decode()
    files = [{"name": "main.py", "content": "import util\nprint(util.x())\n"},
             {"name": "util.py", "content": util, "encoding": "base64"}]
    r = rec("POST", "/api/v1/execute", {"language": "python", "files": files})
    if r.status == 200:
        eq(r.json["stdout"], "42\n", "files' output")
    else:
        # The built-in Python takes code only.
        eq(r.json["error"]["code"], "invalid_request", "files with the built-in Python")
    if c:
        execute({"language": "c", "code": C_SUM, "stdin": "2 3",
                 "compile_options": ["-O2", "-Wall"],
                 "compile_limits": {"wall_time_ms": 20000, "memory_bytes": 536870912}})
        j = execute({"language": "c", "code": "int main(void) { return x; }",
                     "tests": [{"stdin": "1"}, {"stdin": "2"}]})
        eq(j["verdict"], "compile_error", "a compile error's verdict")
        execute({"language": "c", "code": C_SUM,
                 "tests": [{"stdin": "1 2", "expected_output": "3"}, {"stdin": "x"}],
                 "output_files": True})
        execute({"language": "c", "files": [
            {"name": "main.c", "content": '#include "u.h"\nint main(void) { return u(); }\n'},
            {"name": "u.h", "content": "static int u(void) { return 2; }\n"}]})
    # Jobs: accepted at once, polled; waited for; with tests and files.
    r = rec("POST", "/api/v1/jobs", {"code": "import time\ntime.sleep(0.3)\nprint(1)"}, want=202)
    token = r.json["token"]
    rec.get(f"/api/v1/jobs/{token}", want=200)
    job_until_done(rec, token)
    r = rec("POST", "/api/v1/jobs?wait=true", {"code": code, "tests": tests,
                                               "output_files": True}, want=200)
    eq(r.json["state"], "done", "a waited-for job")
    r = rec("POST", "/api/v1/jobs?wait=false", {"code": "print(2)"}, want=202)
    job_until_done(rec, r.json["token"])
    if c:
        rec("POST", "/api/v1/jobs?wait=true", {"language": "c", "code": C_HELLO}, want=200)
    # Runs through the Judge0 and Piston APIs are in the history too (their
    # own answers are theirs, not in the document).
    r = rec.s.post("/submissions?wait=true", {"source_code": "print(1)", "language_id": 71})
    eq(r.status, 201, f"a Judge0 submission ({r.body[:200]!r})")
    r = rec.s.post("/api/v2/execute", {"language": "python", "version": "*",
                                       "files": [{"content": "print(1)"}]})
    eq(r.status, 200, f"a Piston run ({r.body[:200]!r})")
    # The history: pages, and every record made above.
    r = rec.get("/api/v1/executions", want=200)
    r = rec.get("/api/v1/executions?limit=2", want=200)
    nb = r.json["next_before"]
    check(isinstance(nb, int), "a next page")
    rec.get(f"/api/v1/executions?limit=100&before={nb}", want=200)
    rec.get("/api/v1/executions?before=1", want=200)
    r = rec.get("/api/v1/executions?limit=100", want=200)
    records = r.json["executions"]
    eq({x["endpoint"] for x in records}, {"run", "execute", "jobs", "judge0", "piston"},
       "the endpoints in the history")
    for x in records:
        rec.get(f"/api/v1/executions/{x['id']}", want=200)
    rec.get("/api/v1/openapi.json", want=200)
    rec.get("/healthz", want=200)
    rec.get("/metrics", want=200)


def bad_requests(rec, s, langs):
    """One or more requests for every error a client can cause."""
    names = {x["language"] for x in langs}
    ex = "/api/v1/execute"
    rec("POST", ex, raw="", headers=JSON_CT, want=400)
    rec("POST", ex, raw=" \n\t ", headers=JSON_CT, want=400)
    rec("POST", ex, raw="{", headers=JSON_CT, want=400)
    rec("POST", ex, raw='{"code": "1", "code": "2"}', headers=JSON_CT, want=400)
    rec("POST", ex, raw='{"code": "1"} x', headers=JSON_CT, want=400)
    rec("POST", ex, raw=b'{"code": "\xff"}', headers=JSON_CT, want=400)
    rec("POST", ex, raw="[" * 40 + "]" * 40, headers=JSON_CT, want=400)
    rec("POST", ex, raw="[]", headers=JSON_CT, want=400)
    rec("POST", ex, {"code": 1}, want=400)
    rec("POST", ex, {"code": "1", "bogus": 1}, want=400)
    # Live output: the events, and the errors a stream gets before it starts.
    r = rec("POST", ex, {"code": "import sys\nprint(1)\nprint(2, file=sys.stderr)",
                         "stream": True}, want=200)
    check(r.header("Content-Type") == "text/event-stream", "a stream's Content-Type")
    rec("POST", ex, {"code": "print(1)"}, headers={"Accept": "text/event-stream"}, want=200)
    rec("POST", ex, {"code": "print(1)", "stream": False},
        headers={"Accept": "text/event-stream"}, want=200)
    rec("POST", ex, {"code": "1", "stream": "yes"}, want=400)
    rec("POST", ex, {"code": "1", "stream": True, "tests": [{"stdin": ""}]}, want=400)
    rec("POST", ex, {"code": "1", "tests": [{"stdin": ""}]},
        headers={"Accept": "text/event-stream"}, want=400)
    rec("POST", "/api/v1/jobs", {"code": "1", "stream": True}, want=400)
    rec("POST", ex, {"code": "1", "limits": {"wall": 1}}, want=400)
    rec("POST", ex, {"code": "1", "args": ["a\u0000b"]}, want=400)
    rec("POST", ex, {"code": "1", "args": ["a"] * 257}, want=400)
    rec("POST", ex, {"code": "1", "runs": 21}, want=400)
    rec("POST", ex, {"code": "1", "tests": []}, want=400)
    rec("POST", ex, {"code": "1", "compile_limits": {"wall_time_ms": 1000}}, want=400)
    rec("POST", ex, {"code": "1", "compile_options": ["-O2"]}, want=400)
    rec("POST", ex, {"code": "1", "files": [{"name": "a.py", "content": ""}]}, want=400)
    rec("POST", ex, {"code": "1", "output_files": "yes"}, want=400)
    rec("POST", ex, {}, want=400)
    rec("POST", ex, {"code": None}, want=400)
    rec("POST", ex, {"language": "nope", "code": "1"}, want=400)
    rec("POST", ex, {"language": "python", "version": "0.0.1", "code": "1"}, want=400)
    rec("POST", ex, {"code": "1", "limits": {"memory_bytes": 1}}, want=400)
    rec("POST", ex, {"code": "1", "limits": {"wall_time_ms": 1.5}}, want=400)
    rec("POST", ex, {"code": "1", "limits": {"max_processes": 0}}, want=400)
    rec("POST", ex, {"code": "1", "output_files": {"max_files": 0}}, want=400)
    rec("POST", ex, {"code": "1", "limits": {"wall_time_ms": 99999}}, want=400)
    rec("POST", ex, {"code": "1", "output_files": {"max_files": 100000}}, want=400)
    rec("POST", ex, {"code": "1", "args": ["a" * 131072]}, want=413)
    if "c" in names:
        rec("POST", ex, {"language": "c", "code": "int main(void){return 0;}",
                         "compile_options": ["-fplugin=x"]}, want=400)
        rec("POST", ex, {"language": "c", "files": [{"name": "a.c"}]}, want=400)
        rec("POST", ex, {"language": "c", "files": [{"name": "../a.c", "content": ""}]},
            want=400)
        rec("POST", ex, {"language": "c", "code": "int main(void){return 0;}",
                         "compile_limits": {"wall_time_ms": 60001}}, want=400)
    r = big_content_length(s, ex, 2 << 20)
    rec.keep("POST", ex, r)
    eq(r.status, 413, "Content-Length over max_body")
    rec("POST", ex, raw='{"code": "1"}', headers={"Content-Type": "text/plain"}, want=415)
    rec("POST", ex, raw='{"code": "1"}', headers={"Content-Type": "application/x-www-form-urlencoded"},
        want=415)
    rec("POST", ex, {"code": "1"}, headers={"Sec-Fetch-Site": "cross-site"}, want=403)
    rec("POST", ex, {"code": "1"}, headers={"Origin": "https://evil.example"}, want=403)
    rec("POST", "/api/v1/languages", headers={"Host": "evil.example"}, want=403)
    rec.get("/api/v1/languages", headers={"Host": "evil.example"}, want=403)
    # POST /run: what it refuses.
    rec("POST", "/run", raw="", headers=JSON_CT, want=400)
    rec("POST", "/run", {"code": None}, want=400)
    rec("POST", "/run", {"code": 5}, want=400)
    rec("POST", "/run", {"code": "1", "language": "nope"}, want=400)
    rec("POST", "/run", {"code": "1"}, headers={"Sec-Fetch-Site": "same-site"}, want=403)
    rec("POST", "/run", raw="x", headers={"Content-Type": "text/html"}, want=415)
    r = big_content_length(s, "/run", 2 << 20)
    rec.keep("POST", "/run", r)
    eq(r.status, 413, "Content-Length over max_body")
    # POST /api/v1/jobs.
    jobs = "/api/v1/jobs"
    rec("POST", jobs, {"code": "1", "callback_url": "http://127.0.0.1/hook"}, want=400)
    rec("POST", jobs, {"code": "1", "callback_url": ""}, want=400)
    rec("POST", jobs, {"code": "1", "limits": {"cpu_time_ms": 10 ** 9}}, want=400)
    rec("POST", jobs, raw="{", headers=JSON_CT, want=400)
    rec("POST", jobs, {"code": "1"}, headers={"Origin": "null"}, want=403)
    rec("POST", jobs, raw="{}", headers={"Content-Type": "text/plain"}, want=415)
    # Not found, and methods not allowed.
    for path in ("/nope", "/api/v1/nope", "/api/v1/executions/0", "/api/v1/executions/abc",
                 "/api/v1/executions/999999999", "/api/v1/jobs/xyz", "/api/v1/jobs/" + "0" * 32,
                 "/api/v1/jobs/" + "A" * 32, "/openapi.json", "/api/v1/openapi.json/x"):
        rec.get(path, want=404)
    for method, path in (("GET", "/run"), ("DELETE", "/api/v1/execute"),
                         ("PUT", "/api/v1/jobs"), ("GET", "/api/v1/jobs"),
                         ("POST", "/api/v1/languages"), ("POST", "/api/v1/executions"),
                         ("DELETE", "/api/v1/executions/1"), ("POST", "/api/v1/jobs/" + "0" * 32),
                         ("POST", "/api/v1/openapi.json"), ("POST", "/healthz"),
                         ("PUT", "/metrics")):
        rec(method, path, want=405)
    # The history's query.
    for q in ("limit=0", "limit=101", "limit=x", "before=abc", "before=0", "before=-1"):
        rec.get(f"/api/v1/executions?{q}", want=400)


def busy_server_requests(binary, answers):
    """queue_full, a bounded wait's 202, and 503 shutting_down, on a server
    with one worker, no queue and room for one job."""
    s = Server(binary, "--workers", "1", "--queue", "0", "--jobs-max", "1", "--wait-max", "1",
               "--grace-period", "10")
    rec = Recorder(s, answers)
    try:
        out = {}

        def waited_job():
            out["job"] = rec("POST", "/api/v1/jobs?wait=true",
                             {"code": "import time\ntime.sleep(3)\nprint(1)"})

        t1 = threading.Thread(target=waited_job)
        t1.start()
        deadline = time.time() + 10
        while s.get("/healthz").json["running"] < 1:
            check(time.time() < deadline, "the job did not start")
            time.sleep(0.05)
        # jobs_max is 1: no room for a second job.
        r = rec("POST", "/api/v1/jobs", {"code": "print(2)"}, want=503)
        eq(r.json["error"]["code"], "queue_full", "a second job")
        # The worker is busy: one run may wait (queue 0 + 1 worker), not two.
        t2 = threading.Thread(target=lambda: out.update(
            run=rec("POST", "/run", {"code": "print(3)"})))
        t2.start()
        deadline = time.time() + 10
        while s.get("/healthz").json["queue_length"] < 1:
            check(time.time() < deadline, "the run did not wait for the worker")
            time.sleep(0.05)
        r = rec("POST", "/run", {"code": "print(4)"}, want=503)
        eq(r.json["error"]["code"], "queue_full", "a run with no room")
        t1.join(30)
        eq(out["job"].status, 202, f"a wait past wait_max ({out['job'].body[:200]!r})")
        check(out["job"].json["state"] in ("queued", "running"), "the job is not done yet")
        rec.get(f"/api/v1/jobs/{out['job'].json['token']}", want=200)
        # A stop: connections already open get 503 while the runs end.
        conns = [http.client.HTTPConnection("127.0.0.1", s.port, timeout=30) for _ in range(2)]
        for conn in conns:
            conn.request("GET", "/healthz")
            conn.getresponse().read()
        s.proc.send_signal(signal.SIGTERM)

        def on(conn, method, path, body=None):
            data = json.dumps(body) if body is not None else None
            conn.request(method, path, body=data, headers=JSON_CT if body is not None else {})
            resp = conn.getresponse()
            return rec.keep(method, path, Response(resp.status, resp.getheaders(), resp.read()),
                            body)

        deadline = time.time() + 10
        while (r := on(conns[0], "GET", "/healthz")).status != 503:
            check(time.time() < deadline, "/healthz did not turn 503 after SIGTERM")
            time.sleep(0.05)
        eq(r.json["status"], "shutting_down", "/healthz while stopping")
        r = on(conns[1], "POST", "/run", {"code": "print(5)"})
        eq(r.status, 503, f"POST /run while stopping ({r.body[:200]!r})")
        eq(r.json["error"]["code"], "shutting_down", "POST /run while stopping")
        for conn in conns:
            conn.close()
        t2.join(30)
        check(out["run"].status == 200, "the run that waited was answered")
        eq(s.proc.wait(30), 0, "the server's exit status")
    finally:
        s.close()


def keyed_server_requests(binary, answers):
    """unauthorized, forbidden and rate_limited (with their headers), and
    answers carrying the RateLimit headers, on a server with API keys (made
    by `safexec key`), a rate of one request a second in bursts of two and
    one concurrent run per key."""
    tmp = tempfile.mkdtemp(prefix="safexec-openapi-keys-")
    path = os.path.join(tmp, "keys")
    keys = {}
    for name, opts in (("all", []), ("runs", ["endpoints=run"]),
                       ("reader", ["endpoints=jobs,history,languages,metrics"])):
        p = subprocess.run([binary, "key", name, "--file", path, *opts], capture_output=True,
                           text=True, timeout=30)
        eq(p.returncode, 0, f"safexec key {name}: {p.stderr.strip()}")
        keys[name] = {"Authorization": "Bearer " + p.stdout.strip()}
    s = Server(binary, "--keys-file", path, "--rate-limit", "1", "--rate-burst", "2",
               "--max-concurrent-runs", "1", "--workers", "2")
    rec = Recorder(s, answers)
    try:
        for method, path_, body in (("POST", "/run", {"code": "1"}),
                                    ("POST", "/api/v1/execute", {"code": "1"}),
                                    ("POST", "/api/v1/jobs", {"code": "1"}),
                                    ("GET", "/api/v1/jobs/" + "0" * 32, None),
                                    ("GET", "/api/v1/languages", None),
                                    ("GET", "/api/v1/executions", None),
                                    ("GET", "/api/v1/executions/1", None),
                                    ("GET", "/metrics", None)):
            rec(method, path_, body, want=401)
            rec(method, path_, body, headers={"X-Auth-Token": "sx_" + "0" * 64}, want=401)
            other = keys["reader"] if path_ in ("/run", "/api/v1/execute") else keys["runs"]
            r = rec(method, path_, body, headers=other, want=403)
            eq(r.json["error"]["code"], "forbidden", f"{path_} with a key not for it")
        # Open paths need no key.
        rec.get("/healthz", want=200)
        rec.get("/api/v1/openapi.json", want=200)
        # A burst of two, then 429 with its headers; the next second again.
        rec.get("/api/v1/languages", headers=keys["all"], want=200)
        rec.get("/api/v1/executions", headers=keys["all"], want=200)
        r = rec.get("/metrics", headers=keys["all"], want=429)
        eq(r.json["error"]["code"], "rate_limited", "a third request at once")
        time.sleep(int(r.header("Retry-After")) + 0.1)
        # One run at a time: a long one, then another refused meanwhile.
        out = {}
        t = threading.Thread(target=lambda: out.update(run=rec(
            "POST", "/run", {"code": "import time\ntime.sleep(2)"}, headers=keys["runs"])))
        t.start()
        deadline = time.time() + 10
        while s.get("/healthz").json["running"] < 1:
            check(time.time() < deadline, "the run did not start")
            time.sleep(0.05)
        r = rec("POST", "/api/v1/execute", {"code": "1"}, headers=keys["runs"], want=429)
        eq(r.json["error"]["code"], "rate_limited", "a second run at once")
        t.join(30)
        eq(out["run"].status, 200, "the long run")
    finally:
        s.close()
        shutil.rmtree(tmp, ignore_errors=True)


# --- The tests ---------------------------------------------------------------------

TESTS = []


def test(fn):
    TESTS.append((fn.__name__, fn))
    return fn


@test
def error_codes_match_the_code(ctx):
    doc = load_doc()
    codes = c_error_codes()
    enum = doc["components"]["schemas"]["ErrorCode"]["enum"]
    eq(len(enum), len(set(enum)), "ErrorCode's enum has no code twice")
    eq(sorted(set(enum) - set(codes)), [], "codes in the document that src/api/error.c lacks")
    eq(sorted(set(codes) - set(enum)), [], "codes of src/api/error.c the document lacks")
    # Each code only under its own status, and under it somewhere.
    listed = {}
    responses = [(st, r) for item in doc["paths"].values() for op in item.values()
                 for st, r in op["responses"].items()]
    for st, r in responses:
        for code in error_codes_of(doc, r):
            listed.setdefault(code, set()).add(int(st))
    for name, resp in doc["components"]["responses"].items():
        for code in error_codes_of(doc, resp):
            check(name in {"NotFound", "MethodNotAllowed"} or code in listed,
                  f"{code} of components.responses.{name} is under no operation")
    listed.setdefault("not_found", set()).add(404)
    listed.setdefault("method_not_allowed", set()).add(405)
    for code, status in sorted(codes.items()):
        eq(sorted(listed.get(code, ())), [status], f"the statuses {code} is documented under")
    # docs/api.md's table of errors says the same.
    with open(API_MD) as f:
        md = dict((c, int(st)) for st, c in re.findall(r"^\| (\d{3}) \| `(\w+)` \|", f.read(), re.M))
    eq(md, codes, "docs/api.md's error table against src/api/error.c")


@test
def routes_match_the_code(ctx):
    """The paths and methods of src/http/route.c's own API are the document's."""
    with open(ROUTE_C) as f:
        text = f.read()
    methods = {"M_GET": {"get"}, "M_POST": {"post"}, "M_GET_POST": {"get", "post"},
               "M_GET_DELETE": {"get", "delete"}}
    code = {}
    for path, ms in re.findall(r'\{ "(/[^"]*)", HTTP_R_\w+, (M_\w+), HTTP_F_SAFEXEC \}', text):
        code[path] = methods[ms]
    for prefix, ms in re.findall(r'\{ "(/[^"]*/)", HTTP_R_\w+, (M_\w+), HTTP_F_SAFEXEC, T_', text):
        code[prefix + "{}"] = methods[ms]
    served = re.search(r'#define OPENAPI_PATH "([^"]+)"', text)
    check(served, "route.c names the document's path (OPENAPI_PATH)")
    code[served.group(1)] = {"get"}
    check(len(code) >= 9, f"only {len(code)} routes read from {ROUTE_C}: its tables changed shape")
    doc = {re.sub(r"\{[^}]+\}", "{}", p): set(item) for p, item in load_doc()["paths"].items()}
    eq(sorted(set(code) - set(doc)), [], "paths of route.c the document lacks")
    eq(sorted(set(doc) - set(code)), [], "paths in the document that route.c lacks")
    for path in sorted(code):
        eq(sorted(doc[path]), sorted(code[path]), f"the methods of {path}")


@test
def document_served(ctx):
    s = ctx["server"]
    with open(DOC_FILE, "rb") as f:
        want = f.read()
    r = s.get("/api/v1/openapi.json")
    eq(r.status, 200, "GET /api/v1/openapi.json")
    eq(r.header("Content-Type"), "application/json", "Content-Type")
    eq(r.header("Cache-Control"), "no-cache", "Cache-Control, as the web page's files")
    eq(r.header("X-Content-Type-Options"), "nosniff", "X-Content-Type-Options")
    check(r.body == want, "the document served is not docs/openapi.json: the binary is older "
          "than the file (make)")
    eq(r.json["openapi"], "3.1.0", "openapi")
    h = s.request("HEAD", "/api/v1/openapi.json")
    eq((h.status, h.body, h.header("Content-Length")), (200, b"", str(len(want))), "HEAD")
    eq(s.get("/openapi.json").status, 404, "not among the web page's files")
    ctx["doc"] = r.json


@test
def document_valid(ctx):
    doc = ctx.get("doc") or ctx["server"].get("/api/v1/openapi.json").json
    rc, lines, err = checker("validate", write_json(ctx["tmp"], "served.json", doc))
    check(rc == 0 and lines and lines[-1].get("ok"),
          f"the served document is refused: {json.dumps(lines)[:2000]} {err[-1000:]}")


@test
def document_mutations_refused(ctx):
    doc = load_doc()
    mutations = []
    m = copy.deepcopy(doc)
    m["paths"]["/run"]["post"]["responses"]["200"]["content"]["application/json"]["schema"][
        "$ref"] = "#/components/schemas/NoSuchSchema"
    mutations.append(("a broken $ref", m))
    m = copy.deepcopy(doc)
    del m["components"]["responses"]["NotFound"]["description"]
    mutations.append(("a response without description", m))
    m = copy.deepcopy(doc)
    m["paths"]["/api/v1/jobs/{token}"]["get"]["parameters"][0]["required"] = False
    mutations.append(("a path parameter not required", m))
    m = copy.deepcopy(doc)
    m["paths"]["/healthz"]["get"]["responses"]["200"]["content"] = []
    mutations.append(("content as an array", m))
    m = copy.deepcopy(doc)
    runs = m["components"]["schemas"]["ExecuteRequest"]["properties"]["runs"]
    runs["minimun"] = runs.pop("minimum")
    mutations.append(("a misspelt keyword", m))
    m = copy.deepcopy(doc)
    m["components"]["schemas"]["Error"]["examples"][0]["error"]["code"] = "limit_exceed"
    mutations.append(("an example its schema refuses", m))
    for what, m in mutations:
        rc, lines, err = checker("validate", write_json(ctx["tmp"], "mutated.json", m))
        check(rc == 1 and lines and not lines[-1].get("ok"),
              f"{what} passed the validator (exit {rc}: {json.dumps(lines)[:500]} {err[-500:]})")


@test
def answers_match_document(ctx):
    npm_install()  # before the requests: a skip costs no server time
    s = ctx["server"]
    answers = ctx["answers"] = []
    rec = Recorder(s, answers)
    langs = rec.get("/api/v1/languages", want=200).json
    good_requests(rec, langs)
    bad_requests(rec, s, langs)
    busy_server_requests(ctx["binary"], answers)
    keyed_server_requests(ctx["binary"], answers)
    rc, lines, err = checker("answers", ctx["doc_file"], write_json(ctx["tmp"], "answers.json",
                                                                    answers))
    bad = [(answers[x["i"]]["method"], answers[x["i"]]["path"], answers[x["i"]]["status"],
            x["error"]) for x in lines if "i" in x and not x["ok"]]
    check(len(lines) == len(answers) and rc == 0 and not bad,
          f"exit {rc}, {len(lines)} of {len(answers)} answers checked; "
          f"refused: {json.dumps(bad, ensure_ascii=False)[:3000]} {err[-500:]}")
    # Every operation answered with a 2xx, and every error a client can cause.
    doc = load_doc()
    ok_ops = set()
    for a in answers:
        if a["status"] < 300:
            ok_ops.add((a["method"].lower(), a["path"].split("?")[0]))
    for path, item in doc["paths"].items():
        pat = re.compile("^" + re.sub(r"\{[^}]+\}", "[^/]+", path) + "$")
        for method in item:
            check(any(m == method and pat.match(p) for m, p in ok_ops),
                  f"no 2xx answer of {method.upper()} {path} was checked")
    produced = {a["body"]["error"]["code"] for a in answers
                if a["status"] >= 400 and isinstance(a["body"], dict) and "error" in a["body"]}
    missing = set(c_error_codes()) - NOT_FROM_CLIENTS - produced
    eq(sorted(missing), [], "error codes no request produced")
    nops = sum(len(item) for item in doc["paths"].values())
    print(f"     {len(answers)} answers checked: every one of the {nops} operations with a 2xx, "
          f"{len(produced)} error codes", flush=True)


@test
def wrong_answers_refused(ctx):
    answers = ctx.get("answers")
    if not answers:
        raise Skip("answers_match_document made no answers")

    def first(method, path, status):
        for a in answers:
            if a["method"] == method and a["path"].split("?")[0] == path and a["status"] == status:
                return copy.deepcopy(a)
        raise Fail(f"no {status} answer of {method} {path} to change")

    wrong = []
    a = first("POST", "/api/v1/execute", 200)
    a["body"]["status"] = "finished"
    wrong.append(("an unknown status", a))
    a = first("POST", "/api/v1/execute", 200)
    del a["body"]["limits"]
    wrong.append(("no limits", a))
    a = first("POST", "/api/v1/execute", 200)
    a["body"]["extra"] = 1
    wrong.append(("an unknown field", a))
    a = first("POST", "/api/v1/execute", 200)
    a["body"]["exit_code"] = "0"
    wrong.append(("a string for an integer", a))
    a = first("POST", "/api/v1/execute", 200)
    a["request"] = {"code": "1", "limits": {"wall_time_ms": "1000"}}
    wrong.append(("a request the document refuses, taken", a))
    a = first("POST", "/run", 200)
    a["status"] = 418
    wrong.append(("an undocumented status", a))
    a = first("GET", "/api/v1/languages", 200)
    a["status"] = 404
    wrong.append(("a 404 body that is not an error", a))
    a = first("GET", "/healthz", 200)
    a["content_type"] = "text/html"
    wrong.append(("an undocumented media type", a))
    a = next(copy.deepcopy(x) for x in answers if x["status"] == 405)
    a["headers"] = {k: v for k, v in a["headers"].items() if k.lower() != "allow"}
    wrong.append(("405 without Allow", a))
    a = next(copy.deepcopy(x) for x in answers if x["status"] == 503
             and isinstance(x["body"], dict) and "error" in x["body"])
    a["headers"] = {k: v for k, v in a["headers"].items() if k.lower() != "retry-after"}
    wrong.append(("503 without Retry-After", a))
    a = first("POST", "/api/v1/execute", 400)
    a["body"]["error"]["code"] = "not_found"
    wrong.append(("a code under another status", a))
    a = first("POST", "/run", 400)
    a["body"]["error"]["code"] = "limit_exceeded"
    wrong.append(("a code POST /run never answers", a))
    a = next(copy.deepcopy(x) for x in answers if x["path"].startswith("/api/v1/jobs/")
             and x["status"] == 200 and x["body"]["state"] == "done")
    a["body"]["result"] = None
    wrong.append(("a job done without its result", a))
    a = first("GET", "/api/v1/executions", 200)
    a["body"]["executions"][0]["created_at"] = "yesterday"
    wrong.append(("a time that is not RFC 3339", a))
    a = first("GET", "/api/v1/languages", 200)
    a["path"] = "/api/v1/language"
    wrong.append(("a 200 from a path not in the document", a))
    rc, lines, err = checker("answers", ctx["doc_file"],
                             write_json(ctx["tmp"], "wrong.json", [w for _, w in wrong]))
    eq(len(lines), len(wrong), f"answers checked ({err[-500:]})")
    passed = [wrong[x["i"]][0] for x in lines if x["ok"]]
    eq(passed, [], "wrong answers the check let pass")
    eq(rc, 1, "the checker's exit status")


# --- Runner ------------------------------------------------------------------------

def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", required=True)
    ap.add_argument("only", nargs="*", help="glob patterns of test names")
    args = ap.parse_args()
    binary = os.path.abspath(args.bin)
    if not os.access(binary, os.X_OK):
        print(f"openapi: {binary} is not executable")
        print("0 passed, 1 failed")
        return 1
    selected = [(n, f) for n, f in TESTS
                if not args.only or any(fnmatch.fnmatch(n, p) for p in args.only)]
    tally = Tally(Skip)
    start = time.time()
    tmp = tempfile.mkdtemp(prefix="safexec-openapi-")
    ctx = {"binary": binary, "tmp": tmp, "doc_file": DOC_FILE}

    try:
        try:
            s = ctx["server"] = Server(binary, "--workers", "2")
        except Exception as e:
            print(f"FAIL server_start: {e}")
            print(tally.summary(more_failed=1))
            return 1
        try:
            # The document the server serves is the one checked from here on.
            r = s.get("/api/v1/openapi.json")
            if r.status == 200:
                ctx["doc_file"] = os.path.join(tmp, "served.json")
                with open(ctx["doc_file"], "wb") as f:
                    f.write(r.body)
            for n, f in selected:
                tally.run(n, f, ctx)
        finally:
            def clean_stop():
                rc = s.stop()
                if rc != 0:
                    raise Fail(f"exit status {rc}; stderr: {s.errors()}")
            tally.run("server_stops_cleanly", clean_stop)
            s.close()
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    node = subprocess.run(["node", "--version"], capture_output=True, text=True).stdout.strip() \
        if shutil.which("node") else "none"
    print(f"openapi took {time.time() - start:.0f} s (node {node} at {shutil.which('node')})")
    print(tally.summary())
    return 1 if tally.failed else 0


if __name__ == "__main__":
    sys.exit(main())
