"""hakitd against a real nginx and a real MariaDB (no keepalived here; tests/e2e/
test_resident_mode.py has keepalived): track files follow the checks with hysteresis, the
MySQL probe keeps one connection and opens a new one after the server restarted, a web
server that stops answering fails, FIFO lines run through the notify engine (garbage
ignored), SIGHUP keeps a check's state, SIGTERM writes "failed" everywhere."""
import json
import os
import shutil
import signal
import subprocess
import time

import pytest

from fixtures.common import stop_pid, tempdir, write_config
from fixtures.keepalived import built
from fixtures.mariadb import mariadb_server  # noqa: F401  (pytest fixture)
from fixtures.nginx import Nginx

CONFIG = """\
log: {{syslog: false, file: {d}/hakit.log, level: debug}}
state_dir: {d}/state
run_dir: {d}/run
mysql:
  local: {profile}
checks:
  site: {{type: http, url: "{url}", timeout: 1s}}
  db: {{type: mysql, mysql: local, mode: master, timeout: 1s}}
instances:
  VI_1:
    promote: [{{run: {{argv: [/bin/true]}}}}]
    demote: [{{run: {{argv: [/bin/true]}}}}]
daemon:
  period: {period}
  fall: 2
  fall_after: 600ms
  rise: 2
  checks: [site, db]
  notify_fifo: {d}/run/keepalived.fifo
"""


def read(path):
    try:
        with open(path) as f:
            return f.read()
    except OSError:
        return None


def wait_for(what, predicate, timeout=20):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.02)
    raise AssertionError(f"not within {timeout}s: {what}")


def journal(d):
    text = read(os.path.join(d, "state", "journal.jsonl")) or ""
    return [json.loads(l) for l in text.splitlines() if l.strip()]


def hakit_sessions(srv):
    """Ids of the hakit user's sessions on the server."""
    rows = srv.rows("SELECT ID FROM information_schema.PROCESSLIST WHERE USER = 'hakit'")
    return sorted(int(r["ID"]) for r in rows)


@pytest.fixture
def lab(mariadb_server):  # noqa: F811
    d = tempdir("hakit-hakitd-")
    ng = Nginx().start()
    cfg = os.path.join(d, "hakit.yaml")
    text = CONFIG.format(d=d, url=ng.url("/ok"), period="100ms",
                         profile=mariadb_server.profile_yaml(mariadb_server.creds))
    write_config(d, text)
    proc = subprocess.Popen([built("hakitd"), "--config", cfg], stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)

    class Lab:
        pass
    lab = Lab()
    lab.d, lab.ng, lab.cfg, lab.proc, lab.srv, lab.text = d, ng, cfg, proc, mariadb_server, text
    lab.track = lambda name: read(os.path.join(d, "run", "track", name))
    try:
        wait_for("both checks healthy",
                 lambda: lab.track("site") == "0\n" and lab.track("db") == "0\n")
        # hakitd writes a check's track file first (keepalived waits for it), then journals
        # the change: wait for both entries too, or a test's "journal before" misses one.
        wait_for("both checks journaled healthy", lambda: {
            (e["check"], e["healthy"]) for e in journal(d) if e.get("kind") == "check"}
            >= {("site", True), ("db", True)})
        yield lab
    finally:
        if proc.poll() is None:
            stop_pid(proc, timeout=30)
        ng.stop()
        if not mariadb_server.running:
            mariadb_server.start()
        shutil.rmtree(d, ignore_errors=True)


def test_checks_drive_the_track_files(lab):
    # One kept connection: the same session across many probes.
    sessions = hakit_sessions(lab.srv)
    assert len(sessions) == 1, sessions
    time.sleep(1.0)
    assert hakit_sessions(lab.srv) == sessions

    # The server restarts: the check fails, then a new connection serves the probes.
    lab.srv.stop()
    wait_for("db failed", lambda: lab.track("db") == "1\n")
    assert lab.track("site") == "0\n"
    lab.srv.start()
    wait_for("db healthy again", lambda: lab.track("db") == "0\n", timeout=60)
    again = hakit_sessions(lab.srv)
    assert len(again) == 1 and again != sessions, again

    # nginx frozen: connections are accepted by the kernel and never answered. The probe
    # hangs; fall_after (600 ms) fails the check before the 1 s timeout would.
    os.kill(lab.ng.proc.pid, signal.SIGSTOP)
    try:
        wait_for("site failed while nginx is frozen", lambda: lab.track("site") == "1\n")
    finally:
        os.kill(lab.ng.proc.pid, signal.SIGCONT)
    wait_for("site healthy again", lambda: lab.track("site") == "0\n")
    lab.ng.stop()
    wait_for("site failed with nginx stopped (refused)", lambda: lab.track("site") == "1\n")

    changes = [(e["check"], e["healthy"]) for e in journal(lab.d) if e.get("kind") == "check"]
    assert changes[:2] == [("site", True), ("db", True)] or \
        changes[:2] == [("db", True), ("site", True)], changes
    assert ("db", False) in changes and ("site", False) in changes

    def site_status():
        status = json.loads(read(os.path.join(lab.d, "state", "hakitd.json")))
        return [c for c in status["checks"] if c["name"] == "site"][0]
    # The status file is written every status_interval (1 s).
    wait_for("the status file shows the failures", lambda: not site_status()["healthy"])
    site = site_status()
    assert site["probes"] > 10 and site["failures"] >= 2, site
    # Written just before the status file, so at least as new as what site_status() read.
    prom = read(os.path.join(lab.d, "state", "metrics", "hakit_daemon.prom"))
    assert 'hakit_daemon_check_healthy{check="site"} 0' in prom, \
        (prom, read(os.path.join(lab.d, "hakit.log")))


def test_fifo_events_run_through_the_engine(lab):
    fifo = os.path.join(lab.d, "run", "keepalived.fifo")
    wait_for("the FIFO exists", lambda: os.path.exists(fifo))

    def transitions():
        return [e for e in journal(lab.d) if e.get("kind") == "transition"]

    def send(data):
        fd = os.open(fifo, os.O_WRONLY | os.O_NONBLOCK)
        os.write(fd, data)
        os.close(fd)

    # Garbage, another cluster's instance and an informational event are not role changes.
    send(b'garbage\nINSTANCE "VI_1" MASTER 100\nINSTANCE "VI_9" BACKUP 90\n'
         b'INSTANCE "VI_1" MASTER_RX_LOWER_PRI 100\n')
    wait_for("MASTER journaled", lambda: len(transitions()) == 1)
    first = transitions()[0]
    assert first["event"]["state"] == "MASTER" and first["decision"] == "ran", first
    assert first["args"] == ["hakitd", "fifo", 'INSTANCE "VI_1" MASTER 100'], first

    # A burst: every event is journaled in arrival order; one still queued when a newer one
    # arrived is superseded (as a notify script's would be); the newest always runs.
    send(b'INSTANCE "VI_1" BACKUP 90\nINSTANCE "VI_1" FAULT 0\nINSTANCE "VI_1" STOP 0\n')
    wait_for("the burst journaled", lambda: len(transitions()) == 4)
    burst = transitions()[1:]
    assert [e["event"]["state"] for e in burst] == ["BACKUP", "FAULT", "STOP"], burst
    assert [e["ticket"] for e in burst] == sorted(e["ticket"] for e in burst)
    assert all(e["decision"] in ("ran", "superseded") for e in burst), burst
    assert burst[-1]["decision"] == "ran", burst
    role = json.loads(read(os.path.join(lab.d, "state", "role.VI_1")))
    assert role["role"] == "stop", role
    wait_for("status written", lambda: json.loads(
        read(os.path.join(lab.d, "state", "hakitd.json")))["fifo"]["garbage_lines"] == 1)


def test_reload_keeps_state_and_sigterm_gives_up(lab):
    before = [e for e in journal(lab.d) if e.get("kind") == "check"]
    with open(lab.cfg, "w") as f:
        f.write(lab.text.replace("period: 100ms", "period: 150ms"))
    os.kill(lab.proc.pid, signal.SIGHUP)
    log = os.path.join(lab.d, "hakit.log")
    wait_for("reloaded", lambda: "configuration reloaded" in (read(log) or ""))
    time.sleep(0.5)
    # A check that stays keeps its state: no new transition, the files still say healthy.
    assert [e for e in journal(lab.d) if e.get("kind") == "check"] == before
    assert lab.track("site") == "0\n" and lab.track("db") == "0\n"

    # A broken config is refused; the running one stays.
    with open(lab.cfg, "w") as f:
        f.write(lab.text.replace("checks: [site, db]", "checks: [site, nosuch]"))
    os.kill(lab.proc.pid, signal.SIGHUP)
    wait_for("reload refused", lambda: "reload refused" in (read(log) or ""))
    assert lab.proc.poll() is None and lab.track("site") == "0\n"

    lab.proc.send_signal(signal.SIGTERM)
    assert lab.proc.wait(timeout=30) == 0
    assert lab.track("site") == "1\n" and lab.track("db") == "1\n"
