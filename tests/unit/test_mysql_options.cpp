// check_mysql_slave: command line over config, fed as argv vectors (no process spawned).
#include <CLI/CLI.hpp>
#include <doctest/doctest.h>

#include <sys/stat.h>
#include <unistd.h>

#include <fstream>

#include "check_mysql_slave/check_mysql_slave.hpp"
#include "helper/config_doc.hpp"
#include "common/mysql/connection.hpp"

using namespace hakit;

namespace {

// The secret files the profiles name must exist with safe permissions: the config is
// refused at load time otherwise.
std::string secrets_dir() {
  static const std::string dir = [] {
    std::string d = "/tmp/hakit-unit-secrets-" + std::to_string(getpid());
    mkdir(d.c_str(), 0700);
    for (const char* f : {"mysql.pass", "peer.cnf"}) {
      std::string p = d + "/" + f;
      std::ofstream(p) << "[client]\n";
      chmod(p.c_str(), 0600);
    }
    return d;
  }();
  return dir;
}

std::string with_secrets(std::string yaml) {
  for (const char* f : {"/etc/hakit/mysql.pass", "/etc/hakit/peer.cnf"})
    for (auto at = yaml.find(f); at != std::string::npos; at = yaml.find(f))
      yaml.replace(at, std::string("/etc/hakit").size(), secrets_dir());
  return yaml;
}

config::Document load(const std::string& yaml) {
  config::Document cfg;
  std::string problems;
  bool ok = hakit::test::make_doc(with_secrets(yaml), &cfg, &problems);
  INFO(problems);
  REQUIRE(ok);
  return cfg;
}

// Parses like main() does; returns the parse exit code when the parser stops.
std::optional<int> resolve(const config::Document& cfg, std::vector<std::string> args,
                           check_mysql::Options* opts, std::string* err) {
  cli::CommonOptions common;
  auto app = check_mysql::make_parser(opts, &common);
  if (auto code = cli::parse(*app, args)) return code;
  if (!check_mysql::resolve_options(cfg, args, opts, err)) return 3;
  return std::nullopt;
}

const char* kYaml = R"(
maintenance_file: /run/hakit/maint
mysql:
  local: {host: 127.0.0.1, port: 3307, user: hakit, password_file: /etc/hakit/mysql.pass,
          connect_timeout: 700ms}
  peer: {host: 192.0.2.12, defaults_file: /etc/hakit/peer.cnf, tls_ca: /etc/hakit/ca.pem}
checks:
  replica: {type: mysql, mysql: local, lag: {warning: 60s, critical: 5m}, timeout: 1500ms,
            null_lag: warning, io_thread_down: warning, connection: east}
  cluster: {type: mysql, mysql: peer, mode: galera, min_cluster_size: 3, allow_donor: true,
            warning_fails: true, maintenance_file: /etc/hakit/cluster.maint}
  app: {type: mysql, mode: freshness, query: "SELECT last_update FROM nagios.programstatus",
        max_age: 2m}
)";

}  // namespace

TEST_CASE("check_mysql_slave options: config entry, then the command line on top") {
  auto cfg = load(kYaml);
  check_mysql::Options o;
  std::string err;
  REQUIRE_FALSE(resolve(cfg, {"--check", "replica"}, &o, &err));
  CHECK(o.profile.port == 3307);
  CHECK(o.profile.password_file == secrets_dir() + "/mysql.pass");
  CHECK(o.profile.connect_timeout == Millis(700));
  CHECK(o.check.lag_warning == Millis(60000));
  CHECK(o.check.lag_critical == Millis(300000));
  CHECK(o.check.timeout == Millis(1500));
  CHECK(o.check.null_lag == State::kWarning);
  CHECK(o.check.connection == "east");
  CHECK(o.maintenance_file == "/run/hakit/maint");
  CHECK_FALSE(o.check.warning_fails);

  check_mysql::Options o2;
  REQUIRE_FALSE(resolve(cfg, {"--check", "replica", "-w", "30", "-c", "2m", "-t", "800ms", "-P",
                              "3310", "--warning-fails", "--maintenance-file", ""},
                        &o2, &err));
  CHECK(o2.check.lag_warning == Millis(30000));
  CHECK(o2.check.lag_critical == Millis(120000));
  CHECK(o2.check.timeout == Millis(800));
  CHECK(o2.profile.port == 3310);
  CHECK(o2.profile.user == "hakit");  // untouched profile values stay
  CHECK(o2.check.warning_fails);
  CHECK(o2.maintenance_file == "");
}

TEST_CASE("check_mysql_slave options: galera and freshness entries, credentials") {
  auto cfg = load(kYaml);
  check_mysql::Options o;
  std::string err;
  REQUIRE_FALSE(resolve(cfg, {"--check", "cluster"}, &o, &err));
  CHECK(o.check.mode == config::CheckMode::kGalera);
  CHECK(o.check.min_cluster_size == 3);
  CHECK(o.check.allow_donor);
  CHECK(o.check.warning_fails);
  CHECK(o.profile.defaults_file == secrets_dir() + "/peer.cnf");
  CHECK(o.profile.wants_tls());
  CHECK(o.maintenance_file == "/etc/hakit/cluster.maint");
  CHECK(o.check.timeout == check_mysql::kDefaultTimeout);

  // A password file on the command line replaces the profile's option file.
  check_mysql::Options o2;
  REQUIRE_FALSE(
      resolve(cfg, {"--check", "cluster", "--password-file", "/tmp/pw", "--min-cluster-size", "2"},
              &o2, &err));
  CHECK(o2.profile.password_file == "/tmp/pw");
  CHECK(o2.profile.defaults_file.empty());
  CHECK(o2.check.min_cluster_size == 2);

  check_mysql::Options o3;
  REQUIRE_FALSE(resolve(cfg, {"--check", "app"}, &o3, &err));
  CHECK(o3.check.mode == config::CheckMode::kFreshness);
  CHECK(o3.check.max_age == Millis(120000));
  CHECK(o3.profile.user == "hakit");  // the default profile 'local'
}

TEST_CASE("check_mysql_slave options: ad hoc, no config") {
  config::Document none;
  check_mysql::Options o;
  std::string err;
  REQUIRE_FALSE(
      resolve(none, {"-s", "/run/mysqld/mysqld.sock", "-u", "root", "--mode", "master"}, &o, &err));
  CHECK(o.profile.socket == "/run/mysqld/mysqld.sock");
  CHECK(o.check.role == config::Role::kMaster);
  CHECK(o.maintenance_file == "/etc/hakit/maintenance");

  check_mysql::Options o2;
  REQUIRE_FALSE(resolve(none, {"-H", "db2", "--io-thread-down", "WARNING"}, &o2, &err));
  CHECK(o2.profile.host == "db2");
  CHECK(o2.check.io_thread_down == State::kWarning);
  CHECK(o2.profile.host_given);
  CHECK_FALSE(o2.profile.port_given);
}

TEST_CASE("check_mysql_slave options: -H/-P equal to the defaults still beat --defaults-file") {
  config::Document none;
  check_mysql::Options o;
  std::string err;
  REQUIRE_FALSE(resolve(
      none, {"--defaults-file", "/etc/hakit/peer.cnf", "-H", "127.0.0.1", "-P", "3306"}, &o, &err));
  CHECK(o.profile.defaults_file == "/etc/hakit/peer.cnf");
  CHECK(o.profile.host_given);
  CHECK(o.profile.port_given);
  auto t = mysql::connect_target(o.profile);
  CHECK(t.host == "127.0.0.1");
  CHECK(t.port == 3306u);
  // Without -H/-P the option file decides.
  check_mysql::Options o2;
  REQUIRE_FALSE(resolve(none, {"--defaults-file", "/etc/hakit/peer.cnf"}, &o2, &err));
  CHECK_FALSE(mysql::connect_target(o2.profile).host.has_value());
  // A profile's host: key counts as given too.
  auto cfg = load("mysql:\n  p: {host: 127.0.0.1, defaults_file: /etc/hakit/peer.cnf}\n");
  config::MysqlProfile p;
  config::Diagnostics diag("t.yaml");
  REQUIRE(config::parse_entry(cfg, "mysql", "p", config::parse_mysql_profile, &p, &diag));
  CHECK(p.host_given);
  CHECK_FALSE(p.port_given);
  // Freshness tolerance from the command line.
  check_mysql::Options o3;
  REQUIRE_FALSE(resolve(
      none, {"--mode", "freshness", "-q", "SELECT 1", "--future-tolerance", "10s"}, &o3, &err));
  CHECK(o3.check.future_tolerance == Millis(10000));
}

TEST_CASE("check_mysql_slave options: errors are UNKNOWN with a reason") {
  auto cfg = load(kYaml);
  std::string err;
  check_mysql::Options a;
  CHECK(resolve(cfg, {"--check", "nosuch"}, &a, &err) == 3);
  CHECK(err.find("no mysql check 'nosuch'") != std::string::npos);
  CHECK(err.find("replica") != std::string::npos);  // lists the known ones
  check_mysql::Options b;
  CHECK(resolve(cfg, {"--mysql", "nosuch"}, &b, &err) == 3);
  CHECK(err.find("no mysql profile 'nosuch'") != std::string::npos);
  check_mysql::Options c;
  CHECK(resolve(cfg, {"--mode", "freshness"}, &c, &err) == 3);
  CHECK(err.find("--query") != std::string::npos);
  check_mysql::Options d;
  CHECK(resolve(cfg, {"-w", "10", "-c", "5"}, &d, &err) == 3);
  check_mysql::Options e;
  CHECK(resolve(cfg, {"--heartbeat-table", "x; DROP TABLE y"}, &e, &err) == 3);
  check_mysql::Options f;
  CHECK(resolve(cfg, {"--mode", "nosuch"}, &f, &err) == 3);
  check_mysql::Options g;
  CHECK(resolve(cfg, {"--null-lag", "maybe"}, &g, &err) == 3);
}

TEST_CASE("check_mysql_slave config: mysql entries are validated") {
  config::Document cfg;
  std::string all;
  CHECK_FALSE(hakit::test::make_doc(R"(
mysql:
  local: {host: 127.0.0.1, password: secret, tls_key: relative.pem}
checks:
  r: {type: mysql, mode: freshness, lag: {warning: 5m, critical: 1m}, null_lagg: ok}
)",
                                   &cfg, &all));
  CHECK(all.find("passwords are not accepted inline") != std::string::npos);
  CHECK(all.find("must be an absolute path") != std::string::npos);
  CHECK(all.find("needs a query") != std::string::npos);
  CHECK(all.find("lag warning is above the lag critical") != std::string::npos);
  CHECK(all.find("null_lag") != std::string::npos);  // did you mean
}

TEST_CASE("check_mysql_slave: maintenance file forces CRITICAL without connecting") {
  CHECK_FALSE(hakit::maintenance_result(""));
  CHECK_FALSE(hakit::maintenance_result("/nonexistent/hakit/maint"));
  check_mysql::Options o;
  o.maintenance_file = "/proc/self/status";  // exists everywhere; first line says why
  o.profile.port = 1;  // nothing listens there: the check must not even try
  auto r = check_mysql::run(o);
  CHECK(r.state == State::kCritical);
  CHECK(r.summary.find("maintenance: /proc/self/status exists") != std::string::npos);
}

TEST_CASE("check_mysql spellings: a check_mysql command line means the same here") {
  config::Document none;
  std::string err;
  check_mysql::Options o;
  REQUIRE_FALSE(
      resolve(none,
              {"-H", "192.0.2.12", "-P", "3307", "-u", "nagios", "-f", "/etc/nagios/my.cnf", "-g",
               "nagios", "-S", "-w", "60", "-c", "300", "-d", "mysql"},
              &o, &err));
  CHECK(o.profile.host == "192.0.2.12");
  CHECK(o.profile.port == 3307);
  CHECK(o.profile.user == "nagios");
  CHECK(o.profile.defaults_file == "/etc/nagios/my.cnf");
  CHECK(o.profile.defaults_group == "nagios");
  CHECK(o.profile.database == "mysql");
  CHECK(o.check.role == config::Role::kReplica);  // -S: check the replica
  CHECK(o.check.mode == config::CheckMode::kReplica);
  CHECK(o.check.lag_warning == Millis(60000));
  CHECK(o.check.lag_critical == Millis(300000));

  // -H with an absolute path is the socket; -s names it as well.
  check_mysql::Options s;
  REQUIRE_FALSE(resolve(none, {"-H", "/run/mysqld/mysqld.sock", "-u", "root"}, &s, &err));
  CHECK(s.profile.socket == "/run/mysqld/mysqld.sock");
  check_mysql::Options s2;
  REQUIRE_FALSE(resolve(none,
                        {"--socket", "/tmp/m.sock", "--hostname", "localhost", "--username", "u",
                         "--file", "/f.cnf", "--group", "g", "--check-slave"},
                        &s2, &err));
  CHECK(s2.profile.socket.empty());  // check_mysql: the socket has no effect with -H
  CHECK(s2.profile.host == "localhost");
  CHECK(s2.profile.defaults_group == "g");
  CHECK(s2.check.role == config::Role::kReplica);

  check_mysql::Options t;
  REQUIRE_FALSE(resolve(none, {"-l", "-C", "/ca.pem", "-a", "/c.pem", "-k", "/k.pem", "-D", "/cas"},
                        &t, &err));
  CHECK(t.profile.tls);
  CHECK(t.profile.tls_ca == "/ca.pem");
  CHECK(t.profile.tls_cert == "/c.pem");
  CHECK(t.profile.tls_key == "/k.pem");
  CHECK(t.profile.tls_capath == "/cas");

  // Without -S the role stays auto (a writable master passes), as documented.
  check_mysql::Options m;
  REQUIRE_FALSE(resolve(none, {"-H", "db"}, &m, &err));
  CHECK(m.check.role == config::Role::kAuto);
  check_mysql::Options e;
  REQUIRE_FALSE(resolve(none, {"-H", "db", "-p", ""}, &e, &err));  // check_mysql's "no password"
}

TEST_CASE("check_mysql spellings: a password in argv and unsupported options are refused") {
  config::Document none;
  std::string err;
  for (std::vector<std::string> bad : {std::vector<std::string>{"-H", "db", "-p", "s3cret"},
                                       {"--password=s3cret"},
                                       {"-n"},
                                       {"-L", "AES256-SHA"},
                                       {"-S", "/run/mysqld/mysqld.sock"}}) {
    check_mysql::Options o;
    cli::CommonOptions common;
    auto app = check_mysql::make_parser(&o, &common);
    std::string what;
    try {
      app->parse(std::vector<std::string>(bad.rbegin(), bad.rend()));
    } catch (const std::exception& ex) {
      what = ex.what();
    }
    INFO(bad.front());
    CHECK_FALSE(what.empty());
    CHECK(what.find("s3cret") == std::string::npos);
    if (bad.front() == "-p") CHECK(what.find("--defaults-file") != std::string::npos);
  }
}
