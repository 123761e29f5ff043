"""A throwaway PostgreSQL server and `safexec serve` nodes on it, for the
scale-out suite (tests/e2e/scale.py) and its benchmark (bench/scale.py).

    pg = Postgres()                  # initdb + pg_ctl start in a temporary directory
    db = pg.create_database("t1")
    a = Node(binary, "a", pg.conninfo(db), scratch)
    ...
    pg.stop()                        # pg_ctl stop -m fast; pg.start() starts it again
    pg.close()                       # stops it (killing it if it will not stop), removes the directory

PostgreSQL refuses to run as root, so when this runs as root the server
runs as an unprivileged user through setpriv(1), in a directory chowned to
it: the `postgres` account that Debian's package creates, else uid and gid
65534 (nobody, nogroup).  Not nobody when there is a choice: the rootless
escape suite runs as nobody, and between its cases it kills the new
processes of that uid it finds (its sandboxes' leftovers, as it sees
them), which took down this server's backends when both ran at once.  It listens on a unix socket in that directory
and on a loopback port, with trust authentication for the role `safexec`
(nothing but this machine's processes can reach either), and with every
durability setting at its default: what a node sees is what it would see
in production, fsync included.

pg_ctl starts the postmaster in a session of its own, out of reach of a
signal to this process's group: whoever uses Postgres must call close()
on every way out (try/finally, and a SIGTERM handler; see
install_sigterm_handler()).

Python 3 standard library only.
"""
import glob
import http.client
import json
import os
import pwd
import re
import shutil
import signal
import socket
import stat
import subprocess
import tempfile
import time
import urllib.parse

UNPRIVILEGED = 65534
ROLE = "safexec"


class Unavailable(Exception):
    """PostgreSQL's server programs are not installed here."""


class ClusterError(Exception):
    pass


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def pg_bindir():
    """The directory of initdb, pg_ctl and postgres: $SAFEXEC_PG_BIN, else
    the newest /usr/lib/postgresql/VERSION/bin (Debian's layout), else the
    directory of an initdb on $PATH."""
    want = ("initdb", "pg_ctl", "postgres")

    def complete(d):
        return all(os.access(os.path.join(d, p), os.X_OK) for p in want)

    env = os.environ.get("SAFEXEC_PG_BIN")
    if env:
        if not complete(env):
            raise Unavailable(f"SAFEXEC_PG_BIN={env} lacks one of {', '.join(want)}")
        return env

    def version(d):
        v = os.path.basename(os.path.dirname(d))
        return [int(x) if x.isdigit() else 0 for x in v.split(".")]

    for d in sorted(glob.glob("/usr/lib/postgresql/*/bin"), key=version, reverse=True):
        if complete(d):
            return d
    found = shutil.which("initdb")
    if found and complete(os.path.dirname(found)):
        return os.path.dirname(found)
    raise Unavailable("PostgreSQL's server programs (initdb, pg_ctl, postgres) are not "
                      "installed: Debian's package `postgresql` has them "
                      "(tools/install-deps.sh --test installs it)")


def psql_path(bindir):
    p = os.path.join(bindir, "psql")
    return p if os.access(p, os.X_OK) else shutil.which("psql")


def server_user():
    """The uid and gid the server runs as when this runs as root."""
    try:
        pw = pwd.getpwnam("postgres")
        if pw.pw_uid != 0:
            return pw.pw_uid, pw.pw_gid
    except KeyError:
        pass
    return UNPRIVILEGED, UNPRIVILEGED


def _traversable_base():
    """A temporary directory whose every parent any user can enter (TMPDIR
    may be under /root)."""
    for base in (tempfile.gettempdir(), "/tmp", "/var/tmp"):
        d, ok = os.path.abspath(base), True
        while True:
            try:
                if not os.stat(d).st_mode & stat.S_IXOTH:
                    ok = False
                    break
            except OSError:
                ok = False
                break
            if d == "/":
                break
            d = os.path.dirname(d)
        if ok:
            return base
    raise ClusterError("no temporary directory that an unprivileged user can enter "
                       "(every parent needs o+x)")


class Postgres:
    """One PostgreSQL server in a temporary directory, for as long as the
    object lives; stop() and start() may be called any number of times."""

    def __init__(self, port=None, settings=()):
        self.bindir = pg_bindir()
        self.psql = psql_path(self.bindir)
        self.root = os.geteuid() == 0
        self.uid, self.gid = server_user() if self.root else (os.geteuid(), os.getegid())
        self.dir = tempfile.mkdtemp(prefix="safexec-pg-", dir=_traversable_base()
                                    if self.root else None)
        self.data = os.path.join(self.dir, "data")
        self.logfile = os.path.join(self.dir, "postgres.log")
        self.port = port or free_port()
        self.settings = list(settings)     # "name=value", each a -c of the server
        self.up = False
        try:
            if self.root:
                os.chmod(self.dir, 0o755)
                os.chown(self.dir, self.uid, self.gid)
            # initdb's own files are not synced (--no-sync): a crash of this
            # machine during a test loses the test anyway.  The server
            # itself keeps fsync and every other setting at its default.
            self._run([os.path.join(self.bindir, "initdb"), "-D", self.data, "-U", ROLE,
                       "--auth=trust", "--encoding=UTF8", "--locale=C", "--no-sync"],
                      timeout=120, what="initdb")
            self.start()
        except BaseException:
            self.close()
            raise

    # What runs as the server's user: setpriv drops root's uid, gid and
    # groups; the working directory is one that user may enter.
    def _cmd(self, argv):
        if self.root:
            return ["setpriv", f"--reuid={self.uid}", f"--regid={self.gid}",
                    "--clear-groups", "--", *argv]
        return argv

    def _run(self, argv, timeout, what, check=True):
        env = dict(os.environ, LC_ALL="C", LANG="C")
        for k in ("PGDATA", "PGHOST", "PGPORT", "PGUSER", "PGDATABASE", "PGOPTIONS"):
            env.pop(k, None)
        try:
            p = subprocess.run(self._cmd(argv), cwd=self.dir, env=env, timeout=timeout,
                               stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT)
        except subprocess.TimeoutExpired:
            raise ClusterError(f"{what}: no answer within {timeout} s")
        if check and p.returncode != 0:
            raise ClusterError(f"{what} exited with {p.returncode}: "
                               f"{p.stdout.decode(errors='replace')[-2000:]}{self.log_tail()}")
        return p

    def log_tail(self, n=2000):
        try:
            with open(self.logfile, errors="replace") as f:
                t = f.read()[-n:]
            return f"\n--- {self.logfile}:\n{t}" if t else ""
        except OSError:
            return ""

    def log_size(self):
        try:
            return os.path.getsize(self.logfile)
        except OSError:
            return 0

    def log_since(self, offset):
        try:
            with open(self.logfile, "rb") as f:
                f.seek(offset)
                return f.read().decode(errors="replace")
        except OSError:
            return ""

    def _postmaster_pid(self):
        try:
            with open(os.path.join(self.data, "postmaster.pid")) as f:
                return int(f.readline())
        except (OSError, ValueError):
            return None

    def start(self, timeout=60):
        """pg_ctl start, waiting until the server accepts connections."""
        opts = (f"-p {self.port} -k {self.dir} -c listen_addresses=127.0.0.1 "
                f"-c unix_socket_permissions=0777")
        for kv in self.settings:
            opts += f" -c {kv}"
        try:
            self._run([os.path.join(self.bindir, "pg_ctl"), "start", "-D", self.data,
                       "-l", self.logfile, "-w", "-t", str(timeout), "-o", opts],
                      timeout=timeout + 15, what="pg_ctl start")
        except ClusterError:
            self.kill()
            raise
        self.up = True

    def stop(self, mode="fast", timeout=60):
        """pg_ctl stop -m MODE; the server is killed if it does not stop."""
        if self._postmaster_pid() is None:
            self.up = False
            return
        try:
            self._run([os.path.join(self.bindir, "pg_ctl"), "stop", "-D", self.data,
                       "-m", mode, "-w", "-t", str(timeout)],
                      timeout=timeout + 15, what=f"pg_ctl stop -m {mode}")
        except ClusterError:
            self.kill()
            raise
        finally:
            self.up = False

    def kill(self):
        """SIGKILL to the postmaster's process group (pg_ctl makes the
        postmaster a session leader, so the group is its and its
        backends')."""
        pid = self._postmaster_pid()
        if pid is None:
            return
        for target in (-pid, pid):
            try:
                os.kill(target, signal.SIGKILL)
            except OSError:
                pass
        deadline = time.time() + 10
        while time.time() < deadline and os.path.exists(f"/proc/{pid}"):
            time.sleep(0.05)
        try:
            os.unlink(os.path.join(self.data, "postmaster.pid"))
        except OSError:
            pass
        self.up = False

    def close(self):
        try:
            if self._postmaster_pid() is not None:
                try:
                    self.stop("immediate", timeout=20)
                except ClusterError:
                    pass
        finally:
            self.kill()
            shutil.rmtree(self.dir, ignore_errors=True)

    # --- Connection strings -----------------------------------------------

    def conninfo(self, dbname="postgres", form="keyvalue"):
        """A libpq connection string to dbname, in one of three forms:
        keyvalue (the unix socket), url (postgresql://, loopback TCP),
        url-socket (postgres://, the socket directory percent-encoded as
        the host)."""
        if form == "keyvalue":
            return f"host={self.dir} port={self.port} dbname={dbname} user={ROLE}"
        if form == "url":
            return f"postgresql://{ROLE}@127.0.0.1:{self.port}/{dbname}"
        if form == "url-socket":
            host = urllib.parse.quote(self.dir, safe="")
            return f"postgres://{ROLE}@{host}:{self.port}/{dbname}"
        raise ValueError(form)

    def sql(self, query, dbname="postgres", timeout=30):
        """Runs query with psql; its rows as lists of strings."""
        if not self.psql:
            raise ClusterError("psql is not installed")
        env = dict(os.environ, PGCONNECT_TIMEOUT="10")
        try:
            p = subprocess.run([self.psql, "-X", "-q", "-A", "-t", "-F", "\t",
                                "-v", "ON_ERROR_STOP=1", "-d", self.conninfo(dbname),
                                "-c", query],
                               stdin=subprocess.DEVNULL, capture_output=True,
                               timeout=timeout, env=env)
        except subprocess.TimeoutExpired:
            raise ClusterError(f"psql: no answer within {timeout} s: {query}")
        if p.returncode != 0:
            raise ClusterError(f"psql: {query}: {p.stderr.decode(errors='replace').strip()}")
        out = p.stdout.decode()
        return [line.split("\t") for line in out.splitlines() if line]

    def create_database(self, name):
        if not re.fullmatch(r"[a-z_][a-z0-9_]{0,62}", name):
            raise ValueError(name)
        self.sql(f"CREATE DATABASE {name}")
        return name


# --- safexec nodes --------------------------------------------------------------

LISTENING = re.compile(r"safexec: listening on http://127\.0\.0\.1:(\d+) ")

# Settings a test states itself: none may leak in from the environment.
CLEAN_ENV = ("SAFEXEC_LISTEN", "SAFEXEC_CONFIG", "SAFEXEC_DATA_DIR", "SAFEXEC_WORKERS",
             "SAFEXEC_STORE", "SAFEXEC_NODE_NAME", "SAFEXEC_JOB_LEASE",
             "SAFEXEC_JOB_ATTEMPTS")


class Response:
    def __init__(self, status, headers, body):
        self.status, self.headers, self.body = status, headers, body

    def header(self, name):
        return self.headers.get(name.lower())

    def json(self):
        return json.loads(self.body)

    def __repr__(self):
        return f"HTTP {self.status} {self.body[:300]!r}"


class Node:
    """One `safexec serve` on 127.0.0.1:0 (the port it prints), with its
    own data directory, on the store given (None: the embedded SQLite),
    with `--job-lease lease` on PostgreSQL (None: the default).
    stop(), kill() and start() may follow one another: a node started again
    keeps its data directory and name, and gets a new port."""

    def __init__(self, binary, name, store, scratch, *args, workers=2, lease=3,
                 log=False, env=None):
        self.binary, self.name, self.store = binary, name, store
        self.dir = os.path.join(scratch, f"node-{name}")
        os.makedirs(self.dir, exist_ok=True)
        self.data = os.path.join(self.dir, "data")
        self.args = ["--data-dir", self.data, "--workers", str(workers)]
        if name is not None:
            self.args += ["--node-name", name]
        if store is not None:
            self.args += ["--store", store]
            if lease is not None:
                self.args += ["--job-lease", str(lease)]
        self.args += (["--log", os.path.join(self.dir, "executions.log")] if log
                      else ["--no-log"])
        self.args += list(args)
        self.env = env or {}
        self.errfile = os.path.join(self.dir, "stderr.log")
        self.proc = None
        self.port = None
        self.start()

    def start(self, timeout=30):
        e = dict(os.environ)
        for k in CLEAN_ENV:
            e.pop(k, None)
        e.update(self.env)
        with open(self.errfile, "ab") as f:
            offset = f.tell()
            self.proc = subprocess.Popen(
                [self.binary, "serve", "--listen", "127.0.0.1:0", *self.args],
                stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=f,
                cwd=self.dir, env=e)
        deadline = time.time() + timeout
        while True:
            with open(self.errfile, "rb") as f:
                f.seek(offset)
                m = LISTENING.search(f.read().decode(errors="replace"))
            if m:
                self.port = int(m.group(1))
                return self
            if self.proc.poll() is not None:
                raise ClusterError(f"node {self.name} exited with {self.proc.returncode} "
                                   f"as it started: {self.errors()}")
            if time.time() > deadline:
                self.kill()
                raise ClusterError(f"node {self.name} did not say where it listens "
                                   f"within {timeout} s: {self.errors()}")
            time.sleep(0.02)

    def errors(self, n=3000):
        try:
            with open(self.errfile, errors="replace") as f:
                return f.read()[-n:]
        except OSError:
            return ""

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def request(self, method, path, body=None, headers=None, timeout=60):
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)
        try:
            if body is not None and not isinstance(body, (bytes, str)):
                body = json.dumps(body)
                headers = {"Content-Type": "application/json", **(headers or {})}
            if isinstance(body, str):
                body = body.encode()
            conn.request(method, path, body=body, headers=headers or {})
            r = conn.getresponse()
            return Response(r.status, {k.lower(): v for k, v in r.getheaders()}, r.read())
        finally:
            conn.close()

    def get(self, path, **kw):
        return self.request("GET", path, **kw)

    def post(self, path, obj, **kw):
        return self.request("POST", path, obj, **kw)

    def metrics(self):
        """The unlabelled series of /metrics, by name."""
        out = {}
        for line in self.get("/metrics", timeout=10).body.decode().splitlines():
            if line and not line.startswith("#") and "{" not in line.split()[0]:
                parts = line.split()
                if len(parts) >= 2:
                    try:
                        out[parts[0]] = float(parts[1])
                    except ValueError:
                        pass
        return out

    def metric_sum(self, name):
        """The sum of every series of the metric name, labelled or not."""
        total = 0.0
        for line in self.get("/metrics", timeout=10).body.decode().splitlines():
            parts = line.split()
            if len(parts) >= 2 and (parts[0] == name or parts[0].startswith(name + "{")):
                total += float(parts[1])
        return total

    def descendants(self):
        """Pids (with start times) of every process below the node."""
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

    def kill(self):
        """SIGKILL, and reaped."""
        if self.alive():
            self.proc.send_signal(signal.SIGKILL)
        if self.proc is not None:
            self.proc.wait()

    def stop(self, sig=signal.SIGTERM, timeout=30):
        """The signal, then its exit status; killed (and ClusterError) when
        it does not exit within timeout."""
        if self.alive():
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.kill()
                raise ClusterError(f"node {self.name} did not stop within {timeout} s")
        return self.proc.returncode

    def close(self):
        try:
            self.stop(timeout=30)
        except ClusterError:
            pass


def install_sigterm_handler():
    """SIGTERM (tests/run's timeout) raises SystemExit in the main thread,
    so that finally blocks stop the PostgreSQL server, which is in a
    session of its own and would outlive a signal to this group."""
    def on_term(signum, frame):
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        raise SystemExit(128 + signum)
    signal.signal(signal.SIGTERM, on_term)
