"""check_mysql_slave against a real MariaDB primary and replica (GTID), started by the fixture.

Each test that breaks the pair repairs it (pair.reset()) so the module shares one pair.
"""
import os
import re
import signal
import time

import pytest

from check_mysql_common import check, conn_args, perf, state_of, wait_for
from fixtures.badhttp import FakeDns, bind_preexec
from fixtures.common import free_port, tempdir, write_config
from fixtures.mariadb import mariadb_pair  # noqa: F401  (pytest fixture)


@pytest.fixture
def pair(mariadb_pair):  # noqa: F811
    yield mariadb_pair
    mariadb_pair.reset()


def replica_args(pair):
    return conn_args(pair.replica, pair.creds)


def primary_args(pair):
    return conn_args(pair.primary, pair.creds)


def test_healthy_replica(pair):
    rc, line, _, _ = check(*replica_args(pair), "-w", "60", "-c", "300")
    assert rc == 0 and state_of(line) == "OK", line
    assert "replica running" in line and "read-only" in line
    assert perf(line, "lag") == 0
    assert "lag=0s;60;300;0" in line


def test_master_writable_is_healthy_in_its_role(pair):
    rc, line, _, _ = check(*primary_args(pair))
    assert rc == 0 and "MYSQL OK - master, no replication, writable" in line, line
    rc, line, _, _ = check(*primary_args(pair), "--mode", "master")
    assert rc == 0 and state_of(line) == "OK", line
    # The master is not a replica: asked to be one, it fails.
    rc, line, _, _ = check(*primary_args(pair), "--role", "replica")
    assert rc == 2 and "no replication configured" in line, line


def test_replica_writable_is_a_warning(pair):
    pair.replica.set_read_only(False)
    rc, line, _, _ = check(*replica_args(pair))
    assert state_of(line) == "WARNING" and "replica is writable (read_only=OFF)" in line, line
    assert rc == 0  # a WARNING does not fail keepalived by default
    rc, line, _, _ = check(*replica_args(pair), "--warning-fails")
    assert rc == 1, line


def test_master_read_only_is_a_warning(pair):
    pair.primary.set_read_only(True)
    rc, line, _, _ = check(*primary_args(pair), "--warning-fails")
    assert rc == 1 and "master is read-only (read_only=ON)" in line, line


def test_io_thread_stopped(pair):
    pair.stop_io()
    rc, line, _, _ = check(*replica_args(pair))
    assert rc == 2 and "IO thread No" in line, line


def test_sql_thread_stopped(pair):
    pair.stop_sql()
    rc, line, _, _ = check(*replica_args(pair))
    assert rc == 2 and "SQL thread No" in line, line
    assert "lag unknown" not in line  # the stopped thread says it all


def test_sql_error_is_quoted(pair):
    # Written on the replica without binlogging it, as a stray write by hand would be
    # (binlogged, GTID strict mode would stop replication with 1950 instead).
    pair.replica.sql("SET SESSION sql_log_bin=0; "
                     "INSERT INTO hakit_test.t VALUES (4242, 'replica only')")
    pair.primary.sql("INSERT INTO hakit_test.t VALUES (4242, 'primary')")
    wait_for(lambda: pair.replica_status().get("Last_SQL_Errno") == "1062", 30,
             "duplicate-key error on the replica")
    rc, line, _, _ = check(*replica_args(pair))
    assert rc == 2, line
    assert "SQL thread No: error 1062" in line and "Duplicate entry '4242'" in line, line
    pair.replica.sql("SET SESSION sql_log_bin=0; DELETE FROM hakit_test.t WHERE id = 4242")


def test_lag_over_thresholds(pair):
    pair.stop_replica()
    pair.replica.sql("CHANGE MASTER TO MASTER_DELAY=60")
    pair.start_replica()
    pair.wait_replicating()
    pair.primary.sql("INSERT INTO hakit_test.t VALUES (7001, 'delayed')")

    def lag():
        v = pair.replica_status().get("Seconds_Behind_Master")
        return v is not None and int(v) >= 3 and int(v)
    wait_for(lag, 30, "replica lag >= 3 s")
    rc, line, _, _ = check(*replica_args(pair), "-w", "1", "-c", "2")
    assert rc == 2 and "lag" in line and "> 2 s" in line, line
    assert perf(line, "lag") >= 3
    rc, line, _, _ = check(*replica_args(pair), "-w", "1s", "-c", "10m", "--warning-fails")
    assert rc == 1 and "> 1 s" in line, line
    rc, line, _, _ = check(*replica_args(pair), "-w", "10m", "-c", "20m")
    assert rc == 0 and state_of(line) == "OK", line


def test_master_down_null_lag(pair):
    pair.primary.stop()
    wait_for(lambda: pair.replica_status().get("Slave_IO_Running") != "Yes", 30,
             "IO thread noticing the dead primary")
    rc, line, _, _ = check(*replica_args(pair))
    assert rc == 2, line
    assert "IO thread" in line and "lag unknown (Seconds_Behind_Master is NULL)" in line, line
    # NULL lag alone keeps it CRITICAL by default ...
    rc, line, _, _ = check(*replica_args(pair), "--io-thread-down", "warning")
    assert rc == 2 and "lag unknown" in line, line
    # ... and the keepalived standby setting lets the failover happen.
    rc, line, _, _ = check(*replica_args(pair), "--io-thread-down", "warning",
                           "--null-lag", "warning")
    assert rc == 0 and state_of(line) == "WARNING", line


def test_access_denied(pair):
    bad = pair.replica.write_secret("wrong.pass", "not-the-password\n")
    rc, line, _, _ = check("-H", "127.0.0.1", "-P", pair.replica.port, "-u", "hakit",
                           "--password-file", bad)
    assert rc == 2 and "access denied" in line, line


def test_missing_privilege_names_slave_monitor(pair):
    weak = pair.primary.create_user("weak", privileges="REPLICATION CLIENT")
    pair.wait_caught_up()
    rc, line, _, _ = check(*conn_args(pair.replica, weak))
    assert rc == 2 and "missing privilege" in line and "SLAVE MONITOR" in line, line


def test_server_down_and_missing_socket(pair):
    rc, line, _, _ = check("-H", "127.0.0.1", "-P", free_port(), "-u", "hakit",
                           "--password-file", pair.creds.password_file)
    assert rc == 2 and "connection refused" in line, line
    rc, line, _, _ = check("-s", "/tmp/hakit-no-such-dir/mysqld.sock", "-u", "root")
    assert rc == 2 and "no such socket" in line, line


def test_hung_server_costs_the_timeout(pair):
    pair.replica.pause()
    try:
        for timeout in (1.0, 0.3):
            rc, line, _, took = check(*replica_args(pair), "-t", f"{int(timeout * 1000)}ms")
            assert rc == 2 and "no answer within the" in line, line
            # The contract is timeout + 50 ms; the slack covers process start on a loaded
            # 2-core box (the measured overshoot is ~5 ms, see docs/benchmarks.md).
            assert timeout - 0.01 <= took <= timeout + 0.15, (timeout, took, line)
    finally:
        pair.replica.resume()


def test_slow_query_costs_the_timeout(pair):
    # The deadline covers the queries too, not only the connect.
    rc, line, _, took = check(*replica_args(pair), "--mode", "freshness",
                              "--query", "SELECT SLEEP(5)", "-t", "500ms")
    assert rc == 2 and "no answer within the 500 ms timeout" in line, line
    assert 0.49 <= took <= 0.65, took


def test_freshness_fresh_and_stale(pair):
    pair.primary.sql("CREATE TABLE IF NOT EXISTS hakit_test.programstatus "
                     "(id INT PRIMARY KEY, last_update DATETIME, epoch BIGINT)")
    pair.primary.sql("REPLACE INTO hakit_test.programstatus VALUES "
                     "(1, NOW() - INTERVAL 20 SECOND, UNIX_TIMESTAMP() - 20)")
    pair.wait_caught_up()
    q = "SELECT last_update FROM hakit_test.programstatus WHERE id = 1"
    rc, line, _, _ = check(*replica_args(pair), "--mode", "freshness", "--query", q)
    assert rc == 0 and "fresh: last update" in line, line
    assert 19 <= perf(line, "age") <= 60
    rc, line, _, _ = check(*replica_args(pair), "--mode", "freshness", "--query", q,
                           "--max-age", "10s")
    assert rc == 2 and "stale" in line, line
    qe = "SELECT epoch FROM hakit_test.programstatus WHERE id = 1"
    rc, line, _, _ = check(*replica_args(pair), "--mode", "freshness", "-q", qe, "--max-age", "1m")
    assert rc == 0 and 19 <= perf(line, "age") <= 60, line
    pair.primary.sql("UPDATE hakit_test.programstatus SET last_update = NOW() - INTERVAL 10 "
                     "MINUTE WHERE id = 1")
    pair.wait_caught_up()
    rc, line, _, _ = check(*replica_args(pair), "--mode", "freshness", "--query", q)
    assert rc == 2 and "stale: last update 10 m" in line, line
    # As an extra check beside the replica mode.
    rc, line, _, _ = check(*replica_args(pair), "--query", q)
    assert rc == 2 and "replica running" in line and "stale" in line, line
    rc, line, _, _ = check(*replica_args(pair), "--mode", "freshness",
                           "--query", "SELECT last_update FROM hakit_test.programstatus WHERE id=9")
    assert rc == 2 and "no rows" in line, line


def test_heartbeat_table_lag(pair):
    pair.primary.sql("CREATE TABLE IF NOT EXISTS hakit_test.heartbeat "
                     "(ts VARCHAR(26) NOT NULL, server_id INT UNSIGNED NOT NULL PRIMARY KEY)")
    pair.primary.sql("REPLACE INTO hakit_test.heartbeat VALUES "
                     "(DATE_FORMAT(NOW(6) - INTERVAL 2 SECOND, '%Y-%m-%dT%H:%i:%s.%f'), 101)")
    pair.wait_caught_up()
    args = [*replica_args(pair), "--heartbeat-table", "hakit_test.heartbeat",
            "--heartbeat-server-id", "101"]
    rc, line, _, _ = check(*args, "-w", "10", "-c", "20")
    assert rc == 0 and "(heartbeat)" in line and 2 <= perf(line, "lag") < 10, line
    rc, line, _, _ = check(*args, "-w", "0.5", "-c", "1")
    assert rc == 2 and "(heartbeat)" in line, line
    rc, line, _, _ = check(*replica_args(pair), "--heartbeat-table", "hakit_test.heartbeat",
                           "--heartbeat-server-id", "999")
    assert rc == 2 and "no heartbeat row" in line, line


def test_maintenance_file_forces_critical(pair):
    d = tempdir()
    try:
        m = os.path.join(d, "maintenance")
        with open(m, "w") as f:
            f.write("switchover by ops, ticket 42\n")
        rc, line, _, _ = check(*replica_args(pair), "--maintenance-file", m)
        assert rc == 2 and "maintenance" in line and "ticket 42" in line, line
    finally:
        os.remove(m)
        os.rmdir(d)


def test_config_profile_check_and_defaults_file(pair):
    d = tempdir()
    try:
        cnf = pair.replica.defaults_file(pair.creds)
        maint = os.path.join(d, "maint")
        cfg = write_config(d, f"""
maintenance_file: {maint}
log: {{syslog: false}}
mysql:
  local: {pair.replica.profile_yaml(pair.creds, connect_timeout='1s')}
  viafile: {{defaults_file: {cnf}}}
checks:
  replica: {{type: mysql, mysql: local, lag: {{warning: 60s, critical: 5m}}, timeout: 1500ms}}
  strict: {{type: mysql, mysql: viafile, role: master, warning_fails: true}}
""")
        rc, line, err, _ = check("--config", cfg, "--check", "replica")
        assert rc == 0 and "replica running" in line, (line, err)
        rc, line, _, _ = check("--check", "replica", env_config=cfg)
        assert rc == 0, line
        # defaults_file: credentials and address from the option file; warning_fails from
        # the entry; a replica asked to be a master is read-only: WARNING, exit 1.
        rc, line, _, _ = check("--config", cfg, "--check", "strict")
        assert rc == 1 and "master is read-only" in line, line
        rc, line, _, _ = check("--config", cfg, "--check", "strict", "--no-warning-fails")
        assert rc == 0, line
        rc, line, _, _ = check("--config", cfg, "--check", "nosuch")
        assert rc == 3 and "no mysql check 'nosuch'" in line, line
        with open(maint, "w"):
            pass
        # The check's own command line drops --maintenance-file: the config's applies.
        from check_mysql_common import binary
        from fixtures.common import run
        r = run([binary(), "--config", cfg, "--check", "replica"])
        assert r.returncode == 2 and "maintenance" in r.stdout, r.stdout
    finally:
        import shutil
        shutil.rmtree(d, ignore_errors=True)


def test_dead_resolver_costs_the_timeout_and_says_so(pair):
    """A DNS server that never answers: resolv.conf's 5 s x 2 tries used to hold the check for
    10 s and then read "unknown host". The lookup is bounded by -t and named."""
    with FakeDns("silent") as dns:
        rc, line, err, took = check("-H", "db1.hang-dns.test", "-P", pair.replica.port, "-u",
                                    pair.creds.user, "--password-file", pair.creds.password_file,
                                    "-t", "500ms", preexec_fn=dns.resolver_preexec())
        assert dns.queries > 0, "the check did not ask our DNS server"
    assert rc == 2, (line, err)
    # The lookup gets what is left of -t 500ms once the process is up: 4xx or 500 ms.
    assert re.search(r"name lookup of 'db1.hang-dns.test' timed out after (4\d\d|500) ms",
                     line), line
    assert "unknown host" not in line, line
    assert took <= 0.6, f"took {took:.3f} s: {line}"
    # A name that does not exist is still "unknown host", at once.
    with FakeDns("nxdomain") as dns:
        rc, line, _, took = check("-H", "nosuch.hang-dns.test", "-u", pair.creds.user,
                                  "--password-file", pair.creds.password_file, "-t", "500ms",
                                  preexec_fn=dns.resolver_preexec())
    assert rc == 2 and "unknown host 'nosuch.hang-dns.test'" in line, line
    # A name that resolves: looked up, then connected to by address.
    d = tempdir()
    try:
        hosts = os.path.join(d, "hosts")
        with open(hosts, "w") as f:
            f.write("127.0.0.1 db-by-name.test\n")
        rc, line, err, _ = check("-H", "db-by-name.test", "-P", pair.replica.port, "-u",
                                 pair.creds.user, "--password-file", pair.creds.password_file,
                                 "-t", "1s", preexec_fn=bind_preexec(hosts, "/etc/hosts"))
        assert rc == 0 and "replica running" in line, (line, err)
    finally:
        import shutil
        shutil.rmtree(d, ignore_errors=True)


def test_command_line_host_and_port_beat_the_defaults_file(pair):
    """-H/-P equal to the defaults (127.0.0.1, 3306) used to be taken for "not given", so the
    option file's host silently won and another server was checked."""
    d = tempdir()
    try:
        cnf = os.path.join(d, "other.cnf")
        with open(cnf, "w") as f:
            f.write(f"[client]\nuser={pair.creds.user}\npassword={pair.creds.password}\n"
                    f"host=127.0.0.2\nport={pair.replica.port}\n")
        os.chmod(cnf, 0o600)
        # The file alone: its host (nothing listens on 127.0.0.2) is used.
        rc, line, _, _ = check("--defaults-file", cnf, "-t", "1s")
        assert rc == 2 and "connection refused" in line, line
        # -H with the default value wins over the file.
        rc, line, err, _ = check("--defaults-file", cnf, "-H", "127.0.0.1", "-t", "1s")
        assert rc == 0 and "replica running" in line, (line, err)
        # The same through a config profile: host: given in the profile wins too.
        cfg = write_config(d, f"""
log: {{syslog: false}}
mysql:
  local: {{host: 127.0.0.1, defaults_file: {cnf}}}
""")
        rc, line, err, _ = check("--config", cfg, "--mysql", "local", "-t", "1s")
        assert rc == 0 and "replica running" in line, (line, err)
    finally:
        import shutil
        shutil.rmtree(d, ignore_errors=True)


def test_freshness_future_timestamp_and_bounded_results(pair):
    args = replica_args(pair) + ["--mode", "freshness", "-t", "3s"]
    # An hour ahead: reported, not "fresh" (WARNING; exit 0 unless --warning-fails).
    rc, line, _, _ = check(*args, "--query", "SELECT NOW() + INTERVAL 1 HOUR", "--warning-fails")
    assert rc == 1 and "in the future" in line and "clock skew or bad data" in line, line
    # Within the tolerance: fresh.
    rc, line, _, _ = check(*args, "--query", "SELECT NOW() + INTERVAL 20 SECOND")
    assert rc == 0 and "fresh" in line, line
    rc, line, _, _ = check(*args, "--query", "SELECT NOW() + INTERVAL 20 SECOND",
                           "--future-tolerance", "5s", "--warning-fails")
    assert rc == 1 and "in the future" in line, line
    # Ten million rows: only the first is sent (seq_1_to_N is MariaDB's sequence engine); read
    # whole they cost more than the 3 s timeout and hundreds of MB.
    rc, line, _, took = check(*args, "--query",
                              "SELECT NOW() - INTERVAL seq SECOND FROM mysql.seq_1_to_10000000")
    assert rc == 0 and "fresh" in line, line
    assert took < 2.0, took
    # A huge value: not a timestamp, and not printed whole.
    rc, line, _, _ = check(*args, "--query", "SELECT REPEAT('x', 4000000)")
    assert rc == 2 and "not a timestamp (4000000 bytes" in line, line
    assert len(line) < 400, len(line)
