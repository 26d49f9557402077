// mysql_promote / mysql_demote speak the server's dialect: MariaDB as always, MySQL 8.0.20
// (SLAVE/MASTER), 8.0.30 (REPLICA, CHANGE REPLICATION SOURCE) and 8.4 (the old words gone, SHOW
// BINARY LOG STATUS). No MySQL server exists on these machines: a recording fake per flavour
// refuses what the real version refuses, and every statement sent is asserted in order.
#include <doctest/doctest.h>

#include <thread>

#include "common/mysql/status.hpp"
#include "helper/config_doc.hpp"
#include "common/config.hpp"
#include "helper/support.hpp"
#include "notify/actions.hpp"
#include "notify/mysql_dialect.hpp"
#include "notify/notify.hpp"

using namespace hakit;
using namespace hakit::notify;

namespace {

struct Flavour {
  std::string version;  ///< SELECT VERSION()
  std::string comment;  ///< @@version_comment
  bool mariadb() const { return version.find("MariaDB") != std::string::npos; }
  unsigned long number() const { return Dialect::from_version(version, comment).version; }
};

const Flavour kMariaDB1011{"10.11.6-MariaDB-0+deb12u1", "Debian 12"};
const Flavour kMySQL8020{"8.0.20", "MySQL Community Server - GPL"};
const Flavour kMySQL8030{"8.0.30", "MySQL Community Server - GPL"};
const Flavour kMySQL84{"8.4.3", "MySQL Community Server - GPL"};

/// A replica of the given flavour: it answers in that version's column names and refuses, as a
/// syntax error, statements the version does not know (8.4 has no SLAVE/MASTER statements,
/// 8.0.20 no REPLICA ones).
class FlavourServer {
 public:
  Flavour flavour;
  bool configured = true;
  bool io_running = true, sql_running = true;
  bool gtid = true;  ///< GTID auto-positioning (MySQL) / Using_Gtid Slave_Pos (MariaDB)
  int sql_delay = 0;
  int waits_to_apply = 1;  ///< catch-up answers "not yet" this many times
  bool read_only = true;
  bool super_read_only = true;
  std::vector<std::string> statements;  ///< everything sent, queries and statements, in order

  explicit FlavourServer(Flavour f) : flavour(std::move(f)) {}

  bool mysql() const { return !flavour.mariadb(); }
  bool replica_words() const { return mysql() && flavour.number() >= 80022; }

  /// Is `sql` valid for this version? (a crude parser: the words that changed)
  bool knows(const std::string& sql) const {
    auto has = [&sql](const char* w) { return sql.find(w) != std::string::npos; };
    if (!mysql()) return !has("REPLICA") && !has("SOURCE") && !has("BINARY LOG STATUS");
    const unsigned long v = flavour.number();
    if (has("REPLICA STATUS") || has("STOP REPLICA") || has("START REPLICA") ||
        has("RESET REPLICA"))
      if (v < 80022) return false;
    if (has("REPLICATION SOURCE") || has("SOURCE_")) {
      if (has("SOURCE_POS_WAIT") ? v < 80026 : v < 80023) return false;
    }
    if (has("BINARY LOG STATUS") && v < 80200) return false;
    if (v >= 80400 && (has("SLAVE") || has("MASTER STATUS") || has("CHANGE MASTER") ||
                       has("MASTER_POS_WAIT") || has("MASTER_")))
      return false;
    return true;
  }

  mysql::Row status_row() const {
    const bool r = replica_words();
    auto k = [r](const char* slave, const char* replica) { return r ? replica : slave; };
    mysql::Row row{
        {k("Slave_IO_Running", "Replica_IO_Running"), io_running ? "Yes" : "No"},
        {k("Slave_SQL_Running", "Replica_SQL_Running"), sql_running ? "Yes" : "No"},
        {k("Master_Host", "Source_Host"), "192.0.2.11"},
        {k("Master_Port", "Source_Port"), "3306"},
        {k("Master_Log_File", "Source_Log_File"), "mysql-bin.000001"},
        {k("Read_Master_Log_Pos", "Read_Source_Log_Pos"), "2134"},
        {k("Relay_Master_Log_File", "Relay_Source_Log_File"), "mysql-bin.000001"},
        {k("Exec_Master_Log_Pos", "Exec_Source_Log_Pos"), waits_to_apply > 0 ? "989" : "2134"},
        {k("Slave_SQL_Running_State", "Replica_SQL_Running_State"),
         waits_to_apply > 0 ? "Reading event from the relay log"
                            : "Replica has read all relay log; waiting for more updates"},
        {"Relay_Log_File", "relay-bin.000002"},
        {"Relay_Log_Pos", "670"},
        {"SQL_Delay", std::to_string(sql_delay)},
        {"Last_SQL_Errno", "0"},
        {"Last_SQL_Error", ""}};
    if (mysql()) {
      row["Retrieved_Gtid_Set"] = gtid ? "3e11fa47-71ca-11e1-9e33-c80aa9429562:1-9" : "";
      row["Executed_Gtid_Set"] = gtid ? "3e11fa47-71ca-11e1-9e33-c80aa9429562:1-4" : "";
      row["Auto_Position"] = gtid ? "1" : "0";
    } else {
      row["Using_Gtid"] = gtid ? "Slave_Pos" : "No";
      row["Gtid_IO_Pos"] = "0-101-9";
    }
    return row;
  }
};

class FlavourDb : public Db {
 public:
  explicit FlavourDb(FlavourServer* s) : s_(s) {}
  std::string quote(const std::string& s) const override { return mysql::sql_quote(s, false); }
  bool query(const std::string& sql, std::vector<mysql::Row>* rows, std::string* err) override {
    rows->clear();
    s_->statements.push_back(sql);
    if (!s_->knows(sql)) {
      *err = "You have an error in your SQL syntax near '" + sql + "'";
      return false;
    }
    if (sql == "SELECT VERSION() AS version, @@version_comment AS comment") {
      rows->push_back({{"version", s_->flavour.version}, {"comment", s_->flavour.comment}});
    } else if (sql.find(" STATUS") != std::string::npos && sql.rfind("SHOW ", 0) == 0 &&
               (sql.find("SLAVE") != std::string::npos ||
                sql.find("REPLICA") != std::string::npos)) {
      if (s_->configured) rows->push_back(s_->status_row());
    } else if (sql == "SHOW MASTER STATUS" || sql == "SHOW BINARY LOG STATUS") {
      rows->push_back({{"File", "mysql-bin.000007"}, {"Position", "342"}});
    } else if (sql.find("WAIT_FOR_EXECUTED_GTID_SET") != std::string::npos ||
               sql.find("POS_WAIT") != std::string::npos) {
      const bool done = s_->waits_to_apply-- <= 0;
      const bool gtid_wait = sql.find("WAIT_FOR_EXECUTED_GTID_SET") != std::string::npos;
      rows->push_back({{"r", done ? "0" : (gtid_wait ? "1" : "-1")}});
    } else if (sql == "SELECT @@GLOBAL.gtid_slave_pos") {
      rows->push_back({{"v", s_->waits_to_apply-- <= 0 ? "0-101-9" : "0-101-4"}});
    } else if (sql.rfind("SELECT @@GLOBAL.gtid", 0) == 0) {
      rows->push_back({{"v", "0-102-1"}});
    } else {
      rows->push_back({{"v", ""}});
    }
    return true;
  }
  bool exec(const std::string& sql, std::string* err) override {
    s_->statements.push_back(sql);
    if (!s_->knows(sql)) {
      *err = "You have an error in your SQL syntax near '" + sql + "'";
      return false;
    }
    auto starts = [&sql](const char* w) { return sql.rfind(w, 0) == 0; };
    if (starts("STOP SLAVE") || starts("STOP REPLICA")) {
      s_->io_running = false;
      if (sql.find("IO_THREAD") == std::string::npos) s_->sql_running = false;
    }
    if (starts("START SLAVE") || starts("START REPLICA")) {
      s_->sql_running = true;
      if (sql.find("SQL_THREAD") == std::string::npos) s_->io_running = true;
    }
    if (starts("CHANGE")) s_->sql_delay = 0;
    if (starts("RESET SLAVE") || starts("RESET REPLICA")) s_->configured = false;
    if (sql == "SET GLOBAL read_only=OFF") s_->read_only = s_->super_read_only = false;
    if (sql == "SET GLOBAL read_only=ON") s_->read_only = true;
    if (sql == "SET GLOBAL super_read_only=OFF") s_->super_read_only = false;
    if (sql == "SET GLOBAL super_read_only=ON") s_->super_read_only = s_->read_only = true;
    return true;
  }
  bool is_mariadb() const override { return s_->flavour.mariadb(); }

 private:
  FlavourServer* s_;
};

class FlavourConnector : public DbConnector {
 public:
  FlavourServer server;
  explicit FlavourConnector(Flavour f) : server(std::move(f)) {}
  std::unique_ptr<Db> open(const config::MysqlProfile&, Millis, std::string*) override {
    return std::make_unique<FlavourDb>(&server);
  }
};

struct Node {
  test::TempDir dir;
  FlavourConnector db;
  Services svc;
  config::NotifyConfig cfg;

  Node(Flavour f, const std::string& instance) : db(std::move(f)) {
    svc.db = &db;
    svc.sleep = [](Millis) {};
    std::string text = "state_dir: " + dir.path() + "/state\nrun_dir: " + dir.path() +
                       "/run\nmysql:\n  local: {port: 3306}\n  peer: {host: 192.0.2.12, port: "
                       "3306}\ninstances:\n" +
                       instance;
    config::Document doc;
    std::string problems;
    REQUIRE_MESSAGE(hakit::test::make_doc(text, &doc, &problems), problems);
    config::Diagnostics diag("hakit.yaml");
    REQUIRE_MESSAGE(config::load_notify_config(doc, "VI_1", &cfg, &diag), diag.render());
  }
  Outcome fire(const std::string& state) {
    Event ev;
    ev.instance = "VI_1";
    ev.state = state;
    return handle_event(ev, cfg, "/etc/hakit/hakit.yaml", svc);
  }
  std::vector<std::string> sent() const { return test::without_partition(db.server.statements); }
};

const char* kPromote = R"(  VI_1:
    promote: [{mysql_promote: {mysql: local, catchup_timeout: 5s}}]
    demote: [{mysql_demote: {mysql: local, peer: peer, replication: {user: repl, password_file: /etc/hakit/repl.pass}}}]
)";

const std::string kVersionQuery = "SELECT VERSION() AS version, @@version_comment AS comment";

/// What mysql_promote sends to a MySQL 8.0.22+ replica with GTID auto-positioning whose SQL
/// thread needs one more wait; `binlog_status` is the version's statement for positions.
std::vector<std::string> mysql_gtid_promotion(const std::string& binlog_status) {
  const std::string wait =
      "SELECT WAIT_FOR_EXECUTED_GTID_SET('3e11fa47-71ca-11e1-9e33-c80aa9429562:1-9', 1.000)";
  return {kVersionQuery,
          "SHOW REPLICA STATUS",
          "STOP REPLICA IO_THREAD",
          "SHOW REPLICA STATUS",
          "SHOW REPLICA STATUS",
          wait,
          "SHOW REPLICA STATUS",
          wait,
          "STOP REPLICA",
          "RESET REPLICA ALL",
          "SET GLOBAL super_read_only=OFF",
          "SET GLOBAL read_only=OFF",
          binlog_status,
          "SELECT @@GLOBAL.gtid_executed"};
}

}  // namespace

TEST_CASE("dialect: flavour and version from SELECT VERSION() and @@version_comment") {
  auto d = Dialect::from_version("8.4.3", "MySQL Community Server - GPL");
  CHECK_FALSE(d.mariadb);
  CHECK(d.version == 80403);
  CHECK(d.replica_words());
  CHECK(d.source_words());
  CHECK(d.name() == "MySQL 8.4.3");
  d = Dialect::from_version("10.11.6-MariaDB-0+deb12u1", "Debian 12");
  CHECK(d.mariadb);
  CHECK(d.version == 101106);
  CHECK_FALSE(d.replica_words());
  d = Dialect::from_version("10.6.12", "mariadb.org binary distribution");
  CHECK(d.mariadb);
  d = Dialect::from_version("8.0.22", "");
  CHECK(d.replica_words());
  CHECK_FALSE(d.source_words());  // CHANGE REPLICATION SOURCE came with 8.0.23
  CHECK(d.change_source("", "MASTER_DELAY=0") == "CHANGE MASTER TO MASTER_DELAY=0");
  d = Dialect::from_version("8.0.30", "");
  CHECK(d.stop("east", "IO_THREAD") == "STOP REPLICA IO_THREAD FOR CHANNEL 'east'");
  CHECK(d.status("east") == "SHOW REPLICA STATUS FOR CHANNEL 'east'");
  CHECK(d.change_source("east", "SOURCE_DELAY=0") ==
        "CHANGE REPLICATION SOURCE TO SOURCE_DELAY=0 FOR CHANNEL 'east'");
  CHECK(d.binlog_status() == "SHOW MASTER STATUS");
  CHECK(Dialect::from_version("8.2.0", "").binlog_status() == "SHOW BINARY LOG STATUS");
  d = Dialect::from_version("10.11.6-MariaDB", "");
  CHECK(d.stop("east", "IO_THREAD") == "STOP SLAVE 'east' IO_THREAD");
  CHECK(d.reset_all("east") == "RESET SLAVE 'east' ALL");
  CHECK(d.change_source("east", "MASTER_DELAY=0") == "CHANGE MASTER 'east' TO MASTER_DELAY=0");
}

TEST_CASE("mysql_promote on MariaDB 10.11: the statements hakit always sent") {
  Node n(kMariaDB1011, kPromote);
  CHECK(n.fire("MASTER").code == ExitCode::kSuccess);
  CHECK(n.sent() == std::vector<std::string>{
                        kVersionQuery,
                        "SHOW SLAVE STATUS",
                        "STOP SLAVE IO_THREAD",
                        "SHOW SLAVE STATUS",
                        "SHOW SLAVE STATUS",
                        "SELECT @@GLOBAL.gtid_slave_pos",
                        "SHOW SLAVE STATUS",
                        "SELECT @@GLOBAL.gtid_slave_pos",
                        "STOP SLAVE",
                        "RESET SLAVE ALL",
                        "SET GLOBAL read_only=OFF",
                        "SHOW MASTER STATUS",
                        "SELECT @@GLOBAL.gtid_binlog_pos",
                        "SELECT @@GLOBAL.gtid_current_pos",
                    });
  CHECK_FALSE(n.db.server.read_only);
}

TEST_CASE("mysql_promote on MySQL 8.0.20: SLAVE/MASTER words, MASTER_POS_WAIT, super_read_only") {
  Node n(kMySQL8020, kPromote);
  n.db.server.gtid = false;  // file/position replication: the server waits for the position
  auto out = n.fire("MASTER");
  CHECK(out.code == ExitCode::kSuccess);
  CHECK(n.sent() == std::vector<std::string>{
                        kVersionQuery,
                        "SHOW SLAVE STATUS",
                        "STOP SLAVE IO_THREAD",
                        "SHOW SLAVE STATUS",
                        "SHOW SLAVE STATUS",
                        "SELECT MASTER_POS_WAIT('mysql-bin.000001', 2134, 1.000)",
                        "SHOW SLAVE STATUS",
                        "SELECT MASTER_POS_WAIT('mysql-bin.000001', 2134, 1.000)",
                        "STOP SLAVE",
                        "RESET SLAVE ALL",
                        "SET GLOBAL super_read_only=OFF",
                        "SET GLOBAL read_only=OFF",
                        "SHOW MASTER STATUS",
                        "SELECT @@GLOBAL.gtid_executed",
                    });
  CHECK(out.journal["actions"][0]["details"]["server"] == "MySQL 8.0.20");
  CHECK_FALSE(n.db.server.super_read_only);
}

TEST_CASE("mysql_promote on MySQL 8.0.30: REPLICA words, WAIT_FOR_EXECUTED_GTID_SET") {
  Node n(kMySQL8030, kPromote);
  auto out = n.fire("MASTER");
  CHECK(out.code == ExitCode::kSuccess);
  CHECK(n.sent() == mysql_gtid_promotion("SHOW MASTER STATUS"));
  CHECK(out.journal["actions"][0]["details"]["replication"]["master"] == "192.0.2.11:3306");
  CHECK(out.journal["actions"][0]["details"]["replication"]["using_gtid"] == "Auto_Position");
}

TEST_CASE("mysql_promote on MySQL 8.0.30: SOURCE_DELAY cleared, SOURCE_POS_WAIT without GTID") {
  Node n(kMySQL8030, kPromote);
  n.db.server.sql_delay = 3600;
  n.db.server.gtid = false;
  n.db.server.waits_to_apply = 0;
  CHECK(n.fire("MASTER").code == ExitCode::kSuccess);
  const auto& s = n.sent();
  CHECK(std::find(s.begin(), s.end(),
                  "CHANGE REPLICATION SOURCE TO SOURCE_DELAY=0, "
                  "RELAY_LOG_FILE='relay-bin.000002', RELAY_LOG_POS=670") != s.end());
  // After the relay position was named the source positions mean nothing: the SQL thread's
  // state decides, as on MariaDB.
  CHECK(std::none_of(s.begin(), s.end(),
                     [](const std::string& q) { return q.find("POS_WAIT") != std::string::npos; }));

  Node p(kMySQL8030, kPromote);
  p.db.server.gtid = false;
  CHECK(p.fire("MASTER").code == ExitCode::kSuccess);
  const auto ps = p.sent();
  CHECK(std::count(ps.begin(), ps.end(),
                   "SELECT SOURCE_POS_WAIT('mysql-bin.000001', 2134, 1.000)") == 2);
}

TEST_CASE("mysql_promote on MySQL 8.4: no SLAVE/MASTER statement, SHOW BINARY LOG STATUS") {
  Node n(kMySQL84, kPromote);
  auto out = n.fire("MASTER");
  CHECK(out.code == ExitCode::kSuccess);
  CHECK(n.sent() == mysql_gtid_promotion("SHOW BINARY LOG STATUS"));
  CHECK(out.journal["positions"]["binlog_file"] == "mysql-bin.000007");
  CHECK_FALSE(n.db.server.read_only);
  CHECK_FALSE(n.db.server.super_read_only);
  // Promoting twice is safe: nothing configured any more, only writable again.
  n.db.server.statements.clear();
  CHECK(n.fire("MASTER").code == ExitCode::kSuccess);
  CHECK(n.sent() == std::vector<std::string>{kVersionQuery, "SHOW REPLICA STATUS",
                                             "SET GLOBAL super_read_only=OFF",
                                             "SET GLOBAL read_only=OFF", "SHOW BINARY LOG STATUS",
                                             "SELECT @@GLOBAL.gtid_executed"});
}

TEST_CASE("mysql_promote: a catch-up that never ends is refused on MySQL 8.4 too") {
  Node n(kMySQL84, R"(  VI_1:
    promote: [{mysql_promote: {mysql: local, catchup_timeout: 30ms}}]
)");
  n.db.server.waits_to_apply = 1'000'000;
  auto out = n.fire("MASTER");
  CHECK(out.code == ExitCode::kRefused);
  CHECK(n.db.server.read_only);
  CHECK(n.db.server.super_read_only);
  CHECK(n.db.server.io_running);  // START REPLICA again
  CHECK(n.sent().back() == "START REPLICA");
  CHECK(out.message.find("does not contain the retrieved") != std::string::npos);
}

TEST_CASE("mysql_demote per flavour: super_read_only ON, the rejoin statement in its dialect") {
  struct Case {
    Flavour flavour;
    std::vector<std::string> sent;
    std::string rejoin;
  };
  const std::vector<Case> cases{
      {kMariaDB1011,
       {kVersionQuery, "SET GLOBAL read_only=ON", "SHOW MASTER STATUS",
        "SELECT @@GLOBAL.gtid_binlog_pos", "SELECT @@GLOBAL.gtid_current_pos", "SHOW SLAVE STATUS"},
       "CHANGE MASTER TO MASTER_HOST='192.0.2.12', MASTER_PORT=3306, MASTER_USER='repl', "
       "MASTER_PASSWORD='<password from /etc/hakit/repl.pass>', MASTER_USE_GTID=current_pos; "
       "START SLAVE;"},
      {kMySQL8020,
       {kVersionQuery, "SET GLOBAL super_read_only=ON", "SET GLOBAL read_only=ON",
        "SHOW MASTER STATUS", "SELECT @@GLOBAL.gtid_executed", "SHOW SLAVE STATUS"},
       "CHANGE MASTER TO MASTER_HOST='192.0.2.12', MASTER_PORT=3306, MASTER_USER='repl', "
       "MASTER_PASSWORD='<password from /etc/hakit/repl.pass>', MASTER_AUTO_POSITION=1; "
       "START SLAVE;"},
      {kMySQL8030,
       {kVersionQuery, "SET GLOBAL super_read_only=ON", "SET GLOBAL read_only=ON",
        "SHOW MASTER STATUS", "SELECT @@GLOBAL.gtid_executed", "SHOW REPLICA STATUS"},
       "CHANGE REPLICATION SOURCE TO SOURCE_HOST='192.0.2.12', SOURCE_PORT=3306, "
       "SOURCE_USER='repl', SOURCE_PASSWORD='<password from /etc/hakit/repl.pass>', "
       "SOURCE_AUTO_POSITION=1; START REPLICA;"},
      {kMySQL84,
       {kVersionQuery, "SET GLOBAL super_read_only=ON", "SET GLOBAL read_only=ON",
        "SHOW BINARY LOG STATUS", "SELECT @@GLOBAL.gtid_executed", "SHOW REPLICA STATUS"},
       "CHANGE REPLICATION SOURCE TO SOURCE_HOST='192.0.2.12', SOURCE_PORT=3306, "
       "SOURCE_USER='repl', SOURCE_PASSWORD='<password from /etc/hakit/repl.pass>', "
       "SOURCE_AUTO_POSITION=1; START REPLICA;"},
  };
  for (const auto& c : cases) {
    INFO(c.flavour.version);
    Node n(c.flavour, kPromote);
    n.db.server.configured = false;  // a promoted master being demoted: no replication yet
    n.db.server.read_only = n.db.server.super_read_only = false;
    auto out = n.fire("BACKUP");
    CHECK(out.code == ExitCode::kSuccess);
    // Before anything changes, the peer (its dialect, its replication) and this server are
    // looked at: two writable masters would be a healed split brain (test_notify_partition).
    std::vector<std::string> expected = c.sent;
    const std::string status = c.sent.back();
    expected.insert(expected.begin() + 1, {kVersionQuery, status, status});
    CHECK(n.sent() == expected);
    CHECK(n.db.server.read_only);
    CHECK(out.journal["actions"][0]["details"]["rejoin_statement"] == c.rejoin);
  }
}
