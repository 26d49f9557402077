// The notify action engine and mysql_promote with fakes: no process, server or network.
#include <doctest/doctest.h>

#include <thread>

#include "helper/config_doc.hpp"
#include "common/config.hpp"
#include "common/lock.hpp"
#include "common/mysql/status.hpp"
#include "helper/support.hpp"
#include "notify/actions.hpp"
#include "notify/mysql_state.hpp"
#include "notify/notify.hpp"

using namespace hakit;
using namespace hakit::notify;

namespace {

class FakeRunner : public ProcessRunner {
 public:
  std::vector<ProcessSpec> specs;
  std::vector<int> exits;  ///< exit codes to return in order; 0 once exhausted
  ProcessResult run(const ProcessSpec& spec) override {
    specs.push_back(spec);
    ProcessResult r;
    r.started = true;
    r.exit_code = exits.empty() ? 0 : exits.front();
    if (!exits.empty()) exits.erase(exits.begin());
    if (r.exit_code) r.err = "boom\n";
    return r;
  }
};

class FakeProbe : public AddressProbe {
 public:
  bool present = true;
  bool is_local(const std::string&, const std::string&, std::string*) override { return present; }
};

class FakeMessenger : public Messenger {
 public:
  std::vector<std::string> subjects, bodies, posts;
  bool fail = false;
  bool send_email(const config::EmailChannel&, const std::string& subject, const std::string& body,
                  Millis, std::string* err) override {
    subjects.push_back(subject);
    bodies.push_back(body);
    if (fail) *err = "connection refused";
    return !fail;
  }
  bool post_json(const config::WebhookChannel&, const std::string& json, Millis,
                 std::string* err) override {
    posts.push_back(json);
    if (fail) *err = "connection refused";
    return !fail;
  }
};

/// A replica as a tiny state machine: the SQL thread finishes the relay log after
/// `polls_to_apply` status reads once the IO thread is stopped.
class FakeServer {
 public:
  std::optional<mysql::Row> slave = mysql::Row{
      {"Master_Host", "192.0.2.11"}, {"Master_Port", "3306"}, {"Using_Gtid", "Slave_Pos"},
      {"SQL_Delay", "0"}, {"Slave_IO_Running", "Yes"}, {"Slave_SQL_Running", "Yes"},
      {"Slave_SQL_Running_State", "Reading event from the relay log"},
      {"Master_Log_File", "mysql-bin.000001"}, {"Read_Master_Log_Pos", "2134"},
      {"Relay_Master_Log_File", "mysql-bin.000001"}, {"Exec_Master_Log_Pos", "989"},
      {"Relay_Log_File", "relay-bin.000002"}, {"Relay_Log_Pos", "670"},
      {"Gtid_IO_Pos", "0-101-9"}, {"Last_SQL_Errno", "0"}, {"Last_SQL_Error", ""}};
  bool read_only = true;
  std::string gtid_slave_pos = "0-101-4";
  int polls_to_apply = 3;  ///< -1: never
  bool no_backslash_escapes = false;  ///< the session's sql_mode
  std::vector<std::string> statements;
  std::vector<std::string> privileges;  ///< information_schema.USER_PRIVILEGES (empty: none listed)
  bool fence_mark = false;              ///< hakit.fence holds a mark (fenced by 192.0.2.12)

  void poll() {
    if (!slave || field(*slave, "Slave_IO_Running") != "No" || polls_to_apply < 0) return;
    if (field(*slave, "SQL_Delay") != "0") return;
    if (polls_to_apply-- > 0) return;
    (*slave)["Slave_SQL_Running_State"] = "Slave has read all relay log; waiting for more updates";
    (*slave)["Exec_Master_Log_Pos"] = (*slave)["Read_Master_Log_Pos"];
    gtid_slave_pos = *(*slave)["Gtid_IO_Pos"];
  }
};

class FakeDb : public Db {
 public:
  explicit FakeDb(FakeServer* s) : s_(s) {}
  bool query(const std::string& sql, std::vector<mysql::Row>* rows, std::string*) override {
    rows->clear();
    if (sql.find("FROM hakit.fence") != std::string::npos && sql.rfind("SELECT id", 0) == 0) {
      if (s_->fence_mark)
        rows->push_back({{"id", "1"}, {"fenced_at", "2026-11-25 17:00:00.000000"},
                         {"fenced_by", "n2"}, {"by_address", ""}, {"gtid", "0-101-9"},
                         {"reason", "fenced"}, {"detail", ""}});
    } else if (sql.find("USER_PRIVILEGES") != std::string::npos) {
      s_->statements.push_back(sql);
      for (const auto& p : s_->privileges) rows->push_back({{"PRIVILEGE_TYPE", p}});
    } else if (sql.rfind("SHOW SLAVE", 0) == 0) {
      s_->poll();
      if (s_->slave) rows->push_back(*s_->slave);
    } else if (sql.find("@@GLOBAL.read_only") != std::string::npos) {
      rows->push_back({{"ro", s_->read_only ? "1" : "0"}});
    } else if (sql.find("gtid_slave_pos") != std::string::npos) {
      rows->push_back({{"v", s_->gtid_slave_pos}});
    } else if (sql == "SHOW MASTER STATUS") {
      rows->push_back({{"File", "mysql-bin.000007"}, {"Position", "342"}});
    } else if (sql.find("gtid_binlog_pos") != std::string::npos) {
      rows->push_back({{"v", "0-102-1"}});
    } else if (sql.rfind("SELECT", 0) == 0) {
      rows->push_back({{"v", ""}});
    } else {
      return exec(sql, nullptr);
    }
    return true;
  }
  bool exec(const std::string& sql, std::string*) override {
    s_->statements.push_back(sql);
    auto& sl = s_->slave;
    if (sql == "STOP SLAVE IO_THREAD" && sl) (*sl)["Slave_IO_Running"] = "No";
    if (sql == "STOP SLAVE" && sl) (*sl)["Slave_IO_Running"] = (*sl)["Slave_SQL_Running"] = "No";
    if (sql == "START SLAVE SQL_THREAD" && sl) (*sl)["Slave_SQL_Running"] = "Yes";
    if (sql == "START SLAVE" && sl) (*sl)["Slave_IO_Running"] = (*sl)["Slave_SQL_Running"] = "Yes";
    if (sql.rfind("CHANGE MASTER TO MASTER_DELAY=0", 0) == 0 && sl) (*sl)["SQL_Delay"] = "0";
    if (sql == "RESET SLAVE ALL") sl.reset();
    if (sql == "SET GLOBAL read_only=OFF") s_->read_only = false;
    if (sql == "SET GLOBAL read_only=ON") s_->read_only = true;
    return true;
  }
  bool is_mariadb() const override { return true; }
  std::string quote(const std::string& s) const override {
    return mysql::sql_quote(s, s_->no_backslash_escapes);
  }

 private:
  FakeServer* s_;
};

class FakeConnector : public DbConnector {
 public:
  FakeServer server;
  /// The `peer` profile's server (192.0.2.12) when set; else every profile reaches `server`.
  std::optional<FakeServer> peer;
  bool reachable = true;
  std::unique_ptr<Db> open(const config::MysqlProfile& p, Millis, std::string* err) override {
    if (!reachable) {
      *err = "connection refused";
      return nullptr;
    }
    if (peer && p.host == "192.0.2.12") return std::make_unique<FakeDb>(&*peer);
    return std::make_unique<FakeDb>(&server);
  }
};

struct Fixture {
  test::TempDir dir;
  FakeRunner runner;
  FakeProbe probe;
  FakeMessenger messenger;
  FakeConnector db;
  std::vector<Millis> pauses;
  Services svc;
  config::NotifyConfig cfg;

  explicit Fixture(const std::string& instances) {
    svc.runner = &runner;
    svc.addresses = &probe;
    svc.messenger = &messenger;
    svc.db = &db;
    svc.sleep = [this](Millis d) {
      pauses.push_back(d);
      std::this_thread::sleep_for(std::min(d, Millis(5)));
    };
    svc.self_dir = "/usr/libexec/hakit";
    std::string text = "state_dir: " + dir.path() + "/state\nrun_dir: " + dir.path() +
                       "/run\nmysql:\n  local: {port: 3306}\n  peer: {host: 192.0.2.12, port: 3306}\nnotifications:\n  ops: {email: "
                       "{smtp: 'smtp://127.0.0.1:25', from: a@example.com, to: b@example.com}, "
                       "webhook: {url: 'http://127.0.0.1:9/'}}\nsync:\n  site1: {source: "
                       "rsync://192.0.2.41/a, dest: /srv/a/}\ninstances:\n" + instances;
    config::Document doc;
    std::string problems;
    REQUIRE_MESSAGE(hakit::test::make_doc(text, &doc, &problems), problems);
    config::Diagnostics diag("hakit.yaml");
    cfg = config::notify_core(doc);
    for (const auto& name : doc.entry_names("instances")) {
      config::NotifyConfig one;
      REQUIRE_MESSAGE(config::load_notify_config(doc, name, &one, &diag), diag.render());
      cfg.instances.merge(one.instances);
      cfg.mysql.merge(one.mysql);
      cfg.notifications.merge(one.notifications);
      cfg.sync.merge(one.sync);
      cfg.arbiters.merge(one.arbiters);
    }
  }
  Outcome fire(const std::string& state, const std::string& instance = "VI_1") {
    Event ev;
    ev.instance = instance;
    ev.state = state;
    return handle_event(ev, cfg, "/etc/hakit/hakit.yaml", svc);
  }
};

}  // namespace

TEST_CASE("notify engine: service and sync actions are argv vectors, never a shell") {
  Fixture f(R"(  VI_1:
    promote:
      - service: {start: nagios}
      - sync: site1
      - run: [/usr/bin/hook, 'a b']
)");
  auto out = f.fire("MASTER");
  CHECK(out.code == ExitCode::kSuccess);
  REQUIRE(f.runner.specs.size() == 3);
  CHECK(f.runner.specs[0].argv == std::vector<std::string>{"systemctl", "start", "nagios"});
  CHECK(f.runner.specs[1].argv == std::vector<std::string>{"/usr/libexec/hakit/sitesync", "--config",
                                                           "/etc/hakit/hakit.yaml", "site1"});
  CHECK(f.runner.specs[2].argv == std::vector<std::string>{"/usr/bin/hook", "a b"});
  const auto& env = f.runner.specs[2].env_extra;
  CHECK(std::find(env.begin(), env.end(), "HAKIT_INSTANCE=VI_1") != env.end());
  CHECK(std::find(env.begin(), env.end(), "HAKIT_STATE=MASTER") != env.end());
  CHECK(read_role(f.cfg.state_dir, "VI_1")->role == "master");
  CHECK(out.journal["actions"].size() == 3);
}

TEST_CASE("notify engine: retries back off, on_failure continue goes on, abort stops") {
  Fixture f(R"(  VI_1:
    demote:
      - run: [/bin/a]
        retries: 2
        backoff: 100ms
      - run: [/bin/b]
        on_failure: continue
      - run: [/bin/c]
        retries: 1
        backoff: 10ms
      - run: [/bin/d]
      - notify: ops
)");
  f.runner.exits = {1, 1, 0, 1, 1, 1};
  auto out = f.fire("BACKUP");
  CHECK(out.code == ExitCode::kFailed);
  CHECK(f.pauses == std::vector<Millis>{Millis(100), Millis(200), Millis(10)});
  CHECK(f.runner.specs.size() == 6);  // a×3, b, c×2; d not run
  const auto& acts = out.journal["actions"];
  CHECK(acts[0]["attempts"] == 3);
  CHECK(acts[0]["outcome"] == "ok");
  CHECK(acts[1]["outcome"] == "failed");
  CHECK(acts[2]["outcome"] == "failed");
  CHECK(acts[3]["outcome"] == "not-run");
  CHECK(acts[4]["outcome"] == "ok");  // the alert still goes out
  REQUIRE(f.messenger.subjects.size() == 1);
  CHECK(f.messenger.subjects[0].find("FAILED") != std::string::npos);
  CHECK(out.message.find("not run: [run /bin/d]") != std::string::npos);
  // keepalived made us BACKUP whatever the actions did.
  CHECK(read_role(f.cfg.state_dir, "VI_1")->role == "backup");
}

TEST_CASE("notify engine: a failed notification never blocks") {
  Fixture f(R"(  VI_1:
    promote:
      - notify: ops
      - flag: set
)");
  f.messenger.fail = true;
  auto out = f.fire("MASTER");
  CHECK(out.code == ExitCode::kSuccess);
  CHECK(read_failover_flag(f.cfg.state_dir).set);
  CHECK(out.journal["actions"][0]["outcome"] == "failed");
  Json doc = Json::parse(f.messenger.posts.at(0));
  CHECK(doc["instance"] == "VI_1");
  CHECK(doc["state"] == "MASTER");
}

TEST_CASE("notify engine: stale events are skipped when the VIP disagrees") {
  Fixture f(R"(  VI_1:
    vip: {address: 192.0.2.100}
    promote: [{run: [/bin/up]}]
    demote: [{run: [/bin/down]}]
)");
  f.probe.present = false;
  CHECK(f.fire("MASTER").decision == "stale");
  CHECK(f.runner.specs.empty());
  CHECK(f.fire("BACKUP").decision == "ran");
  f.probe.present = true;
  CHECK(f.fire("BACKUP").decision == "stale");
  CHECK(f.fire("MASTER").decision == "ran");
  CHECK(f.fire("FAULT").decision == "ran");  // FAULT and STOP always demote
  CHECK(f.runner.specs.size() == 3);
  CHECK(Journal(f.cfg.journal_path()).tail(10).size() == 5);
}

TEST_CASE("notify engine: an event superseded while waiting for the lock does nothing") {
  Fixture f(R"(  VI_1:
    promote: [{run: [/bin/up]}]
)");
  std::string err;
  auto held = FileLock::acquire(lock_path(f.cfg, "VI_1"), Millis(1000), &err);
  REQUIRE(held);
  Outcome out;
  std::thread t([&] { out = f.fire("MASTER"); });
  // Wait until the event took its ticket, then a newer one arrives.
  for (int i = 0; i < 200 && newest_ticket(ticket_path(f.cfg, "VI_1")) < 1; ++i)
    std::this_thread::sleep_for(Millis(5));
  CHECK(take_ticket(ticket_path(f.cfg, "VI_1"), &err) == 2);
  held.reset();
  t.join();
  CHECK(out.decision == "superseded");
  CHECK(out.code == ExitCode::kSuccess);
  CHECK(f.runner.specs.empty());
}

TEST_CASE("notify engine: anti-flap refuses a second promotion within min_interval") {
  Fixture f(R"(  VI_1:
    min_interval: 1h
    promote: [{run: [/bin/up]}]
)");
  CHECK(f.fire("MASTER").code == ExitCode::kSuccess);
  auto out = f.fire("MASTER");
  CHECK(out.code == ExitCode::kRefused);
  CHECK(out.decision == "refused");
  // The guard sees it: the VIP is here, the promotion was refused.
  Json st = Json::parse(test::slurp(instance_state_path(f.cfg, "VI_1")), nullptr, false);
  REQUIRE(st.is_object());
  CHECK(st["last_transition"]["outcome"] == "refused");
  CHECK(st["last_transition"]["state"] == "MASTER");
  Event ev;
  ev.instance = "VI_1";
  ev.state = "MASTER";
  ev.force = true;
  CHECK(handle_event(ev, f.cfg, "", f.svc).code == ExitCode::kSuccess);
  CHECK(f.runner.specs.size() == 2);
}

TEST_CASE("notify mysql_promote: stops the IO thread, waits for the SQL thread, then writable") {
  Fixture f(R"(  VI_1:
    promote: [{mysql_promote: {mysql: local, catchup_timeout: 5s}}]
)");
  auto out = f.fire("MASTER");
  CHECK(out.code == ExitCode::kSuccess);
  CHECK_FALSE(f.db.server.read_only);
  CHECK_FALSE(f.db.server.slave);
  const auto s = test::without_partition(f.db.server.statements);
  REQUIRE(s.size() >= 4);
  CHECK(s.front() == "STOP SLAVE IO_THREAD");
  CHECK(s[s.size() - 3] == "STOP SLAVE");
  CHECK(s[s.size() - 2] == "RESET SLAVE ALL");
  CHECK(s.back() == "SET GLOBAL read_only=OFF");
  CHECK(out.journal["positions"]["binlog_file"] == "mysql-bin.000007");
  CHECK(out.journal["positions"]["gtid_binlog_pos"] == "0-102-1");
  // Twice is safe.
  f.db.server.statements.clear();
  CHECK(f.fire("MASTER").code == ExitCode::kSuccess);
  CHECK(test::without_partition(f.db.server.statements) ==
        std::vector<std::string>{"SET GLOBAL read_only=OFF"});
}

TEST_CASE("notify mysql_promote: MASTER_DELAY is cleared keeping the relay log") {
  Fixture f(R"(  VI_1:
    promote: [{mysql_promote: local}]
)");
  (*f.db.server.slave)["SQL_Delay"] = "5";
  auto out = f.fire("MASTER");
  CHECK(out.code == ExitCode::kSuccess);
  const auto& s = f.db.server.statements;
  CHECK(std::find(s.begin(), s.end(),
                  "CHANGE MASTER TO MASTER_DELAY=0, RELAY_LOG_FILE='relay-bin.000002', "
                  "RELAY_LOG_POS=670") != s.end());
  CHECK(out.journal["actions"][0]["details"]["master_delay_cleared"] == "5");
}

TEST_CASE("notify mysql_promote: catch-up timeout refuses, stays read-only, restarts replication") {
  Fixture f(R"(  VI_1:
    promote: [{mysql_promote: {mysql: local, catchup_timeout: 50ms}}, {flag: set}]
)");
  f.db.server.polls_to_apply = -1;
  auto out = f.fire("MASTER");
  CHECK(out.code == ExitCode::kRefused);
  CHECK(f.db.server.read_only);
  CHECK(field(*f.db.server.slave, "Slave_IO_Running") == "Yes");
  CHECK_FALSE(read_failover_flag(f.cfg.state_dir).set);
  CHECK(out.journal["actions"][0]["outcome"] == "refused");
  CHECK(out.journal["actions"][0]["attempts"] == 1);  // a refusal is not retried
  CHECK(out.message.find("stays read-only") != std::string::npos);
  CHECK_FALSE(read_role(f.cfg.state_dir, "VI_1"));
}

TEST_CASE("notify mysql_promote: on_catchup_timeout promote goes on, and an unreachable fence is logged") {
  Fixture f(R"(  VI_1:
    promote: [{mysql_promote: {mysql: local, catchup_timeout: 30ms, on_catchup_timeout: promote}}]
)");
  f.db.server.polls_to_apply = -1;
  auto out = f.fire("MASTER");
  CHECK(out.code == ExitCode::kSuccess);
  CHECK_FALSE(f.db.server.read_only);
  CHECK(out.journal["actions"][0]["details"]["catchup"].contains("forced"));
}

TEST_CASE("notify mysql_promote: a missing privilege refuses before anything changes") {
  Fixture f(R"(  VI_1:
    promote: [{mysql_promote: {mysql: local, fence: peer}}]
)");
  // The grant list docs/notify.md had before: no RELOAD, so RESET SLAVE ALL would fail after
  // the old master was fenced, leaving no writable node.
  f.db.server.privileges = {"SLAVE MONITOR", "BINLOG MONITOR", "READ_ONLY ADMIN",
                            "REPLICATION SLAVE ADMIN", "CONNECTION ADMIN", "PROCESS"};
  auto out = f.fire("MASTER");
  CHECK(out.code == ExitCode::kRefused);
  CHECK(f.db.server.read_only);
  CHECK(f.db.server.slave);
  for (const auto& s : f.db.server.statements) {
    CHECK(s.find("STOP SLAVE") == std::string::npos);
    CHECK(s.find("read_only=ON") == std::string::npos);  // the peer was not fenced either
  }
  const auto& d = out.journal["actions"][0]["details"];
  CHECK(d["missing_privileges"][0] == "RELOAD (for RESET SLAVE ALL)");
  CHECK(d["grant"].get<std::string>().find("GRANT RELOAD, BINLOG ADMIN ON *.*") == 0);
  CHECK(out.message.find("lacks RELOAD") != std::string::npos);
}

TEST_CASE("notify mysql_promote: an SQL-thread error refuses even with on_catchup_timeout: promote") {
  const char* kYaml = R"(  VI_1:
    promote: [{mysql_promote: {mysql: local, catchup_timeout: 50ms, on_catchup_timeout: promote}}]
)";
  auto broken = [](Fixture& f) {
    (*f.db.server.slave)["Slave_SQL_Running"] = "No";
    (*f.db.server.slave)["Last_SQL_Errno"] = "1062";
    (*f.db.server.slave)["Last_SQL_Error"] = "Duplicate entry '7' for key 'PRIMARY'";
  };
  Fixture f(kYaml);
  broken(f);
  auto out = f.fire("MASTER");
  CHECK(out.code == ExitCode::kRefused);
  CHECK(f.db.server.read_only);
  CHECK(out.message.find("on_sql_error: refuse") != std::string::npos);
  // Promoting past it takes its own, explicit key.
  Fixture g(std::string(kYaml).replace(std::string(kYaml).find("promote}}"), 9,
                                       "promote, on_sql_error: promote}}"));
  broken(g);
  out = g.fire("MASTER");
  CHECK(out.code == ExitCode::kSuccess);
  CHECK(out.journal["actions"][0]["details"]["catchup"]["forced_by"] == "on_sql_error");
}

TEST_CASE("notify mysql_promote: a refused promotion puts back the MASTER_DELAY it cleared") {
  Fixture f(R"(  VI_1:
    promote: [{mysql_promote: {mysql: local, catchup_timeout: 50ms}}]
)");
  (*f.db.server.slave)["SQL_Delay"] = "3600";
  f.db.server.polls_to_apply = -1;
  auto out = f.fire("MASTER");
  CHECK(out.code == ExitCode::kRefused);
  const auto& s = f.db.server.statements;
  auto at = std::find(s.begin(), s.end(), "CHANGE MASTER TO MASTER_DELAY=3600");
  REQUIRE(at != s.end());
  CHECK(*(at - 1) == "STOP SLAVE");
  CHECK(*(at + 1) == "START SLAVE");
  CHECK(out.journal["actions"][0]["details"]["master_delay_restored"] == "3600");
}

TEST_CASE("notify mysql_promote: the fence leaves a mark on the old master, the promotion a record") {
  Fixture f(R"(  VI_1:
    promote: [{mysql_promote: {mysql: local, fence: peer}}]
)");
  // The old master: writable, no replication.
  f.db.peer.emplace();
  f.db.peer->slave.reset();
  f.db.peer->read_only = false;
  auto out = f.fire("MASTER");
  CHECK(out.code == ExitCode::kSuccess);
  CHECK(f.db.peer->read_only);
  const auto& p = f.db.peer->statements;
  CHECK(std::find_if(p.begin(), p.end(), [](const std::string& x) {
          return x.rfind("INSERT INTO hakit.fence", 0) == 0 && x.find("'fenced'") != std::string::npos;
        }) != p.end());
  // Everything else was on this node's server.
  std::vector<std::string> s = f.db.server.statements;
  s.insert(s.begin(), p.begin(), p.end());
  auto find = [&](const std::string& start) {
    return std::find_if(s.begin(), s.end(), [&](const std::string& x) { return x.rfind(start, 0) == 0; });
  };
  auto fenced = find("SET GLOBAL read_only=ON");
  auto mark = find("INSERT INTO hakit.fence");
  auto writable = find("SET GLOBAL read_only=OFF");
  auto record = find("INSERT INTO hakit.promotion");
  REQUIRE(mark != s.end());
  REQUIRE(record != s.end());
  // MariaDB: read-only first (writes stop at once), then the mark, outside the binlog.
  REQUIRE(fenced != s.end());
  CHECK(fenced < mark);
  CHECK(*(mark - 4) == "SET SESSION sql_log_bin=0");
  CHECK(*(mark + 1) == "SET SESSION sql_log_bin=1");
  CHECK(mark->find("'fenced'") != std::string::npos);
  CHECK(writable < record);
  const auto& d = out.journal["actions"][0]["details"];
  CHECK(d["fence"]["mark"] == "written");
  CHECK(d["promotion_record"] == "written");
}

TEST_CASE("notify mysql_promote: a running replica as fence target gets no mark") {
  // keepalived starting the master while its replica is healthy: the start-up promotion
  // "fences" the replica (already read-only), which must stay an eligible standby.
  Fixture f(R"(  VI_1:
    promote: [{mysql_promote: {mysql: local, fence: peer}}]
)");
  f.db.server.slave.reset();
  f.db.server.read_only = false;
  f.db.peer.emplace();  // a replica, read-only, replicating
  auto out = f.fire("MASTER");
  CHECK(out.code == ExitCode::kSuccess);
  for (const auto& x : f.db.peer->statements) CHECK(x.find("hakit.fence") == std::string::npos);
  CHECK(out.journal["actions"][0]["details"]["fence"]["mark"] == "none: a running replica");
}

TEST_CASE("notify mysql_promote: a node fenced by a master that is still writable stands down") {
  Fixture f(R"(  VI_1:
    promote: [{mysql_promote: {mysql: local, fence: peer}}]
)");
  f.db.peer.emplace();
  f.db.peer->slave.reset();
  f.db.peer->read_only = false;
  f.db.server.fence_mark = true;  // this node was fenced by the peer earlier
  auto out = f.fire("MASTER");
  CHECK(out.code == ExitCode::kRefused);
  CHECK(f.db.server.read_only);
  CHECK_FALSE(f.db.peer->read_only);  // the peer was not fenced back
  CHECK(out.message.find("still the writable master") != std::string::npos);
}

namespace {

/// A demotion whose peer is still being promoted: read-only and a replica of this node (as
/// its notify_master runs beside this notify_backup) until `polls` pauses have passed.
struct PeerBeingPromoted {
  test::TempDir secrets;
  std::string text;
  PeerBeingPromoted()
      : text("  VI_1:\n    demote: [{mysql_demote: {mysql: local, peer: peer, rejoin: auto, "
             "replication: {user: repl, password_file: " +
             secrets.write("repl.pass", "s3cret") + "}}}]\n") {}
};

}  // namespace

TEST_CASE("notify mysql_demote: a peer whose promotion still runs is waited for, then replicated from") {
  PeerBeingPromoted p;
  Fixture f(p.text);
  f.db.server.slave.reset();  // the master being demoted: no replication of its own
  f.db.server.read_only = false;
  f.db.peer.emplace();  // read-only, replicating from this node (192.0.2.11)
  int pauses = 0;
  f.svc.sleep = [&](Millis) {
    if (++pauses == 3) {  // the peer's promotion completes
      f.db.peer->slave.reset();
      f.db.peer->read_only = false;
    }
  };
  auto out = f.fire("BACKUP");
  REQUIRE_MESSAGE(out.code == ExitCode::kSuccess, out.message);
  const Json& d = out.journal["actions"][0]["details"];
  CHECK(d["rejoin"] == "re-pointed to 192.0.2.12:3306");
  CHECK(pauses == 3);
  CHECK(f.db.server.read_only);
  CHECK_FALSE(d.contains("rejoin_wait"));
}

TEST_CASE("notify mysql_demote: a newer event ends the wait for the peer at once") {
  PeerBeingPromoted p;
  Fixture f(p.text);
  f.db.server.slave.reset();
  f.db.peer.emplace();  // read-only, a replica: it never becomes the master here
  int pauses = 0;
  f.svc.sleep = [&](Millis) {
    // keepalived makes this node MASTER after all: that event takes the next ticket and waits
    // for the lock this demotion holds.
    std::string err;
    if (++pauses == 2) take_ticket(ticket_path(f.cfg, "VI_1"), &err);
  };
  auto out = f.fire("BACKUP");
  REQUIRE_MESSAGE(out.code == ExitCode::kSuccess, out.message);
  const Json& d = out.journal["actions"][0]["details"];
  CHECK(pauses == 2);
  CHECK(d["rejoin_wait"] == "ended by a newer event");
  CHECK(d["rejoin"] == "deferred: the peer is not a writable master (yet)");
  CHECK(d["rejoin_statement"].get<std::string>().find("MASTER_HOST='192.0.2.12'") !=
        std::string::npos);
}
