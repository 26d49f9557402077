// The config loader and MapReader: every error at once with file:line:column and key path,
// did-you-mean, wrong types, ranges, and the nasty files (tabs, duplicates, 50 MB, NUL bytes,
// unreadable, symlinks, FIFOs, loose permissions, recursive aliases).
#include <doctest/doctest.h>
#include <sys/stat.h>

#include <chrono>

#include "check_http_200/config.hpp"
#include "check_mysql_slave/config.hpp"
#include "common/config.hpp"
#include "sections.hpp"
#include "helper/support.hpp"

using namespace hakit;
using namespace hakit::config;
using hakit::test::TempDir;
using hakit::test::contains;

namespace {


// Parses text and validates every section (what --check-config does); returns the rendered
// diagnostics ("" when valid).
bool parse_all(const std::string& text, Document* doc, Diagnostics* diag) {
  bool ok = parse_document(text, doc, diag);
  return validate_all(*doc, sections::all(), diag) && ok;
}

std::string problems(const std::string& text, Document* doc = nullptr) {
  Document local;
  Diagnostics diag("t.yaml");
  bool ok = parse_all(text, doc ? doc : &local, &diag);
  CHECK(ok == diag.ok());
  return diag.render();
}

std::string load_problems(const std::string& path, Document* doc = nullptr) {
  Document local;
  Document* d = doc ? doc : &local;
  Diagnostics diag(path);
  bool ok = load_document(path, d, &diag);
  if (d->root.IsDefined()) ok = validate_all(*d, sections::all(), &diag) && ok;
  CHECK(ok == diag.ok());
  return diag.render();
}

}  // namespace

TEST_CASE("config: a valid file fills typed structs, defaults stay") {
  Document cfg;
  std::string text =
      "log: {level: debug, format: json}\n"
      "state_dir: /tmp/st\n"
      "mysql:\n"
      "  local: {host: 127.0.0.1, port: 3307, user: hakit, connect_timeout: 250ms}\n"
      "checks:\n"
      "  site: {type: http, url: 'http://127.0.0.1/', timeout: 2s}\n"
      "  replica: {type: mysql, mysql: local}\n";
  CHECK(problems(text, &cfg) == "");
  CHECK(cfg.log.level == "debug");
  CHECK(cfg.log.format == "json");
  CHECK(cfg.log.syslog);  // default kept
  CHECK(cfg.state_dir == "/tmp/st");
  CHECK(cfg.run_dir == "/run/hakit");
  CHECK(cfg.metrics_path() == "/tmp/st/metrics");
  Diagnostics diag("t.yaml");
  MysqlProfile local;
  REQUIRE(parse_entry(cfg, "mysql", "local", parse_mysql_profile, &local, &diag));
  CHECK(local.port == 3307);
  CHECK(local.connect_timeout == Millis(250));
  HttpCheckConfig site;
  REQUIRE(read_http_check(cfg, "site", &site, &diag));
  CHECK(site.timeout == Millis(2000));
  MysqlCheckConfig replica;
  CHECK(read_mysql_check(cfg, "replica", &replica, &diag));
  CHECK(diag.ok());
}

TEST_CASE("config: an empty file means all defaults") {
  Document cfg;
  CHECK(problems("", &cfg) == "");
  CHECK(problems("# only a comment\n", &cfg) == "");
  CHECK(cfg.state_dir == "/var/lib/hakit");
}

TEST_CASE("config: every problem is reported at once with position and key path") {
  std::string text =
      "log:\n"
      "  levle: debug\n"              // 2: unknown key, did you mean level
      "  syslog: maybe\n"             // 3: not a boolean
      "state_dir: relative/dir\n"     // 4: must be absolute
      "mysql:\n"
      "  local:\n"
      "    port: 99999\n"             // 7: out of range
      "    connect_timeout: 5 parsecs\n"  // 8: bad duration
      "    host: [a, b]\n"            // 9: wrong type
      "instancse: {}\n";              // 10: unknown top-level key
  Diagnostics diag("/etc/hakit/hakit.yaml");
  Document cfg;
  CHECK_FALSE(parse_all(text, &cfg, &diag));
  INFO(diag.render());
  REQUIRE(diag.items().size() == 7);
  std::string out = diag.render();
  CHECK(contains(out, "/etc/hakit/hakit.yaml:2:3: log.levle: unknown key (did you mean 'level'?)"));
  CHECK(contains(out, "/etc/hakit/hakit.yaml:3:11: log.syslog: 'maybe' is not a boolean"));
  CHECK(contains(out, ":4:12: state_dir: must be an absolute path"));
  CHECK(contains(out, ":7:11: mysql.local.port: 99999 is out of range (1 to 65535)"));
  CHECK(contains(out, ":8:22: mysql.local.connect_timeout: '5 parsecs' has an unknown unit"));
  CHECK(contains(out, ":9:11: mysql.local.host: must be a single value"));
  CHECK(contains(out, ":10:1: instancse: unknown key (did you mean 'instances'?)"));
  // Rendered in file order, one line each.
  CHECK(out.find(":2:3:") < out.find(":3:11:"));
  CHECK(out.find(":9:11:") < out.find(":10:1:"));
  CHECK(std::count(out.begin(), out.end(), '\n') == 7);
}

TEST_CASE("config: malformed YAML is one syntax error with a position") {
  std::string out = problems("log:\n  level: info\n  syslog: true: false\n");
  CHECK(contains(out, "t.yaml:3:"));
  CHECK(contains(out, "YAML syntax error"));
  out = problems("checks: [a, b\n");
  CHECK(contains(out, "YAML syntax error"));
  out = problems("log: {level: info\n");
  CHECK(contains(out, "YAML syntax error"));
  out = problems("a: \"unterminated");
  CHECK(contains(out, "t.yaml:1:17: YAML syntax error: illegal EOF in scalar"));
  out = problems("log:\n  level: info\n syslog: true\n");  // bad indentation
  CHECK(contains(out, "t.yaml:3:2: YAML syntax error"));
}

TEST_CASE("config: a tab in the indentation is named as the cause") {
  std::string out = problems("log:\n\tlevel: info\n");
  CHECK(contains(out, "t.yaml:2:"));
  CHECK(contains(out, "tab"));
}

TEST_CASE("config: duplicate keys are errors, also nested") {
  std::string out = problems("state_dir: /a\nrun_dir: /r\nstate_dir: /b\n");
  CHECK(contains(out, "t.yaml:3:1: state_dir: duplicate key"));
  out = problems("mysql:\n  local: {host: a, host: b}\n");
  CHECK(contains(out, "mysql.local.host: duplicate key"));
}

TEST_CASE("config: wrong types are reported, not thrown") {
  CHECK(contains(problems("log: 5\n"), "log: must be a mapping"));
  CHECK(contains(problems("- a\n- b\n"), "must be a mapping"));
  CHECK(contains(problems("just a scalar\n"), "must be a mapping"));
  CHECK(contains(problems("mysql: [a, b]\n"), "mysql: must be a mapping of named entries"));
  CHECK(contains(problems("mysql: {local: 5}\n"), "mysql.local: must be a mapping"));
  CHECK(contains(problems("state_dir: {a: b}\n"), "state_dir: must be a single value"));
  CHECK(contains(problems("mysql: {local: {port: abc}}\n"), "'abc' is not a whole number"));
  CHECK(contains(problems("mysql: {local: {port: 3306.5}}\n"), "not a whole number"));
  CHECK(contains(problems("log: {format: yaml}\n"), "'yaml' is not one of: json, text"));
  CHECK(contains(problems("log: {level: warn}\n"), "did you mean 'warning'?"));
  CHECK(contains(problems("? [a, b]\n: c\n"), "a key must be a plain value"));
  CHECK(contains(problems("mysql: {? [x]\n : {host: a}}\n"), "must be a plain value"));
}

TEST_CASE("config: references between sections must resolve") {
  std::string out = problems("checks:\n  r: {type: mysql, mysql: nosuch}\n");
  CHECK(contains(out, "t.yaml:2:27: checks.r.mysql: no mysql profile named 'nosuch'"));
  CHECK(contains(problems("checks:\n  r: {url: x}\n"), "checks.r.type: missing"));
}

TEST_CASE("config: recursive and exploding aliases are refused, not followed") {
  CHECK(contains(problems("a: &a [*a]\n"), "nested deeper than"));
  std::string laughs = "a: &a [x, x, x, x, x, x, x, x, x, x]\n";
  std::string prev = "a";
  for (char c = 'b'; c <= 'j'; ++c) {
    std::string name(1, c);
    laughs += name + ": &" + name + " [";
    for (int i = 0; i < 10; ++i) laughs += (i ? ", *" : "*") + prev;
    laughs += "]\n";
    prev = name;
  }
  auto start = std::chrono::steady_clock::now();
  CHECK(contains(problems(laughs), "expands to more than"));
  // Not a timing contract: only that the walk stopped instead of visiting 10^10 nodes.
  CHECK(std::chrono::steady_clock::now() - start < std::chrono::seconds(20));
  // Ordinary aliases are fine.
  CHECK(problems("mysql:\n  a: &p {host: h, port: 3307}\n  b: *p\n") == "");
}

TEST_CASE("config: more than one YAML document is refused") {
  CHECK(contains(problems("state_dir: /a\n---\nstate_dir: /b\n"),
                 "t.yaml:2:1: more than one YAML document"));
  CHECK(problems("# header\n---\nstate_dir: /a\n...\n") == "");  // markers around one document
  CHECK(problems("~\n") == "");
}

TEST_CASE("config: inputs the fuzzer found (yaml-cpp 0.7 LoadAll looped forever on these)") {
  // A stray flow ',' at the top: yaml-cpp reads it as nothing; it is an error, and it returns.
  CHECK(contains(problems(", a: 1\n"), "t.yaml:1:1: YAML syntax error"));
  CHECK(contains(problems(",x"), "YAML syntax error"));
  CHECK(contains(problems("# c\n  ,\n"), "t.yaml:2:1: YAML syntax error"));
  CHECK(contains(problems(",de.fau: *'\x9c\xf5\xdf\x5fpath\x9a\xf0= *\x9c" "d\n"), "YAML syntax error"));
}

TEST_CASE("config: diagnostics beyond the cap are counted, not printed") {
  std::string text;
  for (int i = 0; i < 150; ++i) text += "unknown_" + std::to_string(i) + ": 1\n";
  Diagnostics diag("t.yaml");
  Document cfg;
  CHECK_FALSE(parse_all(text, &cfg, &diag));
  CHECK(diag.items().size() == 150);
  std::string out = diag.render();
  CHECK(std::count(out.begin(), out.end(), '\n') == Diagnostics::kMaxRendered + 1);
  CHECK(contains(out, "and 50 more problems"));
}

TEST_CASE("config: load_config reads a file and checks it") {
  TempDir dir;
  std::string good = dir.write("hakit.yaml", "state_dir: /tmp/x\n", 0644);
  Document cfg;
  CHECK(load_problems(good, &cfg) == "");
  CHECK(cfg.path == good);
  CHECK(cfg.state_dir == "/tmp/x");

  SUBCASE("missing file") {
    CHECK(contains(load_problems(dir / "nope.yaml"), "cannot open the config: No such file"));
  }
  SUBCASE("a directory") {
    CHECK(contains(load_problems(dir.path()), "not a regular file"));
  }
  SUBCASE("a FIFO does not hang the loader") {
    std::string fifo = dir / "fifo.yaml";
    REQUIRE(mkfifo(fifo.c_str(), 0600) == 0);
    CHECK(contains(load_problems(fifo), "not a regular file"));
  }
  SUBCASE("a 50 MB file is refused without being read") {
    std::string big = dir / "big.yaml";
    int fd = open(big.c_str(), O_WRONLY | O_CREAT, 0600);
    REQUIRE(fd >= 0);
    REQUIRE(ftruncate(fd, 50LL * 1024 * 1024) == 0);  // sparse: reading it would take a while
    close(fd);
    CHECK(contains(load_problems(big), "bytes; a config larger than"));
  }
  SUBCASE("NUL bytes are refused with their position") {
    std::string p = dir.write("nul.yaml", std::string("state_dir: /a\nrun_dir: /b\0c\n", 27), 0600);
    CHECK(contains(load_problems(p), "nul.yaml:2:12: file contains NUL bytes"));
  }
  SUBCASE("group- or world-writable config is refused with the fix") {
    std::string p = dir.write("w.yaml", "state_dir: /a\n", 0666);
    std::string out = load_problems(p);
    CHECK(contains(out, "has mode 0666"));
    CHECK(contains(out, "(fix: chmod go-w " + p + ")"));
    chmod(p.c_str(), 0620);
    CHECK(contains(load_problems(p), "has mode 0620"));
  }
  SUBCASE("a config holding a secret inline must not be readable by others") {
    std::string p = dir.write("s.yaml", "notifications:\n  ops: {webhook: {token: abc}}\n", 0644);
    std::string out = load_problems(p);
    CHECK(contains(out, "holds a secret inline"));
    CHECK(contains(out, "chmod 600"));
    chmod(p.c_str(), 0600);
    CHECK_FALSE(contains(load_problems(p), "holds a secret inline"));
    // A reference to a secret file is not a secret.
    std::string pw = dir.write("p", "secret\n", 0600);
    std::string q = dir.write("q.yaml", "mysql:\n  l: {password_file: " + pw + "}\n", 0644);
    CHECK(load_problems(q) == "");
  }
  SUBCASE("permission problems are reported together with content problems") {
    std::string p = dir.write("both.yaml", "stat_dir: /a\n", 0666);
    std::string out = load_problems(p);
    CHECK(std::count(out.begin(), out.end(), '\n') == 2);
  }
  SUBCASE("owned by another user is refused with the fix") {
    std::string p = dir.write("o.yaml", "state_dir: /a\n", 0644);
    REQUIRE(chown(p.c_str(), 4321, 4321) == 0);
    std::string out = load_problems(p);
    CHECK(contains(out, "owned by uid 4321"));
    CHECK(contains(out, "fix: chown root:root " + p));
  }
  SUBCASE("unreadable for the user who runs the tool") {
    std::string p = dir.write("private.yaml", "state_dir: /a\n", 0600);
    chmod(dir.path().c_str(), 0755);
    int rc = hakit::test::run_as_uid(65534, [&] {
      Document c;
      Diagnostics diag(p);
      if (load_document(p, &c, &diag)) return 1;
      return contains(diag.render(), "Permission denied") ? 0 : 2;
    });
    CHECK(rc == 0);
  }
  SUBCASE("symlinks: followed when root owns them, refused when someone else does") {
    std::string link = dir / "link.yaml";
    REQUIRE(symlink(good.c_str(), link.c_str()) == 0);
    CHECK(load_problems(link) == "");
    std::string chain = dir / "chain.yaml";
    REQUIRE(symlink("link.yaml", chain.c_str()) == 0);  // relative target
    CHECK(load_problems(chain) == "");
    REQUIRE(lchown(link.c_str(), 4321, 4321) == 0);
    CHECK(contains(load_problems(link), "the symlink " + link + " is owned by uid 4321"));
    // The second link of a chain counts too.
    CHECK(contains(load_problems(chain), "is owned by uid 4321"));
    std::string dangling = dir / "dangling.yaml";
    REQUIRE(symlink("/nonexistent/hakit.yaml", dangling.c_str()) == 0);
    CHECK(contains(load_problems(dangling), "No such file"));
    std::string loop = dir / "loop.yaml";
    REQUIRE(symlink("loop.yaml", loop.c_str()) == 0);
    CHECK(contains(load_problems(loop), "too many levels of symbolic links"));
  }
}

TEST_CASE("yaml reader: getters, ranges and suggestions") {
  Diagnostics diag("t.yaml");
  YAML::Node root = parse_yaml(
      "b1: TRUE\nb2: off\nb3: 1\nn: 2.5\nnan: nan\ni: '+7'\nbig: 99999999999999999999\n"
      "d: 1500ms\nd2: 3\nsz: 10MB\nlist: [a, b]\none: a\nnested: [[x]]\nm: {x: 1}\n",
      diag);
  REQUIRE(diag.ok());
  MapReader r(root, "top", diag);
  CHECK(r.boolean("b1") == true);
  CHECK(r.boolean("b2") == false);
  CHECK_FALSE(r.boolean("b3"));
  CHECK(r.number("n", 0, 10) == doctest::Approx(2.5));
  CHECK_FALSE(r.number("nan", 0, 10));
  CHECK(r.integer("i", 0, 10) == 7);
  CHECK_FALSE(r.integer("big", 0, 10));
  CHECK(r.duration("d", Millis(0), Millis(10000)) == Millis(1500));
  CHECK(r.duration("d2", Millis(0), Millis(10000)) == Millis(3000));
  CHECK(r.size("sz") == 10u * 1024 * 1024);
  CHECK(r.strings("list") == std::vector<std::string>{"a", "b"});
  CHECK(r.strings("one") == std::vector<std::string>{"a"});
  CHECK(r.strings("nested").empty());
  CHECK(r.integer("absent", 42, 0, 100) == 42);
  CHECK_FALSE(r.has("absent"));
  auto m = r.map("m");
  REQUIRE(m);
  CHECK(m->path() == "top.m");
  CHECK(m->integer("x", 0, 0, 5) == 1);
  m->finish();
  r.finish();
  std::string out = diag.render();
  CHECK(contains(out, "top.b3: '1' is not a boolean"));
  CHECK(contains(out, "top.nan: nan is out of range"));
  CHECK(contains(out, "top.big:"));
  CHECK(contains(out, "top.nested[0]: must be a single value"));
  CHECK(diag.items().size() == 4);
}

TEST_CASE("yaml reader: did-you-mean only when close") {
  CHECK(closest("promte", {"promote", "demote", "min_interval"}) == "promote");
  CHECK(closest("timout", {"timeout", "retries"}) == "timeout");
  CHECK(closest("zzzzzz", {"timeout", "retries"}) == "");
  CHECK(closest("x", {}) == "");
}

TEST_CASE("yaml reader: named entries need plain names; finish reports unasked keys") {
  Diagnostics diag("t.yaml");
  YAML::Node root = parse_yaml("jobs:\n  '': {a: 1}\n  ok: {a: 1, b: 2}\n", diag);
  REQUIRE(diag.ok());
  MapReader r(root, "", diag);
  int seen = 0;
  r.each_entry("jobs", [&](const std::string& name, MapReader& e) {
    CHECK(name == "ok");
    CHECK(e.integer("a", 0, 0, 5) == 1);
    e.finish();
    ++seen;
  });
  r.finish();
  CHECK(seen == 1);
  std::string out = diag.render();
  CHECK(contains(out, "jobs: an entry needs a plain, non-empty name"));
  CHECK(contains(out, "t.yaml:3:14: jobs.ok.b: unknown key"));
}
