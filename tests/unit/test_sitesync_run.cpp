// sitesync's run with a fake ProcessRunner, host and clock: which passes run in which order,
// what the guards stop, what the after-command is told, and the exit codes.
#include <doctest/doctest.h>
#include <fmt/format.h>
#include <signal.h>
#include <unistd.h>
#include <zip.h>

#include <deque>
#include <filesystem>
#include <fstream>
#include <functional>

#include "common/lock.hpp"
#include "common/state.hpp"
#include "sitesync/sitesync.hpp"

using namespace hakit;
using namespace hakit::sitesync;

namespace {

std::string arg_value(const ProcessSpec& s, const std::string& prefix) {
  for (const auto& a : s.argv)
    if (a.rfind(prefix, 0) == 0) return a.substr(prefix.size());
  return "";
}

bool has(const ProcessSpec& s, const std::string& a) {
  return std::find(s.argv.begin(), s.argv.end(), a) != s.argv.end();
}

// Each scripted step sees the spec and returns the result; it may write rsync's log file.
class FakeRunner : public ProcessRunner {
 public:
  std::deque<std::function<ProcessResult(const ProcessSpec&)>> steps;
  std::vector<ProcessSpec> calls;
  ProcessResult run(const ProcessSpec& spec) override {
    calls.push_back(spec);
    REQUIRE_FALSE(steps.empty());
    auto f = steps.front();
    steps.pop_front();
    return f(spec);
  }
};

ProcessResult exited(int code, std::string out = "") {
  ProcessResult r;
  r.started = true;
  r.exit_code = code;
  r.out = std::move(out);
  return r;
}

// An rsync pass that does what `log` lists and exits with `code`: the lines go into its
// --log-file, or (asked for --stats, no consumer of the list) their counts onto stdout.
std::function<ProcessResult(const ProcessSpec&)> rsync_step(int code, std::string log = "") {
  return [code, log](const ProcessSpec& s) {
    std::string path = arg_value(s, "--log-file=");
    if (!path.empty()) std::ofstream(path) << log;
    if (!has(s, "--stats")) return exited(code);
    REQUIRE(path.empty());
    ChangeList c = parse_log_file(log);
    return exited(code, fmt::format("Number of files: 9 (reg: 8, dir: 1)\nNumber of deleted "
                                    "files: {}\nNumber of regular files transferred: {}\nTotal "
                                    "transferred file size: {} bytes\n",
                                    c.deleted.size(), c.files, c.bytes));
  };
}

std::function<ProcessResult(const ProcessSpec&)> probe_step(std::uint64_t entries, std::uint64_t reg,
                                                            std::uint64_t deleted) {
  return [=](const ProcessSpec&) {
    return exited(0, fmt::format("Number of files: {} (reg: {}, dir: 1)\nNumber of deleted files: "
                                 "{}\n",
                                 entries, reg, deleted));
  };
}

class FakeHost : public HostView {
 public:
  bool flag = false;
  std::string recorded_role(const std::string&) override { return "backup"; }
  bool failover_flag(std::string* why) override {
    if (flag) *why = "failover flag set";
    return flag;
  }
  bool has_address(const std::string&) override { return false; }
};

class FakeClock : public Clock {
 public:
  std::chrono::steady_clock::time_point t = std::chrono::steady_clock::time_point{} + std::chrono::hours(1);
  Millis per_call{0};  ///< each now() advances by this (rounds that take time)
  std::vector<std::chrono::steady_clock::time_point> slept;
  std::chrono::steady_clock::time_point now() override {
    t += per_call;
    return t;
  }
  void sleep_until(std::chrono::steady_clock::time_point u) override {
    slept.push_back(u);
    if (u > t) t = u;
  }
};

struct Fixture {
  std::string dir;
  config::Document cfg;
  FakeRunner runner;
  FakeHost host;
  FakeClock clock;
  Target target;

  Fixture() {
    char tmpl[] = "/tmp/hakit-unit-sitesync-XXXXXX";
    dir = mkdtemp(tmpl);
    cfg.state_dir = dir + "/state";
    cfg.run_dir = dir + "/run";
    cfg.path = "test";
    target.name = "site1";
    target.lock_name = "site1";
    target.job.sources = {"rsync://127.0.0.1/archive_site1"};
    target.job.dest = dir + "/dest";
  }
  ~Fixture() {
    std::vector<std::string> argv{"rm", "-rf", dir};
    run_process({argv});
  }
  TargetResult run(RunMode mode = {}) {
    Syncer s(cfg, runner, host, clock, mode);
    return s.run(target);
  }
};

}  // namespace

TEST_CASE("sitesync run: a clean round is one rsync pass, journaled and measured") {
  Fixture f;
  f.runner.steps.push_back(rsync_step(0, ">f+++++++++ 10 arc_1.zip\n>f.st...... 5 b\n"));
  auto r = f.run();
  CHECK(r.code == ExitCode::kSuccess);
  CHECK(r.outcome == "ok");
  CHECK(r.files == 2);
  CHECK(r.bytes == 15);
  REQUIRE(f.runner.calls.size() == 1);
  CHECK(has(f.runner.calls[0], "--max-delete=0"));
  CHECK(f.runner.calls[0].capture);
  // Nothing reads the per-file list: counts from --stats, no client log.
  CHECK(has(f.runner.calls[0], "--stats"));
  CHECK(arg_value(f.runner.calls[0], "--log-file=").empty());
  // A clean end leaves no run marker and no partial dir behind.
  CHECK_FALSE(std::filesystem::exists(f.target.job.dest + "/.rsync-partial"));
  auto j = Journal(f.cfg.journal_path()).tail(1);
  REQUIRE(j.size() == 1);
  CHECK(j[0]["tool"] == "sitesync");
  CHECK(j[0]["job"] == "site1");
  CHECK(j[0]["result"] == "ok");
  CHECK(j[0]["files"] == 2);
  std::ifstream m(f.cfg.metrics_path() + "/sitesync.site1.prom");
  std::string text((std::istreambuf_iterator<char>(m)), std::istreambuf_iterator<char>());
  CHECK(text.find("hakit_sitesync_bytes_transferred{job=\"site1\"} 15") != std::string::npos);
}

TEST_CASE("sitesync run: the per-file list is asked for only when something reads it") {
  Fixture f;
  f.target.job.after = {"/bin/true"};
  f.runner.steps.push_back(rsync_step(0, ">f+++++++++ 10 arc_1.zip\n"));
  f.runner.steps.push_back([](const ProcessSpec&) { return exited(0); });  // the after-command
  auto r = f.run();
  CHECK(r.code == ExitCode::kSuccess);
  CHECK(r.files == 1);
  REQUIRE(f.runner.calls.size() == 2);
  CHECK_FALSE(arg_value(f.runner.calls[0], "--log-file=").empty());
  CHECK_FALSE(has(f.runner.calls[0], "--stats"));
}

TEST_CASE("sitesync run: rsync temp files beside real names are swept only after a killed run") {
  Fixture f;
  namespace fs = std::filesystem;
  const std::string dest = f.target.job.dest;
  fs::create_directories(dest + "/d");
  std::ofstream(dest + "/d/.big.rrd.AbC123") << "half";
  std::ofstream(dest + "/d/keep.txt") << "whole";
  f.runner.steps.push_back(rsync_step(0));
  f.run();
  // No marker: the last run ended cleanly, the tree is not walked.
  CHECK(fs::exists(dest + "/d/.big.rrd.AbC123"));
  // A killed run leaves its marker behind; the next run (under the lock) sweeps.
  fs::create_directories(dest + "/.rsync-partial");
  std::ofstream(dest + "/.rsync-partial/.sitesync-running");
  f.runner.steps.push_back(rsync_step(0));
  f.run();
  CHECK_FALSE(fs::exists(dest + "/d/.big.rrd.AbC123"));
  CHECK(fs::exists(dest + "/d/keep.txt"));
  CHECK_FALSE(fs::exists(dest + "/.rsync-partial"));
}

TEST_CASE("sitesync run: pending deletions → probe → guard → delete pass") {
  Fixture f;
  f.target.job.max_delete = 10;
  f.runner.steps.push_back(rsync_step(25));
  f.runner.steps.push_back(probe_step(101, 100, 3));
  f.runner.steps.push_back(rsync_step(0, "*deleting   0 old1\n*deleting   0 old2\n*deleting   0 d/\n"));
  auto r = f.run();
  CHECK(r.code == ExitCode::kSuccess);
  CHECK(r.deleted == 3);
  REQUIRE(f.runner.calls.size() == 3);
  CHECK(has(f.runner.calls[1], "--dry-run"));
  CHECK(has(f.runner.calls[2], "--delete-delay"));
  CHECK(has(f.runner.calls[2], "--max-delete=10"));
}

TEST_CASE("sitesync run: max_delete exceeded and empty source are refused before any delete") {
  Fixture f;
  f.target.job.max_delete = 2;
  f.target.job.rounds = 3;
  f.runner.steps.push_back(rsync_step(25));
  f.runner.steps.push_back(probe_step(101, 100, 3));
  auto r = f.run();
  CHECK(r.code == ExitCode::kRefused);
  CHECK(r.outcome == "refused");
  CHECK(r.message.find("max_delete 2") != std::string::npos);
  // No delete pass, and no more rounds against the same source.
  CHECK(f.runner.calls.size() == 2);
  CHECK(r.rounds_run == 1);

  Fixture e;
  e.runner.steps.push_back(rsync_step(25));
  e.runner.steps.push_back(probe_step(1, 0, 40));
  auto r2 = e.run();
  CHECK(r2.code == ExitCode::kRefused);
  CHECK(r2.message.find("source lists no files") != std::string::npos);
  CHECK(e.runner.calls.size() == 2);
}

TEST_CASE("sitesync run: unreachable source fails, vanished files only warn") {
  Fixture f;
  f.runner.steps.push_back([](const ProcessSpec&) {
    auto r = exited(10);
    r.err = "rsync: [Receiver] failed to connect to 127.0.0.1 (127.0.0.1): Connection refused (111)\n";
    return r;
  });
  auto r = f.run();
  CHECK(r.code == ExitCode::kFailed);
  CHECK(r.message.find("rsync exit 10") != std::string::npos);
  CHECK(r.message.find("Connection refused") != std::string::npos);
  CHECK(f.runner.calls.size() == 1);

  Fixture v;
  v.runner.steps.push_back(rsync_step(24, ">f+++++++++ 1 a\n"));
  auto w = v.run();
  CHECK(w.code == ExitCode::kSuccess);
  CHECK(w.outcome == "warning");
}

TEST_CASE("sitesync run: the after-command is told the new files, failures carry them over") {
  Fixture f;
  f.target.job.after = {"/srv/site1/bin/aggregate", "--fast"};
  f.target.job.after_timeout = Millis(7000);
  f.target.job.rounds = 2;
  f.target.job.interval = Millis(0);
  std::vector<std::vector<std::string>> seen;
  auto after = [&](int code) {
    return [&seen, code](const ProcessSpec& s) {
      CHECK(s.timeout == Millis(7000));
      std::string list;
      for (const auto& e : s.env_extra)
        if (e.rfind("HAKIT_SYNC_NEW_FILES=", 0) == 0) list = e.substr(21);
      std::ifstream in(list);
      std::vector<std::string> names;
      for (std::string l; std::getline(in, l);) names.push_back(l);
      seen.push_back(names);
      return exited(code);
    };
  };
  f.runner.steps.push_back(rsync_step(0, ">f+++++++++ 1 arc_1.zip\n"));
  f.runner.steps.push_back(after(1));
  f.runner.steps.push_back(rsync_step(0, ">f+++++++++ 1 arc_2.zip\n>f.st...... 1 old\n"));
  f.runner.steps.push_back(after(0));
  auto r = f.run();
  CHECK(r.code == ExitCode::kFailed);  // round 1's after-command failed
  CHECK(r.rounds_failed == 1);
  REQUIRE(seen.size() == 2);
  CHECK(seen[0] == std::vector<std::string>{"arc_1.zip"});
  CHECK(seen[1] == std::vector<std::string>{"arc_1.zip", "arc_2.zip"});
  CHECK(f.runner.calls[1].argv == f.target.job.after);
  CHECK(f.runner.calls[1].cwd == f.target.job.dest);

  Fixture c;
  c.target.job.after = {"/bin/true"};
  c.target.job.after_if = "changed";
  c.runner.steps.push_back(rsync_step(0, ""));
  CHECK(c.run().code == ExitCode::kSuccess);
  CHECK(c.runner.calls.size() == 1);  // nothing changed: no after-command
}

TEST_CASE("sitesync run: rounds follow the interval - a late round is skipped") {
  Fixture f;
  f.target.job.rounds = 3;
  f.target.job.interval = Millis(30000);
  f.runner.steps.push_back(rsync_step(0));
  f.runner.steps.push_back([&](const ProcessSpec&) {
    f.clock.t += Millis(40000);  // round 2 runs long, past slot 3
    return exited(0);
  });
  auto start = f.clock.t;
  auto r = f.run();
  CHECK(r.rounds_run == 2);
  CHECK(r.rounds_skipped == 1);
  REQUIRE(f.clock.slept.size() == 2);
  CHECK(f.clock.slept[1] - f.clock.slept[0] == Millis(30000));
  CHECK(f.clock.slept[0] - start < Millis(10));
}

TEST_CASE("sitesync run: gates and a held lock end the run quietly with exit 0") {
  Fixture f;
  f.host.flag = true;
  auto r = f.run();
  CHECK(r.code == ExitCode::kSuccess);
  CHECK(r.outcome == "skipped");
  CHECK(f.runner.calls.empty());

  Fixture l;
  Syncer s(l.cfg, l.runner, l.host, l.clock, {});
  std::string err;
  pid_t holder = 0;
  auto held = FileLock::try_acquire(s.lock_path(l.target, &err), &holder, &err);
  REQUIRE(held);
  // flock locks are per open file: our own second try is refused like another process's.
  auto b = s.run(l.target);
  CHECK(b.outcome == "busy");
  CHECK(b.code == ExitCode::kSuccess);
  CHECK(l.runner.calls.empty());
}

TEST_CASE("sitesync run: --estimate and --dry-run change nothing and report rsync's figures") {
  Fixture f;
  f.runner.steps.push_back([](const ProcessSpec& s) {
    CHECK(has(s, "--dry-run"));
    return exited(0, "Number of files: 11 (reg: 10, dir: 1)\nNumber of regular files transferred: 4\n"
                     "Total file size: 1000 bytes\nTotal transferred file size: 400 bytes\n");
  });
  RunMode m;
  m.estimate = true;
  m.bandwidth = 100;
  auto r = f.run(m);
  CHECK(r.code == ExitCode::kSuccess);
  CHECK(r.files == 4);
  CHECK(r.bytes == 400);

  Fixture d;
  d.runner.steps.push_back([](const ProcessSpec& s) {
    CHECK(has(s, "--dry-run"));
    return exited(0, ">f+++++++++ 5 a\n*deleting   0 b\nNumber of files: 2 (reg: 1, dir: 1)\n"
                     "Number of deleted files: 1\n");
  });
  RunMode dm;
  dm.dry_run = true;
  auto dr = d.run(dm);
  CHECK(dr.code == ExitCode::kSuccess);
  CHECK(dr.files == 1);
  CHECK(dr.deleted == 1);
  CHECK(access(d.target.job.dest.c_str(), F_OK) != 0);  // not even the dest was created
}

TEST_CASE("sitesync run: the getperf step extracts the round's archives and aggregates them") {
  Fixture f;
  std::string home = f.dir + "/site";
  f.target.job.site_home = home;
  f.target.job.aggregate = {"/opt/agg", "--fast"};
  // A real archive (libzip), written where rsync puts it, and rsync's log naming it.
  f.runner.steps.push_back([&](const ProcessSpec& s) {
    std::string dest = f.target.job.dest;
    int err = 0;
    zip_t* z = zip_open((dest + "/arc_h1__Linux_20150619_1416.zip").c_str(),
                        ZIP_CREATE | ZIP_TRUNCATE, &err);
    REQUIRE(z);
    static const char kData[] = "vm\n";
    zip_file_add(z, "Linux/20150619/1416/vmstat.txt",
                 zip_source_buffer(z, kData, sizeof kData - 1, 0), 0);
    REQUIRE(zip_close(z) == 0);
    std::ofstream(arg_value(s, "--log-file=")) << ">f+++++++++ 120 arc_h1__Linux_20150619_1416.zip\n"
                                               << ">f+++++++++ 5 notes.txt\n";
    return exited(0);
  });
  ProcessSpec agg;
  f.runner.steps.push_back([&](const ProcessSpec& s) {
    agg = s;
    return exited(0, "aggregated 1\n");
  });
  auto r = f.run();
  CHECK(r.code == ExitCode::kSuccess);
  CHECK(r.archives == 1);
  CHECK(r.extracted == 1);
  CHECK(r.aggregate_result == "ok");
  std::string file = home + "/analysis/h1/Linux/20150619/141600/vmstat.txt";
  CHECK(agg.argv == std::vector<std::string>{"/opt/agg", "--fast", file});
  CHECK(agg.cwd == home);
  CHECK(std::find(agg.env_extra.begin(), agg.env_extra.end(), "SITEHOME=" + home) !=
        agg.env_extra.end());
  CHECK(agg.die_with_parent);
  // rsync runs with the job lock's fds, dies with us, in its own group (no terminal).
  CHECK(f.runner.calls[0].die_with_parent);
  CHECK(f.runner.calls[0].inherit_fds.size() == 2);
  CHECK(f.runner.calls[0].own_process_group);
  auto j = Journal(f.cfg.state_dir + "/journal.jsonl").tail(1);
  REQUIRE(j.size() == 1);
  CHECK(j[0]["archives"] == 1);
  CHECK(j[0]["aggregate"] == "ok");

  // A failing aggregation fails the run and says so.
  Fixture g;
  g.target.job.site_home = g.dir + "/site";
  g.target.job.aggregate = {"/opt/agg"};
  g.runner.steps.push_back(rsync_step(0));
  auto none = g.run();
  CHECK(none.code == ExitCode::kSuccess);  // nothing extracted: no aggregation call
  CHECK(g.runner.calls.size() == 1);
}

TEST_CASE("sitesync run: a signal passed on to rsync ends the run as interrupted") {
  Fixture f;
  f.target.job.rounds = 3;
  f.runner.steps.push_back([](const ProcessSpec&) {
    ProcessResult p = exited(20);
    p.forwarded_signal = SIGTERM;
    return p;
  });
  auto r = f.run();
  CHECK(r.code == ExitCode::kFailed);
  CHECK(r.message.find("interrupted by SIGTERM") != std::string::npos);
  CHECK(f.runner.calls.size() == 1);  // no further round
}

TEST_CASE("sitesync run: a symlinked destination is refused, naming the override") {
  Fixture f;
  std::string real = f.dir + "/real";
  std::filesystem::create_directories(real);
  std::filesystem::create_directory_symlink(real, f.dir + "/link");
  f.target.job.dest = f.dir + "/link";
  auto r = f.run();
  CHECK(r.code == ExitCode::kRefused);
  CHECK(r.message.find("--follow-dest-symlink") != std::string::npos);
  CHECK(f.runner.calls.empty());
  f.target.job.follow_dest_symlink = true;
  f.runner.steps.push_back(rsync_step(0));
  CHECK(f.run().code == ExitCode::kSuccess);
}

TEST_CASE("sitesync: the metrics file of a job removed from the config goes away") {
  Fixture f;
  f.cfg.root = YAML::Load("sync: {site1: {source: rsync://h/m, dest: /srv/a}}");
  std::string m = f.cfg.metrics_path();
  std::filesystem::create_directories(m);
  for (const char* name : {"sitesync.site1.prom", "sitesync.gone.prom",
                           "sitesync.dest._srv_a_.rsync_archive_site1.prom", "notify.VI_1.prom"})
    std::ofstream(m + "/" + name) << "x 1\n";
  Syncer s(f.cfg, f.runner, f.host, f.clock, {});
  s.remove_stale_metrics();
  CHECK(std::filesystem::exists(m + "/sitesync.site1.prom"));
  CHECK_FALSE(std::filesystem::exists(m + "/sitesync.gone.prom"));
  CHECK(std::filesystem::exists(m + "/sitesync.dest._srv_a_.rsync_archive_site1.prom"));
  CHECK(std::filesystem::exists(m + "/notify.VI_1.prom"));
}
