// Shared command line: option names and meanings, parse errors exit 3 with one line,
// --check-config; all by feeding argv vectors, no process spawned.
#include <CLI/CLI.hpp>
#include <doctest/doctest.h>

#include <sys/stat.h>

#include <cstdio>

#include "sections.hpp"
#include "common/cli.hpp"
#include "helper/support.hpp"

using namespace hakit;
using hakit::test::TempDir;
using hakit::test::contains;

namespace {


// Runs fn with fd `fd` (1 or 2) redirected to a temp file; returns what was written.
template <typename Fn>
std::string capture_fd(int fd, Fn fn) {
  std::fflush(nullptr);
  char path[] = "/tmp/hakit-unit-capture-XXXXXX";
  int tmp = mkstemp(path);
  int saved = dup(fd);
  dup2(tmp, fd);
  fn();
  std::fflush(nullptr);
  dup2(saved, fd);
  close(saved);
  close(tmp);
  std::string out = hakit::test::slurp(path);
  unlink(path);
  return out;
}

struct Tool {
  cli::CommonOptions common;
  std::unique_ptr<CLI::App> app;
  std::string host;
  int port = 0;
  std::optional<Millis> timeout;
  std::optional<double> warning, critical;
  Tool() {
    app = cli::make_app("check_x", "A test tool", "  check_x -H db1\n", &common);
    cli::add_host(*app, &host, "Host");
    cli::add_port(*app, &port, "Port");
    cli::add_timeout(*app, &timeout, "Timeout");
    cli::add_thresholds(*app, &warning, &critical, "lag");
  }
  std::optional<int> parse(std::vector<std::string> args, std::string* err = nullptr) {
    std::optional<int> rc;
    std::string e = capture_fd(2, [&] { rc = cli::parse(*app, args); });
    if (err) *err = e;
    return rc;
  }
};

}  // namespace

TEST_CASE("cli: shared options parse to typed values") {
  unsetenv("HAKIT_CONFIG");
  Tool t;
  CHECK_FALSE(t.parse({"-H", "db1", "-P", "3307", "-t", "1500ms", "-w", "60", "-c", "300.5", "-vv",
                       "--config", "/tmp/h.yaml", "--check-config"}));
  CHECK(t.host == "db1");
  CHECK(t.port == 3307);
  CHECK(t.timeout == Millis(1500));
  CHECK(t.warning == 60);
  CHECK(t.critical == 300.5);
  CHECK(t.common.verbosity == 2);
  CHECK(t.common.config_path == "/tmp/h.yaml");
  CHECK(t.common.config_given);
  CHECK(t.common.check_config);
  CHECK(t.common.tool == "check_x");

  Tool l;
  CHECK_FALSE(l.parse({"--host", "db2", "--port", "1", "--timeout", "3", "--verbose"}));
  CHECK(l.host == "db2");
  CHECK(l.timeout == Millis(3000));  // a bare number is seconds
  CHECK(l.common.verbosity == 1);
  CHECK(l.common.config_path == "/etc/hakit/hakit.yaml");
  CHECK_FALSE(l.common.config_given);
}

TEST_CASE("cli: HAKIT_CONFIG names the config unless --config does") {
  setenv("HAKIT_CONFIG", "/tmp/env.yaml", 1);
  Tool t;
  CHECK_FALSE(t.parse({}));
  CHECK(t.common.config_path == "/tmp/env.yaml");
  CHECK(t.common.config_given);
  Tool u;
  CHECK_FALSE(u.parse({"--config", "/tmp/cli.yaml"}));
  CHECK(u.common.config_path == "/tmp/cli.yaml");
  unsetenv("HAKIT_CONFIG");
}

TEST_CASE("cli: every parse error exits 3 with exactly one line") {
  for (const auto& args : std::vector<std::vector<std::string>>{
           {"--no-such-option"},
           {"-P", "70000"},
           {"-P", "abc"},
           {"-t", "5 parsecs"},
           {"-t"},
           {"-w", "lots"},
           {"stray-positional"},
           {"-H"}}) {
    Tool t;
    std::string err;
    CAPTURE(args.front());
    CHECK(t.parse(args, &err) == 3);
    CHECK(std::count(err.begin(), err.end(), '\n') == 1);
    CHECK(err.rfind("check_x: ", 0) == 0);
    CHECK(contains(err, "(see check_x --help)"));
  }
  Tool t;
  std::string err;
  t.parse({"-t", "5x"}, &err);
  CHECK(contains(err, "unknown unit"));
}

TEST_CASE("cli: a throwing option callback is a usage error, not a crash") {
  Tool t;
  t.app->add_option_function<std::string>(
      "--boom", [](const std::string&) { throw std::runtime_error("bad\nvalue"); }, "x");
  std::string err;
  CHECK(t.parse({"--boom", "1"}, &err) == 3);
  CHECK(contains(err, "bad value"));
  CHECK(std::count(err.begin(), err.end(), '\n') == 1);
}

TEST_CASE("cli: --version and --help exit 0 on stdout, help has examples") {
  Tool t;
  std::optional<int> rc;
  std::string out = capture_fd(1, [&] { rc = cli::parse(*t.app, std::vector<std::string>{"--version"}); });
  CHECK(rc == 0);
  CHECK(out == std::string("check_x ") + HAKIT_VERSION + "\n");
  Tool h;
  out = capture_fd(1, [&] { rc = cli::parse(*h.app, std::vector<std::string>{"--help"}); });
  CHECK(rc == 0);
  CHECK(contains(out, "Examples:\n  check_x -H db1"));
  CHECK(contains(out, "-t,--timeout"));
  CHECK(contains(out, "--check-config"));
}

TEST_CASE("cli: load_config and --check-config") {
  unsetenv("HAKIT_CONFIG");
  TempDir dir;
  config::Document cfg;
  std::optional<int> rc;
  const auto& all = sections::all();

  SUBCASE("a missing default config is fine for ad-hoc checks, not when required") {
    Tool t;
    t.common.config_path = dir / "absent.yaml";
    CHECK_FALSE(cli::load_config(t.common, all, &cfg, false));
    std::string err = capture_fd(2, [&] { rc = cli::load_config(t.common, all, &cfg, true); });
    CHECK(rc == 3);
    CHECK(contains(err, "No such file"));
    CHECK(contains(err, "is not valid (1 problem)"));
  }
  SUBCASE("a named config must exist") {
    Tool t;
    REQUIRE_FALSE(t.parse({"--config", dir / "absent.yaml"}));
    capture_fd(2, [&] { rc = cli::load_config(t.common, all, &cfg, false); });
    CHECK(rc == 3);
  }
  SUBCASE("--check-config: OK on stdout, exit 0") {
    std::string p = dir.write("ok.yaml", "state_dir: /tmp/s\n", 0644);
    Tool t;
    REQUIRE_FALSE(t.parse({"--config", p, "--check-config"}));
    std::string out = capture_fd(1, [&] { rc = cli::load_config(t.common, all, &cfg, false); });
    CHECK(rc == 0);
    CHECK(out == "config OK: " + p + "\n");
  }
  SUBCASE("--check-config: every problem on stderr, exit 3") {
    std::string p = dir.write("bad.yaml", "stat_dir: /a\nlog: {level: loud}\n", 0644);
    Tool t;
    REQUIRE_FALSE(t.parse({"--config", p, "--check-config"}));
    std::string err = capture_fd(2, [&] { rc = cli::load_config(t.common, all, &cfg, false); });
    CHECK(rc == 3);
    CHECK(contains(err, p + ":1:1: stat_dir: unknown key (did you mean 'state_dir'?)"));
    CHECK(contains(err, p + ":2:14: log.level:"));
    CHECK(contains(err, "(2 problems)"));
  }
  SUBCASE("a valid config without --check-config lets the tool go on") {
    std::string p = dir.write("ok.yaml", "run_dir: /tmp/r\n", 0644);
    Tool t;
    REQUIRE_FALSE(t.parse({"--config", p}));
    CHECK_FALSE(cli::load_config(t.common, all, &cfg, true));
    CHECK(cfg.run_dir == "/tmp/r");
  }
  SUBCASE("a problem in another tool's section is a warning at run time, an error for --check-config") {
    std::string p = dir.write("typo.yaml",
                              "sync:\n  site1: {source: rsync://h/m, dest: /srv/s, afer: [/bin/true]}\n"
                              "sycn: {}\n",
                              0644);
    Tool t;
    REQUIRE_FALSE(t.parse({"--config", p}));
    CHECK_FALSE(cli::load_config(t.common, all, &cfg, true));
    REQUIRE(cfg.warnings.size() == 1);  // the unknown top-level key; sync: itself is not read
    CHECK(contains(cfg.warnings[0].render(), "sycn: unknown key (did you mean 'sync'?)"));
    Tool c;
    REQUIRE_FALSE(c.parse({"--config", p, "--check-config"}));
    std::string err = capture_fd(2, [&] { rc = cli::load_config(c.common, all, &cfg, false); });
    CHECK(rc == 3);
    CHECK(contains(err, "sync.site1.afer: unknown key (did you mean 'after'?)"));
    CHECK(contains(err, "(2 problems)"));
  }
  SUBCASE("--no-config reads nothing; a check prints its UNKNOWN line when it needs one") {
    std::string p = dir.write("bad.yaml", "::: not yaml\n", 0644);
    Tool t;
    REQUIRE_FALSE(t.parse({"--config", p, "--no-config"}));
    CHECK_FALSE(cli::load_config(t.common, all, &cfg, false));
    t.common.service = "HTTP";
    std::string out = capture_fd(1, [&] { rc = cli::load_config(t.common, all, &cfg, true); });
    CHECK(rc == 3);
    CHECK(out.rfind("HTTP UNKNOWN - --no-config, but this needs a config", 0) == 0);
  }
  SUBCASE("an unreadable config: UNKNOWN naming the file and the fix; ad hoc goes on without it") {
    std::string p = dir.write("private.yaml", "state_dir: /a\n", 0600);
    chmod(dir.path().c_str(), 0755);
    int code = hakit::test::run_as_uid(65534, [&] {
      Tool t;
      t.common.config_path = p;  // the default path, not named on the command line
      t.common.service = "HTTP";
      config::Document d;
      if (cli::load_config(t.common, all, &d, false)) return 1;  // ad hoc: goes on
      std::optional<int> r;
      std::string out = capture_fd(1, [&] { r = cli::load_config(t.common, all, &d, true); });
      if (r != 3) return 2;
      if (out.rfind("HTTP UNKNOWN - config " + p, 0) != 0) return 3;
      return contains(out, "chmod 0640") && contains(out, "Permission denied") ? 0 : 4;
    });
    CHECK(code == 0);
  }
}
