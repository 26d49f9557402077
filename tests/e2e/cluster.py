"""Node services for the end-to-end lab: MariaDB, nginx and hakit configs per namespace, plus
the client that writes through the VIP and the sampler of both nodes' read_only.

Every node namespace has its own loopback, so inside a node MariaDB answers on 127.0.0.1:3306
and nginx on 127.0.0.1:80, exactly as on a real host: the examples/ configs are used with only
their paths (state, run, secrets) moved into the test's temp dir.
"""
import json
import os
import re
import shutil
import subprocess
import sys
import threading
import time

import pymysql

from fixtures.common import SOURCE_DIR, require
from fixtures.keepalived import EXAMPLES_DIR, InstalledTools, Keepalived, render, sample
from fixtures.mariadb import REPL_USER, Server, _sql_quote, attach_replica
from fixtures.netns import VIP, Lab

HERE = os.path.dirname(os.path.abspath(__file__))
SERVER_IDS = {"n1": 101, "n2": 102, "n3": 103}
APP_USER, APP_PASSWORD = "app", "apppass"
HAKIT_PASSWORD = "hakitpass"
SAMPLER_PASSWORD = "samplerpass"
# hakit's fence/promotion records (docs/operations.md, "Accounts").
HAKIT_SCHEMA_PRIVILEGES = "CREATE, INSERT, UPDATE, SELECT"
ADMIN_PRIVILEGES = ("SLAVE MONITOR, BINLOG MONITOR, PROCESS, SELECT, READ_ONLY ADMIN, "
                    "REPLICATION SLAVE ADMIN, REPLICATION SLAVE, CONNECTION ADMIN, BINLOG ADMIN, "
                    "SUPER, RELOAD")


class NodeDB(Server):
    """mariadbd inside a node namespace on port 3306 (all of the node's addresses)."""

    def __init__(self, lab, node, base, extra_args=(), gtid=True):
        os.makedirs(base, exist_ok=True)
        super().__init__(name=node, server_id=SERVER_IDS.get(node, 100), extra_args=extra_args,
                         gtid=gtid, port=3306, base=base)
        self.lab, self.node = lab, node
        self.host = lab.address(node)

    def argv(self):
        args = [("--bind-address=0.0.0.0" if a.startswith("--bind-address=") else a)
                for a in super().argv()]
        return self.lab.argv(self.node, args)

    def connect(self, user="sampler", password=SAMPLER_PASSWORD, timeout=2):
        """A pymysql connection over the node's unix socket (reachable from the host netns)."""
        return pymysql.connect(unix_socket=self.socket, user=user, password=password,
                               connect_timeout=timeout, read_timeout=timeout,
                               write_timeout=timeout, autocommit=True)

    def read_only(self):
        return self.scalar("SELECT @@global.read_only") == "1"


def start_databases(lab, nodes, work, extra_args=(), gtid=True):
    """Starts one NodeDB per node."""
    os.chmod(work, 0o755)  # mariadbd runs as mysql and must reach its datadir below
    dbs = {n: NodeDB(lab, n, os.path.join(work, f"db-{n}"), extra_args=extra_args, gtid=gtid)
           for n in nodes}
    # One at a time: concurrent mariadb-install-db runs collide on bootstrap temp tables.
    try:
        for db in dbs.values():
            db.start(timeout=90)
    except BaseException:
        for db in dbs.values():
            db.destroy()
        raise
    return dbs


def seed_primary(primary):
    """Users and the app schema, created on the primary before replicas attach so that every
    replica replays them (both nodes then hold the same users, as after a real seeding)."""
    q = _sql_quote
    primary.sql(f"CREATE USER {q(REPL_USER)}@'%' IDENTIFIED BY 'replpass'")
    primary.sql(f"GRANT REPLICATION SLAVE ON *.* TO {q(REPL_USER)}@'%'")
    for host in ("%", "localhost"):
        primary.sql(f"CREATE USER 'hakit'@{q(host)} IDENTIFIED BY {q(HAKIT_PASSWORD)}")
        primary.sql(f"GRANT {ADMIN_PRIVILEGES} ON *.* TO 'hakit'@{q(host)}")
        primary.sql(f"GRANT {HAKIT_SCHEMA_PRIVILEGES} ON hakit.* TO 'hakit'@{q(host)}")
        primary.sql(f"CREATE USER 'sampler'@{q(host)} IDENTIFIED BY {q(SAMPLER_PASSWORD)}")
        primary.sql(f"CREATE USER {q(APP_USER)}@{q(host)} IDENTIFIED BY {q(APP_PASSWORD)}")
        primary.sql(f"GRANT ALL ON app.* TO {q(APP_USER)}@{q(host)}")
    primary.sql("CREATE DATABASE app")
    primary.sql("CREATE TABLE app.writes (id INT PRIMARY KEY, writer_ts DOUBLE, "
                "server_id INT, at TIMESTAMP(6) DEFAULT CURRENT_TIMESTAMP(6))")


def replicate(replica, primary, delay=0, timeout=60):
    """Attaches `replica` to `primary` from the primary's first binlog (GTID) and waits until it
    replicates and has caught up; the replica is read_only."""
    first = primary.sql("SHOW BINARY LOGS")[0][0]
    attach_replica(replica, primary, gtid=replica.gtid, delay=delay, log_file=first, log_pos=4)
    replica.set_read_only(True)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        st = replica.rows("SHOW SLAVE STATUS")[0]
        if st["Slave_IO_Running"] == "Yes" and st["Slave_SQL_Running"] == "Yes":
            break
        time.sleep(0.1)
    else:
        raise AssertionError(f"replication {primary.node}->{replica.node} not running: {st}")
    if delay == 0:
        pos = primary.scalar("SELECT @@gtid_binlog_pos")
        while time.monotonic() < deadline:
            if replica.scalar("SELECT @@gtid_slave_pos") == pos:
                return
            time.sleep(0.05)
        raise AssertionError("replica did not catch up")


# --- nginx -------------------------------------------------------------------------------------
NGINX_CONF = """
daemon off;
master_process on;
worker_processes 1;
pid {dir}/nginx.pid;
error_log {dir}/error.log warn;
events {{ worker_connections 64; }}
http {{
  access_log off;
  client_body_temp_path {dir}/body;
  proxy_temp_path {dir}/proxy;
  fastcgi_temp_path {dir}/fastcgi;
  uwsgi_temp_path {dir}/uwsgi;
  scgi_temp_path {dir}/scgi;
  server {{
    listen 80;
    listen 8080;
    location = /client {{ return 200 "{node} client ok\\n"; }}
    location = /status {{ return 200 "{node} scheduler ok\\n"; }}
    location / {{ root {dir}/www; }}
  }}
}}
"""


class Nginx:
    """nginx in a node namespace on ports 80 and 8080: /site1/ (a file) and /client."""

    def __init__(self, lab, node, work):
        self.lab, self.node = lab, node
        self.dir = os.path.join(work, f"nginx-{node}")
        os.makedirs(os.path.join(self.dir, "www", "site1"), exist_ok=True)
        for d in ("body", "proxy", "fastcgi", "uwsgi", "scgi"):
            os.makedirs(os.path.join(self.dir, d), exist_ok=True)
        with open(os.path.join(self.dir, "www", "site1", "index.html"), "w") as f:
            f.write(f"site1 on {node}\n")
        os.chmod(self.dir, 0o755)
        for root, dirs, files in os.walk(self.dir):
            for d in dirs:
                os.chmod(os.path.join(root, d), 0o755)
            for fn in files:
                os.chmod(os.path.join(root, fn), 0o644)
        self.conf = os.path.join(self.dir, "nginx.conf")
        with open(self.conf, "w") as f:
            f.write(NGINX_CONF.format(dir=self.dir, node=node))
        self.proc = None

    def start(self):
        self.proc = self.lab.popen(self.node, [require("nginx"), "-c", self.conf],
                                   log=os.path.join(self.dir, "nginx.out"), name=f"nginx-{self.node}")
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            r = self.lab.run(self.node, ["ss", "-Hltn", "sport = :80"])
            if ":80" in r.stdout:
                return self
            assert self.proc.poll() is None, f"nginx on {self.node} exited"
            time.sleep(0.05)
        raise AssertionError(f"nginx on {self.node} did not listen")

    def stop(self):
        if self.proc:
            self.lab.stop(self.proc)
            self.proc = None


# --- hakit config per node -------------------------------------------------------------------
class NodeFiles:
    """A node's /etc/hakit, /var/lib/hakit, /run/hakit and log, moved under the test dir."""

    def __init__(self, work, node):
        self.root = os.path.join(work, f"hakit-{node}")
        self.etc = os.path.join(self.root, "etc")
        self.state = os.path.join(self.root, "state")
        self.run = os.path.join(self.root, "run")
        self.logdir = os.path.join(self.root, "log")
        for d in (self.root, self.etc, self.state, self.run, self.logdir):
            os.makedirs(d, exist_ok=True)
            os.chmod(d, 0o700)
        self.config = os.path.join(self.etc, "hakit.yaml")
        self.write_secret("mysql.pass", HAKIT_PASSWORD + "\n")
        self.write_secret("peer.cnf", f"[client]\nuser=hakit\npassword={HAKIT_PASSWORD}\n")
        self.write_secret("repl.pass", "replpass\n")

    def write_secret(self, name, text):
        path = os.path.join(self.etc, name)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(text)
        return path

    def paths(self):
        """Substitutions that move an example config's production paths here."""
        return {"/etc/hakit/": self.etc + "/", "/var/lib/hakit": self.state,
                "/run/hakit": self.run, "/var/log/hakit": self.logdir}

    def write_config(self, text):
        with open(self.config, "w") as f:
            f.write(text)
        os.chmod(self.config, 0o600)
        return self.config

    def journal(self):
        """Every JSON line of the node's transition journal(s) in the state dir."""
        entries = []
        for root, _, files in os.walk(self.state):
            for fn in sorted(files):
                if fn.endswith(".jsonl") or fn.startswith("journal"):
                    with open(os.path.join(root, fn), errors="replace") as f:
                        for line in f:
                            line = line.strip()
                            if line.startswith("{"):
                                try:
                                    entries.append(json.loads(line))
                                except ValueError:
                                    pass
        return entries

    def flag_exists(self):
        return any("flag" in fn or "failover" in fn
                   for _, _, files in os.walk(self.state) for fn in files
                   if not fn.endswith(".jsonl"))


def example(name, node_files, subs=None):
    """examples/NAME with the node's paths (and any other substitutions)."""
    with open(os.path.join(EXAMPLES_DIR, name)) as f:
        text = f.read()
    for old, new in {**node_files.paths(), **(subs or {})}.items():
        text = text.replace(old, new)
    return text


# --- the client writing through the VIP ------------------------------------------------------
class Writer:
    """tests/e2e/writer.py inside the client namespace: one INSERT every `period` through the
    VIP; every acknowledged id is printed with the server that acknowledged it."""

    # The next unused id per output file: a test may remove the file between its writers.
    _next_id = {}

    def __init__(self, lab, work, period=0.02, host=VIP):
        self.lab = lab
        self.out = os.path.join(work, "writer.out")
        first = max(Writer._next_id.get(self.out, 1), self._last_id() + 1)
        self.proc = lab.popen("cl", [sys.executable, os.path.join(HERE, "writer.py"), host,
                                     APP_USER, APP_PASSWORD, str(period), str(first)],
                              log=self.out, name="writer")

    def _last_id(self):
        """The highest id attempted in the output file so far (0 when none)."""
        if not os.path.exists(self.out):
            return 0
        acks, errors = self.records()
        return max([a[0] for a in acks] + [e[0] for e in errors] + [0])

    def stop(self):
        self.lab.stop(self.proc)
        Writer._next_id[self.out] = max(Writer._next_id.get(self.out, 1), self._last_id() + 1)

    def records(self):
        acks, errors = [], []
        with open(self.out, errors="replace") as f:
            for line in f:
                parts = line.split()
                if parts[:1] == ["ack"]:
                    acks.append((int(parts[1]), float(parts[2]), int(parts[3])))
                elif parts[:1] == ["err"]:
                    errors.append((int(parts[1]), float(parts[2]), " ".join(parts[3:])))
        return acks, errors

    def wait_acks(self, n, timeout=30):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if len(self.records()[0]) >= n:
                return
            assert self.proc.poll() is None, open(self.out).read()[-2000:]
            time.sleep(0.05)
        raise AssertionError(f"writer: fewer than {n} acks in {timeout}s: "
                             + open(self.out).read()[-2000:])


class ReadOnlySampler(threading.Thread):
    """Samples @@read_only on every node every `period` over the unix sockets."""

    def __init__(self, dbs, period=0.01):
        super().__init__(daemon=True)
        self.dbs, self.period = dbs, period
        self.samples = []  # (wall time, {node: True (writable) / False / None (down)})
        self._halt = threading.Event()
        self.conns = {}

    def _sample(self, node, db):
        try:
            c = self.conns.get(node) or db.connect(timeout=0.5)
            self.conns[node] = c
            with c.cursor() as cur:
                cur.execute("SELECT @@global.read_only")
                return cur.fetchone()[0] == 0
        except Exception:
            self.conns.pop(node, None)
            return None

    def run(self):
        while not self._halt.is_set():
            t = time.time()
            self.samples.append((t, {n: self._sample(n, db) for n, db in self.dbs.items()}))
            time.sleep(max(0.0, self.period - (time.time() - t)))

    def stop(self):
        self._halt.set()
        self.join(timeout=5)
        for c in self.conns.values():
            try:
                c.close()
            except Exception:
                pass

    def dual_writable_seconds(self):
        """Total time during which two or more nodes answered read_only=OFF."""
        total = 0.0
        for (t0, s0), (t1, _) in zip(self.samples, self.samples[1:]):
            if sum(1 for v in s0.values() if v) >= 2:
                total += t1 - t0
        return total

    def writable_until(self, node, after):
        """Last sample time (>= after) at which `node` was writable, or None."""
        ts = [t for t, s in self.samples if t >= after and s.get(node)]
        return ts[-1] if ts else None


def failover_figures(acks, t0, new_master_id, present_ids, t_vip):
    """The issue's measurements from a writer's acknowledgements."""
    after = [a for a in acks if a[1] >= t0 and a[2] == new_master_id]
    acked = {a[0] for a in acks}
    return {
        "time_to_vip_s": round(t_vip - t0, 3) if t_vip else None,
        "time_to_writable_s": round(after[0][1] - t0, 3) if after else None,
        "rows_acknowledged": len(acked),
        "rows_present": len(acked & present_ids),
        "rows_lost": len(acked - present_ids),
    }


# --- partition tests' helpers (e2e.partition, e2e.arbiter_partition) -------------------------
NODE_ADDR = {"n1": "192.0.2.11", "n2": "192.0.2.12"}


def wait_for(what, cond, timeout=40, step=0.05):
    """Polls cond() until it returns something true (returned); AssertionError after timeout."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        v = cond()
        if v:
            return v
        time.sleep(step)
    raise AssertionError(f"{what}: not within {timeout}s")


def ids(db):
    """The ids of app.writes on one server."""
    return {int(r[0]) for r in db.sql("SELECT id FROM app.writes")}


def replicating_from(db, node):
    """True when db's replication runs (IO and SQL threads) from `node`'s address; False too
    when the query failed (a fence kills sessions, ours included: ask again)."""
    ok, rows, _ = db.try_sql("SHOW ALL SLAVES STATUS", names=True)
    if not ok or len(rows) < 2:
        return False
    r = dict(zip(rows[0], rows[1]))
    return r["Master_Host"] == NODE_ADDR[node] and r["Slave_IO_Running"] == "Yes" and \
        r["Slave_SQL_Running"] == "Yes"
