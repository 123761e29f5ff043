#!/usr/bin/env python3
"""Live output end to end: POST /api/v1/execute answered with Server-Sent
Events while the program runs (docs/api.md, "Live output").

    tests/e2e/live.py --bin build/safexec [NAME-GLOB ...]

curl (--no-buffer) reads the events as a client would, with the time each
one came; raw sockets play the client that hangs up and the one that reads
nothing for a while.  One line per test, then "N passed, N failed".
Python 3 standard library and curl only.
"""
import argparse
import fnmatch
import json
import os
import re
import socket
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import run as E  # noqa: E402  (the e2e suite: Server, Fail, Skip, check, eq, ...)
from run import Fail, Skip, check, eq  # noqa: E402

# The fields of a result that differ from one run of a program to the next.
VARYING = {"id", "wall_time_ms", "cpu_time_ms", "memory_bytes"}

TESTS = []


def test(fn):
    TESTS.append((fn.__name__, fn))
    return fn


class Events:
    """What curl read: the headers, and each event with the time it came."""

    def __init__(self, status, headers, events, body):
        self.status = status
        self.headers = headers
        self.events = events        # [(seconds since the request, name, data as JSON)]
        self.body = body

    def header(self, name):
        return self.headers.get(name.lower())

    def runs(self):
        """[(t, name, text)]: the events with consecutive pieces of one
        stream joined (a program's one print may come as two reads), t
        the time of the first piece."""
        out = []
        for t, name, data in self.events:
            if name in ("stdout", "stderr") and out and out[-1][1] == name:
                out[-1] = (out[-1][0], name, out[-1][2] + data["data"])
            elif name in ("stdout", "stderr"):
                out.append((t, name, data["data"]))
            else:
                out.append((t, name, data))
        return out

    def named(self, *names):
        return [e for e in self.events if e[1] in names]

    def text(self, name):
        return "".join(e[2]["data"] for e in self.events if e[1] == name)

    def result(self):
        r = self.named("result")
        eq(len(r), 1, f"result events ({[e[1] for e in self.events]})")
        eq(self.events[-1][1], "result", "the last event")
        return r[0][2]


def parse_events(lines):
    """[(t, name, data)] from [(t, line)] of an event stream."""
    out, name, data = [], None, []
    for t, line in lines:
        if line == "":
            if data:
                try:
                    out.append((t, name or "message", json.loads("\n".join(data))))
                except ValueError:
                    raise Fail(f"an event's data is not JSON: {data!r}"[:300])
            name, data = None, []
            continue
        if line.startswith(":"):
            continue
        field, _, value = line.partition(":")
        if value.startswith(" "):
            value = value[1:]
        if field == "event":
            name = value
        elif field == "data":
            data.append(value)
        else:
            raise Fail(f"unexpected line in the stream: {line!r}")
    return out


def curl(s, body, headers=(), stream=True, timeout=60):
    """POSTs body to /api/v1/execute with curl --no-buffer; the events with
    the time each line came."""
    payload = dict(body)
    if stream is not None:
        payload["stream"] = stream
    hdr = os.path.join(s.dir, "curl-headers")
    cmd = ["curl", "--no-buffer", "-N", "-sS", "-D", hdr, "-X", "POST",
           "-H", "Content-Type: application/json", "--data-binary", "@-",
           "--max-time", str(timeout)]
    for h in headers:
        cmd += ["-H", h]
    cmd.append(f"http://127.0.0.1:{s.port}/api/v1/execute")
    t0 = time.monotonic()
    p = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE)
    p.stdin.write(json.dumps(payload).encode())
    p.stdin.close()
    lines, raw = [], b""
    for line in iter(p.stdout.readline, b""):
        raw += line
        lines.append((time.monotonic() - t0, line.decode("utf-8").rstrip("\n")))
    err = p.stderr.read().decode(errors="replace")
    if p.wait() != 0:
        raise Fail(f"curl failed ({p.returncode}): {err.strip()}")
    with open(hdr, newline="") as f:
        head = f.read().split("\r\n")
    status = int(head[0].split()[1])
    headers = {}
    for h in head[1:]:
        if ":" in h:
            k, _, v = h.partition(":")
            headers[k.strip().lower()] = v.strip()
    ct = headers.get("content-type", "")
    events = parse_events(lines) if ct.startswith("text/event-stream") else []
    return Events(status, headers, events, raw)


def same_result(streamed, plain, what):
    a = {k: v for k, v in streamed.items() if k not in VARYING}
    b = {k: v for k, v in plain.items() if k not in VARYING}
    for side in (a, b):
        if isinstance(side.get("compile"), dict):
            side["compile"] = {k: v for k, v in side["compile"].items() if k not in VARYING}
    eq(a, b, what)


def history_of(s, rid):
    r = s.get(f"/api/v1/executions/{rid}")
    eq(r.status, 200, f"GET /api/v1/executions/{rid}")
    return r.json


def newest(s):
    r = s.get("/api/v1/executions?limit=1")
    eq(r.status, 200, "GET /api/v1/executions")
    ex = r.json["executions"]
    return ex[0] if ex else None


def rss_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise Fail("no VmRSS")


def metric(s, name):
    text = s.get("/metrics").body.decode()
    m = re.search(rf"^{name} (\d+)$", text, re.M)
    check(m, f"{name} in /metrics")
    return int(m.group(1))


def raw_request(s, body, extra=""):
    """A socket with a streamed request sent: the client's side, unread."""
    data = json.dumps(body).encode()
    sock = socket.create_connection(("127.0.0.1", s.port), timeout=30)
    sock.sendall(b"POST /api/v1/execute HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                 b"Content-Type: application/json\r\n" + extra.encode() +
                 b"Content-Length: " + str(len(data)).encode() + b"\r\n\r\n" + data)
    return sock


def read_until(sock, marker, limit=1 << 20):
    got = b""
    while marker not in got:
        chunk = sock.recv(65536)
        if not chunk:
            raise Fail(f"the connection ended before {marker!r}: {got[-300:]!r}")
        got += chunk
        check(len(got) < limit, f"no {marker!r} in {limit} bytes")
    return got


def wait_idle(s, what, seconds=5):
    deadline = time.time() + seconds
    while s.descendants() and time.time() < deadline:
        time.sleep(0.05)
    left = s.descendants()
    check(not left, f"{what}: sandbox processes left: {left}")


# --- The tests ----------------------------------------------------------------

SLOW = ("import sys, time\n"
        "print('first')\n"
        "print('to stderr', file=sys.stderr)\n"
        "time.sleep(1)\n"
        "print('second')\n")


@test
def events_come_as_the_program_prints(s):
    ev = curl(s, {"code": SLOW})
    eq(ev.status, 200, "status")
    check(ev.header("content-type").startswith("text/event-stream"),
          f"Content-Type {ev.header('content-type')!r}")
    eq(ev.header("cache-control"), "no-cache", "Cache-Control")
    eq(ev.header("x-content-type-options"), "nosniff", "X-Content-Type-Options")
    runs = ev.runs()
    eq([(e[1], e[2]) for e in runs[:3]],
       [("stdout", "first\n"), ("stderr", "to stderr\n"), ("stdout", "second\n")],
       "the events in order")
    eq([e[1] for e in runs], ["stdout", "stderr", "stdout", "result"], "the events")
    first, second, result = runs[0][0], runs[2][0], runs[3][0]
    # The first line comes a second before the program ends: before, not
    # with the answer.
    check(second - first >= 0.8, f"first chunk at {first:.2f} s, second at {second:.2f} s: "
          "the first did not come as it was printed")
    check(result - first >= 0.8, f"the result came {result - first:.2f} s after the first chunk")
    r = ev.result()
    eq(r["status"], "ok", "status")
    eq(ev.text("stdout"), r["stdout"], "stdout events against the result's stdout")
    eq(ev.text("stderr"), r["stderr"], "stderr events against the result's stderr")
    plain = s.execute({"code": SLOW})
    same_result(r, plain, "the result event against the answer without stream")
    check(isinstance(r["id"], int), "the result has the run's id")
    h = history_of(s, r["id"])
    eq((h["endpoint"], h["status"], h["stdout"]), ("execute", "ok", "first\nsecond\n"),
       "the streamed run in the history")


@test
def accept_header_streams_too(s):
    ev = curl(s, {"code": "print('hi')"}, headers=["Accept: text/event-stream"], stream=None)
    eq(ev.status, 200, "status")
    check(ev.header("content-type").startswith("text/event-stream"), "an event stream")
    eq([(e[1], e[2]) for e in ev.runs()[:1]], [("stdout", "hi\n")], "events")
    eq(ev.result()["stdout"], "hi\n", "stdout")
    # Among other types, with parameters.
    ev = curl(s, {"code": "print(1)"}, stream=None,
              headers=["Accept: application/json;q=0.5, TEXT/EVENT-STREAM;charset=utf-8"])
    check(ev.header("content-type").startswith("text/event-stream"), "an event stream (list)")
    # The field, false, wins over the header; q=0 refuses the type.
    for body, hdr in (({"code": "print(2)", "stream": False}, "Accept: text/event-stream"),
                      ({"code": "print(3)"}, "Accept: text/event-stream;q=0")):
        r = s.request("POST", "/api/v1/execute", json.dumps(body),
                      {**E.JSON_CT, "Accept": hdr.split(": ", 1)[1]})
        eq(r.status, 200, "status")
        check(r.header("Content-Type").startswith("application/json"),
              f"{hdr} with {body}: Content-Type {r.header('Content-Type')!r}")


@test
def redirect_stderr_and_utf8_cut_between_reads(s):
    # The euro sign's three bytes written in two writes a moment apart: the
    # events carry the character once, not two U+FFFD; a byte that is not
    # UTF-8 at all is U+FFFD, as in the result.
    code = ("import os, sys, time\n"
            "os.write(1, b'price: \\xe2\\x82')\n"
            "time.sleep(0.3)\n"
            "os.write(1, b'\\xac\\n')\n"
            "os.write(2, b'bad \\xff byte\\n')\n")
    ev = curl(s, {"code": code})
    r = ev.result()
    eq(ev.text("stdout"), "price: \u20ac\n", "stdout events")
    eq(ev.text("stderr"), "bad \ufffd byte\n", "stderr events")
    eq(r["stdout"], "price: \u20ac\n", "result stdout")
    ev = curl(s, {"code": "import sys\nprint('a')\nprint('b', file=sys.stderr)\n",
                  "redirect_stderr": True})
    eq([e[1] for e in ev.events[:-1]], ["stdout"] * (len(ev.events) - 1),
       "with redirect_stderr, stdout events only")
    eq(ev.text("stdout"), "a\nb\n", "both streams in stdout")


@test
def output_limit_holds(s):
    limit = 65536
    ev = curl(s, {"code": "import sys\nfor i in range(100):\n"
                          "    sys.stdout.write('x' * 100000)\n    sys.stdout.flush()\n",
                  "limits": {"output_bytes": limit}})
    r = ev.result()
    eq(r["status"], "output_limit", "status")
    eq(r["stdout_truncated"], True, "stdout_truncated")
    eq(len(ev.text("stdout")), limit, "bytes in the stdout events")
    eq(ev.text("stdout"), r["stdout"], "the events against the result")
    # Both streams, each to its limit.
    ev = curl(s, {"code": "import sys\nfor i in range(50):\n"
                          "    sys.stdout.write('o' * 5000)\n    sys.stdout.flush()\n"
                          "    sys.stderr.write('e' * 5000)\n    sys.stderr.flush()\n",
                  "limits": {"output_bytes": 100000}})
    r = ev.result()
    eq((len(ev.text("stdout")), len(ev.text("stderr"))), (len(r["stdout"]), len(r["stderr"])),
       "events against the result")
    check(len(r["stdout"]) <= 100000 and len(r["stderr"]) <= 100000, "within output_bytes")


@test
def compiled_language_streams_its_run(s):
    langs = {x["language"] for x in s.get("/api/v1/languages").json}
    if "c" not in langs:
        raise Skip("no C here")
    code = ('#include <stdio.h>\n#include <unistd.h>\n'
            'int main(void) { printf("one\\n"); fflush(stdout); sleep(1);'
            ' printf("two\\n"); return 0; }\n')
    ev = curl(s, {"language": "c", "code": code})
    eq([e[1] for e in ev.events], ["stdout", "stdout", "result"], "events")
    check(ev.events[1][0] - ev.events[0][0] >= 0.8, "the first line came before the end")
    eq([e[2] for e in ev.events[:2]], [{"data": "one\n"}, {"data": "two\n"}], "the lines")
    r = ev.result()
    eq(r["compile"]["status"], "ok", "compile status")
    same_result(r, s.execute({"language": "c", "code": code}), "against the answer without stream")


@test
def bad_requests_get_json(s):
    cases = [
        ({"code": "print(1)", "stream": True, "language": "cobol-99"}, 400, "unknown_language", {}),
        ({"code": "print(1)", "stream": "yes"}, 400, "invalid_request", {}),
        ({"code": "print(1)", "stream": True, "tests": [{"stdin": ""}]}, 400, "invalid_request", {}),
        ({"code": "print(1)", "stream": True, "runs": 3}, 400, "invalid_request", {}),
        ({"code": "print(1)", "tests": [{"stdin": ""}]}, 400, "invalid_request",
         {"Accept": "text/event-stream"}),
        ({"code": "print(1)", "stream": True, "limits": {"wall_time_ms": 10 ** 9}}, 400,
         "limit_exceeded", {}),
    ]
    for body, status, code, extra in cases:
        r = s.request("POST", "/api/v1/execute", json.dumps(body), {**E.JSON_CT, **extra})
        E.expect_error(r, status, code)
    r = s.request("POST", "/api/v1/jobs", json.dumps({"code": "print(1)", "stream": True}),
                  E.JSON_CT)
    E.expect_error(r, 400, "invalid_request", "stream")
    r = s.request("POST", "/api/v1/execute", "{not json", {**E.JSON_CT,
                                                          "Accept": "text/event-stream"})
    E.expect_error(r, 400, "invalid_json")


def hang_up_mid_run(s, code, marker):
    before = newest(s)
    sock = raw_request(s, {"code": code, "stream": True})
    got = read_until(sock, marker)
    check(b" 200 " in got.split(b"\r\n", 1)[0], f"status line {got[:40]!r}")
    t0 = time.time()
    sock.close()
    deadline = t0 + 3
    while time.time() < deadline:
        n = newest(s)
        if n and (not before or n["id"] != before["id"]):
            break
        time.sleep(0.05)
    else:
        raise Fail("the run was not recorded within 3 s of the hang-up")
    took = time.time() - t0
    eq((n["status"], n["signal"]), ("signaled", 9), "the run in the history")
    check(took < 2.5, f"the run ended {took:.1f} s after the hang-up")
    wait_idle(s, "after the hang-up", 2)
    return n


@test
def client_hang_up_ends_the_run(s):
    # Silent after its first line: only the hang-up itself can end it.
    n = hang_up_mid_run(s, "import os, time\nos.write(1, b'started\\n')\ntime.sleep(30)\n",
                        b"started")
    h = history_of(s, n["id"])
    eq(h["stdout"], "started\n", "what it printed before")
    # Printing all along, and before any output.
    hang_up_mid_run(s, "import time\nwhile True:\n    print('tick', flush=True)\n"
                       "    time.sleep(0.05)\n", b"tick")
    hang_up_mid_run(s, "import time\ntime.sleep(30)\n", b"\r\n\r\n")
    # The server goes on as before.
    eq(s.execute({"code": "print('after')"})["stdout"], "after\n", "a run after")


@test
def slow_reader_is_bounded(s):
    # Floods both streams to their limit in many small pieces while its
    # client reads nothing for three seconds: what the server holds for it
    # stays within the kept output (2 x output_bytes) and the result, as
    # /metrics counts it, and the server's memory grows by no more.
    limit = 1 << 20
    code = ("import sys\n"
            "for i in range(200):\n"
            "    sys.stdout.write('o' * 6000)\n    sys.stdout.flush()\n"
            "    sys.stderr.write('e' * 6000)\n    sys.stderr.flush()\n")
    base_rss = rss_kib(s.proc.pid)
    base_reserved = metric(s, "safexec_answer_bytes")
    sock = raw_request(s, {"code": code, "stream": True, "limits": {"output_bytes": limit}})
    time.sleep(3)
    # The run is over by now (the program never waits for its reader): the
    # history has it while its events wait.
    n = newest(s)
    check(n and n["status"] == "output_limit", f"the run ended while unread: {n}")
    held = metric(s, "safexec_answer_bytes") - base_reserved
    grown = (rss_kib(s.proc.pid) - base_rss) * 1024
    sock.settimeout(30)
    got = b""
    while True:
        chunk = sock.recv(1 << 16)
        if not chunk:
            break
        got += chunk
        if got.endswith(b"0\r\n\r\n"):
            break
    sock.close()
    body = dechunk(got.split(b"\r\n\r\n", 1)[1])
    events = parse_events([(0, line) for line in body.decode().split("\n")])
    result = events[-1][2]
    eq(events[-1][1], "result", "the last event")
    out = "".join(e[2]["data"] for e in events if e[1] == "stdout")
    err = "".join(e[2]["data"] for e in events if e[1] == "stderr")
    eq((out, err), (result["stdout"], result["stderr"]), "every event came, in order")
    result_event = len(json.dumps(result)) + 64
    bound = 2 * limit + result_event + (512 << 10)
    print(f"     unread stream: {held >> 10} KiB held, the server {grown >> 10} KiB larger; "
          f"bound {bound >> 10} KiB", flush=True)
    check(held <= bound, f"{held} bytes held for an unread stream; the bound is {bound}")
    check(held >= 2 * limit, f"{held} bytes held for an unread stream: less than its buffers")
    # Allocator slack on top (the memory the run's answer was built in).
    # ASan's allocator keeps what is freed for a while: its RSS says
    # nothing of this.
    with open(f"/proc/{s.proc.pid}/maps") as f:
        asan = "libasan" in f.read()
    check(asan or grown <= bound + (16 << 20), f"the server grew by {grown >> 10} KiB "
          f"for an unread stream; the bound is {bound >> 10} KiB")
    eq(metric(s, "safexec_answer_bytes"), base_reserved, "answer memory given back")


def events_of(sock, got=b""):
    """Reads a streamed answer to its end (got: what was read of it
    already); its events."""
    sock.settimeout(30)
    while not got.endswith(b"0\r\n\r\n"):
        chunk = sock.recv(1 << 16)
        if not chunk:
            break
        got += chunk
    head, _, body = got.partition(b"\r\n\r\n")
    check(b" 200 " in head.split(b"\r\n", 1)[0], f"status line {head[:40]!r}")
    return parse_events([(0, line) for line in dechunk(body).decode().split("\n")])


def graceful_stop_ends_streams(binary):
    # One stream running past the grace period, one waiting behind it:
    # the first ends with its result (killed as the service stopped), the
    # second with an error event, and the server exits cleanly.
    s = E.Server(binary, "--grace-period", "1", "--workers", "1", "--queue", "4")
    try:
        running = raw_request(s, {"code": "import os, time\nos.write(1, b'a\\n')\n"
                                          "time.sleep(30)\n", "stream": True})
        seen = read_until(running, b"data: {\"data\": \"a\\n\"}")
        waiting = raw_request(s, {"code": "print('never')", "stream": True})
        time.sleep(0.3)
        procs = s.descendants()
        check(procs, "the run started")
        t0 = time.time()
        s.proc.send_signal(E.signal.SIGTERM)
        first, second = events_of(running, seen), events_of(waiting)
        rc = s.proc.wait(20)
        elapsed = time.time() - t0
        eq(rc, 0, f"exit status (stderr: {s.errors()[-500:]})")
        check(elapsed < 8, f"took {elapsed:.1f} s to stop with a 1 s grace period")
        eq(first[-1][1], "result", "the running stream's last event")
        r = first[-1][2]
        eq((r["status"], r["signal"]), ("signaled", 9), "the running stream's result")
        check("service stopped" in r["message"], f"message {r['message']!r}")
        eq([e[1] for e in second], ["error"], "the waiting stream's events")
        eq(second[0][2]["error"]["code"], "shutting_down", "its error")
        check(not E.alive(procs), "sandbox processes outlived the server")
    finally:
        s.close()


def dechunk(data):
    out = b""
    while data:
        size, _, rest = data.partition(b"\r\n")
        n = int(size.split(b";")[0], 16)
        if n == 0:
            break
        out += rest[:n]
        data = rest[n + 2:]
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", required=True)
    ap.add_argument("only", nargs="*", help="glob patterns of test names")
    args = ap.parse_args()
    binary = os.path.abspath(args.bin)
    if not os.access(binary, os.X_OK):
        print(f"live: {binary} is not executable")
        print("0 passed, 1 failed")
        return 1
    selected = [(n, f) for n, f in TESTS
                if not args.only or any(fnmatch.fnmatch(n, p) for p in args.only)]
    tally = E.Tally()
    start = time.time()

    try:
        s = E.Server(binary, "--workers", "2")
    except Exception as e:
        print(f"FAIL server_start: {e}")
        print(tally.summary(more_failed=1))
        return 1
    try:
        for n, f in selected:
            tally.run(n, f, s)

        def clean_stop():
            rc = s.stop()
            if rc != 0:
                raise Fail(f"exit status {rc}; stderr: {s.errors()}")
        tally.run("server_stops_cleanly", clean_stop)
    finally:
        s.close()
    if not args.only or any(fnmatch.fnmatch("graceful_stop_ends_streams", p) for p in args.only):
        tally.run("graceful_stop_ends_streams", graceful_stop_ends_streams, binary)
    print(f"live took {time.time() - start:.0f} s")
    print(tally.summary())
    return 1 if tally.failed else 0


if __name__ == "__main__":
    sys.exit(main())
