#!/usr/bin/env python3
"""Several `safexec serve` nodes on one PostgreSQL database: the shared job
queue and history, end to end against the real binary on loopback.

    tests/e2e/scale.py --bin build/safexec [NAME-GLOB ...]

The suite starts its own PostgreSQL server (tests/e2e/cluster.py:
initdb and pg_ctl from Debian's `postgresql` package, in a temporary
directory, as the `postgres` account, else uid 65534, when run as root,
on a unix socket and a loopback port) and stops it at the end, whatever
happens.  Each test gets a database of its own on it and starts its own
nodes (`--workers 2 --job-lease 3`, a data directory each, no JSON-lines
log), reaching the database by the three forms of connection string:
key=value on the socket, postgresql:// over TCP, postgres:// with the
socket's directory as the host.

- /healthz and /metrics report the store; the schema is created once and a
  second start, or three at once, on the same database changes nothing.
- 300 jobs submitted round-robin to three nodes: each done exactly once
  with its own output, the same JSON from every node, 300 executions in
  the history, paginated alike everywhere.
- ?wait=true, /api/v1/execute, /run, Piston's and Judge0's synchronous
  paths answered by one node while the others run a batch of jobs; sent
  to a node whose workers are all busy, they run on another and the node
  holding the connection answers them.
- SIGKILL of a node in the middle of a batch: its jobs run again
  elsewhere once their lease expires; every accepted job answered once.
  A synchronous run whose node is killed is run and recorded by another.
- The database stopped (pg_ctl stop -m fast) and started again in the
  middle of a batch: 503 store_unavailable on /healthz and on every new
  run or job while it is down, recovery after, nothing accepted lost.
- A job whose node is killed twice while it runs ends as internal_error.
- SIGTERM of a node in the middle of a batch: it stops claiming, finishes
  or hands back its jobs, exits 0, and nothing is lost.
- A node on the embedded SQLite reports "store": "sqlite".

Without PostgreSQL's programs every test that needs them prints a
`skip` line; with CI set in the environment (CI's runs set it, and
install PostgreSQL) each is a failure instead.  One line per test, then
"N passed, N failed[, N skipped]".
Python 3 standard library only.
"""
import argparse
import concurrent.futures as futures
import fnmatch
import os
import shutil
import signal
import socket
import statistics
import sys
import tempfile
import threading
import time
import traceback
from datetime import datetime

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from cluster import (ClusterError, Node, Postgres, Unavailable,  # noqa: E402
                     install_sigterm_handler, pg_bindir)

LEASE = 3


class Fail(Exception):
    pass


class Skip(Exception):
    pass


def check(cond, what):
    if not cond:
        raise Fail(what)


def eq(got, want, what=""):
    if got != want:
        raise Fail(f"{what}: got {got!r}, want {want!r}" if what else f"got {got!r}, want {want!r}")


def until(fn, timeout, what, every=0.1):
    deadline = time.time() + timeout
    while True:
        v = fn()
        if v:
            return v
        if time.time() > deadline:
            raise Fail(f"{what}: not within {timeout} s")
        time.sleep(every)


def body_json(r, what):
    try:
        return r.json()
    except ValueError:
        raise Fail(f"{what}: not JSON (HTTP {r.status}): {r.body[:300]!r}")


def ok_status(r, want, what):
    if r.status != want:
        raise Fail(f"{what}: HTTP {r.status}, want {want}: {r.body[:400]!r}")
    return body_json(r, what)


def when(s):
    """An RFC 3339 time of the API (UTC, milliseconds) as Unix seconds."""
    return datetime.strptime(s.replace("Z", "+0000"), "%Y-%m-%dT%H:%M:%S.%f%z").timestamp()


def pool(n=12):
    return futures.ThreadPoolExecutor(max_workers=n)


# --- Jobs and the history ----------------------------------------------------------

def piston_body(code):
    return {"language": "python", "version": "*", "files": [{"name": "main.py", "content": code}]}


def job_body(code, **extra):
    return {"language": "python", "code": code, **extra}


def submit(node, code, **extra):
    """POST /api/v1/jobs: the token of a 202."""
    r = node.post("/api/v1/jobs", job_body(code, **extra))
    return ok_status(r, 202, f"POST /api/v1/jobs to {node.name}")["token"]


def submit_round_robin(nodes, codes, workers=12):
    """codes[i] to nodes[i % len(nodes)], concurrently: the tokens in order."""
    with pool(workers) as ex:
        return list(ex.map(lambda i: submit(nodes[i % len(nodes)], codes[i]),
                           range(len(codes))))


def job_get(node, token):
    return ok_status(node.get(f"/api/v1/jobs/{token}", timeout=30), 200,
                     f"GET /api/v1/jobs/{token} from {node.name}")


def wait_all(nodes, tokens, timeout, what="jobs"):
    """Polls every token (each from the live nodes in turn) until all are
    done: {token: job}."""
    left, done = list(tokens), {}
    deadline = time.time() + timeout
    k = 0
    with pool(8) as ex:
        while left:
            live = [n for n in nodes if n.alive()]
            check(live, "no node left alive to ask")
            jobs = list(ex.map(lambda ik: job_get(live[(ik[0] + k) % len(live)], ik[1]),
                               enumerate(left)))
            k += 1
            for tok, j in zip(list(left), jobs):
                eq(j["token"], tok, "the job's token")
                if j["state"] == "done":
                    done[tok] = j
                    left.remove(tok)
            if left:
                if time.time() > deadline:
                    states = {}
                    for j in jobs:
                        if j["state"] != "done":
                            states[j["state"]] = states.get(j["state"], 0) + 1
                    raise Fail(f"{what}: {len(left)} of {len(tokens)} not done within "
                               f"{timeout} s (states {states})")
                time.sleep(0.2)
    return done


def history(node, limit=100):
    """Every execution, newest first, through the pages of
    GET /api/v1/executions."""
    out, before, seen = [], None, set()
    while True:
        q = f"/api/v1/executions?limit={limit}" + (f"&before={before}" if before else "")
        j = ok_status(node.get(q, timeout=30), 200, f"GET {q} from {node.name}")
        page = j["executions"]
        ids = [e["id"] for e in page]
        check(ids == sorted(ids, reverse=True), f"a page newest first: {ids}")
        check(not seen & set(ids), f"pages overlap: {sorted(seen & set(ids))[:10]}")
        seen |= set(ids)
        out += page
        if j.get("next_before") is None:
            return out
        check(page and j["next_before"] == page[-1]["id"],
              f"next_before {j.get('next_before')} is the last item's id")
        before = j["next_before"]


def check_history_once(nodes, want_previews, what="history"):
    """The history, read from each node, holds exactly the programs of
    want_previews, each once, and reads the same from every node."""
    hists = [history(n) for n in nodes]
    first = hists[0]
    for n, h in zip(nodes[1:], hists[1:]):
        check([e["id"] for e in h] == [e["id"] for e in first],
              f"{what}: {nodes[0].name} and {n.name} list different executions "
              f"({len(first)} and {len(h)})")
    counts = {}
    for e in first:
        counts[e["code_preview"]] = counts.get(e["code_preview"], 0) + 1
    twice = {k: v for k, v in counts.items() if v > 1}
    missing = sorted(set(want_previews) - set(counts))
    extra = sorted(set(counts) - set(want_previews))
    check(not twice and not missing and not extra,
          f"{what}: each program once: more than once {list(twice.items())[:5]}, "
          f"missing {missing[:5]} ({len(missing)}), unexpected {extra[:5]}")
    eq(len(first), len(want_previews), f"{what}: executions")
    return first


def sleeper(i, seconds, tag):
    """A program that sleeps, then prints its number; its preview (the
    history's first 80 characters) names it."""
    return f"import time\ntime.sleep({seconds})\nprint({i})  # {tag}{i}"


def running_on(nodes, tokens, name):
    """The tokens whose job runs now on the node name."""
    live = [n for n in nodes if n.alive()]
    with pool(8) as ex:
        jobs = list(ex.map(lambda t: job_get(live[0], t), tokens))
    return [j["token"] for j in jobs if j["state"] == "running" and j.get("node") == name]


def check_outputs(done, tokens, want):
    wrong = []
    for i, tok in enumerate(tokens):
        res = done[tok].get("result") or {}
        if res.get("status") != "ok" or res.get("stdout") != want(i):
            wrong.append((i, res.get("status"), res.get("stdout"), res.get("message")))
    check(not wrong, f"{len(wrong)} wrong answers: {wrong[:5]}")


def gone(pids, timeout, what):
    def dead():
        for pid, _ in pids:
            try:
                with open(f"/proc/{pid}/stat") as f:
                    if f.read().rsplit(")", 1)[1].split()[0] != "Z":
                        return False
            except (OSError, IndexError):
                pass
        return True
    until(dead, timeout, what)


def healthz(node, timeout=10):
    r = node.get("/healthz", timeout=timeout)
    return r, body_json(r, f"/healthz of {node.name}")


def expect_503_json(r, what, api="v1"):
    """A 503 with the error body of the API the path belongs to: v1's
    {error: {code, message}}, Judge0's {error: "..."}, Piston's
    {message: "..."} (docs/api.md, docs/compat.md)."""
    check(r.status == 503, f"{what}: HTTP {r.status}, want 503: {r.body[:300]!r}")
    j = body_json(r, what)
    check(isinstance(j, dict), f"{what}: a JSON object: {j}")
    if api == "v1":
        err = j.get("error")
        check(isinstance(err, dict) and isinstance(err.get("code"), str)
              and isinstance(err.get("message"), str) and err["message"],
              f"{what}: v1's error body {{error: {{code, message}}}}: {j}")
    elif api == "judge0":
        check(isinstance(j.get("error"), str) and j["error"],
              f"{what}: Judge0's error body {{error: \"...\"}}: {j}")
    else:
        check(isinstance(j.get("message"), str) and j["message"],
              f"{what}: Piston's error body {{message: \"...\"}}: {j}")
    return j


# --- The registry --------------------------------------------------------------------

TESTS = []


def test(needs_pg=True):
    def wrap(fn):
        TESTS.append((fn.__name__, fn, needs_pg))
        return fn
    return wrap


class Ctx:
    """What one test has: the binary, the PostgreSQL server, a database of
    its own, a scratch directory and the nodes it started (all stopped
    when the test ends)."""

    def __init__(self, binary, pg, name):
        self.binary, self.pg = binary, pg
        self.scratch = tempfile.mkdtemp(prefix="safexec-scale-")
        self.nodes = []
        self.db = None
        self.pg_log_at = pg.log_size() if pg is not None else 0
        if pg is not None:
            if not pg.up:
                pg.start()
            self.db = pg.create_database(name.lower()[:63])

    def conninfo(self, form="keyvalue"):
        return self.pg.conninfo(self.db, form)

    def node(self, name, *args, form="keyvalue", store=True, **kw):
        n = Node(self.binary, name, self.conninfo(form) if store else None,
                 self.scratch, *args, lease=LEASE, **kw)
        self.nodes.append(n)
        return n

    def three(self, *args, **kw):
        """Nodes a, b and c, started at once, each reaching the database
        by another form of connection string."""
        with pool(3) as ex:
            fs = [ex.submit(self.node, name, *args, form=form, **kw)
                  for name, form in (("a", "keyvalue"), ("b", "url"), ("c", "url-socket"))]
            nodes = [f.result() for f in fs]
        return nodes

    def tails(self):
        out = []
        for n in self.nodes:
            t = n.errors(1500).strip()
            if t:
                out.append(f"--- node {n.name or '(unnamed)'} stderr:\n{t}")
        if self.pg is not None and self.db is not None and self.pg.up:
            # The jobs not done, as the database has them (the columns of
            # src/store/postgres.c's schema; the whole row if they changed).
            now = "(extract(epoch from clock_timestamp()) * 1000)::bigint"
            for q in (f"SELECT token, state, attempts, node, owner, lease_ms - {now} "
                      f"AS lease_left_ms, started_ms - {now} AS started_ago_ms FROM jobs "
                      "WHERE state <> 'done' ORDER BY seq LIMIT 10",
                      "SELECT * FROM jobs WHERE state <> 'done' LIMIT 10"):
                try:
                    rows = self.pg.sql(q, self.db)
                    if rows:
                        out.append("--- jobs not done in the database:\n"
                                   + "\n".join("\t".join(r) for r in rows))
                    break
                except ClusterError as e:
                    err = str(e)
            else:
                out.append(f"--- jobs not done: {err[:300]}")
        if self.pg is not None:
            t = self.pg.log_since(self.pg_log_at)[-1500:].strip()
            if t:
                out.append(f"--- PostgreSQL's log during the test:\n{t}")
        return "\n".join(out)

    def close(self):
        def stop(n):
            try:
                n.stop(timeout=20)
            except ClusterError:
                pass
        with pool(4) as ex:
            list(ex.map(stop, self.nodes))
        shutil.rmtree(self.scratch, ignore_errors=True)


# --- The store in /healthz and /metrics, the schema --------------------------------------

STORE_METRICS = ("safexec_store_up", "safexec_store_reconnects_total",
                 "safexec_store_round_trips_total", "safexec_store_seconds_total",
                 "safexec_jobs_claimed_total")


@test()
def healthz_and_metrics_report_the_store(ctx):
    a = ctx.node("a")
    r, h = healthz(a)
    eq(r.status, 200, f"/healthz ({r.body[:200]!r})")
    eq((h.get("status"), h.get("store"), h.get("store_up"), h.get("node")),
       ("ok", "postgres", True, "a"), "/healthz's status, store, store_up, node")
    m0 = a.metrics()
    missing = [k for k in STORE_METRICS if k not in m0]
    check(not missing, f"/metrics lacks {missing}")
    eq(m0["safexec_store_up"], 1.0, "safexec_store_up")
    j = ok_status(a.post("/run", {"code": "print('hi')"}), 200, "POST /run")
    eq((j.get("status"), j.get("stdout")), ("ok", "hi\n"), "the run's answer")
    m1 = a.metrics()
    check(m1["safexec_jobs_claimed_total"] - m0["safexec_jobs_claimed_total"] <= 1,
          "one run, at most one claim")
    check(m1["safexec_store_round_trips_total"] > m0["safexec_store_round_trips_total"],
          "the run made round trips to the database")
    check(m1["safexec_store_seconds_total"] >= m0["safexec_store_seconds_total"],
          "safexec_store_seconds_total does not go back")
    rows = ctx.pg.sql("SELECT * FROM safexec_schema", ctx.db)
    check(rows, "safexec_schema holds the schema's version")
    rec = ok_status(a.get(f"/api/v1/executions/{j['id']}"), 200, "the run in the history")
    eq(rec.get("stdout"), "hi\n", "the record's stdout")


@test(needs_pg=False)
def sqlite_node_reports_sqlite(ctx):
    a = ctx.node(None, store=False)
    r, h = healthz(a)
    eq(r.status, 200, f"/healthz ({r.body[:200]!r})")
    eq((h.get("store"), h.get("store_up")), ("sqlite", True), "store, store_up")
    eq(h.get("node"), socket.gethostname(), "node: the host name by default")
    m = a.metrics()
    eq(m.get("safexec_store_up"), 1.0, "safexec_store_up")
    tok = submit(a, "print('lite')")
    d = wait_all([a], [tok], 30)[tok]
    eq(d["result"]["stdout"], "lite\n", "a job on SQLite")
    check(d.get("node") in (None, socket.gethostname()),
          f"node of a job on SQLite: null or this node's name: {d.get('node')!r}")
    b = ctx.node("named", store=False)
    eq(healthz(b)[1].get("node"), "named", "--node-name")


def schema_snapshot(ctx):
    version = ctx.pg.sql("SELECT * FROM safexec_schema", ctx.db)
    cols = ctx.pg.sql("SELECT table_name, column_name, data_type FROM "
                      "information_schema.columns WHERE table_schema = 'public' "
                      "ORDER BY 1, 2", ctx.db)
    idx = ctx.pg.sql("SELECT indexname, indexdef FROM pg_indexes "
                     "WHERE schemaname = 'public' ORDER BY 1", ctx.db)
    return version, cols, idx


@test()
def schema_created_once_and_started_again(ctx):
    # Three nodes starting at once on an empty database (a deployment
    # rolled out everywhere at the same time) all start, on one schema.
    nodes = ctx.three()
    v1, cols1, idx1 = schema_snapshot(ctx)
    check(len(v1) >= 1, f"safexec_schema: {v1}")
    tables = {c[0] for c in cols1}
    check("safexec_schema" in tables, f"tables: {sorted(tables)}")
    tok = submit(nodes[0], "print('before')")
    d = wait_all(nodes, [tok], 30)[tok]
    eq(d["result"]["stdout"], "before\n", "a job before the restart")
    for n in nodes:
        eq(n.stop(), 0, f"node {n.name}'s exit status after SIGTERM")
    # A second start on the same database, then three at once again:
    # nothing to migrate, nothing changed, nothing lost.
    nodes[1].start()
    eq(schema_snapshot(ctx), (v1, cols1, idx1), "the schema after a second start")
    for n in (nodes[0], nodes[2]):
        n.start()
    eq(schema_snapshot(ctx), (v1, cols1, idx1), "the schema after three more starts")
    for n in nodes:
        j = job_get(n, tok)
        eq((j["state"], j["result"]["stdout"]), ("done", "before\n"),
           f"the job from before, read from {n.name}")
    check_history_once(nodes, ["print('before')"])


# --- Three nodes, one queue ---------------------------------------------------------------

@test()
def three_nodes_300_jobs_round_robin(ctx):
    nodes = ctx.three()
    r0, c0 = runs(nodes), claimed(nodes)
    n_jobs = 300
    codes = [f"print({i})" for i in range(n_jobs)]
    t0 = time.time()
    tokens = submit_round_robin(nodes, codes)
    eq(len(set(tokens)), n_jobs, "distinct tokens")
    done = wait_all(nodes, tokens, 120)
    took = time.time() - t0
    check_outputs(done, tokens, lambda i: f"{i}\n")
    names = {n.name for n in nodes}
    ran = {}
    for tok in tokens:
        j = done[tok]
        check(j.get("node") in names, f"job {tok}'s node {j.get('node')!r} is one of {names}")
        ran[j["node"]] = ran.get(j["node"], 0) + 1
        check(j["created_at"] and j["started_at"] and j["finished_at"],
              f"times set: {j['created_at']}, {j['started_at']}, {j['finished_at']}")
        check(when(j["created_at"]) <= when(j["started_at"]) <= when(j["finished_at"]),
              f"created <= started <= finished: {j}")
    ids = [done[t]["result"]["id"] for t in tokens]
    eq(len(set(ids)), n_jobs, "each job its own execution id")

    # The same JSON for every job from every node, and its execution.
    def same_everywhere(i):
        tok = tokens[i]
        views = [job_get(n, tok) for n in nodes]
        for n, v in zip(nodes, views):
            if v != views[0]:
                raise Fail(f"job {tok} reads differently on {nodes[0].name} and {n.name}: "
                           f"{views[0]} / {v}")
        recs = [ok_status(n.get(f"/api/v1/executions/{ids[i]}"), 200,
                          f"execution {ids[i]} from {n.name}") for n in nodes]
        for n, rec in zip(nodes, recs):
            if rec != recs[0]:
                raise Fail(f"execution {ids[i]} reads differently on {n.name}")
        eq((recs[0]["code"], recs[0]["stdout"]), (codes[i], f"{i}\n"),
           f"execution {ids[i]}'s code and stdout")
    with pool(12) as ex:
        list(ex.map(same_everywhere, range(n_jobs)))

    hist = check_history_once(nodes, codes)
    eq(sorted(e["id"] for e in hist), sorted(ids), "the history's ids are the jobs' ids")
    # Pages of another size page the same list.
    eq([e["id"] for e in history(nodes[2], limit=7)], [e["id"] for e in hist],
       "pages of 7 list the same executions")
    eq(runs(nodes, r0), n_jobs, "runs of the three nodes in all (safexec_runs_total): "
       "each job run once")
    c1 = claimed(nodes)
    n_claimed = sum(c1[k] - c0[k] for k in c1)
    check(n_claimed <= n_jobs, f"{n_claimed} claims for {n_jobs} jobs")
    print(f"     300 jobs in {took:.1f} s; ran on {dict(sorted(ran.items()))}", flush=True)


@test()
def sync_and_wait_answered_while_others_run_jobs(ctx):
    a, b, c = ctx.three()
    r0 = runs([a, b, c])
    bg_codes = [sleeper(i, 0.3, "bg") for i in range(40)]
    with pool(4) as bg_ex:
        bg = bg_ex.submit(submit_round_robin, [b, c], bg_codes, 4)
        time.sleep(0.3)

        def waited(i):
            code = f"print('w{i}')"
            r = a.post("/api/v1/jobs?wait=true", job_body(code))
            j = ok_status(r, 200, "POST /api/v1/jobs?wait=true")
            eq((j["state"], j["result"]["status"], j["result"]["stdout"]),
               ("done", "ok", f"w{i}\n"), "a waited job's answer")
            return code

        def execute(i):
            code = f"print('e{i}')"
            j = ok_status(a.post("/api/v1/execute", job_body(code)), 200,
                          "POST /api/v1/execute")
            eq((j["status"], j["stdout"]), ("ok", f"e{i}\n"), "/api/v1/execute's answer")
            rec = ok_status(c.get(f"/api/v1/executions/{j['id']}"), 200,
                            "its execution from another node")
            eq(rec["stdout"], f"e{i}\n", "the record's stdout")
            return code

        def run(i):
            code = f"print('r{i}')"
            j = ok_status(a.post("/run", {"code": code}), 200, "POST /run")
            eq((j["status"], j["stdout"]), ("ok", f"r{i}\n"), "/run's answer")
            return code

        def piston(i):
            code = f"print('p{i}')"
            j = ok_status(a.post("/api/v2/execute", piston_body(code)), 200,
                          "Piston's POST /api/v2/execute")
            eq(j["run"]["stdout"], f"p{i}\n", "Piston's stdout")
            return code

        def judge0(i):
            code = f"print('j{i}')"
            j = ok_status(a.post("/submissions?wait=true",
                                 {"source_code": code, "language_id": 71}),
                          201, "Judge0's POST /submissions?wait=true")
            eq((j["status"]["id"], j["stdout"]), (3, f"j{i}\n"), "Judge0's answer")
            return code

        calls = ([(waited, i) for i in range(8)] + [(execute, i) for i in range(8)]
                 + [(run, i) for i in range(8)] + [(piston, i) for i in range(2)]
                 + [(judge0, i) for i in range(2)])
        with pool(8) as ex:
            sync_codes = list(ex.map(lambda fi: fi[0](fi[1]), calls))
        tokens = bg.result()
    done = wait_all([a, b, c], tokens, 60, "the background jobs")
    check_outputs(done, tokens, lambda i: f"{i}\n")
    check_history_once([a, b, c], [code[:80] for code in bg_codes] + sync_codes)
    eq(runs([a, b, c], r0), len(bg_codes) + len(sync_codes),
       "runs of the three nodes in all (safexec_runs_total): each request run once")


@test()
def busy_node_answers_runs_made_elsewhere(ctx):
    # a's two workers hold long jobs; what a client then sends to a runs
    # on b, and a answers it, well before its own workers are free.
    a = ctx.node("a")
    hold = [submit(a, sleeper(i, 8, "hold")) for i in range(2)]
    until(lambda: len(running_on([a], hold, "a")) == 2, 15, "a's two workers busy")
    b = ctx.node("b", form="url")
    t_busy = time.time()
    lat = []
    for i in range(4):
        t0 = time.time()
        j = ok_status(a.post("/api/v1/jobs?wait=true", job_body(f"print('x{i}')")), 200,
                      "POST /api/v1/jobs?wait=true to the busy node")
        lat.append(time.time() - t0)
        eq((j["state"], j["result"]["stdout"], j["node"]), ("done", f"x{i}\n", "b"),
           "state, stdout and node of a job waited for on a")
    for i in range(3):
        t0 = time.time()
        j = ok_status(a.post("/api/v1/execute", job_body(f"print('y{i}')")), 200,
                      "POST /api/v1/execute to the busy node")
        lat.append(time.time() - t0)
        eq(j["stdout"], f"y{i}\n", "stdout of a synchronous run sent to a")
        j = ok_status(a.post("/run", {"code": f"print('z{i}')"}), 200,
                      "POST /run to the busy node")
        eq(j["stdout"], f"z{i}\n", "stdout of /run sent to a")
    check(time.time() - t_busy < 6, f"answered while a's workers were still busy "
          f"({time.time() - t_busy:.1f} s)")
    eq([job_get(b, t)["state"] for t in hold], ["running", "running"],
       "a's own jobs still running")
    print(f"     waits and runs answered by a, run by b: median "
          f"{statistics.median(lat) * 1e3:.0f} ms", flush=True)
    a.kill()    # rather than wait for its 8 s programs to end


# --- A node killed, a node stopped --------------------------------------------------------

def runs(nodes, before=None):
    """safexec_runs_total (every status) of each node ({name: value}), or
    the sum of their increases since before: the sandboxes the nodes ran."""
    now = {n.name: n.metric_sum("safexec_runs_total") for n in nodes}
    if before is None:
        return now
    return sum(now[k] - before[k] for k in now)


def claimed(nodes):
    out = {}
    for n in nodes:
        m = n.metrics()
        check("safexec_jobs_claimed_total" in m, f"{n.name}'s /metrics lacks "
              "safexec_jobs_claimed_total")
        out[n.name] = m["safexec_jobs_claimed_total"]
    return out


def wait_running_on(nodes, tokens, name, timeout=20):
    return until(lambda: running_on(nodes, tokens, name), timeout,
                 f"a job running on node {name}", every=0.05)


@test()
def sigkill_node_mid_batch(ctx):
    a, b, c = ctx.three()
    n_jobs = 36
    codes = [sleeper(i, 1, "k") for i in range(n_jobs)]
    tokens = submit_round_robin([a, b, c], codes)
    on_c = wait_running_on([a, b], tokens, "c")
    time.sleep(0.2)
    on_c = running_on([a, b], tokens, "c") or on_c
    kids = c.descendants()
    c.kill()
    gone(kids, 10, "the killed node's sandboxes gone")
    done = wait_all([a, b], tokens, 90)
    check_outputs(done, tokens, lambda i: f"{i}\n")
    for tok in on_c:
        check(done[tok]["node"] in ("a", "b"),
              f"job {tok}, running on c when it was killed, run again by a or b: "
              f"{done[tok]['node']!r}")
    check_history_once([a, b], [code[:80] for code in codes])
    print(f"     {len(on_c)} jobs running on c when it was killed", flush=True)


@test()
def sync_run_of_a_killed_node_runs_elsewhere(ctx):
    # A synchronous run that had to wait is a job in the shared queue: when
    # the node running it dies, another node runs it once its lease
    # expires, records it once, and the node holding the client's
    # connection answers it.
    a, b, c = ctx.three()
    hold = [submit(a, sleeper(i, 30, "hold")) for i in range(2)]
    until(lambda: len(running_on([a], hold, "a")) == 2, 15, "a's two workers busy")
    code = "import time\ntime.sleep(2)\nprint('s')  # sync-spilled"
    got = {}

    def client():
        got["r"] = a.post("/api/v1/execute", job_body(code), timeout=60)
    t = threading.Thread(target=client)
    t.start()
    rows = until(lambda: ctx.pg.sql("SELECT node FROM jobs WHERE state = 'running'"
                                    " AND api = 'execute'", ctx.db) or None,
                 10, "the run running on b or c", every=0.05)
    runner = {"b": b, "c": c}[rows[0][0]]
    other = c if runner is b else b
    runner.kill()
    t.join(LEASE + 30)
    r = got.get("r")
    check(r is not None, "a answered the run")
    j = ok_status(r, 200, "POST /api/v1/execute held by a")
    eq((j["status"], j["stdout"]), ("ok", "s\n"), "the run's answer")
    eq(ctx.pg.sql("SELECT state, node, attempts FROM jobs WHERE api = 'execute'", ctx.db),
       [["done", other.name, "2"]], "the run's job, run again and done by the other node")
    recs = [e for e in history(a) if "sync-spilled" in e["code_preview"]]
    eq(len(recs), 1, "executions of the run")
    a.kill()    # rather than wait for its 30 s programs to end


@test()
def sync_run_here_is_not_run_again(ctx):
    # A synchronous run that a free worker of its node takes at once is no
    # job: when that node dies with its client's connection, the client
    # gets no answer and nobody runs it again.
    a = ctx.node("a")
    b = ctx.node("b", form="url")
    code = "import time\ntime.sleep(2)\nprint('s')  # sync-here"
    got = {}

    def client():
        try:
            got["r"] = a.post("/api/v1/execute", job_body(code), timeout=30)
        except OSError as e:
            got["e"] = e
    t = threading.Thread(target=client)
    t.start()
    kids = until(lambda: a.descendants() or None, 10, "the run's sandbox on a", every=0.05)
    a.kill()
    gone(kids, 10, "the killed node's sandbox gone")
    t.join(30)
    check("e" in got or got["r"].status >= 500,
          f"the client of a killed node gets no answer: {got}")
    time.sleep(LEASE + 2)
    eq(ctx.pg.sql("SELECT count(*) FROM jobs", ctx.db), [["0"]], "jobs")
    eq([e for e in history(b) if "sync-here" in e["code_preview"]], [],
       "records of the run")


@test()
def sigterm_node_mid_batch_loses_nothing(ctx):
    a, b, c = ctx.three("--grace-period", "10")
    n_jobs = 36
    codes = [sleeper(i, 0.5, "t") for i in range(n_jobs)]
    tokens = submit_round_robin([a, b, c], codes)
    wait_running_on([a, b], tokens, "c")
    t_term = time.time()
    rc = c.stop(signal.SIGTERM, timeout=20)
    eq(rc, 0, "exit status after SIGTERM")
    check(time.time() - t_term < 10 + 3, f"stopped within its grace period "
          f"({time.time() - t_term:.1f} s)")
    done = wait_all([a, b], tokens, 60)
    check_outputs(done, tokens, lambda i: f"{i}\n")
    late = [(tok, done[tok]["started_at"]) for tok in tokens
            if done[tok]["node"] == "c" and when(done[tok]["started_at"]) > t_term + 1]
    check(not late, f"jobs c started more than 1 s after its SIGTERM: {late[:3]}")
    check_history_once([a, b], [code[:80] for code in codes])


@test()
def sigterm_grace_expired_jobs_handed_back(ctx):
    a = ctx.node("a")
    b = ctx.node("b", "--grace-period", "1", form="url")
    codes = [sleeper(i, 3, "g") for i in range(4)]
    tokens = submit_round_robin([a, b], codes, 4)
    on_b = wait_running_on([a], tokens, "b")
    t_term = time.time()
    eq(b.stop(signal.SIGTERM, timeout=15), 0, "exit status after SIGTERM")
    check(time.time() - t_term < 1 + 4, f"stopped after its 1 s grace period "
          f"({time.time() - t_term:.1f} s)")
    done = wait_all([a], tokens, 60)
    check_outputs(done, tokens, lambda i: f"{i}\n")
    for tok in on_b:
        eq(done[tok]["node"], "a", f"job {tok}, cut short on b, run again on a")
    check_history_once([a], [code[:80] for code in codes])


@test()
def attempts_exhausted_end_as_internal_error(ctx):
    nodes = ctx.three("--job-attempts", "2")
    by_name = {n.name: n for n in nodes}
    code = "import time\ntime.sleep(19)\nprint('never')  # attempts"
    tok = submit(nodes[0], code, limits={"wall_time_ms": 20000})
    starts = []
    for attempt in (1, 2):
        def running():
            live = [n for n in nodes if n.alive()]
            j = job_get(live[0], tok)
            if j["state"] == "running" and j.get("node") and j["started_at"] not in starts:
                return j
            check(j["state"] != "done", f"the job ended before its attempts did: {j}")
            return None
        j = until(running, 3 * LEASE + 15, f"start {attempt} of the job", every=0.1)
        starts.append(j["started_at"])
        victim = by_name[j["node"]]
        time.sleep(0.3)
        victim.kill()
        victim.start()
    d = until(lambda: (lambda j: j if j["state"] == "done" else None)(job_get(nodes[0], tok)),
              3 * LEASE + 15, "the job finished after its last attempt")
    res = d["result"] or {}
    eq(res.get("status"), "internal_error", f"status of a job out of attempts ({res})")
    check(isinstance(res.get("message"), str) and res["message"],
          f"a message says why: {res.get('message')!r}")
    check("never" not in (res.get("stdout") or ""), "the program never finished")
    for n in nodes:
        eq(job_get(n, tok), d, f"the job as {n.name} reads it")
    print(f"     message: {res['message']}", flush=True)


# --- The database stopped and started again -----------------------------------------------

def store_down(node):
    try:
        r, h = healthz(node, timeout=5)
    except (OSError, Fail):
        return None
    if r.status == 503 and h.get("status") == "store_unavailable" and h.get("store_up") is False:
        return h
    return None


def store_back(node):
    try:
        r, h = healthz(node, timeout=5)
    except (OSError, Fail):
        return None
    return h if r.status == 200 and h.get("store_up") is True else None


@test()
def database_restart_mid_batch(ctx):
    nodes = ctx.three()
    a, b, c = nodes
    codes = [sleeper(i, 0.5, "d") for i in range(30)]
    tokens = submit_round_robin(nodes, codes)
    wait_running_on(nodes, tokens, "a")
    time.sleep(0.5)
    t_down = time.time()
    ctx.pg.stop("fast")
    try:
        for n in nodes:
            until(lambda: store_down(n), 15, f"node {n.name}'s /healthz: 503, "
                  "store_unavailable, store_up false", every=0.2)
            eq(n.metrics().get("safexec_store_up"), 0.0, f"{n.name}'s safexec_store_up")
        # Every new run or job is refused with a JSON 503; a 2xx would be
        # one the node could not have stored.
        slipped = []
        for n in nodes:
            for api, path, body in (
                    ("v1", "/api/v1/jobs", job_body("print('down')")),
                    ("v1", "/api/v1/jobs?wait=true", job_body("print('down')")),
                    ("v1", "/api/v1/execute", job_body("print('down')")),
                    ("v1", "/run", {"code": "print('down')"}),
                    ("judge0", "/submissions", {"source_code": "print('down')",
                                                "language_id": 71}),
                    ("judge0", "/submissions?wait=true", {"source_code": "print('down')",
                                                          "language_id": 71}),
                    ("piston", "/api/v2/execute", piston_body("print('down')"))):
                r = n.post(path, body, timeout=30)
                if 200 <= r.status < 300:
                    slipped.append((n.name, path, r.status, r.body[:200]))
                    continue
                expect_503_json(r, f"POST {path} to {n.name} with the database down", api)
        check(not slipped, f"accepted with the database down: {slipped}")
        # Down for longer than a lease: no lease outlives the outage.
        time.sleep(max(0.0, t_down + LEASE + 1.5 - time.time()))
    finally:
        ctx.pg.start()
    for n in nodes:
        until(lambda: store_back(n), 20, f"node {n.name} back on the database", every=0.2)
        m = n.metrics()
        eq(m.get("safexec_store_up"), 1.0, f"{n.name}'s safexec_store_up")
        check(m.get("safexec_store_reconnects_total", 0) >= 1,
              f"{n.name}'s safexec_store_reconnects_total: "
              f"{m.get('safexec_store_reconnects_total')}")
    after = [sleeper(i, 0.1, "u") for i in range(30, 45)]
    tokens2 = submit_round_robin(nodes, after)
    done = wait_all(nodes, tokens + tokens2, 90)
    check_outputs(done, tokens + tokens2, lambda i: f"{i}\n")
    check_history_once(nodes, [code[:80] for code in codes + after])


# --- Runner ---------------------------------------------------------------------------------

def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", required=True)
    ap.add_argument("only", nargs="*", help="glob patterns of test names")
    args = ap.parse_args()
    install_sigterm_handler()
    binary = os.path.abspath(args.bin)
    if not os.access(binary, os.X_OK):
        print(f"scale: {binary} is not executable")
        print("0 passed, 1 failed")
        return 1
    selected = [(n, f, p) for n, f, p in TESTS
                if not args.only or any(fnmatch.fnmatch(n, g) for g in args.only)]
    passed = failed = skipped = 0
    start = time.time()
    pg, no_pg = None, None
    if any(p for _, _, p in selected):
        try:
            pg_bindir()
        except Unavailable as e:
            no_pg = str(e)
    try:
        if any(p for _, _, p in selected) and not no_pg:
            try:
                pg = Postgres()
                print(f"scale: PostgreSQL from {pg.bindir} in {pg.dir}, port {pg.port}",
                      flush=True)
            except Exception as e:
                print(f"FAIL postgres_start: {e}")
                print(f"{passed} passed, {failed + 1} failed")
                return 1
        for name, fn, needs_pg in selected:
            if needs_pg and no_pg:
                # CI installs PostgreSQL (tools/install-deps.sh --test):
                # there a missing one is a failure, not a skip.
                if os.environ.get("CI"):
                    print(f"FAIL {name}: {no_pg} (CI is set: the tests must run)", flush=True)
                    failed += 1
                else:
                    print(f"skip {name}: {no_pg}", flush=True)
                    skipped += 1
                continue
            t0 = time.time()
            ctx = None
            try:
                ctx = Ctx(binary, pg if needs_pg else None, name)
                fn(ctx)
                print(f"ok   {name} ({time.time() - t0:.1f}s)", flush=True)
                passed += 1
            except Skip as e:
                print(f"skip {name}: {e}", flush=True)
                skipped += 1
            except Exception as e:
                failed += 1
                print(f"FAIL {name} ({time.time() - t0:.1f}s): {e}", flush=True)
                if not isinstance(e, (Fail, ClusterError)):
                    traceback.print_exc(file=sys.stdout)
                if ctx is not None:
                    print(ctx.tails(), flush=True)
            finally:
                if ctx is not None:
                    ctx.close()
    finally:
        if pg is not None:
            pg.close()
    print(f"scale took {time.time() - start:.0f} s")
    tail = f", {skipped} skipped" if skipped else ""
    print(f"{passed} passed, {failed} failed{tail}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
