"""check_mysql_slave as a drop-in for check_mysql: command lines as in its --help and Debian's
Nagios command definitions (/etc/nagios-plugins/config/mysql.cfg), with the password in an
option file (-f) instead of argv, unchanged but for the binary name, against the fixture's
MariaDB primary and replica; the real check_mysql runs side by side and must agree.

The documented differences (docs/migrating-from-monitoring-plugins.md) are asserted at the
end: -p PASSWORD is refused, and without -S check_mysql only tests the login while
check_mysql_slave judges the role."""
import pytest

from check_mysql_common import binary
from dropin_common import assert_same_state, expand, plugin, run_hakit, run_real
from fixtures.mariadb import mariadb_pair  # noqa: F401  (pytest fixture)


@pytest.fixture
def pair(mariadb_pair):  # noqa: F811
    yield mariadb_pair
    mariadb_pair.reset()


def macros(pair, node):
    server = pair.replica if node == "replica" else pair.primary
    # LOGIN: user and password only (a file naming host/port would override a socket).
    login = server.write_secret("login.cnf", f"[client]\nuser={pair.creds.user}\n"
                                             f"password={pair.creds.password}\n")
    return {"P": plugin("check_mysql"), "HOSTADDRESS": server.host, "PORT": server.port,
            "USER": pair.creds.user, "CNF": server.defaults_file(pair.creds), "LOGIN": login,
            "SOCKET": server.socket}


LINES = [
    # (node, command line, expected state of check_mysql)
    ("primary", "$P$ -H '$HOSTADDRESS$' -P $PORT$ -f $CNF$", "OK"),
    ("replica", "$P$ -H '$HOSTADDRESS$' -P $PORT$ -u '$USER$' -f $CNF$ -S", "OK"),
    ("replica", "$P$ -H $HOSTADDRESS$ -P $PORT$ -f $CNF$ -S -w 60 -c 300", "OK"),
    ("replica", "$P$ --hostname=$HOSTADDRESS$ --port=$PORT$ --file=$CNF$ --group=client "
                "--check-slave --warning=60 --critical=300", "OK"),
    ("replica", "$P$ -d mysql -H '$HOSTADDRESS$' -P $PORT$ -u '$USER$' -f $CNF$ -S", "OK"),
    ("replica", "$P$ -d no_such_db -H '$HOSTADDRESS$' -P $PORT$ -f $CNF$", "CRITICAL"),
    ("primary", "$P$ -H $SOCKET$ -f $LOGIN$", "OK"),
    ("replica", "$P$ -H $SOCKET$ -f $LOGIN$ -S", "OK"),
]


@pytest.mark.parametrize("node,template,state", LINES)
def test_lines_reach_check_mysqls_state(pair, node, template, state):
    argv = expand(template, macros(pair, node))
    real = run_real(argv)
    assert real.rc == {"OK": 0, "WARNING": 1, "CRITICAL": 2}[state], real
    assert_same_state(real, run_hakit(binary(), argv))


@pytest.mark.parametrize("stop", ["io", "sql"])
def test_stopped_replica_thread_is_critical_for_both(pair, stop):
    (pair.stop_io if stop == "io" else pair.stop_sql)()
    argv = expand("$P$ -H $HOSTADDRESS$ -P $PORT$ -f $CNF$ -S -w 60 -c 300",
                  macros(pair, "replica"))
    real = run_real(argv)
    assert real.rc == 2, real
    assert_same_state(real, run_hakit(binary(), argv))


def test_wrong_password_is_critical_for_both(pair):
    m = macros(pair, "replica")
    bad = pair.replica.write_secret("bad.cnf", f"[client]\nuser={pair.creds.user}\npassword=nope\n")
    argv = expand("$P$ -H $HOSTADDRESS$ -P $PORT$ -f $BAD$ -S", {**m, "BAD": bad})
    real = run_real(argv)
    assert real.rc == 2, real
    assert_same_state(real, run_hakit(binary(), argv))


def test_documented_differences(pair):
    m = macros(pair, "replica")
    # Debian's check_mysql_cmdlinecred/check_mysql_slave definitions put the password in
    # argv (-p): refused, pointing at the option file.
    argv = expand(f"$P$ -H '$HOSTADDRESS$' -P $PORT$ -u '$USER$' -p '{pair.creds.password}' -S", m)
    assert run_real(argv).rc == 0
    mine = run_hakit(binary(), argv)
    assert mine.rc == 3 and "--defaults-file" in mine.stdout + mine.stderr, mine
    assert pair.creds.password not in mine.stdout + mine.stderr
    # -S on a server without replication: check_mysql "No slaves defined"; check_mysql_slave
    # with -S (role replica) CRITICAL: a node that must be a replica and is not.
    argv = expand("$P$ -H $HOSTADDRESS$ -P $PORT$ -f $CNF$ -S", macros(pair, "primary"))
    real = run_real(argv)
    mine = run_hakit(binary(), argv)
    assert real.rc in (1, 2), real
    assert (mine.word, mine.rc) == ("CRITICAL", 2) and "no replication" in mine.line, mine
    # Without -S check_mysql tests the login only; check_mysql_slave judges the role (a replica
    # with a stopped SQL thread is CRITICAL).
    pair.stop_sql()
    argv = expand("$P$ -H $HOSTADDRESS$ -P $PORT$ -f $CNF$", m)
    assert run_real(argv).rc == 0
    mine = run_hakit(binary(), argv)
    assert (mine.word, mine.rc) == ("CRITICAL", 2), mine
