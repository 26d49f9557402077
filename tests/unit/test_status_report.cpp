// hakit-status: the report built from a temporary state dir, its JSON and table renderings.
#include <doctest/doctest.h>
#include <fmt/format.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <set>

#include "common/arbiter/record.hpp"
#include "hakit_status/status.hpp"
#include "helper/config_doc.hpp"

using namespace hakit;
namespace fs = std::filesystem;

namespace {

// A state dir under /tmp, removed at the end of the test case.
struct TempStateDir {
  std::string path;
  TempStateDir() {
    char tmpl[] = "/tmp/hakit-status-test-XXXXXX";
    path = mkdtemp(tmpl);
  }
  ~TempStateDir() { fs::remove_all(path); }
  void write(const std::string& name, const std::string& text) const {
    std::ofstream(path + "/" + name) << text;
  }
};

config::Document make_config(const std::string& state_dir) {
  config::Document cfg;
  std::string problems;
  bool ok = hakit::test::make_doc("state_dir: " + state_dir + R"(
instances:
  VI_1: {vip: {address: 192.0.2.100, interface: eth0}}
  VI_2: {vip: {address: 192.0.2.200, interface: eth1}}
  VI_3: {}
sync:
  site1: {source: rsync://192.0.2.41/archive_site1, dest: /srv/site1}
  site2: {source: rsync://192.0.2.41/archive_site2, dest: /srv/site2}
)",
                                  &cfg, &problems);
  INFO(problems);
  REQUIRE(ok);
  return cfg;
}

// Only 192.0.2.100 is "here".
bool fake_probe(const std::string& a) { return a == "192.0.2.100"; }

const char* kJournal =
    R"({"time":"2026-11-22T01:00:00.000Z","host":"n1","tool":"notify_master","instance":"VI_1","from":"backup","to":"master","outcome":"ok","actions":[{"kind":"flag"}],"duration_ms":1500})"
    "\n"
    R"({"time":"2026-11-22T01:05:00.000Z","host":"n1","tool":"sitesync","job":"site1","outcome":"ok","files":3,"bytes":2048,"seconds":0.5})"
    "\n"
    "{not json: a torn line after a crash\n"
    R"({"time":"2026-11-22T01:10:00.000Z","host":"n1","tool":"sitesync","job":"site1","outcome":"failed","error":"rsync exit 10"})"
    "\n"
    R"({"time":"2026-11-22T01:11:00.000Z","instance":"VI_2"})"
    "\n"
    R"({"time":"2026-11-22T01:12:00.000Z","tool":"sitesync","job":"old_job","outcome":"ok"})"
    "\n";

}  // namespace

TEST_CASE("status: roles, VIP presence and the warnings they imply") {
  TempStateDir dir;
  dir.write("role.VI_1", R"({"role":"master","time":"2026-11-22T01:00:00.000Z","event":"MASTER"})");
  dir.write("role.VI_2", R"({"role":"master","time":"2026-11-22T01:00:00.000Z","event":"MASTER"})");
  auto cfg = make_config(dir.path);
  auto r = status::collect(cfg, {}, fake_probe);
  REQUIRE(r.instances.size() == 3);
  CHECK(r.instances[0].name == "VI_1");
  CHECK(r.instances[0].role == "master");
  CHECK(r.instances[0].role_event == "MASTER");
  CHECK(r.instances[0].vip_present == true);
  CHECK(r.instances[1].vip_present == false);
  CHECK_FALSE(r.instances[2].vip_present.has_value());
  CHECK(r.instances[2].role.empty());
  // VI_2 claims master without its VIP: exactly one warning, naming it.
  REQUIRE(r.warnings.size() == 1);
  CHECK(r.warnings[0].find("VI_2") != std::string::npos);
  CHECK_FALSE(r.flag.set);
  CHECK(r.journal.empty());  // no journal yet: an empty list, not an error
}

TEST_CASE("status: failover flag, journal tail and the last sync per job") {
  TempStateDir dir;
  dir.write("journal.jsonl", kJournal);
  FailoverFlag flag;
  flag.set_by = "notify_master";
  flag.reason = "promoted after master loss";
  flag.instance = "VI_1";
  std::string err;
  REQUIRE(set_failover_flag(dir.path, flag, &err));
  auto cfg = make_config(dir.path);
  status::Options opts;
  opts.entries = 2;
  auto r = status::collect(cfg, opts, fake_probe);
  CHECK(r.flag.set);
  CHECK(r.flag.reason == "promoted after master loss");
  CHECK(r.flag.host == hostname());
  REQUIRE(r.journal.size() == 2);  // newest last, torn line skipped
  CHECK(r.journal[1]["job"] == "old_job");
  CHECK(r.journal[0]["instance"] == "VI_2");

  // site1: failed last, succeeded before; site2: configured, never ran; old_job: only journaled.
  REQUIRE(r.syncs.size() == 3);
  const auto& old_job = r.syncs[0];
  const auto& site1 = r.syncs[1];
  const auto& site2 = r.syncs[2];
  CHECK(old_job.job == "old_job");
  CHECK_FALSE(old_job.configured);
  CHECK(site1.last.has_value());
  CHECK((*site1.last)["outcome"] == "failed");
  CHECK(site1.last_success == "2026-11-22T01:05:00.000Z");
  CHECK(site2.configured);
  CHECK_FALSE(site2.last.has_value());
  CHECK(site2.last_success.empty());
}

TEST_CASE("status: --instance filters instances and journal entries") {
  TempStateDir dir;
  dir.write("journal.jsonl", kJournal);
  auto cfg = make_config(dir.path);
  status::Options opts;
  opts.instance = "VI_1";
  opts.entries = 10;
  auto r = status::collect(cfg, opts, fake_probe);
  REQUIRE(r.instances.size() == 1);
  CHECK(r.instances[0].name == "VI_1");
  REQUIRE(r.journal.size() == 1);
  CHECK(r.journal[0]["tool"] == "notify_master");
}

TEST_CASE("status: journal rotations are read, oldest first") {
  TempStateDir dir;
  dir.write("journal.jsonl.1", R"({"time":"2026-11-22T00:00:00.000Z","tool":"sitesync","job":"site1","outcome":"ok"})"
                               "\n");
  dir.write("journal.jsonl", R"({"time":"2026-11-22T00:05:00.000Z","tool":"sitesync","job":"site1","outcome":"refused"})"
                             "\n");
  auto cfg = make_config(dir.path);
  auto r = status::collect(cfg, {}, fake_probe);
  REQUIRE(r.journal.size() == 2);
  CHECK(r.journal[0]["outcome"] == "ok");
  CHECK(r.syncs[0].last_success == "2026-11-22T00:00:00.000Z");
  CHECK((*r.syncs[0].last)["outcome"] == "refused");
}

TEST_CASE("status: JSON has stable keys and nulls for what is unknown") {
  TempStateDir dir;
  dir.write("journal.jsonl", kJournal);
  dir.write("role.VI_1", R"({"role":"backup","time":"2026-11-22T01:00:00.000Z","event":"BACKUP"})");
  auto cfg = make_config(dir.path);
  auto j = status::to_json(status::collect(cfg, {}, fake_probe));
  for (const char* key : {"host", "time", "state_dir", "instances", "failover_flag", "sync",
                          "journal", "warnings"})
    CHECK_MESSAGE(j.contains(key), key);
  CHECK(j["instances"][0]["role"] == "backup");
  CHECK(j["instances"][0]["vip_present"] == true);
  CHECK(j["instances"][2]["role"].is_null());
  CHECK(j["instances"][2]["vip_present"].is_null());
  CHECK(j["failover_flag"]["set"] == false);
  CHECK_FALSE(j["failover_flag"].contains("reason"));
  CHECK(j["sync"][2]["last_run"].is_null());
  CHECK(j["warnings"].size() == 1);  // backup role with the VIP here
  // Round trip: what --json prints parses back.
  CHECK(Json::parse(j.dump()) == j);
}

TEST_CASE("status: journal entries are described whatever fields they have") {
  CHECK(status::entry_kind(Json::parse(R"({"tool":"sitesync"})")) == "sync");
  CHECK(status::entry_kind(Json::parse(R"({"job":"a"})")) == "sync");
  CHECK(status::entry_kind(Json::parse(R"({"instance":"VI_1"})")) == "notify");
  CHECK(status::entry_kind(Json::parse(R"({"tool":"notify_backup"})")) == "notify");
  CHECK(status::entry_kind(Json::parse(R"({"x":1})")) == "other");
  CHECK(status::entry_kind(Json::parse("[1,2]")) == "other");

  auto sync = status::describe_entry(Json::parse(
      R"({"job":"site1","outcome":"ok","files":3,"bytes":3145728,"duration_ms":2500})"));
  CHECK(sync == "sync site1 ok 3 files 3.0 MiB 2.5s");
  auto notify = status::describe_entry(Json::parse(
      R"({"tool":"notify_master","instance":"VI_1","to":"master","outcome":"failed","error":"mysql_promote: catch-up timeout"})"));
  CHECK(notify == "notify_master VI_1 ?->master failed: mysql_promote: catch-up timeout");
  CHECK(status::describe_entry(Json::parse(R"({"instance":"VI_1"})")) == "VI_1");
  CHECK_FALSE(status::describe_entry(Json::parse(R"({"x":1})")).empty());

  // The shapes notify_* and sitesync write.
  CHECK(status::describe_entry(Json::parse(
            R"({"kind":"transition","instance":"VI_1","event":{"type":"INSTANCE","state":"MASTER","priority":100},"to":"master","from":"backup","decision":"ran","outcome":"ok","actions":[{},{}],"duration_ms":1234,"message":"VI_1 MASTER: promotion done"})")) ==
        "VI_1 backup->master MASTER ok 2 actions 1.2s");
  CHECK(status::describe_entry(Json::parse(
            R"({"kind":"transition","instance":"VI_1","event":{"state":"MASTER"},"to":"master","from":"backup","decision":"stale","message":"skipped as stale"})")) ==
        "VI_1 backup->master MASTER stale: skipped as stale");
  CHECK(status::describe_entry(Json::parse(
            R"({"kind":"failover-flag","action":"clear","reason":"old master re-attached","tool":"notify_backup","was_set":true})")) ==
        "failover flag clear notify_backup: old master re-attached");
  CHECK(status::describe_entry(Json::parse(
            R"({"tool":"sitesync","event":"sync","job":"site1","result":"warning","files":2,"bytes":10,"seconds":0.5,"message":"rsync exit 24"})")) ==
        "sync site1 warning 2 files 10 B 0.5s: rsync exit 24");

  CHECK(status::sync_succeeded(Json::parse(R"({"outcome":"warning"})")));
  CHECK(status::sync_succeeded(Json::parse(R"({"result":"OK"})")));
  CHECK(status::sync_succeeded(Json::parse(R"({"ok":true})")));
  CHECK_FALSE(status::sync_succeeded(Json::parse(R"({"outcome":"failed"})")));
  CHECK_FALSE(status::sync_succeeded(Json::parse(R"({"job":"a"})")));
}

TEST_CASE("status: times and ages") {
  auto t = status::parse_time("2026-11-22T03:04:05.123Z");
  REQUIRE(t);
  CHECK(*t == 1795316645);
  CHECK(status::parse_time("2026-11-22T03:04:05Z") == 1795316645);
  CHECK_FALSE(status::parse_time("yesterday"));
  CHECK(status::age(1000, 1042) == "42s ago");
  CHECK(status::age(0, 300) == "5m ago");
  CHECK(status::age(0, 3 * 3600) == "3h ago");
  CHECK(status::age(0, 3 * 86400) == "3d ago");
  CHECK(status::age(100, 50) == "in the future");
}

TEST_CASE("status: the table names every part an operator looks for") {
  TempStateDir dir;
  dir.write("journal.jsonl", kJournal);
  dir.write("role.VI_1", R"({"role":"master","time":"2026-11-22T01:00:00.000Z","event":"MASTER"})");
  FailoverFlag flag;
  flag.set_by = "notify_master";
  flag.reason = "master lost";
  std::string err;
  REQUIRE(set_failover_flag(dir.path, flag, &err));
  auto cfg = make_config(dir.path);
  auto r = status::collect(cfg, {}, fake_probe);
  auto now = *status::parse_time("2026-11-22T01:20:00Z");
  auto text = status::render_table(r, now);
  CHECK(text.find("VI_1      master") != std::string::npos);
  CHECK(text.find("(20m ago)") != std::string::npos);
  CHECK(text.find("192.0.2.100 on eth0") != std::string::npos);
  CHECK(text.find("SET ") != std::string::npos);
  CHECK(text.find("reason: master lost") != std::string::npos);
  CHECK(text.find("sync site1 failed: rsync exit 10") != std::string::npos);
  CHECK(text.find("never run") != std::string::npos);  // site2
  CHECK(text.find("Journal (last 5 entries)") != std::string::npos);
}

TEST_CASE("status: local addresses come from the real interfaces") {
  CHECK(status::local_address_present("127.0.0.1"));
  CHECK(status::local_address_present("127.0.0.1/8"));
  CHECK_FALSE(status::local_address_present("192.0.2.253"));
  CHECK_FALSE(status::local_address_present("not-an-address"));
}

TEST_CASE("status: --write-metrics writes a node_exporter textfile") {
  TempStateDir dir;
  dir.write("role.VI_1", R"({"role":"master","time":"2026-11-22T01:00:00.000Z","event":"MASTER"})");
  auto cfg = make_config(dir.path);
  auto r = status::collect(cfg, {}, fake_probe);
  std::string err;
  REQUIRE(status::write_status_metrics(cfg, r, &err));
  std::ifstream in(cfg.metrics_path() + "/hakit_status.prom");
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  CHECK(text.find("# TYPE hakit_status_role gauge") != std::string::npos);
  CHECK(text.find(R"(hakit_status_role{instance="VI_1",role="master"} 1)") != std::string::npos);
  CHECK(text.find(R"(hakit_status_role{instance="VI_1",role="backup"} 0)") != std::string::npos);
  CHECK(text.find(R"(hakit_status_vip_present{instance="VI_2"} 0)") != std::string::npos);
  CHECK(text.find("hakit_status_warnings 0") != std::string::npos);
  CHECK(text.find("hakit_status_sync_last_success_timestamp_seconds") == std::string::npos);
}

namespace {

/// A transition journal line as notify_* writes it (host is this node unless given).
std::string transition(const std::string& instance, const std::string& to,
                       const std::string& outcome, const std::string& extra = "",
                       const std::string& host = hostname(), const std::string& decision = "ran") {
  return R"({"time":"2026-11-22T02:00:00.000Z","host":")" + host +
         R"(","tool":"notify_master","kind":"transition","instance":")" + instance + R"(","to":")" +
         to + R"(","decision":")" + decision + R"(","outcome":")" + outcome + R"(")" + extra +
         "}\n";
}

CheckResult check_of(const TempStateDir& dir) {
  auto cfg = make_config(dir.path);
  return status::check_report(status::collect(cfg, {}, fake_probe));
}

}  // namespace

TEST_CASE("status --check: OK names each instance's role, one Nagios line") {
  TempStateDir dir;
  dir.write("role.VI_1", R"({"role":"master","time":"2026-11-22T01:00:00.000Z","event":"MASTER"})");
  dir.write("role.VI_2", R"({"role":"backup","time":"2026-11-22T01:00:00.000Z","event":"BACKUP"})");
  dir.write("journal.jsonl", transition("VI_1", "master", "ok"));
  auto res = check_of(dir);
  CHECK(res.state == State::kOk);
  CHECK(res.render(status::kCheckService) ==
        "HAKIT-STATUS OK - VI_1 master (VIP here), VI_2 backup (VIP not here), VI_3 unknown, "
        "failover flag clear | masters=1;;;0 failover_flag=0;;;0;1");
}

TEST_CASE("status --check: WARNING on the failover flag and on a role/VIP mismatch") {
  TempStateDir dir;
  dir.write("role.VI_1", R"({"role":"master","time":"2026-11-22T01:00:00.000Z","event":"MASTER"})");
  FailoverFlag flag;
  flag.set_by = "notify_master";
  flag.instance = "VI_1";
  std::string err;
  REQUIRE(set_failover_flag(dir.path, flag, &err));
  auto res = check_of(dir);
  CHECK(res.state == State::kWarning);
  CHECK(res.summary.find("failover flag set") != std::string::npos);
  CHECK(res.summary.find("notify_master") != std::string::npos);

  TempStateDir dir2;
  // VI_1's VIP is here but the recorded role is backup; VI_2 says master without its VIP.
  dir2.write("role.VI_1",
             R"({"role":"backup","time":"2026-11-22T01:00:00.000Z","event":"BACKUP"})");
  dir2.write("role.VI_2",
             R"({"role":"master","time":"2026-11-22T01:00:00.000Z","event":"MASTER"})");
  res = check_of(dir2);
  CHECK(res.state == State::kWarning);
  CHECK(res.summary.find("VI_1: the VIP 192.0.2.100 is on this host") != std::string::npos);
  CHECK(res.summary.find("VI_2: recorded role is master") != std::string::npos);
}

TEST_CASE("status --check: CRITICAL when the last promotion failed or was refused") {
  TempStateDir dir;
  dir.write("role.VI_1", R"({"role":"master","time":"2026-11-22T01:00:00.000Z","event":"MASTER"})");
  dir.write("role.VI_2", R"({"role":"backup","time":"2026-11-22T01:00:00.000Z","event":"BACKUP"})");
  dir.write(
      "journal.jsonl",
      transition("VI_2", "master", "ok") +
          transition(
              "VI_2", "master", "failed",
              R"(,"actions":[{"action":"mysql_promote","outcome":"failed","error":"cannot connect to local"}])") +
          // Skipped events afterwards say nothing about the state: still CRITICAL.
          transition("VI_2", "master", "", "", hostname(), "stale"));
  auto res = check_of(dir);
  CHECK(res.state == State::kCritical);
  CHECK(res.summary.find("VI_2: the last promotion failed at 2026-11-22T02:00:00.000Z "
                         "(mysql_promote: cannot connect to local)") != std::string::npos);

  // A later successful demotion ends it; an anti-flap refusal is CRITICAL as well.
  dir.write("journal.jsonl",
            transition("VI_2", "master", "failed") + transition("VI_2", "backup", "ok"));
  CHECK(check_of(dir).state == State::kOk);
  dir.write("journal.jsonl", transition("VI_2", "master", "refused", "", hostname(), "refused"));
  res = check_of(dir);
  CHECK(res.state == State::kCritical);
  CHECK(res.summary.find("was refused") != std::string::npos);
}

TEST_CASE("status --check: CRITICAL when split brain is suspected") {
  // 1. Two hosts both took VI_1 over last (a shared or merged journal).
  TempStateDir dir;
  dir.write("role.VI_1", R"({"role":"master","time":"2026-11-22T01:00:00.000Z","event":"MASTER"})");
  dir.write("journal.jsonl", transition("VI_1", "master", "ok", "", "db1") +
                                 transition("VI_1", "master", "ok", "", "db2"));
  auto res = check_of(dir);
  CHECK(res.state == State::kCritical);
  CHECK(res.summary.find("VI_1: split brain suspected: db1 and db2 all took over last") !=
        std::string::npos);
  dir.write("journal.jsonl", transition("VI_1", "master", "ok", "", "db1") +
                                 transition("VI_1", "master", "ok", "", "db2") +
                                 transition("VI_1", "backup", "ok", "", "db1"));
  CHECK(check_of(dir).state == State::kOk);

  // 2. This node holds VI_1 (VIP here) while another host set the failover flag for it.
  TempStateDir dir2;
  dir2.write("role.VI_1",
             R"({"role":"master","time":"2026-11-22T01:00:00.000Z","event":"MASTER"})");
  FailoverFlag flag;
  flag.host = "the-other-node";
  flag.instance = "VI_1";
  flag.time = "2026-11-22T03:00:00.000Z";
  std::string err;
  REQUIRE(set_failover_flag(dir2.path, flag, &err));
  res = check_of(dir2);
  CHECK(res.state == State::kCritical);
  CHECK(res.summary.find("VI_1: split brain suspected: this node holds it (VIP here) but "
                         "the-other-node took over") != std::string::npos);

  // 3. Our promotion could not fence the reachable peer.
  TempStateDir dir3;
  dir3.write("role.VI_1",
             R"({"role":"master","time":"2026-11-22T01:00:00.000Z","event":"MASTER"})");
  dir3.write(
      "journal.jsonl",
      transition(
          "VI_1", "master", "ok",
          R"(,"actions":[{"action":"mysql_promote","outcome":"ok","details":{"fence":{"profile":"peer","result":"failed"}}}])"));
  res = check_of(dir3);
  CHECK(res.state == State::kCritical);
  CHECK(res.summary.find("could not be fenced") != std::string::npos);
}

TEST_CASE("status: ad-hoc runs are keyed by destination; removed jobs export no metric") {
  TempStateDir dir;
  dir.write("journal.jsonl",
            R"({"time":"2026-11-22T01:00:00.000Z","tool":"sitesync","job":"archive_site1","adhoc":true,"dest":"/srv/a/.rsync/archive_site1","result":"ok"})"
            "\n"
            R"({"time":"2026-11-22T01:01:00.000Z","tool":"sitesync","job":"archive_site1","adhoc":true,"dest":"/srv/b/.rsync/archive_site1","result":"failed"})"
            "\n"
            R"({"time":"2026-11-22T01:02:00.000Z","tool":"sitesync","job":"old_job","result":"ok"})"
            "\n"
            R"({"time":"2026-11-22T01:03:00.000Z","tool":"sitesync","job":"site1","result":"ok"})"
            "\n");
  auto cfg = make_config(dir.path);
  auto r = status::collect(cfg, {}, fake_probe);
  std::set<std::string> names;
  for (const auto& s : r.syncs) names.insert(s.job);
  // Two site homes pulling one module stay apart.
  CHECK(names.count("archive_site1 (/srv/a/.rsync/archive_site1)"));
  CHECK(names.count("archive_site1 (/srv/b/.rsync/archive_site1)"));
  std::string err;
  REQUIRE(status::write_status_metrics(cfg, r, &err));
  std::ifstream in(cfg.metrics_path() + "/hakit_status.prom");
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  CHECK(text.find(R"(hakit_status_sync_last_success_timestamp_seconds{job="site1"})") !=
        std::string::npos);
  CHECK(text.find(R"x(job="archive_site1 (/srv/a/.rsync/archive_site1)")x") != std::string::npos);
  CHECK(text.find("old_job") == std::string::npos);  // removed from the config: no series
}

TEST_CASE("status --check: the guard's verdict (fenced, errant, split brain) is CRITICAL") {
  TempStateDir dir;
  dir.write("role.VI_2", R"({"role":"backup","time":"2026-11-22T01:00:00.000Z","event":"FAULT"})");
  dir.write("guard.VI_2.json",
            R"j({"split_brain":false,"last":{"time":"2026-11-22T02:00:00Z","state":"CRITICAL",)j"
            R"j("summary":"errant transactions 0-101-101..120 (found 2026-11-22 01:59:00 UTC)"}})j");
  auto res = check_of(dir);
  CHECK(res.state == State::kCritical);
  CHECK(res.summary.find("VI_2: guard at 2026-11-22T02:00:00Z: errant transactions 0-101-101..120") !=
        std::string::npos);
  auto cfg = make_config(dir.path);
  auto report = status::collect(cfg, {}, fake_probe);
  CHECK(status::render_table(report, 0).find("VI_2 guard") != std::string::npos);

  TempStateDir split;
  split.write("guard.VI_1.json",
              R"({"split_brain":true,"since":"2026-11-22T02:00:00Z","last":{"time":"2026-11-22T02:00:01Z",)"
              R"("state":"WARNING","summary":"SPLIT BRAIN: peer is writable too but was promoted earlier"}})");
  res = check_of(split);
  CHECK(res.state == State::kCritical);
  CHECK(res.summary.find("VI_1: SPLIT BRAIN since 2026-11-22T02:00:00Z") != std::string::npos);
}

TEST_CASE("status: hakitd's probes, and a warning when hakitd is gone") {
  TempStateDir dir;
  auto daemon_file = [&](int pid) {
    return fmt::format(
        R"({{"pid":{},"time":"2026-11-22T01:19:59.000Z","fifo":{{"path":"/run/hakit/keepalived.fifo","events":4,"garbage_lines":1}},)"
        R"("checks":[{{"name":"site","type":"http","healthy":false,"reason":"2 failures in a row","since":"2026-11-22T01:19:00.000Z",)"
        R"("last_state":"CRITICAL","last_summary":"connection refused","last_latency_seconds":0.0004,"probes":300,"failures":12}}]}})",
        pid);
  };
  dir.write("hakitd.json", daemon_file(getpid()));
  auto cfg = make_config(dir.path);
  auto now = *status::parse_time("2026-11-22T01:20:00Z");
  auto r = status::collect(cfg, {}, fake_probe);
  REQUIRE(r.daemon);
  CHECK(r.daemon_running);
  auto text = status::render_table(r, now);
  CAPTURE(text);
  CHECK(text.find("Resident daemon (hakitd pid") != std::string::npos);
  CHECK(text.find("site   FAILED  2026-11-22T01:19:00.000Z (60s ago)  CRITICAL  0.000 s  12/300") !=
        std::string::npos);
  CHECK(text.find("2 failures in a row: connection refused") != std::string::npos);
  CHECK(text.find("4 event(s), 1 garbage line(s)") != std::string::npos);
  CHECK(status::to_json(r)["daemon"]["checks"][0]["failures"] == 12);
  CHECK(status::to_json(r)["daemon"]["running"] == true);

  // A pid that no longer runs: the figures are history, and hakit-status says so.
  pid_t child = fork();
  if (child == 0) _exit(0);
  REQUIRE(child > 0);
  waitpid(child, nullptr, 0);
  dir.write("hakitd.json", daemon_file(child));
  r = status::collect(cfg, {}, fake_probe);
  CHECK_FALSE(r.daemon_running);
  REQUIRE(r.warnings.size() >= 1);
  CHECK(r.warnings.back().find("is not running") != std::string::npos);
  CHECK(status::render_table(r, now).find("NOT RUNNING") != std::string::npos);
}

TEST_CASE("status: the arbiter lease from the local record, and a master without one") {
  TempStateDir dir;
  dir.write("role.VI_1", R"({"role":"master","time":"2026-11-22T01:00:00.000Z","event":"MASTER"})");
  dir.write("role.VI_2", R"({"role":"master","time":"2026-11-22T01:00:00.000Z","event":"MASTER"})");
  config::Document cfg;
  std::string problems;
  REQUIRE(hakit::test::make_doc("state_dir: " + dir.path + "\nrun_dir: " + dir.path + R"(
arbiters:
  etcd1: {endpoints: ["http://192.0.2.11:2379"], ttl: 6s, renew_interval: 1s, timeout: 500ms}
instances:
  VI_1: {vip: {address: 192.0.2.100, interface: eth0}, arbiter: etcd1}
  VI_2: {vip: {address: 192.0.2.200, interface: eth1}, arbiter: etcd1}
  VI_3: {}
)",
                                &cfg, &problems));
  // VI_1's renewer holds lease 0x1f, sent 1 s ago: self-fence at +6 s - 1.5 s margin = +3.5 s.
  arbiter::LeaseRecord rec;
  rec.instance = "VI_1";
  rec.key = "/hakit/VI_1";
  rec.node = "n1";
  rec.lease_id = 0x1f;
  rec.ttl_ms = 6000;
  rec.last_send_ms = arbiter::BootClock().now_ms() - 1000;
  rec.phase = arbiter::Phase::kHolding;
  rec.endpoint = "http://192.0.2.11:2379";
  std::string err;
  REQUIRE(arbiter::write_record(dir.path, rec, &err));

  auto r = status::collect(cfg, {}, [](const std::string& a) { return a == "192.0.2.100"; });
  REQUIRE(r.instances.size() == 3);
  REQUIRE(r.instances[0].arbiter);
  const Json& a = *r.instances[0].arbiter;
  CHECK(a["arbiter"] == "etcd1");
  CHECK(a["phase"] == "holding");
  CHECK(a["lease_id"] == "1f");
  CHECK(a["key"] == "/hakit/VI_1");
  CHECK(a["self_fence_in_ms"].get<std::int64_t>() > 3000);
  CHECK(a["self_fence_in_ms"].get<std::int64_t>() <= 3500);
  CHECK_FALSE(r.instances[2].arbiter.has_value());  // no arbiter named: no lease view
  // VI_2 is master (without its VIP here, one warning) and holds no lease: a second warning.
  REQUIRE(r.instances[1].arbiter);
  CHECK((*r.instances[1].arbiter)["holds"] == false);
  bool no_lease = false;
  for (const auto& w : r.warnings)
    no_lease |= w.find("VI_2: master without the etcd1 lease") != std::string::npos;
  CHECK(no_lease);
  CHECK(status::check_report(r).state == State::kWarning);
  const std::string table = status::render_table(r, 0);
  CHECK(table.find("VI_1 arbiter etcd1: holding lease 1f on /hakit/VI_1, self-fence in 3.") !=
        std::string::npos);
  CHECK(table.find("VI_2 arbiter etcd1: no lease held on /hakit/VI_2") != std::string::npos);
  CHECK(status::to_json(r)["instances"][0]["arbiter"]["phase"] == "holding");

  // Not renewed past its self-fence time (the renewer stopped): a warning that says so.
  rec.last_send_ms = arbiter::BootClock().now_ms() - 10000;
  REQUIRE(arbiter::write_record(dir.path, rec, &err));
  r = status::collect(cfg, {}, [](const std::string& a) { return a == "192.0.2.100"; });
  bool stale = false;
  for (const auto& w : r.warnings)
    stale |= w.find("VI_1: the etcd1 lease was last renewed") != std::string::npos &&
             w.find("is the renewer") != std::string::npos;
  CHECK(stale);

  // A record that cannot be read (here a link loop; another user's run_dir in the field): said
  // so, and no "master without the lease" warning built on a guess.
  fs::remove(arbiter::record_path(dir.path, "VI_2"));
  fs::create_symlink(arbiter::record_path(dir.path, "VI_2"), arbiter::record_path(dir.path, "VI_2"));
  r = status::collect(cfg, {}, [](const std::string& a) { return a == "192.0.2.100"; });
  REQUIRE(r.instances[1].arbiter);
  CHECK((*r.instances[1].arbiter)["error"].get<std::string>().find("cannot read") != std::string::npos);
  CHECK_FALSE(r.instances[1].arbiter->contains("holds"));
  for (const auto& w : r.warnings) CHECK(w.find("VI_2: master without") == std::string::npos);
}
