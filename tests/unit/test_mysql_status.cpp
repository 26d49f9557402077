// hakit_mysql status parsing and check_mysql_slave's judgements, over fake rows.
#include <doctest/doctest.h>

#include "check_mysql_slave/check_mysql_slave.hpp"
#include "common/mysql/connection.hpp"
#include "common/mysql/resolve.hpp"
#include "common/mysql/status.hpp"

using namespace hakit;
using mysql::Row;

namespace {

Row mariadb_row(const std::string& io, const std::string& sql, std::optional<std::string> lag) {
  return Row{{"Connection_name", ""},
             {"Slave_IO_State", "Waiting for master to send event"},
             {"Master_Host", "127.0.0.1"},
             {"Master_Port", "3306"},
             {"Slave_IO_Running", io},
             {"Slave_SQL_Running", sql},
             {"Last_IO_Errno", "0"},
             {"Last_IO_Error", ""},
             {"Last_SQL_Errno", "0"},
             {"Last_SQL_Error", ""},
             {"Seconds_Behind_Master", lag},
             {"SQL_Delay", "0"},
             {"Using_Gtid", "Slave_Pos"},
             {"Gtid_IO_Pos", "0-101-5"}};
}

mysql::ReplicaStatus parsed(const Row& row) {
  mysql::ReplicaStatus st;
  std::string err;
  REQUIRE(mysql::parse_replica_status(row, &st, &err));
  return st;
}

check_mysql::ReplicationFacts replica(const Row& row, bool read_only = true) {
  check_mysql::ReplicationFacts f;
  f.channels.push_back(parsed(row));
  f.read_only = read_only;
  return f;
}

config::MysqlCheckConfig lag_config(int warn_s, int crit_s) {
  config::MysqlCheckConfig c;
  c.lag_warning = Millis(warn_s * 1000);
  c.lag_critical = Millis(crit_s * 1000);
  return c;
}

std::vector<Row> wsrep(std::initializer_list<std::pair<const char*, const char*>> kv) {
  std::vector<Row> rows;
  for (auto& [k, v] : kv) rows.push_back(Row{{"Variable_name", k}, {"Value", v}});
  return rows;
}

std::vector<Row> synced(const char* size = "3") {
  return wsrep({{"wsrep_provider_name", "Galera"},
                {"wsrep_ready", "ON"},
                {"wsrep_connected", "ON"},
                {"wsrep_local_state", "4"},
                {"wsrep_local_state_comment", "Synced"},
                {"wsrep_cluster_status", "Primary"},
                {"wsrep_cluster_size", size}});
}

// Reads an SQL string literal as MariaDB's lexer does; "<unterminated>" or "<trailing>" when
// the literal does not end exactly at the last character.
std::string unquote(const std::string& q, bool no_backslash_escapes) {
  if (q.empty() || q[0] != '\'') return "<no quote>";
  std::string out;
  for (size_t i = 1; i < q.size(); ++i) {
    char c = q[i];
    if (c == '\\' && !no_backslash_escapes && i + 1 < q.size()) {
      char n = q[++i];
      out += n == '0' ? '\0' : n == 'n' ? '\n' : n == 'r' ? '\r' : n == 'Z' ? '\x1a' : n;
    } else if (c == '\'') {
      if (i + 1 < q.size() && q[i + 1] == '\'') {
        out += '\'';
        ++i;
      } else {
        return i + 1 == q.size() ? out : "<trailing>";
      }
    } else {
      out += c;
    }
  }
  return "<unterminated>";
}

}  // namespace

TEST_CASE("mysql status: the statement follows flavour and version") {
  CHECK(mysql::replica_status_sql(true, 101119, "", false) == "SHOW ALL REPLICAS STATUS");
  CHECK(mysql::replica_status_sql(true, 100406, "", false) == "SHOW ALL SLAVES STATUS");
  CHECK(mysql::replica_status_sql(true, 101119, "east", false) == "SHOW REPLICA 'east' STATUS");
  CHECK(mysql::replica_status_sql(true, 100311, "o'k", false) == "SHOW SLAVE 'o\\'k' STATUS");
  CHECK(mysql::replica_status_sql(true, 100311, "o'k\\", true) == "SHOW SLAVE 'o''k\\' STATUS");
  CHECK(mysql::replica_status_sql(false, 80036, "", false) == "SHOW REPLICA STATUS");
  CHECK(mysql::replica_status_sql(false, 80021, "", false) == "SHOW SLAVE STATUS");
  CHECK(mysql::replica_status_sql(false, 50744, "ch1", false) ==
        "SHOW SLAVE STATUS FOR CHANNEL 'ch1'");
}

TEST_CASE("mysql sql_quote: right under either sql_mode (NO_BACKSLASH_ESCAPES)") {
  const std::string hostile = std::string("a'b\\'c\\\\d\n\r\x1a") + '\0' + "e";
  // Default mode: backslash escapes, NUL included (the old notify copy left NUL raw).
  CHECK(mysql::sql_quote(hostile, false) == std::string("'a\\'b\\\\\\'c\\\\\\\\d\\n\\r\\Z\\0e'"));
  // NO_BACKSLASH_ESCAPES: a backslash is literal, so "\\'" must not be sent (it would end the
  // literal early and the rest of a password would be parsed as SQL): quotes are doubled.
  CHECK(mysql::sql_quote("it's \\' x", true) == "'it''s \\'' x'");
  CHECK(mysql::sql_quote("", true) == "''");
  CHECK(mysql::sql_quote("plain", false) == "'plain'");
  // Round trip through the server's lexer rules: the literal ends at its last character and
  // reads back as the original bytes, in both modes.
  for (bool nbe : {false, true}) {
    for (const std::string& s : {hostile, std::string("\\'\\''\\"), std::string("p@ss'\\\\'")}) {
      CAPTURE(s);
      CAPTURE(nbe);
      CHECK(unquote(mysql::sql_quote(s, nbe), nbe) == s);
    }
  }
}

TEST_CASE("mysql status: both column spellings parse alike") {
  auto old = parsed(mariadb_row("Yes", "Yes", "7"));
  Row mysql8{{"Replica_IO_Running", "Yes"}, {"Replica_SQL_Running", "Yes"},
             {"Seconds_Behind_Source", "7"}, {"Source_Host", "127.0.0.1"},
             {"Source_Port", "3306"},        {"Last_IO_Errno", "0"},
             {"Last_SQL_Errno", "0"},        {"Channel_Name", ""},
             {"Replica_IO_State", "Waiting for source to send event"}};
  auto neu = parsed(mysql8);
  CHECK(old.io_ok());
  CHECK(neu.io_ok());
  CHECK(neu.sql_ok());
  CHECK(old.seconds_behind == 7);
  CHECK(neu.seconds_behind == 7);
  CHECK(neu.source_port == 3306);
  CHECK(old.source_host == neu.source_host);
  CHECK(neu.io_state == "Waiting for source to send event");

  auto null_lag = parsed(mariadb_row("Connecting", "Yes", std::nullopt));
  CHECK_FALSE(null_lag.seconds_behind);
  CHECK_FALSE(null_lag.io_ok());

  mysql::ReplicaStatus st;
  std::string err;
  CHECK_FALSE(mysql::parse_replica_status(Row{{"Variable_name", "x"}}, &st, &err));
  CHECK(err.find("not replication status") != std::string::npos);
}

TEST_CASE("mysql status: galera rows") {
  auto g = mysql::parse_galera_status(synced());
  CHECK(g.provider);
  CHECK(g.local_state == 4);
  CHECK(g.cluster_size == 3);
  CHECK(g.cluster_status == "Primary");
  // MariaDB without Galera still shows wsrep_ variables, with an empty provider name.
  auto none = mysql::parse_galera_status(wsrep({{"wsrep_provider_name", ""},
                                                {"wsrep_ready", "OFF"},
                                                {"wsrep_cluster_status", "Disconnected"}}));
  CHECK_FALSE(none.provider);
  CHECK_FALSE(mysql::parse_galera_status({}).provider);
}

TEST_CASE("mysql status: timestamps") {
  std::string err;
  auto a = mysql::parse_timestamp("2026-11-22 03:00:00", &err);
  REQUIRE(a);
  CHECK_FALSE(a->epoch);
  CHECK(a->seconds == doctest::Approx(1795316400.0));
  auto b = mysql::parse_timestamp("2026-11-22T03:00:01.500000", &err);  // pt-heartbeat
  REQUIRE(b);
  CHECK(b->seconds - a->seconds == doctest::Approx(1.5));
  CHECK(mysql::parse_timestamp("2026-11-22T03:00:00Z", &err));
  auto e = mysql::parse_timestamp("1795316400", &err);
  REQUIRE(e);
  CHECK(e->epoch);
  CHECK(e->seconds == doctest::Approx(a->seconds));
  CHECK(mysql::parse_timestamp("2024-02-29", &err)->seconds == doctest::Approx(1709164800.0));
  CHECK_FALSE(mysql::parse_timestamp("", &err));
  CHECK_FALSE(mysql::parse_timestamp("yesterday", &err));
  CHECK_FALSE(mysql::parse_timestamp("0000-00-00 00:00:00", &err));
  CHECK_FALSE(mysql::parse_timestamp("2026-13-01 00:00:00", &err));
  CHECK_FALSE(mysql::parse_timestamp("2026-11-22 03:00:00 junk", &err));
}

TEST_CASE("mysql status: identifiers interpolated into SQL are plain names") {
  CHECK(mysql::is_identifier_path("percona.heartbeat"));
  CHECK(mysql::is_identifier_path("ts"));
  CHECK_FALSE(mysql::is_identifier_path("t; DROP TABLE x"));
  CHECK_FALSE(mysql::is_identifier_path("a..b"));
  CHECK_FALSE(mysql::is_identifier_path("`x`"));
  CHECK_FALSE(mysql::is_identifier_path(""));
}

TEST_CASE("check_mysql_slave: healthy replica and lag thresholds") {
  auto r = check_mysql::evaluate_replication(lag_config(60, 300), replica(mariadb_row("Yes", "Yes", "0")));
  CHECK(r.state == State::kOk);
  CHECK(r.summary == "replica running, lag 0 s, read-only");
  REQUIRE(r.perfdata.size() == 1);
  CHECK(r.perfdata[0].render() == "lag=0s;60;300;0");

  r = check_mysql::evaluate_replication(lag_config(60, 300), replica(mariadb_row("Yes", "Yes", "61")));
  CHECK(r.state == State::kWarning);
  CHECK(r.summary.find("lag 61 s > 60 s") != std::string::npos);
  r = check_mysql::evaluate_replication(lag_config(60, 300), replica(mariadb_row("Yes", "Yes", "301")));
  CHECK(r.state == State::kCritical);
  CHECK(r.summary.find("lag 301 s > 300 s") != std::string::npos);
}

TEST_CASE("check_mysql_slave: stopped threads and quoted errors") {
  auto row = mariadb_row("Yes", "No", std::nullopt);
  row["Last_SQL_Errno"] = "1062";
  row["Last_SQL_Error"] = "Could not execute Write_rows_v1 event: Duplicate entry '1' for key \"PRIMARY\"";
  auto r = check_mysql::evaluate_replication({}, replica(row));
  CHECK(r.state == State::kCritical);
  CHECK(r.summary.find("SQL thread No: error 1062 \"Could not execute") != std::string::npos);
  CHECK(r.summary.find("Duplicate entry '1'") != std::string::npos);
  // A stopped SQL thread has no lag to report: no NULL-lag noise.
  CHECK(r.summary.find("lag unknown") == std::string::npos);

  auto io = mariadb_row("Connecting", "Yes", std::nullopt);
  io["Last_IO_Errno"] = "2003";
  io["Last_IO_Error"] = "error reconnecting to master 'repl@127.0.0.1:3306'";
  r = check_mysql::evaluate_replication({}, replica(io));
  CHECK(r.state == State::kCritical);
  CHECK(r.summary.find("IO thread Connecting: error 2003") != std::string::npos);
  CHECK(r.summary.find("lag unknown") != std::string::npos);

  // keepalived on the standby: a dead master must not fail the check.
  config::MysqlCheckConfig lenient;
  lenient.io_thread_down = State::kWarning;
  lenient.null_lag = State::kWarning;
  r = check_mysql::evaluate_replication(lenient, replica(io));
  CHECK(r.state == State::kWarning);
  lenient.null_lag = State::kCritical;
  CHECK(check_mysql::evaluate_replication(lenient, replica(io)).state == State::kCritical);
}

TEST_CASE("check_mysql_slave: NULL lag is CRITICAL by default, configurable") {
  auto row = mariadb_row("Yes", "Yes", std::nullopt);
  auto r = check_mysql::evaluate_replication({}, replica(row));
  CHECK(r.state == State::kCritical);
  CHECK(r.summary.find("lag unknown (Seconds_Behind_Master is NULL)") != std::string::npos);
  config::MysqlCheckConfig c;
  c.null_lag = State::kOk;
  CHECK(check_mysql::evaluate_replication(c, replica(row)).state == State::kOk);
}

TEST_CASE("check_mysql_slave: roles and read_only") {
  check_mysql::ReplicationFacts master;
  master.read_only = false;
  auto r = check_mysql::evaluate_replication({}, master);
  CHECK(r.state == State::kOk);
  CHECK(r.summary == "master, no replication, writable");

  master.read_only = true;
  r = check_mysql::evaluate_replication({}, master);
  CHECK(r.state == State::kWarning);
  CHECK(r.summary.find("master is read-only") != std::string::npos);

  r = check_mysql::evaluate_replication({}, replica(mariadb_row("Yes", "Yes", "0"), false));
  CHECK(r.state == State::kWarning);
  CHECK(r.summary.find("replica is writable") != std::string::npos);

  config::MysqlCheckConfig want_replica;
  want_replica.role = config::Role::kReplica;
  master.read_only = true;
  r = check_mysql::evaluate_replication(want_replica, master);
  CHECK(r.state == State::kCritical);
  CHECK(r.summary.find("no replication configured") != std::string::npos);

  config::MysqlCheckConfig want_master;
  want_master.role = config::Role::kMaster;
  r = check_mysql::evaluate_replication(want_master, replica(mariadb_row("Yes", "Yes", "0"), true));
  CHECK(r.state == State::kWarning);
  CHECK(r.summary.find("master is read-only") != std::string::npos);
}

TEST_CASE("check_mysql_slave: multi-source and heartbeat lag") {
  auto a = mariadb_row("Yes", "Yes", "3");
  a["Connection_name"] = "east";
  auto b = mariadb_row("Yes", "No", std::nullopt);
  b["Connection_name"] = "west";
  check_mysql::ReplicationFacts f;
  f.channels = {parsed(a), parsed(b)};
  f.read_only = true;
  auto r = check_mysql::evaluate_replication({}, f);
  CHECK(r.state == State::kCritical);
  CHECK(r.summary.find("'west' SQL thread No") != std::string::npos);
  REQUIRE(!r.perfdata.empty());
  CHECK(r.perfdata[0].label == "lag_east");

  auto c = lag_config(5, 10);
  c.heartbeat_table = "percona.heartbeat";
  auto hb = replica(mariadb_row("Yes", "Yes", "0"));
  hb.heartbeat_lag = 12.5;
  r = check_mysql::evaluate_replication(c, hb);
  CHECK(r.state == State::kCritical);
  CHECK(r.summary.find("lag 12 s > 10 s (heartbeat)") != std::string::npos);
  hb.heartbeat_lag.reset();
  hb.heartbeat_error = "no heartbeat row in percona.heartbeat";
  r = check_mysql::evaluate_replication(c, hb);
  CHECK(r.state == State::kCritical);
  CHECK(r.summary.find("heartbeat lag unknown (no heartbeat row") != std::string::npos);
}

TEST_CASE("check_mysql_slave: galera judgements") {
  config::MysqlCheckConfig c;
  c.min_cluster_size = 3;
  auto r = check_mysql::evaluate_galera(c, mysql::parse_galera_status(synced()));
  CHECK(r.state == State::kOk);
  CHECK(r.summary == "Galera node Synced, Primary, cluster size 3 (min 3)");
  CHECK(r.perfdata[0].render() == "cluster_size=3;;3;0");

  r = check_mysql::evaluate_galera(c, mysql::parse_galera_status(synced("2")));
  CHECK(r.state == State::kCritical);
  CHECK(r.summary.find("cluster size 2 < 3") != std::string::npos);

  auto donor = synced();
  donor[3]["Value"] = "2";
  donor[4]["Value"] = "Donor/Desynced";
  r = check_mysql::evaluate_galera(c, mysql::parse_galera_status(donor));
  CHECK(r.state == State::kCritical);
  CHECK(r.summary.find("Donor/Desynced (2), not Synced") != std::string::npos);
  c.allow_donor = true;
  CHECK(check_mysql::evaluate_galera(c, mysql::parse_galera_status(donor)).state == State::kOk);

  auto np = wsrep({{"wsrep_provider_name", "Galera"}, {"wsrep_ready", "OFF"},
                   {"wsrep_connected", "ON"}, {"wsrep_local_state", "0"},
                   {"wsrep_local_state_comment", "Initialized"},
                   {"wsrep_cluster_status", "non-Primary"}, {"wsrep_cluster_size", "1"}});
  c.min_cluster_size = 1;
  r = check_mysql::evaluate_galera(c, mysql::parse_galera_status(np));
  CHECK(r.state == State::kCritical);
  CHECK(r.summary.find("outside the Primary component") != std::string::npos);
  CHECK(r.summary.find("wsrep_ready=OFF") != std::string::npos);

  r = check_mysql::evaluate_galera(c, mysql::parse_galera_status({}));
  CHECK(r.state == State::kCritical);
  CHECK(r.summary.find("not a Galera node") != std::string::npos);
}

TEST_CASE("check_mysql_slave: freshness") {
  config::MysqlCheckConfig c;  // max_age 5m
  std::string err;
  auto age = check_mysql::age_of("2026-11-22 03:00:00", "2026-11-22 03:04:00.000000",
                                 "1795316640.000000", &err);
  REQUIRE(age);
  CHECK(*age == doctest::Approx(240));
  auto r = check_mysql::evaluate_freshness(c, age, "");
  CHECK(r.state == State::kOk);
  CHECK(r.summary.find("fresh: last update 4 m 0 s ago") != std::string::npos);

  age = check_mysql::age_of("1795316400", "", "1795316760.5", &err);  // epoch seconds
  REQUIRE(age);
  r = check_mysql::evaluate_freshness(c, age, "");
  CHECK(r.state == State::kCritical);
  CHECK(r.summary.find("stale") != std::string::npos);
  CHECK(r.perfdata[0].render() == "age=360.5s;;300;0");

  CHECK_FALSE(check_mysql::age_of("soon", "2026-11-22 03:04:00", "1", &err));
  r = check_mysql::evaluate_freshness(c, std::nullopt, "the query returned no rows");
  CHECK(r.state == State::kCritical);
  CHECK(r.summary == "freshness: the query returned no rows");
}

TEST_CASE("check_mysql_slave: freshness of a timestamp in the future (clock skew, bad data)") {
  config::MysqlCheckConfig c;  // future_tolerance 1m
  CHECK(c.future_tolerance == Millis(60000));
  std::string err;
  // Two hours ahead of the server's clock: it used to read as "fresh ... 0 s ago", forever.
  auto age = check_mysql::age_of("2026-11-22 05:04:00", "2026-11-22 03:04:00", "1", &err);
  REQUIRE(age);
  auto r = check_mysql::evaluate_freshness(c, age, "");
  CHECK(r.state == State::kWarning);
  CHECK(r.summary.find(
            "timestamp 2 h 0 m in the future (> 1 m 0 s tolerance): clock skew or bad data") !=
        std::string::npos);
  // Inside the tolerance: fresh.
  r = check_mysql::evaluate_freshness(c, -30.0, "");
  CHECK(r.state == State::kOk);
  c.future_tolerance = Millis(0);
  CHECK(check_mysql::evaluate_freshness(c, -0.5, "").state == State::kWarning);
  CHECK(check_mysql::evaluate_freshness(c, 0.0, "").state == State::kOk);
}

TEST_CASE("mysql connect target: -H/-P beat a defaults_file even with default values") {
  config::MysqlProfile p;
  auto t = mysql::connect_target(p);
  CHECK(t.host == "127.0.0.1");
  CHECK(t.port == 3306u);
  p.defaults_file = "/etc/hakit/peer.cnf";
  t = mysql::connect_target(p);
  CHECK_FALSE(t.host.has_value());  // the file's
  CHECK(t.port == 0u);
  p.host_given = true;  // -H 127.0.0.1: the default value, given
  p.port_given = true;  // -P 3306
  t = mysql::connect_target(p);
  CHECK(t.host == "127.0.0.1");
  CHECK(t.port == 3306u);
  p.socket = "/run/mysqld/mysqld.sock";
  CHECK(mysql::connect_target(p).host == "localhost");  // the connector's word for the socket
}

TEST_CASE("mysql bounded name lookup: literals skip it, a timeout is a timeout") {
  CHECK(mysql::is_literal_host("127.0.0.1"));
  CHECK(mysql::is_literal_host("::1"));
  CHECK(mysql::is_literal_host("localhost"));
  CHECK_FALSE(mysql::is_literal_host("db1.example"));
  CHECK_FALSE(mysql::is_literal_host("127.0.0.1.nip.io"));
  auto l = mysql::resolve_bounded("localhost", Millis(2000));
  REQUIRE(l.outcome == mysql::Lookup::Outcome::kResolved);
  CHECK((l.address == "127.0.0.1" || l.address == "::1"));
  l = mysql::resolve_bounded("no-such-host.invalid", Millis(0));  // no time at all
  CHECK(l.outcome != mysql::Lookup::Outcome::kResolved);
}
