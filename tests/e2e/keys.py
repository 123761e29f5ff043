#!/usr/bin/env python3
"""End-to-end tests of API keys and rate limits (`serve --keys-file`,
`--rate-limit`, `--rate-burst`, `--max-concurrent-runs`).

    tests/e2e/keys.py --bin build/safexec [NAME-GLOB ...]

Keys are made by `safexec key NAME --file FILE`, as docs/deploy.md says.
Without keys_file every request is served as before; with it, the API's
paths (the v1 API, /run, /metrics, Judge0's and Piston's) need a key sent
as `Authorization: Bearer KEY` or `X-Auth-Token: KEY`: none, a wrong one
or one differing only in its last byte gets 401; a key limited to some
endpoints gets 403 on the others; one with lower maxima gets 400 (422 on
Judge0's path) above them.  Rate limits: a burst beyond the bucket gets
429 with Retry-After and the RateLimit headers and passes again after the
wait; concurrent runs beyond the limit get 429 while they run; without
keys the limits count per client address (127.0.0.2 and up are other
addresses on loopback); the table of addresses stays at its size however
many come (its figures on /metrics); /metrics counts per key.

One line per test (`ok   NAME`, `FAIL NAME: why`, `skip NAME: why`), then
"N passed, N failed" (", N skipped"); exit status 1 when anything failed.
Python 3 standard library only.
"""
import argparse
import concurrent.futures as futures
import fnmatch
import http.client
import json
import os
import re
import shutil
import stat
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import run as E  # noqa: E402  (the e2e suite: Server, Fail, Skip, check, eq, ...)

Fail, Skip, check, eq = E.Fail, E.Skip, E.check, E.eq
HELLO = E.HELLO
JSON_CT = {"Content-Type": "application/json"}
SLEEP = "import time\ntime.sleep(3)\nprint('done')\n"


def bearer(key):
    return {"Authorization": f"Bearer {key}"}


def make_key(binary, name, path, *options):
    """A key made by `safexec key`, its line appended to path."""
    p = subprocess.run([binary, "key", name, "--file", path, *options], capture_output=True,
                       text=True, timeout=30)
    eq(p.returncode, 0, f"safexec key {name} exit status ({p.stderr.strip()})")
    lines = p.stdout.splitlines()
    eq(len(lines), 1, f"safexec key --file prints the key alone ({p.stdout!r})")
    check(re.fullmatch(r"sx_[0-9a-f]{64}", lines[0]), f"a key's form: {lines[0]!r}")
    return lines[0]


def expect_error(r, status, code, *words):
    return E.expect_error(r, status, code, *words)


def metric(text, name, labels=""):
    m = re.search(r"^" + re.escape(name + (("{" + labels + "}") if labels else "")) +
                  r" (\d+)$", text, re.M)
    return int(m.group(1)) if m else None


def request_from(port, source, method, path, body=None, headers=None):
    """A request sent from the loopback address source."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60, source_address=(source, 0))
    try:
        data = json.dumps(body).encode() if body is not None else None
        hdrs = dict(JSON_CT) if body is not None else {}
        hdrs.update(headers or {})
        conn.request(method, path, body=data, headers=hdrs)
        r = conn.getresponse()
        return E.Response(r.status, r.getheaders(), r.read())
    finally:
        conn.close()


def check_rate_headers(r, quota, window):
    pol = r.header("RateLimit-Policy")
    eq(pol, f'"default";q={quota};w={window}', "RateLimit-Policy")
    rl = r.header("RateLimit") or ""
    m = re.fullmatch(r'"default";r=(\d+);t=(\d+)', rl)
    check(m, f"RateLimit header {rl!r}")
    return int(m.group(1)), int(m.group(2))


def wait_running(s, n, timeout=15):
    deadline = time.time() + timeout
    while s.get("/healthz").json["running"] < n:
        check(time.time() < deadline, f"{n} runs did not start")
        time.sleep(0.05)


# --- Fixtures -------------------------------------------------------------------

class Ctx:
    def __init__(self, binary):
        self.binary = binary
        self.dir = tempfile.mkdtemp(prefix="safexec-keys-")
        self.keyed = None

    def keys_server(self):
        """One server with keys of every kind, shared by the tests that
        need no rate limits."""
        if self.keyed:
            return self.keyed
        path = os.path.join(self.dir, "keys")
        self.keys_path = path
        self.keys = {
            "alice": make_key(self.binary, "alice", path),
            "bob": make_key(self.binary, "bob", path),
            "judge": make_key(self.binary, "judge", path, "endpoints=judge0,piston"),
            "small": make_key(self.binary, "small", path, "max_wall_time_ms=2000",
                              "max_memory_bytes=64M"),
            "prom": make_key(self.binary, "prom", path, "endpoints=metrics"),
        }
        self.keyed = E.Server(self.binary, "--keys-file", path, "--workers", "2")
        return self.keyed

    def close(self):
        if self.keyed:
            self.keyed.close()
        shutil.rmtree(self.dir, ignore_errors=True)


TESTS = []


def test(fn):
    TESTS.append((fn.__name__, fn))
    return fn


# --- Keys off ---------------------------------------------------------------------

@test
def keys_off_by_default(ctx):
    s = E.Server(ctx.binary)
    try:
        j = s.run(HELLO)
        eq(j["output"], "Hello World\n", "a run without a key")
        r = s.get("/api/v1/executions")
        eq(r.status, 200, "the history without a key")
        check(r.header("RateLimit") is None, "no RateLimit header without a rate limit")
        m = s.get("/metrics")
        eq(m.status, 200, "/metrics without a key")
        check("safexec_key_" not in m.body.decode(), "no per-key metrics without keys")
        check("safexec_rate_limit_addresses" not in m.body.decode(),
              "no address table without rate limits")
        r = s.post("/submissions?wait=true", {"source_code": HELLO, "language_id": 71})
        eq(r.status, 201, f"Judge0 without a key ({r.body[:200]!r})")
    finally:
        s.close()


# --- Keys on ------------------------------------------------------------------------

@test
def no_key_is_401(ctx):
    s = ctx.keys_server()
    for method, path, body in (("POST", "/run", {"code": HELLO}),
                               ("POST", "/api/v1/execute", {"code": HELLO}),
                               ("POST", "/api/v1/jobs", {"code": HELLO}),
                               ("GET", "/api/v1/executions", None),
                               ("GET", "/api/v1/executions/1", None),
                               ("GET", "/api/v1/jobs/" + "0" * 32, None),
                               ("GET", "/api/v1/languages", None),
                               ("GET", "/metrics", None)):
        r = s.request(method, path, json.dumps(body) if body else None,
                      JSON_CT if body else {})
        expect_error(r, 401, "unauthorized", "API key")
        eq(r.header("WWW-Authenticate"), 'Bearer realm="safexec"', f"{path}'s WWW-Authenticate")
    # Open: the page, the API's description, the health check.
    for path in ("/", "/app.js", "/api/v1/openapi.json", "/healthz"):
        eq(s.get(path).status, 200, f"GET {path} without a key")


@test
def wrong_keys_are_401(ctx):
    s = ctx.keys_server()
    good = ctx.keys["alice"]
    last = "0" if good[-1] != "0" else "1"
    for bad in ("sx_" + "0" * 64, good[:-1] + last, good[:-1], good + "0", "x" * 300,
                good.upper()):
        r = s.request("POST", "/run", json.dumps({"code": HELLO}), {**JSON_CT, **bearer(bad)})
        expect_error(r, 401, "unauthorized", "not valid")
    r = s.request("POST", "/run", json.dumps({"code": HELLO}),
                  {**JSON_CT, "Authorization": f"Basic {good}"})
    expect_error(r, 401, "unauthorized")


@test
def bearer_and_x_auth_token_work(ctx):
    s = ctx.keys_server()
    k = ctx.keys["alice"]
    r = s.request("POST", "/run", json.dumps({"code": HELLO}), {**JSON_CT, **bearer(k)})
    eq(r.status, 200, f"Bearer ({r.body[:200]!r})")
    eq(r.json["output"], "Hello World\n", "output")
    r = s.request("POST", "/api/v1/execute", json.dumps({"code": HELLO}),
                  {**JSON_CT, "X-Auth-Token": k})
    eq(r.status, 200, f"X-Auth-Token ({r.body[:200]!r})")
    r = s.request("POST", "/run", json.dumps({"code": HELLO}),
                  {**JSON_CT, "Authorization": f"bearer   {k}"})
    eq(r.status, 200, "the scheme in any case")
    r = s.get("/api/v1/executions", headers={"X-Auth-Token": ctx.keys["bob"]})
    eq(r.status, 200, "the history with another key")
    check(len(r.json["executions"]) >= 2, "the history holds the runs")


@test
def keys_file_holds_no_key(ctx):
    ctx.keys_server()
    with open(ctx.keys_path) as f:
        text = f.read()
    for name, k in ctx.keys.items():
        check(k not in text and k[3:] not in text and k[3:35] not in text,
              f"the key of {name} is in the file")
        check(re.search(r"^" + name + r" sha256:[0-9a-f]{64}( |$)", text, re.M),
              f"{name}'s line in the file")
    mode = stat.S_IMODE(os.stat(ctx.keys_path).st_mode)
    eq(mode, 0o600, "the keys file's mode")
    # The CLI without --file: the key, then the line; a bad option refused.
    p = subprocess.run([ctx.binary, "key", "carol", "endpoints=run"], capture_output=True,
                       text=True, timeout=30)
    eq(p.returncode, 0, "safexec key without --file")
    key, line = p.stdout.splitlines()
    check(line.startswith("carol sha256:") and line.endswith(" endpoints=run"), line)
    check(key[3:] not in line, "the line holds no key")
    for args in (["carol", "endpoints=nope"], ["ca/rol"], [], ["carol", "max_wall_time_ms=0"]):
        p = subprocess.run([ctx.binary, "key", *args], capture_output=True, text=True,
                           timeout=30)
        eq(p.returncode, 2, f"safexec key {args}: {p.stderr.strip()}")
    # A name twice in the file: refused, the file unchanged.
    p = subprocess.run([ctx.binary, "key", "alice", "--file", ctx.keys_path],
                       capture_output=True, text=True, timeout=30)
    check(p.returncode != 0 and "twice" in p.stderr, f"a name twice: {p.stderr.strip()}")
    with open(ctx.keys_path) as f:
        eq(f.read(), text, "the keys file after a refused key")


@test
def bad_keys_file_stops_the_server(ctx):
    d = tempfile.mkdtemp(prefix="safexec-keys-bad-", dir=ctx.dir)
    plain = os.path.join(d, "plain")
    with open(plain, "w") as f:
        f.write("alice sx_" + "ab" * 32 + "\n")
    empty = os.path.join(d, "empty")
    open(empty, "w").close()
    for path, words in ((os.path.join(d, "missing"), "No such file"),
                        (plain, "looks like a key"), (empty, "no key")):
        p = subprocess.run([ctx.binary, "serve", "--listen", "127.0.0.1:0", "--data-dir",
                            os.path.join(d, "data"), "--no-log", "--keys-file", path],
                           capture_output=True, text=True, timeout=30, cwd=d)
        eq(p.returncode, 2, f"serve with keys file {os.path.basename(path)}: {p.stderr!r}")
        check("keys_file" in p.stderr and words in p.stderr, f"its message: {p.stderr!r}")


@test
def endpoint_restriction_is_403(ctx):
    s = ctx.keys_server()
    j = ctx.keys["judge"]
    r = s.request("POST", "/run", json.dumps({"code": HELLO}), {**JSON_CT, **bearer(j)})
    expect_error(r, 403, "forbidden", "run")
    r = s.get("/api/v1/executions", headers=bearer(j))
    expect_error(r, 403, "forbidden", "history")
    r = s.get("/metrics", headers=bearer(j))
    expect_error(r, 403, "forbidden", "metrics")
    # Its own endpoints: Judge0 with X-Auth-Token (as Judge0's clients send
    # it), Piston with Bearer.
    r = s.request("POST", "/submissions?wait=true",
                  json.dumps({"source_code": HELLO, "language_id": 71}),
                  {**JSON_CT, "X-Auth-Token": j})
    eq(r.status, 201, f"Judge0 with its key ({r.body[:200]!r})")
    eq(r.json["stdout"], "Hello World\n", "Judge0's stdout")
    r = s.get("/languages", headers={"X-Auth-Token": j})
    eq(r.status, 200, "Judge0's languages with its key")
    r = s.request("POST", "/api/v2/execute",
                  json.dumps({"language": "python", "version": "*",
                              "files": [{"content": HELLO}]}), {**JSON_CT, **bearer(j)})
    eq(r.status, 200, f"Piston with its key ({r.body[:200]!r})")
    eq(r.json["run"]["stdout"], "Hello World\n", "Piston's stdout")
    # A metrics-only key reads /metrics, and nothing else.
    p = ctx.keys["prom"]
    eq(s.get("/metrics", headers=bearer(p)).status, 200, "/metrics with a metrics key")
    r = s.request("POST", "/run", json.dumps({"code": HELLO}), {**JSON_CT, **bearer(p)})
    expect_error(r, 403, "forbidden")


@test
def judge0_and_piston_need_keys(ctx):
    s = ctx.keys_server()
    r = s.post("/submissions?wait=true", {"source_code": HELLO, "language_id": 71})
    eq(r.status, 401, "Judge0 without a key")
    check("error" in r.json, f"Judge0's error shape: {r.json}")
    eq(s.get("/about").status, 401, "Judge0's /about without a key")
    r = s.post("/api/v2/execute", {"language": "python", "version": "*",
                                   "files": [{"content": HELLO}]})
    eq(r.status, 401, "Piston without a key")
    check("message" in r.json, f"Piston's error shape: {r.json}")
    eq(s.get("/api/v2/runtimes").status, 401, "Piston's runtimes without a key")
    r = s.request("POST", "/submissions", json.dumps({"source_code": HELLO, "language_id": 71}),
                  {**JSON_CT, "X-Auth-Token": ctx.keys["alice"]})
    eq(r.status, 201, f"Judge0 with a key ({r.body[:200]!r})")
    token = r.json["token"]
    r = s.get(f"/submissions/{token}", headers={"X-Auth-Token": ctx.keys["alice"]})
    eq(r.status, 200, "Judge0's submission with a key")
    eq(s.get(f"/submissions/{token}").status, 401, "Judge0's submission without a key")


@test
def key_maxima_are_400(ctx):
    s = ctx.keys_server()
    k = bearer(ctx.keys["small"])
    r = s.request("POST", "/api/v1/execute",
                  json.dumps({"code": HELLO, "limits": {"wall_time_ms": 3000}}), {**JSON_CT, **k})
    expect_error(r, 400, "limit_exceeded", "2000")
    r = s.request("POST", "/api/v1/execute",
                  json.dumps({"code": HELLO, "limits": {"memory_bytes": 128 << 20}}),
                  {**JSON_CT, **k})
    expect_error(r, 400, "limit_exceeded")
    r = s.request("POST", "/api/v1/execute",
                  json.dumps({"code": HELLO, "limits": {"wall_time_ms": 2000}}), {**JSON_CT, **k})
    eq(r.status, 200, f"at the key's maximum ({r.body[:200]!r})")
    # Without limits: the defaults, lowered to the key's maxima.
    r = s.request("POST", "/api/v1/execute", json.dumps({"code": HELLO}), {**JSON_CT, **k})
    eq(r.status, 200, f"no limits ({r.body[:200]!r})")
    eq(r.json["limits"]["wall_time_ms"], 2000, "the default wall time under the key's maximum")
    # Another key has the server's maxima.
    r = s.request("POST", "/api/v1/execute",
                  json.dumps({"code": HELLO, "limits": {"wall_time_ms": 3000}}),
                  {**JSON_CT, **bearer(ctx.keys["alice"])})
    eq(r.status, 200, "another key, above the first's maximum")
    # The languages list shows the key's maxima.
    langs = s.get("/api/v1/languages", headers=k).json
    py = next(x for x in langs if x["language"] == "python")
    check(py["limits"]["max"]["wall_time_ms"] <= 2000 if "max" in (py.get("limits") or {})
          else True, f"python's maxima for the key: {py.get('limits')}")
    # Judge0 and Piston through the same maxima.
    r = s.request("POST", "/submissions?wait=true",
                  json.dumps({"source_code": HELLO, "language_id": 71, "wall_time_limit": 3}),
                  {**JSON_CT, "X-Auth-Token": ctx.keys["small"]})
    eq(r.status, 422, f"Judge0 above the key's maximum ({r.body[:200]!r})")
    r = s.request("POST", "/submissions?wait=true",
                  json.dumps({"source_code": HELLO, "language_id": 71}),
                  {**JSON_CT, "X-Auth-Token": ctx.keys["small"]})
    eq(r.status, 201, f"Judge0's defaults under the key's maxima ({r.body[:200]!r})")
    r = s.request("POST", "/api/v2/execute",
                  json.dumps({"language": "python", "version": "*", "run_timeout": 3000,
                              "files": [{"content": HELLO}]}), {**JSON_CT, **k})
    eq(r.status, 400, f"Piston above the key's maximum ({r.body[:200]!r})")


@test
def metrics_per_key(ctx):
    s = ctx.keys_server()
    k = bearer(ctx.keys["bob"])
    before = s.get("/metrics", headers=bearer(ctx.keys["prom"])).body.decode()
    n0 = metric(before, "safexec_key_requests_total", 'key="bob"')
    check(n0 is not None, "safexec_key_requests_total for bob")
    for _ in range(3):
        eq(s.get("/api/v1/languages", headers=k).status, 200, "languages")
    s.get("/metrics", headers=bearer(ctx.keys["judge"]))  # a 403
    s.get("/metrics")  # a 401
    text = s.get("/metrics", headers=k).body.decode()
    eq(metric(text, "safexec_key_requests_total", 'key="bob"'), n0 + 4, "bob's requests")
    check(metric(text, "safexec_key_forbidden_total", 'key="judge"') >= 1, "judge's 403s")
    for name in ctx.keys:
        check(metric(text, "safexec_key_requests_total", f'key="{name}"') is not None,
              f"{name}'s counter")
    labels = set(re.findall(r'key="([^"]*)"', text))
    eq(labels, set(ctx.keys), "key labels are the file's names, no more")
    check("127.0.0.1" not in text, "no address in the metrics")
    check(metric(text, "safexec_http_requests_total", 'code="401"') >= 1, "401s counted")


# --- Rate limits ------------------------------------------------------------------------

@test
def rate_limit_burst_then_429(ctx):
    path = os.path.join(ctx.dir, "rate-keys")
    a = make_key(ctx.binary, "a", path)
    b = make_key(ctx.binary, "b", path)
    own = make_key(ctx.binary, "own", path, "rate_limit=1", "rate_burst=1")
    s = E.Server(ctx.binary, "--keys-file", path, "--rate-limit", "1", "--rate-burst", "3")
    try:
        remaining = []
        for i in range(3):
            r = s.get("/api/v1/languages", headers=bearer(a))
            eq(r.status, 200, f"request {i + 1} of the burst")
            remaining.append(check_rate_headers(r, 3, 3)[0])
        eq(remaining, [2, 1, 0], "RateLimit's r through the burst")
        r = s.get("/api/v1/languages", headers=bearer(a))
        expect_error(r, 429, "rate_limited", "too many requests")
        retry = r.header("Retry-After")
        check(retry and retry.isdigit() and 1 <= int(retry) <= 2, f"Retry-After {retry!r}")
        eq(check_rate_headers(r, 3, 3)[0], 0, "RateLimit's r on the 429")
        # Another key has its own bucket; a key's own rate is its own.
        eq(s.get("/api/v1/languages", headers=bearer(b)).status, 200, "another key")
        r = s.get("/api/v1/languages", headers=bearer(own))
        eq(r.status, 200, "the key with its own rate")
        check_rate_headers(r, 1, 1)
        expect_error(s.get("/api/v1/languages", headers=bearer(own)), 429, "rate_limited")
        # Judge0 and Piston count against the same bucket.
        r = s.get("/languages", headers={"X-Auth-Token": a})
        expect_error_any(r, 429)
        time.sleep(int(retry) + 0.1)
        r = s.get("/api/v1/languages", headers=bearer(a))
        eq(r.status, 200, "after Retry-After")
        # Open paths are not limited.
        for _ in range(5):
            eq(s.get("/healthz").status, 200, "/healthz is not rate limited")
        text = s.get("/metrics", headers=bearer(b)).body.decode()
        check(metric(text, "safexec_key_rate_limited_total", 'key="a"') >= 2,
              "a's 429s on /metrics")
        check(metric(text, "safexec_key_rate_limited_total", 'key="own"') >= 1,
              "own's 429s on /metrics")
    finally:
        s.close()


def expect_error_any(r, status):
    eq(r.status, status, f"status ({r.body[:200]!r})")
    check(r.header("Retry-After"), "Retry-After on a peer's 429")
    r.json  # noqa: B018  (JSON, in the peer's shape)


@test
def concurrent_runs_limit(ctx):
    path = os.path.join(ctx.dir, "conc-keys")
    k = make_key(ctx.binary, "k", path)
    s = E.Server(ctx.binary, "--keys-file", path, "--max-concurrent-runs", "2",
                 "--workers", "4")
    pool = futures.ThreadPoolExecutor(2)
    try:
        hdr = {**JSON_CT, **bearer(k)}
        runs = [pool.submit(s.request, "POST", "/run", json.dumps({"code": SLEEP}), hdr)
                for _ in range(2)]
        wait_running(s, 2)
        r = s.request("POST", "/api/v1/execute", json.dumps({"code": HELLO}), hdr)
        expect_error(r, 429, "rate_limited", "runs at once")
        eq(r.header("Retry-After"), "1", "Retry-After")
        r = s.request("POST", "/submissions", json.dumps({"source_code": HELLO,
                                                          "language_id": 71}),
                      {**JSON_CT, "X-Auth-Token": k})
        eq(r.status, 429, "a Judge0 submission while two runs are in flight")
        # Reads are not runs.
        eq(s.get("/api/v1/executions", headers=bearer(k)).status, 200, "a read meanwhile")
        for f in runs:
            eq(f.result().status, 200, "the long runs")
        r = s.request("POST", "/run", json.dumps({"code": HELLO}), hdr)
        eq(r.status, 200, f"a run once they ended ({r.body[:200]!r})")
    finally:
        pool.shutdown(wait=True)
        s.close()


@test
def address_limits_without_keys(ctx):
    s = E.Server(ctx.binary, "--rate-limit", "1", "--rate-burst", "2",
                 "--max-concurrent-runs", "1")
    try:
        for i in range(2):
            r = request_from(s.port, "127.0.0.1", "GET", "/api/v1/languages")
            eq(r.status, 200, f"request {i + 1}")
            check_rate_headers(r, 2, 2)
        r = request_from(s.port, "127.0.0.1", "GET", "/api/v1/languages")
        expect_error(r, 429, "rate_limited", "address")
        check(r.header("Retry-After"), "Retry-After")
        try:
            r = request_from(s.port, "127.0.0.2", "GET", "/api/v1/languages")
        except OSError as e:
            raise Skip(f"cannot send from 127.0.0.2: {e}")
        eq(r.status, 200, "another address has its own bucket")
        # Piston's path from a third address, then too fast.
        body = {"language": "python", "version": "*", "files": [{"content": HELLO}]}
        eq(request_from(s.port, "127.0.0.3", "POST", "/api/v2/execute", body).status, 200,
           "Piston")
        eq(request_from(s.port, "127.0.0.3", "POST", "/api/v2/execute", body).status, 200,
           "Piston, second")
        r = request_from(s.port, "127.0.0.3", "POST", "/api/v2/execute", body)
        eq(r.status, 429, "Piston, third")
        check("message" in r.json, "Piston's error shape")
        # One run at a time per address.
        pool = futures.ThreadPoolExecutor(1)
        try:
            f = pool.submit(request_from, s.port, "127.0.0.4", "POST", "/run", {"code": SLEEP})
            wait_running(s, 1)
            r = request_from(s.port, "127.0.0.4", "POST", "/run", {"code": HELLO})
            expect_error(r, 429, "rate_limited", "runs at once")
            eq(request_from(s.port, "127.0.0.5", "POST", "/run", {"code": HELLO}).status, 200,
               "another address runs meanwhile")
            eq(f.result().status, 200, "the long run")
        finally:
            pool.shutdown(wait=True)
        text = request_from(s.port, "127.0.0.9", "GET", "/metrics").body.decode()
        check(metric(text, "safexec_address_rate_limited_total") >= 3,
              "address 429s on /metrics")
        check("127.0.0." not in text, "no address in the metrics")
    finally:
        s.close()


@test
def address_table_is_bounded(ctx):
    s = E.Server(ctx.binary, "--rate-limit", "1000", "--rate-limit-addresses", "16")
    try:
        try:
            request_from(s.port, "127.0.0.2", "GET", "/api/v1/languages")
        except OSError as e:
            raise Skip(f"cannot send from 127.0.0.2: {e}")
        n = 300
        for i in range(n):
            src = f"127.0.{1 + i // 250}.{1 + i % 250}"
            r = request_from(s.port, src, "GET", "/api/v1/languages")
            eq(r.status, 200, f"a request from {src}")
        text = s.get("/metrics").body.decode()
        eq(metric(text, "safexec_rate_limit_addresses_max"), 16, "the table's size")
        used = metric(text, "safexec_rate_limit_addresses")
        check(used is not None and used <= 16, f"addresses tracked: {used}")
        ev = metric(text, "safexec_rate_limit_evictions_total")
        check(ev is not None and ev >= n - 16, f"evictions: {ev}")
    finally:
        s.close()


@test
def keyed_server_stops_cleanly(ctx):
    s = ctx.keys_server()
    rc = s.stop()
    err = s.errors()
    eq(rc, 0, f"the keyed server's exit status; stderr: {err[-1500:]}")
    check("Sanitizer" not in err, f"a sanitizer's report: {err[-1500:]}")


# --- Main -------------------------------------------------------------------------------

def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", required=True)
    ap.add_argument("only", nargs="*", help="glob patterns of test names")
    args = ap.parse_args()
    binary = os.path.abspath(args.bin)
    if not os.access(binary, os.X_OK):
        print(f"keys: {binary} is not executable")
        print("0 passed, 1 failed")
        return 1
    ctx = Ctx(binary)
    tally = E.Tally()
    try:
        for name, fn in TESTS:
            if not args.only or any(fnmatch.fnmatch(name, p) for p in args.only):
                tally.run(name, fn, ctx)
    finally:
        ctx.close()
    print(tally.summary())
    return 1 if tally.failed else 0


if __name__ == "__main__":
    sys.exit(main())
