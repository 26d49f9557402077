"""The MariaDB privileges docs/operations.md tells operators to grant are exactly enough.

A real MariaDB 10.11 (fixtures.mariadb); an account with only the documented grants runs every
statement the checks and the notify actions use, and the monitoring account is refused what it
does not need. Also pins the fact the runbook relies on: REPLICATION CLIENT alone no longer
allows SHOW SLAVE STATUS.
"""
import os
import re
import shutil
import subprocess
import time

import pytest

from fixtures.common import SOURCE_DIR, require, stop_pid, tempdir
from fixtures.mariadb import Server


def documented_grants(on=r"\*\.\*"):
    """The GRANT lines for 'hakit'@'127.0.0.1' ON `on` in the runbook, so the test follows the
    doc."""
    text = open(os.path.join(SOURCE_DIR, "docs", "operations.md")).read()
    grants = re.findall(r"^GRANT ([A-Z_ ,\n]+?)\s+ON " + on + r" TO 'hakit'@'127\.0\.0\.1';",
                        text, re.M | re.S)
    assert grants, f"no GRANT ... ON {on} TO 'hakit'@'127.0.0.1' in docs/operations.md"
    return [" ".join(g.split()) for g in grants]


@pytest.fixture(scope="module")
def server():
    srv = Server(name="privs", server_id=301)
    srv.start()
    yield srv
    srv.destroy()


def account(srv, work, user, privileges):
    """A user@'127.0.0.1' with only `privileges`, and an option file to log in with."""
    pw = "pw-" + user
    srv.sql(f"CREATE OR REPLACE USER '{user}'@'127.0.0.1' IDENTIFIED BY '{pw}'")
    if privileges:
        srv.sql(f"GRANT {privileges} ON *.* TO '{user}'@'127.0.0.1'")
    path = os.path.join(work, f"{user}.cnf")
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(f"[client]\nuser={user}\npassword={pw}\nhost=127.0.0.1\nport={srv.port}\n")
    return path


def sql_as(cnf, stmt):
    client = require("mariadb")
    return subprocess.run([client, f"--defaults-file={cnf}", "-N", "-B", "-e", stmt],
                          capture_output=True, text=True, timeout=30)


def test_documented_grants_cover_checks_and_actions(server):
    work = tempdir("hakit-privs-")
    sleeper = None
    try:
        grants = documented_grants()
        # The monitoring grant alone: the check's statements.
        mon = account(server, work, "hakit_mon", grants[0])
        for stmt in ("SHOW SLAVE STATUS", "SELECT @@global.read_only",
                     "SHOW GLOBAL STATUS LIKE 'wsrep%'"):
            r = sql_as(mon, stmt)
            assert r.returncode == 0, f"{grants[0]}: {stmt}: {r.stderr}"
        r = sql_as(mon, "SET GLOBAL read_only=ON")
        assert r.returncode != 0 and "denied" in r.stderr

        # The full grant (the last one for 127.0.0.1): everything mysql_promote/demote run.
        adm = account(server, work, "hakit_adm", grants[-1])
        app = account(server, work, "app", "")
        sleeper = subprocess.Popen([require("mariadb"), f"--defaults-file={app}", "-e",
                                    "SELECT SLEEP(60)"], stdout=subprocess.DEVNULL,
                                   stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 20
        ids = []
        while time.monotonic() < deadline and not ids:
            r = sql_as(adm, "SELECT ID FROM information_schema.PROCESSLIST WHERE USER = 'app'")
            assert r.returncode == 0, r.stderr
            ids = r.stdout.split()
            time.sleep(0.2)
        assert ids, "PROCESS did not show another user's session"
        for stmt in (
                "SHOW SLAVE STATUS", "SHOW MASTER STATUS",
                "SELECT @@GLOBAL.gtid_binlog_pos, @@GLOBAL.gtid_current_pos, @@GLOBAL.gtid_slave_pos",
                "SET GLOBAL read_only=ON", "SET GLOBAL read_only=OFF",
                "CHANGE MASTER TO MASTER_HOST='127.0.0.1', MASTER_PORT=1, MASTER_USER='repl', "
                "MASTER_PASSWORD='x', MASTER_USE_GTID=current_pos",
                "STOP SLAVE IO_THREAD", "STOP SLAVE", "RESET SLAVE ALL",
                f"KILL CONNECTION {ids[0]}"):
            r = sql_as(adm, stmt)
            assert r.returncode == 0, f"{grants[-1]}: {stmt}: {r.stderr}"
        sleeper.wait(timeout=20)  # its session was killed
        # hakit's fence marks and promotion records: its own schema, kept out of the binlog.
        schema = documented_grants(r"hakit\.\*")[0]
        server.sql(f"GRANT {schema} ON hakit.* TO 'hakit_adm'@'127.0.0.1'")
        r = sql_as(adm, "SET SESSION sql_log_bin=0; CREATE DATABASE IF NOT EXISTS hakit; "
                        "CREATE TABLE IF NOT EXISTS hakit.t (id INT PRIMARY KEY); "
                        "INSERT INTO hakit.t VALUES (1); UPDATE hakit.t SET id = 2; "
                        "SELECT id FROM hakit.t; SET SESSION sql_log_bin=1")
        assert r.returncode == 0 and r.stdout.split() == ["2"], r.stderr
        # ... and what the promotion's preflight reads: the account's own privileges.
        r = sql_as(adm, "SELECT PRIVILEGE_TYPE FROM information_schema.USER_PRIVILEGES")
        assert r.returncode == 0 and "RELOAD" in r.stdout.split("\n"), r.stdout + r.stderr
        r = sql_as(adm, "SELECT PRIVILEGE_TYPE FROM information_schema.SCHEMA_PRIVILEGES "
                        "WHERE TABLE_SCHEMA = 'hakit'")
        assert set(r.stdout.split()) >= {"CREATE", "INSERT", "UPDATE", "SELECT"}, r.stdout
    finally:
        if sleeper and sleeper.poll() is None:
            stop_pid(sleeper)
        shutil.rmtree(work, ignore_errors=True)


def test_replication_client_is_not_enough(server):
    work = tempdir("hakit-privs-")
    try:
        old = account(server, work, "old_style", "REPLICATION CLIENT")
        r = sql_as(old, "SHOW SLAVE STATUS")
        assert r.returncode != 0
        assert "SLAVE MONITOR" in r.stderr or "denied" in r.stderr, r.stderr
    finally:
        shutil.rmtree(work, ignore_errors=True)
