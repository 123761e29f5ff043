#!/usr/bin/env python3
"""Trivial jobs (`print(1)`) through one node on SQLite, one node on
PostgreSQL and three nodes on PostgreSQL, side by side in one run, and the
queue's own cost per job.

    bench/scale.py [--bin build/safexec] [--rounds 3] [--jobs 300]
                   [--concurrency 8] [--workers 2] [--raw FILE]

Starts a PostgreSQL server of its own (tests/e2e/cluster.py: initdb and
pg_ctl from Debian's `postgresql` package, in a temporary directory, as
uid 65534 when run as root, every setting at its default, fsync and
synchronous_commit included) and five `safexec serve` on loopback ports
with temporary data directories and no JSON-lines log, `--workers` each:

  sqlite    one node on the embedded SQLite (the default store);
  pg1       one node on PostgreSQL (a database of its own);
  pg3       three nodes on one PostgreSQL database, the client's requests
            spread over them round-robin, as a load balancer would.

Every round measures, for each side in an order that rotates from one
round to the next (so that a shared machine's drift falls on all of them):

  sync      --jobs POST /api/v1/execute, --concurrency at a time, each
            client thread on a kept-alive connection of its own;
  async     --jobs POST /api/v1/jobs submitted (--concurrency at a time),
            then every token polled until done: jobs over the time from
            the first submission to the last job's finished_at.

Every answer must be status ok with stdout "1\\n"; anything else stops the
script.  The queue's own cost per job comes from each side's /metrics,
summed over its nodes: the deltas of safexec_store_round_trips_total and
safexec_store_seconds_total (time spent waiting on the database) over the
round, divided by the jobs the round ran (sync and async); and, for the
PostgreSQL sides, PostgreSQL's own count of committed transactions
(pg_stat_database.xact_commit, which the server flushes up to a second
late) over the same jobs.  The target it is read against: the queue adds
under 1 ms per job.  Nothing is asserted: the script only measures.  Run
as root (the sandbox then uses cgroups, as in production).  Python 3
standard library only.
"""
import argparse
import concurrent.futures as futures
import http.client
import json
import os
import shutil
import statistics
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
    """One kept-alive connection per (thread, node)."""

    def __init__(self):
        self.local = threading.local()

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


class Side:
    def __init__(self, name, label, nodes, dbname=None):
        self.name, self.label, self.nodes, self.dbname = name, label, nodes, dbname
        self.sync_s, self.sync_lat, self.sync_n = 0.0, [], 0
        self.async_s, self.async_n = 0.0, 0
        self.round_trips, self.store_s, self.jobs, self.xacts = 0.0, 0.0, 0, None
        self.ran_on = {}

    def metrics(self):
        out = {"rt": 0.0, "s": 0.0, "have": True}
        for n in self.nodes:
            m = n.metrics()
            if "safexec_store_round_trips_total" not in m:
                out["have"] = False
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
        status, raw = client.request(nodes[i % len(nodes)], "POST", "/api/v1/execute", BODY)
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
        status, raw = client.request(nodes[i % len(nodes)], "POST", "/api/v1/jobs", BODY)
        if status != 202:
            die(f"{side.name}: POST /api/v1/jobs: HTTP {status}: {raw[:300]!r}")
        tokens[i] = json.loads(raw)["token"]

    with futures.ThreadPoolExecutor(conc) as ex:
        list(ex.map(submit, range(n)))
    jobs = [None] * n

    def await_one(i):
        node = nodes[i % len(nodes)]
        while True:
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
    ap.add_argument("--workers", type=int, default=2, help="--workers of every node")
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
            pg = Postgres()
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
        raw = {s.name: {"sync_s": [], "async_s": [], "round_trips": [], "store_s": [],
                        "xacts": [], "jobs": []} for s in sides}
        t_start = time.time()
        for rnd in range(args.rounds):
            for k in range(len(sides)):
                side = sides[(rnd + k) % len(sides)]
                m0 = side.metrics()
                x0 = xact_commit(pg, side.dbname) if side.dbname else None
                s_el, lat = run_sync(side, client, args.jobs, args.concurrency)
                a_el = run_async(side, client, args.jobs, args.concurrency)
                m1 = side.metrics()
                side.sync_s += s_el
                side.sync_lat += lat
                side.sync_n += args.jobs
                side.async_s += a_el
                side.async_n += args.jobs
                jobs = 2 * args.jobs
                side.jobs += jobs
                if m0["have"] and m1["have"]:
                    side.round_trips += m1["rt"] - m0["rt"]
                    side.store_s += m1["s"] - m0["s"]
                else:
                    side.round_trips = side.store_s = None
                r = raw[side.name]
                r["sync_s"].append(s_el)
                r["async_s"].append(a_el)
                r["jobs"].append(jobs)
                r["round_trips"].append(m1["rt"] - m0["rt"] if m0["have"] else None)
                r["store_s"].append(m1["s"] - m0["s"] if m0["have"] else None)
                if side.dbname:
                    # The statistics of an idle backend reach
                    # pg_stat_database up to a second after its commits.
                    time.sleep(1.2)
                    x = xact_commit(pg, side.dbname) - x0
                    side.xacts = (side.xacts or 0) + x
                    r["xacts"].append(x)
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
          f"load {os.getloadavg()[0]:.1f}; {args.jobs} jobs per side and kind per round, "
          f"concurrency {args.concurrency}, {args.workers} workers per node")
    print(f"{'side':22} {'sync/s':>8} {'p50 ms':>8} {'p99 ms':>8} {'async/s':>8} "
          f"{'trips/job':>10} {'db ms/job':>10} {'xacts/job':>10}")
    for s in sides:
        lat = sorted(s.sync_lat)
        p50 = statistics.median(lat) * 1e3
        p99 = lat[min(len(lat) - 1, int(len(lat) * 0.99))] * 1e3
        trips = f"{s.round_trips / s.jobs:.1f}" if s.round_trips is not None else "-"
        ms = f"{s.store_s / s.jobs * 1e3:.3f}" if s.store_s is not None else "-"
        xa = f"{s.xacts / s.jobs:.1f}" if s.xacts is not None else "-"
        print(f"{s.label:22} {s.sync_n / s.sync_s:8.1f} {p50:8.1f} {p99:8.1f} "
              f"{s.async_n / s.async_s:8.1f} {trips:>10} {ms:>10} {xa:>10}")
    base = sides[0]
    for s in sides[1:]:
        print(f"{s.label} / {base.label}: sync {s.sync_n / s.sync_s / (base.sync_n / base.sync_s):.2f}, "
              f"async {s.async_n / s.async_s / (base.async_n / base.async_s):.2f}")
    for s in sides:
        if len(s.nodes) > 1:
            print(f"{s.label}: async jobs run by node: {dict(sorted(s.ran_on.items()))}")
    for s in sides[1:]:
        if s.store_s is not None:
            ms = s.store_s / s.jobs * 1e3
            print(f"{s.label}: the queue's database time {ms:.3f} ms per job "
                  f"({'under' if ms < 1 else 'not under'} the 1 ms target)")


if __name__ == "__main__":
    main()
