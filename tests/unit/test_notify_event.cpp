// notify_master / notify_backup: argument forms, config of instances and notifications,
// placeholders, tickets, and the pure replication-status helpers.
#include <doctest/doctest.h>

#include "common/config.hpp"
#include "helper/config_doc.hpp"
#include "helper/support.hpp"
#include "notify/mysql_state.hpp"
#include "notify/notify.hpp"

using namespace hakit;
using namespace hakit::notify;

namespace {

// Validates the whole text (as --check-config does), then reads what notify reads for VI_1.
config::NotifyConfig parse(const std::string& text, std::string* diag_out = nullptr) {
  config::Document doc;
  std::string problems;
  bool ok = hakit::test::make_doc(text, &doc, &problems);
  if (diag_out) *diag_out = problems;
  if (!diag_out) REQUIRE_MESSAGE(ok, problems);
  config::NotifyConfig cfg = config::notify_core(doc);
  config::Diagnostics diag("hakit.yaml");
  if (ok) REQUIRE_MESSAGE(config::load_notify_config(doc, "VI_1", &cfg, &diag), diag.render());
  return cfg;
}

const char* kConfig = R"(
mysql:
  local: {host: 127.0.0.1, port: 3306}
  peer: {host: 192.0.2.12}
instances:
  VI_1:
    vip: {address: 192.0.2.100, interface: eth0}
    min_interval: 10m
    lock_timeout: 30s
    promote:
      - mysql_promote: {mysql: local, fence: peer, catchup_timeout: 45s, fence_kill_sessions: true}
        timeout: 90s
      - service: {start: nagios}
        retries: 2
        backoff: 500ms
      - flag: set
      - notify: ops
      - sync: site1
      - run: [/usr/local/bin/hook, --up]
        on_failure: continue
    demote:
      - service: {stop: nagios}
      - mysql_demote: {mysql: local, rejoin: auto, peer: peer, replication: {user: repl, password_file: /etc/hakit/repl.pass}}
notifications:
  ops:
    email: {smtp: 'smtp://127.0.0.1:25', from: ha@example.com, to: [a@example.com, b@example.com]}
    webhook: {url: 'http://127.0.0.1:9/hook', timeout: 3s}
sync:
  site1: {source: rsync://192.0.2.41/archive_site1, dest: /srv/site1/}
)";

Options opts(std::vector<std::string> generic, std::string instance = "", std::string state = "") {
  Options o;
  o.tool = "notify_master";
  o.default_state = "MASTER";
  o.generic = std::move(generic);
  o.instance = std::move(instance);
  o.state = std::move(state);
  return o;
}

}  // namespace

TEST_CASE("notify config: actions are typed with their settings") {
  auto cfg = parse(kConfig);
  const auto& i = cfg.instances.at("VI_1");
  REQUIRE(i.promote.size() == 6);
  REQUIRE(i.demote.size() == 2);
  CHECK(i.min_interval == Millis(600000));
  CHECK(i.lock_timeout == Millis(30000));
  CHECK(i.vip->address == "192.0.2.100");
  const auto& p = i.promote[0];
  CHECK(p.kind() == "mysql_promote");
  const auto& promote = std::get<config::MysqlPromoteSpec>(p.spec);
  CHECK(p.timeout == Millis(90000));
  CHECK(promote.fence == "peer");
  CHECK(promote.fence_kill_sessions);
  CHECK(promote.catchup_timeout == Millis(45000));
  CHECK(promote.on_catchup_timeout == config::CatchupPolicy::kRefuse);
  CHECK(std::get<config::ServiceSpec>(i.promote[1].spec).op == config::ServiceOp::kStart);
  CHECK(std::get<config::ServiceSpec>(i.promote[1].spec).unit == "nagios");
  CHECK(i.promote[1].retries == 2);
  CHECK(i.promote[1].backoff == Millis(500));
  CHECK(std::get<config::FlagSpec>(i.promote[2].spec).op == config::FlagOp::kSet);
  CHECK(std::get<config::NotifySpec>(i.promote[3].spec).channel == "ops");
  CHECK(i.promote[3].on_failure == config::OnFailure::kContinue);  // notifications never block
  CHECK(std::get<config::SyncSpec>(i.promote[4].spec).job == "site1");
  CHECK(std::get<config::RunSpec>(i.promote[5].spec).argv == std::vector<std::string>{"/usr/local/bin/hook", "--up"});
  CHECK(i.promote[5].label() == "run /usr/local/bin/hook --up");
  const auto& demote = std::get<config::MysqlDemoteSpec>(i.demote[1].spec);
  CHECK(demote.rejoin == config::Rejoin::kAuto);
  CHECK(demote.replication_password_file == "/etc/hakit/repl.pass");
  const auto& n = cfg.notifications.at("ops");
  CHECK(n.email->to.size() == 2);
  CHECK(n.webhook->timeout == Millis(3000));
}

TEST_CASE("notify config: mistakes are reported with their key path") {
  std::string diag;
  parse(R"(
instances:
  VI_1:
    promote:
      - flag: up
      - service: {launch: x}
      - run: []
      - notify: nobody
      - sync: nojob
      - mysql_promote: {mysql: nosuch, catchup_timout: 3s}
      - {flag: set, run: [/bin/true]}
      - retries: 3
    demote:
      - mysql_demote: {rejoin: auto}
    promte: []
)", &diag);
  CHECK(diag.find("promote[0].flag: must be set or clear") != std::string::npos);
  CHECK(diag.find("promote[1].service.launch") != std::string::npos);
  CHECK(diag.find("needs a command") != std::string::npos);
  CHECK(diag.find("no notifications: channel named 'nobody'") != std::string::npos);
  CHECK(diag.find("no sync: job named 'nojob'") != std::string::npos);
  CHECK(diag.find("no mysql profile named 'nosuch'") != std::string::npos);
  CHECK(diag.find("did you mean 'catchup_timeout'") != std::string::npos);
  CHECK(diag.find("one action kind per list entry") != std::string::npos);
  CHECK(diag.find("no action kind") != std::string::npos);
  CHECK(diag.find("rejoin: auto needs a peer") != std::string::npos);
  CHECK(diag.find("did you mean 'promote'") != std::string::npos);
}

TEST_CASE("notify events: the configured and the generic keepalived forms") {
  auto cfg = parse(kConfig);
  Event ev;
  std::string err;
  REQUIRE(make_event(opts({}, "VI_1"), cfg, &ev, &err));
  CHECK(ev.state == "MASTER");
  CHECK(ev.promotion());
  CHECK(ev.priority == -1);

  REQUIRE(make_event(opts({"INSTANCE", "VI_1", "BACKUP", "100"}), cfg, &ev, &err));
  CHECK(ev.state == "BACKUP");
  CHECK(ev.role() == "backup");
  CHECK(ev.priority == 100);
  CHECK_FALSE(ev.promotion());

  REQUIRE(make_event(opts({"GROUP", "VI_1", "fault"}), cfg, &ev, &err));
  CHECK(ev.type == "GROUP");
  CHECK(ev.state == "FAULT");

  REQUIRE(make_event(opts({"INSTANCE", "VI_1", "DELETED", "0"}), cfg, &ev, &err));
  CHECK(ev.state == "STOP");

  auto o = opts({}, "VI_1", "stop");
  o.default_state = "BACKUP";
  REQUIRE(make_event(o, cfg, &ev, &err));
  CHECK(ev.state == "STOP");
}

TEST_CASE("notify events: instance names cannot escape run_dir or state_dir") {
  // Config keys: refused at load, so no lock, ticket or state file is ever made from them.
  for (const std::string& name :
       std::vector<std::string>{"'../../etc/x'", "'/abs'", "'a/b'", "'.hidden'", "'a b'",
                                "'" + std::string(200, 'v') + "'"}) {
    std::string diag;
    parse("instances:\n  " + name + ":\n    promote: [{flag: set}]\n", &diag);
    CAPTURE(name);
    CHECK(diag.find("not a usable instance name") != std::string::npos);
  }
  std::string diag;
  parse("instances:\n  \"a\\0b\":\n    promote: [{flag: set}]\n", &diag);
  CHECK(diag.find("not a usable instance name") != std::string::npos);
  // argv: --instance and keepalived's generic NAME, checked before the config is consulted.
  auto cfg = parse(kConfig);
  Event ev;
  std::string err;
  CHECK_FALSE(make_event(opts({}, "../VI_1"), cfg, &ev, &err));
  CHECK(err.find("not a usable instance name") != std::string::npos);
  CHECK_FALSE(make_event(opts({"INSTANCE", "../../run/x", "MASTER", "100"}), cfg, &ev, &err));
  CHECK(err.find("not a usable instance name") != std::string::npos);
  CHECK_FALSE(make_event(opts({"INSTANCE", std::string("VI_1\0x", 6), "MASTER"}), cfg, &ev, &err));
  CHECK(err.find("not a usable instance name") != std::string::npos);
  CHECK(valid_instance_name("VI_1", nullptr));
  CHECK(valid_instance_name("site-a.vrrp:2", nullptr));
}

TEST_CASE("notify events: malformed or unknown is a usage error") {
  auto cfg = parse(kConfig);
  Event ev;
  std::string err;
  CHECK_FALSE(make_event(opts({}, "VI_2"), cfg, &ev, &err));
  CHECK(err.find("unknown instance 'VI_2'") != std::string::npos);
  CHECK(err.find("did you mean 'VI_1'") != std::string::npos);
  CHECK_FALSE(make_event(opts({"INSTANCE", "VI_1"}), cfg, &ev, &err));
  CHECK_FALSE(make_event(opts({"INSTANCE", "VI_1", "MASTER", "100", "extra"}), cfg, &ev, &err));
  CHECK_FALSE(make_event(opts({"INSTANCE", "VI_1", "MASTER", "256"}), cfg, &ev, &err));
  CHECK_FALSE(make_event(opts({"INSTANCE", "VI_1", "MASTER", "-1"}), cfg, &ev, &err));
  CHECK_FALSE(make_event(opts({"VRRP", "VI_1", "MASTER"}), cfg, &ev, &err));
  CHECK_FALSE(make_event(opts({"INSTANCE", "VI_1", "UP"}), cfg, &ev, &err));
  CHECK_FALSE(make_event(opts({"INSTANCE", "VI_1", "MASTER"}, "", "BACKUP"), cfg, &ev, &err));
  CHECK(err.find("disagree") != std::string::npos);
  CHECK_FALSE(make_event(opts({}), cfg, &ev, &err));
  CHECK(err.find("no instance") != std::string::npos);
}

TEST_CASE("notify: placeholders expand, unknown ones stay") {
  std::map<std::string, std::string> v{{"instance", "VI_1"}, {"state", "MASTER"}};
  CHECK(expand("{instance} is {state} on {host}", v) == "VI_1 is MASTER on {host}");
  CHECK(expand("no placeholders", v) == "no placeholders");
  CHECK(expand("{unclosed", v) == "{unclosed");
  CHECK(expand("{}{state}", v) == "{}MASTER");
}

TEST_CASE("notify: tickets count up in arrival order") {
  test::TempDir dir;
  std::string err;
  std::string path = dir / "run/notify.VI_1.ticket";
  CHECK(newest_ticket(path) == 0);
  CHECK(take_ticket(path, &err) == 1);
  CHECK(take_ticket(path, &err) == 2);
  CHECK(take_ticket(path, &err) == 3);
  CHECK(newest_ticket(path) == 3);
}

TEST_CASE("notify replication status: GTID lists and catch-up") {
  CHECK(parse_gtid_list("0-101-9,1-102-3") == std::map<std::uint32_t, std::uint64_t>{{0, 9}, {1, 3}});
  CHECK(parse_gtid_list("").empty());
  CHECK(gtid_covers("0-101-9", "0-101-9"));
  CHECK(gtid_covers("0-101-10,1-1-1", "0-101-9"));
  CHECK_FALSE(gtid_covers("0-101-8", "0-101-9"));
  CHECK_FALSE(gtid_covers("0-101-9", "0-101-9,2-5-1"));
  CHECK(gtid_covers("0-101-1", ""));

  mysql::Row st{
      {"Slave_IO_Running", "No"},
      {"Slave_SQL_Running", "Yes"},
      {"Slave_SQL_Running_State", "Slave has read all relay log; waiting for more updates"},
      {"Master_Log_File", "mysql-bin.000002"},
      {"Read_Master_Log_Pos", "2134"},
      {"Relay_Master_Log_File", "mysql-bin.000002"},
      {"Exec_Master_Log_Pos", "2134"},
      {"Gtid_IO_Pos", "0-101-9"}};
  // The one parser of SHOW SLAVE/REPLICA STATUS (common/mysql/status) feeds the judgement.
  auto parsed = [](const mysql::Row& row) {
    mysql::ReplicaStatus rs;
    std::string err;
    REQUIRE(mysql::parse_replica_status(row, &rs, &err));
    return rs;
  };
  std::string why;
  CHECK(caught_up(parsed(st), "0-101-9", true, &why));
  CHECK_FALSE(caught_up(parsed(st), "0-101-8", true, &why));
  CHECK(why.find("GTID") != std::string::npos);
  st["Exec_Master_Log_Pos"] = "989";
  CHECK_FALSE(caught_up(parsed(st), "0-101-9", true, &why));
  CHECK(why.find("applied mysql-bin.000002:989") != std::string::npos);
  CHECK(caught_up(parsed(st), "0-101-9", false, &why));  // positions renamed by CHANGE MASTER
  st["Slave_SQL_Running_State"] = "Waiting until MASTER_DELAY seconds after master executed event";
  CHECK_FALSE(caught_up(parsed(st), "0-101-9", false, &why));
  st["Slave_SQL_Running"] = "No";
  CHECK_FALSE(caught_up(parsed(st), "0-101-9", false, &why));
  CHECK(why == "SQL thread not running");
}
