// sitesync argument parsing (the getperf form above all) and config jobs: argv vectors in,
// targets out; no process is spawned.
#include <CLI/CLI.hpp>
#include <doctest/doctest.h>

#include "helper/config_doc.hpp"
#include "common/config.hpp"
#include "sitesync/options.hpp"
#include "sitesync/rsync.hpp"

using namespace hakit;
using namespace hakit::sitesync;

namespace {

struct Parsed {
  Options opts;
  std::optional<int> exit;
  std::vector<Target> targets;
  std::string err;
  bool resolved = false;
};

Parsed parse(std::vector<std::string> args, const config::Document& cfg = {}) {
  Parsed p;
  auto app = make_cli(&p.opts);
  p.exit = cli::parse(*app, std::move(args));
  if (!p.exit) p.resolved = resolve_targets(p.opts, cfg, "/srv/site1", &p.targets, &p.err);
  return p;
}

config::Document config_with(const std::string& yaml) {
  config::Document cfg;
  std::string problems;
  bool ok = hakit::test::make_doc(yaml, &cfg, &problems);
  INFO(problems);
  REQUIRE(ok);
  cfg.path = "test.yaml";
  return cfg;
}

}  // namespace

TEST_CASE("sitesync getperf form: -t means rounds, defaults 9 rounds every 30 s into ./.rsync") {
  auto p = parse({"-t", "1", "rsync://192.0.2.41/archive_site1"});
  REQUIRE_FALSE(p.exit);
  REQUIRE(p.resolved);
  REQUIRE(p.targets.size() == 1);
  CHECK(p.targets[0].name == "archive_site1");
  CHECK(p.targets[0].job.rounds == 1);
  CHECK(p.targets[0].job.dest == "/srv/site1/.rsync/archive_site1");
  CHECK(p.targets[0].job.delete_extraneous);
  CHECK(p.targets[0].adhoc);
  // -t is not a timeout here.
  CHECK(p.targets[0].job.timeout == config::SyncJob{}.timeout);

  auto d = parse({"rsync://192.0.2.41/archive_site1"});
  REQUIRE(d.resolved);
  CHECK(d.targets[0].job.rounds == 9);
  CHECK(d.targets[0].job.interval == Millis(30000));

  auto l = parse({"--times", "3", "--interval", "2", "--disable-delete", "--grep", "arc_,site1",
                  "--timeout", "90s", "rsync://h/archive_a", "rsync://h/archive_b"});
  REQUIRE(l.resolved);
  REQUIRE(l.targets.size() == 2);
  CHECK(l.targets[1].job.dest == "/srv/site1/.rsync/archive_b");
  CHECK(l.targets[1].job.sources == std::vector<std::string>{"rsync://h/archive_b"});
  CHECK(l.targets[0].job.rounds == 3);
  CHECK(l.targets[0].job.interval == Millis(2000));
  CHECK_FALSE(l.targets[0].job.delete_extraneous);
  CHECK(l.targets[0].job.grep == std::vector<std::string>{"arc_", "site1"});
  CHECK(l.targets[0].job.timeout == Millis(90000));
  // Two sources, two jobs, two locks.
  CHECK(l.targets[0].lock_name != l.targets[1].lock_name);
}

TEST_CASE("sitesync ad-hoc form: a trailing local path is DEST - local sources need one") {
  auto p = parse({"rsync://h/archive_site1/storage", "./storage"});
  REQUIRE(p.resolved);
  REQUIRE(p.targets.size() == 1);
  CHECK(p.targets[0].job.dest == "/srv/site1/storage");
  CHECK(p.targets[0].name == "archive_site1");

  auto s = parse({"backup@h:/var/log/nagios", "/srv/logs"});
  REQUIRE(s.resolved);
  CHECK(s.targets[0].job.sources == std::vector<std::string>{"backup@h:/var/log/nagios"});

  auto local = parse({"/data/a", "/data/b"});
  REQUIRE(local.resolved);
  CHECK(local.targets[0].job.sources == std::vector<std::string>{"/data/a"});
  CHECK(local.targets[0].job.dest == "/data/b");

  // Multi-value options take one value each: the sources stay positional.
  auto g = parse({"--grep", "arc_,x", "--exclude", "tmp", "rsync://h/m", "/srv/d"});
  REQUIRE(g.resolved);
  CHECK(g.targets[0].job.grep == std::vector<std::string>{"arc_", "x"});
  CHECK(g.targets[0].job.exclude == std::vector<std::string>{"tmp"});
  CHECK(g.targets[0].job.dest == "/srv/d");

  auto lone = parse({"/data/a"});
  CHECK_FALSE(lone.resolved);
  CHECK(lone.err.find("needs a DEST") != std::string::npos);

  auto bad = parse({"-t", "0", "rsync://h/m"});
  CHECK(bad.exit == 3);
  auto bad2 = parse({"-t", "x", "rsync://h/m"});
  CHECK(bad2.exit == 3);
}

TEST_CASE("sitesync job form: names, --all, overrides from the command line, unknown job") {
  auto cfg = config_with(R"(
instances:
  VI_1: {vip: {address: 192.0.2.100, interface: eth0}}
sync:
  site1:
    source: rsync://192.0.2.41/archive_site1
    dest: /srv/site1/
    max_delete: 1000
    when: backup
    instance: VI_1
    after: [/srv/site1/bin/aggregate, --new]
    after_timeout: 2m
    rounds: 9
    interval: 30s
    exclude: [analysis, summary, storage]
    bwlimit: 10MB/s
    io_timeout: 1m
  logs:
    source: [nagios@192.0.2.11:/var/log/nagios/archives, /tmp/x]
    dest: /srv/logs
    delete: false
)");
  auto j = parse({"site1"}, cfg);
  REQUIRE(j.resolved);
  REQUIRE(j.targets.size() == 1);
  const auto& job = j.targets[0].job;
  CHECK(job.max_delete == 1000u);
  CHECK(job.when == "backup");
  CHECK(job.instance == "VI_1");
  CHECK(job.after == std::vector<std::string>{"/srv/site1/bin/aggregate", "--new"});
  CHECK(job.after_timeout == Millis(120000));
  CHECK(job.rounds == 9);
  CHECK(job.bwlimit == 10u * 1024 * 1024);
  CHECK(job.exclude.size() == 3);
  CHECK_FALSE(j.targets[0].adhoc);

  auto o = parse({"-t", "1", "--max-delete", "5", "site1", "logs"}, cfg);
  REQUIRE(o.resolved);
  REQUIRE(o.targets.size() == 2);
  CHECK(o.targets[0].job.rounds == 1);
  CHECK(o.targets[0].job.max_delete == 5u);
  CHECK_FALSE(o.targets[1].job.delete_extraneous);

  auto all = parse({"--all"}, cfg);
  REQUIRE(all.resolved);
  CHECK(all.targets.size() == 2);

  auto unknown = parse({"site2"}, cfg);
  CHECK_FALSE(unknown.resolved);
  CHECK(unknown.err.find("no sync: job named 'site2'") != std::string::npos);
  CHECK(unknown.err.find("site1") != std::string::npos);

  auto mixed = parse({"site1", "rsync://h/m"}, cfg);
  CHECK_FALSE(mixed.resolved);
}

TEST_CASE("sitesync config: every key is checked, with positions and suggestions") {
  config::Document cfg;
  std::string all;
  CHECK_FALSE(hakit::test::make_doc(R"(
sync:
  a: {source: rsync://h/m, dest: relative/path, when: master, max_delet: 3,
      min_source_fraction: 2, bwlimit: fast, partial_dir: /abs}
)",
                                   &cfg, &all));
  CHECK(all.find("sync.a.dest") != std::string::npos);
  CHECK(all.find("needs the keepalived instance") != std::string::npos);
  CHECK(all.find("did you mean 'max_delete'") != std::string::npos);
  CHECK(all.find("sync.a.min_source_fraction") != std::string::npos);
  CHECK(all.find("sync.a.bwlimit") != std::string::npos);
  CHECK(all.find("sync.a.partial_dir") != std::string::npos);
  CHECK(all.find("hakit.yaml:3:") != std::string::npos);
}

TEST_CASE("sitesync sources: kinds and default destination names") {
  CHECK(source_kind("rsync://h/m") == SourceKind::kDaemon);
  CHECK(source_kind("h::m/p") == SourceKind::kDaemon);
  CHECK(source_kind("user@h:/var/log") == SourceKind::kSsh);
  CHECK(source_kind("/var/log") == SourceKind::kLocal);
  CHECK(source_kind("./a:b") == SourceKind::kLocal);
  CHECK(default_dest_name("rsync://h:873/archive_site1") == "archive_site1");
  CHECK(default_dest_name("rsync://h/archive_site1/storage/") == "archive_site1");
  CHECK(default_dest_name("h::mod/x") == "mod");
  CHECK(default_dest_name("u@h:/var/log/nagios/") == "nagios");
  CHECK(default_dest_name("rsync://h/") == "");
  CHECK(contents_of("rsync://h/m") == "rsync://h/m/");
  CHECK(contents_of("/a/") == "/a/");
}
