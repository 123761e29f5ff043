#!/usr/bin/env python3
"""Trivial jobs (`print(1)`) through one node on SQLite, one node on
PostgreSQL and three nodes on PostgreSQL, side by side in one run, and the
queue's own cost per job.

    bench/scale.py [--bin build/safexec] [--rounds 3] [--jobs 300] [--serial 100]
                   [--concurrency 8] [--workers 2] [--raw FILE]

Starts a PostgreSQL server of its own (tests/e2e/cluster.py: initdb and
pg_ctl from Debian's `postgresql` package, in a temporary directory, as
an unprivileged user when run as root, every setting at its default,
fsync and synchronous_commit included) and five `safexec serve` on loopback ports
with temporary data directories and no JSON-lines log, `--workers` each:

  sqlite    one node on the embedded SQLite (the default store);
  pg1       one node on PostgreSQL (a database of its own);
  pg3       three nodes on one PostgreSQL database, the client's requests
            spread over them round-robin, as a load balancer would.

--pg-setting NAME=VALUE changes a setting of the server (e.g.
synchronous_commit=off, to see what it trades).

Every round measures, for each side in an order that rotates from one
round to the next (so that a shared machine's drift falls on all of them),
three kinds of load:

  serial    --serial POST /api/v1/execute one after another: each job's
            latency with nothing else running, so that what the queue
            adds to one job is not hidden behind other jobs' sandboxes;
  sync      --jobs POST /api/v1/execute, --concurrency at a time, each
            client thread on a kept-alive connection of its own;
  async     --jobs POST /api/v1/jobs submitted (--concurrency at a time),
            then every token polled until done: jobs over the time from
            the first submission to the last job's finished_at.

Every answer must be status ok with stdout "1\n"; anything else stops the
script, but for a 503 (nothing was stored), sent again a second later as
Retry-After asks, up to five times, and counted in the report.  The
queue's own cost per job comes from each side's /metrics, summed over its
nodes, for each kind: the deltas of safexec_store_round_trips_total and
safexec_store_seconds_total (the wall time of each round trip, summed
over the threads that wait) divided by the jobs; and, for the PostgreSQL
sides, PostgreSQL's own count of committed transactions
(pg_stat_database.xact_commit, which the server flushes up to a second
late) over the round's jobs.  Also the serial latency's median next to
SQLite's.  The target it is read against: the queue adds under 1 ms per
job.  Nothing is asserted: the script only measures.  Run as root (the
sandbox then uses cgroups, as in production).  Python 3 standard library
only.
"""
import argparse
import concurrent.futures as futures
import http.client
import json
import os
import re
import shutil
import sys
import tempfile
import threading
import time
from datetime import datetime

ROOT = os.path.abspath(os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
sys.path.insert(0, os.path.join(ROOT, "tests", "e2e"))
from cluster import (ClusterError, Node, Postgres, Unavailable,  # noqa: E402
                     install_sigterm_handler)

BODY = json.dumps({"language": "python", "code": "print(1)"}).encode()
CT = {"Content-Type": "application/json"}


def die(msg):
    raise SystemExit(f"bench: {msg}")


def when(s):
    return datetime.strptime(s.replace("Z", "+0000"), "%Y-%m-%dT%H:%M:%S.%f%z").timestamp()


class Client:
    """One kept-alive connection per (thread, node).  A 503 (nothing was
    stored: queue_full, store_unavailable) is sent again after a second,
    as Retry-After asks, up to 5 times, and counted."""

    def __init__(self):
        self.local = threading.local()
        self.lock = threading.Lock()
        self.retried = {}

    def post(self, side, node, path, body):
        for attempt in range(6):
            status, raw = self.request(node, "POST", path, body)
            if status != 503 or attempt == 5:
                return status, raw
            with self.lock:
                key = (side.name, raw[:100])
                self.retried[key] = self.retried.get(key, 0) + 1
            time.sleep(1)

    def request(self, node, method, path, body=None):
        conns = getattr(self.local, "conns", None)
        if conns is None:
            conns = self.local.conns = {}
        for attempt in (0, 1):
            conn = conns.get(node.port)
            if conn is None:
                conn = conns[node.port] = http.client.HTTPConnection("127.0.0.1", node.port,
                                                                     timeout=120)
            try:
                conn.request(method, path, body, CT if body is not None else {})
                r = conn.getresponse()
                return r.status, r.read()
            except (http.client.HTTPException, OSError):
                conn.close()
                del conns[node.port]
                if attempt:
                    raise


KINDS = ("serial", "sync", "async")


class Side:
    def __init__(self, name, label, nodes, dbname=None):
        self.name, self.label, self.nodes, self.dbname = name, label, nodes, dbname
        # Per kind: seconds, jobs, latencies (serial, sync), and the
        # deltas of the nodes' store counters.
        self.s = {k: 0.0 for k in KINDS}
        self.n = {k: 0 for k in KINDS}
        self.lat = {k: [] for k in KINDS}
        self.trips = {k: 0.0 for k in KINDS}
        self.db_s = {k: 0.0 for k in KINDS}
        self.counted = True
        self.xacts, self.xact_jobs = None, 0
        self.ran_on = {}

    def metrics(self):
        out = {"rt": 0.0, "s": 0.0}
        for n in self.nodes:
            m = n.metrics()
            if "safexec_store_round_trips_total" not in m:
                self.counted = False
            out["rt"] += m.get("safexec_store_round_trips_total", 0.0)
            out["s"] += m.get("safexec_store_seconds_total", 0.0)
        return out


def check_answer(status, raw, what):
    if status != 200:
        die(f"{what}: HTTP {status}: {raw[:300]!r}")
    j = json.loads(raw)
    if j.get("status") != "ok" or j.get("stdout") != "1\n":
        die(f"{what}: status {j.get('status')}, stdout {j.get('stdout')!r}: {j.get('message')}")
    return j


def run_sync(side, client, n, conc):
    nodes = side.nodes
    lat = [0.0] * n

    def one(i):
        t0 = time.perf_counter()
        status, raw = client.post(side, nodes[i % len(nodes)], "/api/v1/execute", BODY)
        lat[i] = time.perf_counter() - t0
        check_answer(status, raw, f"{side.name}: POST /api/v1/execute")

    t0 = time.perf_counter()
    with futures.ThreadPoolExecutor(conc) as ex:
        list(ex.map(one, range(n)))
    return time.perf_counter() - t0, lat


def run_async(side, client, n, conc):
    nodes = side.nodes
    tokens = [None] * n
    t0_wall = time.time()
    t0 = time.perf_counter()

    def submit(i):
        status, raw = client.post(side, nodes[i % len(nodes)], "/api/v1/jobs", BODY)
        if status != 202:
            die(f"{side.name}: POST /api/v1/jobs: HTTP {status}: {raw[:300]!r}")
        tokens[i] = json.loads(raw)["token"]

    with futures.ThreadPoolExecutor(conc) as ex:
        list(ex.map(submit, range(n)))
    jobs = [None] * n

    def await_one(i):
        node = nodes[i % len(nodes)]
        deadline = time.time() + 120
        while True:
            if time.time() > deadline:
                die(f"{side.name}: job {tokens[i]} not done within 120 s")
            status, raw = client.request(node, "GET", f"/api/v1/jobs/{tokens[i]}")
            if status != 200:
                die(f"{side.name}: GET /api/v1/jobs: HTTP {status}: {raw[:300]!r}")
            j = json.loads(raw)
            if j["state"] == "done":
                check_answer(200, json.dumps(j["result"]).encode(), f"{side.name}: job")
                jobs[i] = j
                return
            time.sleep(0.02)

    with futures.ThreadPoolExecutor(conc) as ex:
        list(ex.map(await_one, range(n)))
    elapsed_client = time.perf_counter() - t0
    last = max(when(j["finished_at"]) for j in jobs)
    # The server's clock for the end (the same machine's), the client's for
    # the start: the polling interval does not count.
    elapsed = min(elapsed_client, max(last - t0_wall, 1e-3))
    for j in jobs:
        k = j.get("node") or side.name
        side.ran_on[k] = side.ran_on.get(k, 0) + 1
    return elapsed


def xact_commit(pg, dbname):
    rows = pg.sql(f"SELECT xact_commit FROM pg_stat_database WHERE datname = '{dbname}'")
    return int(rows[0][0]) if rows else 0


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--bin", default="build/safexec")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--jobs", type=int, default=300, help="jobs per side and kind per round")
    ap.add_argument("--concurrency", type=int, default=8)
    ap.add_argument("--serial", type=int, default=100,
                    help="jobs one after another per side per round (default 100)")
    ap.add_argument("--workers", type=int, default=2, help="--workers of every node")
    ap.add_argument("--pg-setting", action="append", default=[], metavar="NAME=VALUE",
                    help="a setting of the PostgreSQL server (-c NAME=VALUE), e.g. "
                         "synchronous_commit=off; may be repeated")
    ap.add_argument("--raw", help="write every figure measured here, as JSON")
    args = ap.parse_args()
    install_sigterm_handler()
    binary = os.path.abspath(args.bin)
    if not os.access(binary, os.X_OK):
        die(f"{args.bin} is not built")
    if os.geteuid() != 0:
        print("bench: not root: the sandbox runs without cgroups", file=sys.stderr)

    scratch = tempfile.mkdtemp(prefix="safexec-bench-scale-")
    pg = None
    nodes = []
    try:
        try:
            for kv in args.pg_setting:
                if not re.fullmatch(r"[a-z_.]+=[A-Za-z0-9_.:-]+", kv):
                    die(f"--pg-setting {kv!r}: NAME=VALUE")
            pg = Postgres(settings=args.pg_setting)
        except Unavailable as e:
            die(str(e))
        db1 = pg.create_database("bench_pg1")
        db3 = pg.create_database("bench_pg3")

        def node(name, store):
            n = Node(binary, name, store, scratch, workers=args.workers, lease=None)
            nodes.append(n)
            return n

        sides = [
            Side("sqlite", "1 node, SQLite", [node("sqlite", None)]),
            Side("pg1", "1 node, PostgreSQL", [node("pg1", pg.conninfo(db1))], db1),
            Side("pg3", "3 nodes, PostgreSQL",
                 [node(f"pg3-{k}", pg.conninfo(db3, form)) for k, form in
                  enumerate(("keyvalue", "url", "url-socket"))], db3),
        ]
        client = Client()
        # A warm-up of each, not counted: the page cache, the connections.
        for side in sides:
            run_sync(side, client, 4 * args.concurrency, args.concurrency)
            run_async(side, client, 2 * args.concurrency, args.concurrency)
            side.ran_on = {}
        raw = {s.name: {k: [] for k in KINDS} for s in sides}
        t_start = time.time()
        for rnd in range(args.rounds):
            for k in range(len(sides)):
                side = sides[(rnd + k) % len(sides)]
                x0 = xact_commit(pg, side.dbname) if side.dbname else None
                for kind in KINDS:
                    m0 = side.metrics()
                    if kind == "serial":
                        el, lat = run_sync(side, client, args.serial, 1)
                        n = args.serial
                    elif kind == "sync":
                        el, lat = run_sync(side, client, args.jobs, args.concurrency)
                        n = args.jobs
                    else:
                        el, lat = run_async(side, client, args.jobs, args.concurrency), []
                        n = args.jobs
                    m1 = side.metrics()
                    side.s[kind] += el
                    side.n[kind] += n
                    side.lat[kind] += lat
                    side.trips[kind] += m1["rt"] - m0["rt"]
                    side.db_s[kind] += m1["s"] - m0["s"]
                    raw[side.name][kind].append({"seconds": el, "jobs": n,
                                                 "round_trips": m1["rt"] - m0["rt"],
                                                 "db_seconds": m1["s"] - m0["s"],
                                                 "latencies": lat})
                if side.dbname:
                    # The statistics of an idle backend reach
                    # pg_stat_database up to a second after its commits.
                    time.sleep(1.2)
                    side.xacts = (side.xacts or 0) + xact_commit(pg, side.dbname) - x0
                    side.xact_jobs += args.serial + 2 * args.jobs
            print(f"bench: round {rnd + 1}/{args.rounds} done", file=sys.stderr)
        elapsed = time.time() - t_start
    except ClusterError as e:
        die(str(e))
    finally:
        for n in nodes:
            try:
                n.stop(timeout=30)
            except ClusterError:
                pass
        if pg is not None:
            pg.close()
        shutil.rmtree(scratch, ignore_errors=True)

    if args.raw:
        with open(args.raw, "w") as f:
            json.dump(raw, f, indent=1)
    print(f"{args.rounds} rounds in {elapsed:.0f} s, {os.cpu_count()} CPUs, uid {os.geteuid()}, "
          f"load {os.getloadavg()[0]:.1f}; per side and round: {args.serial} serial, "
          f"{args.jobs} sync (concurrency {args.concurrency}), {args.jobs} async; "
          f"{args.workers} workers per node; PostgreSQL "
          f"{', '.join(args.pg_setting) or 'with its defaults'}")
    base = sides[0]

    def rate(side, kind):
        return side.n[kind] / side.s[kind]

    def pct(v, q):
        v = sorted(v)
        return v[min(len(v) - 1, int(len(v) * q))] * 1e3

    print()
    print("throughput (jobs/s) and latency (ms)")
    print(f"{'side':22} {'sync/s':>8} {'p50':>7} {'p99':>7} {'async/s':>8} "
          f"{'sync vs SQLite':>15} {'async vs SQLite':>16}")
    for s_ in sides:
        print(f"{s_.label:22} {rate(s_, 'sync'):8.1f} {pct(s_.lat['sync'], 0.5):7.1f} "
              f"{pct(s_.lat['sync'], 0.99):7.1f} {rate(s_, 'async'):8.1f} "
              f"{rate(s_, 'sync') / rate(base, 'sync'):15.2f} "
              f"{rate(s_, 'async') / rate(base, 'async'):16.2f}")
    print()
    print("the queue per job: serial latency (ms); round trips and time waiting on the "
          "database (ms, summed over threads) per kind; transactions")
    print(f"{'side':22} {'serial p50':>10} {'+ SQLite':>8} {'trips':>17} "
          f"{'db ms':>17} {'xacts':>6}")
    print(f"{'':22} {'':>10} {'':>8} {'serial sync async':>17} {'serial sync async':>17}")
    for s_ in sides:
        p50 = pct(s_.lat["serial"], 0.5)
        counted = s_.counted and sum(s_.trips.values()) > 0

        def per(kind, v, scale, fmt):
            return format(v[kind] / s_.n[kind] * scale, fmt) if counted else "-"
        trips = " ".join(f"{per(k, s_.trips, 1, '.1f'):>5}" for k in KINDS)
        dbms = " ".join(f"{per(k, s_.db_s, 1e3, '.2f'):>5}" for k in KINDS)
        xa = f"{s_.xacts / s_.xact_jobs:.1f}" if s_.xacts is not None else "-"
        print(f"{s_.label:22} {p50:10.1f} {p50 - pct(base.lat['serial'], 0.5):+8.1f} "
              f"{trips:>17} {dbms:>17} {xa:>6}")
    print("(async's round trips include the client's polls: each GET /api/v1/jobs/TOKEN "
          "is one)")
    for s_ in sides:
        if len(s_.nodes) > 1:
            print(f"{s_.label}: async jobs run by node: {dict(sorted(s_.ran_on.items()))}")
    for (name, why), n in sorted(client.retried.items()):
        print(f"{name}: {n} requests answered 503 and sent again: {why!r}")
    print("target: the queue adds under 1 ms per job")


if __name__ == "__main__":
    main()
