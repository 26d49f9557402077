"""check_mysql_slave with file/position replication over a MariaDB named connection
(multi-source syntax: CHANGE MASTER 'east' TO ...)."""
import pytest

from check_mysql_common import check, conn_args, perf, state_of
from fixtures.mariadb import start_pair


@pytest.fixture(scope="module")
def named_pair():
    pair = start_pair(gtid=False, connection_name="east")
    try:
        pair.creds = pair.primary.create_user("hakit")
        pair.wait_caught_up()
        yield pair
    finally:
        pair.destroy()


@pytest.fixture
def pair(named_pair):
    yield named_pair
    named_pair.reset()


def test_named_connection_healthy(pair):
    assert pair.replica_status()["Using_Gtid"] == "No"
    # Without --connection every connection is checked (SHOW ALL REPLICAS STATUS).
    rc, line, _, _ = check(*conn_args(pair.replica, pair.creds))
    assert rc == 0 and "replica running" in line, line
    assert perf(line, "lag") == 0
    rc, line, _, _ = check(*conn_args(pair.replica, pair.creds), "--connection", "east")
    assert rc == 0 and state_of(line) == "OK", line


def test_named_connection_stopped_is_named(pair):
    pair.stop_sql()
    rc, line, _, _ = check(*conn_args(pair.replica, pair.creds))
    assert rc == 2 and "'east' SQL thread No" in line, line


def test_unknown_connection_name(pair):
    rc, line, _, _ = check(*conn_args(pair.replica, pair.creds), "--connection", "west")
    assert rc == 2 and "no replication connection named 'west'" in line, line


def test_file_position_sql_error(pair):
    pair.replica.sql("SET SESSION sql_log_bin=0; INSERT INTO hakit_test.t VALUES (99, 'stray')")
    pair.primary.sql("INSERT INTO hakit_test.t VALUES (99, 'primary')")
    from check_mysql_common import wait_for
    wait_for(lambda: pair.replica_status().get("Last_SQL_Errno") == "1062", 30, "error 1062")
    rc, line, _, _ = check(*conn_args(pair.replica, pair.creds), "--connection", "east")
    assert rc == 2 and "error 1062" in line and "Duplicate entry '99'" in line, line
    pair.replica.sql("SET SESSION sql_log_bin=0; DELETE FROM hakit_test.t WHERE id = 99")
