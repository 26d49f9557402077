// check_mysql_slave: command line and config, merged (command line wins).
#include <CLI/CLI.hpp>
#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "check_mysql_slave/check_mysql_slave.hpp"

namespace hakit::check_mysql {

namespace {

constexpr const char* kTool = "check_mysql_slave";

const char* kDescription =
    "Role-aware MySQL/MariaDB health for keepalived, operators and Nagios. Modes: replica "
    "(default: IO and SQL threads running, no replication error, lag within -w/-c; with --role "
    "auto a writable server without replication is a healthy master), master, galera (wsrep "
    "ready, connected, Synced, Primary, cluster size >= N) and freshness (a query's timestamp "
    "newer than --max-age). A maintenance file forces CRITICAL. Prints one Nagios line. Exit 0 "
    "OK, 1 WARNING (only with --warning-fails: by default a WARNING exits 0 so, say, a "
    "read-only master does not move a keepalived VIP), 2 CRITICAL, 3 UNKNOWN. A hung server "
    "costs exactly --timeout. The password comes only from --password-file or a MySQL option "
    "file (--defaults-file).";

const char* kExamples =
    "  check_mysql_slave --check replica                  # checks.replica in hakit.yaml\n"
    "  check_mysql_slave --check replica -t 1500ms -w 30 -c 120   # command line wins\n"
    "  check_mysql_slave -s /run/mysqld/mysqld.sock -u root       # replica or master, auto\n"
    "  check_mysql_slave -H 10.0.0.2 -u hakit --password-file /etc/hakit/mysql.pass -w 60 -c 300\n"
    "  check_mysql_slave --defaults-file /etc/hakit/peer.cnf --role replica --connection east\n"
    "  check_mysql_slave --mysql local --mode master      # this node must be a writable master\n"
    "  check_mysql_slave --mysql local --heartbeat-table percona.heartbeat -c 30   # pt-heartbeat\n"
    "  check_mysql_slave --mysql local --mode galera --min-cluster-size 3 [--allow-donor]\n"
    "  check_mysql_slave --mysql local --mode freshness --max-age 5m \\\n"
    "      --query 'SELECT last_update FROM nagios.programstatus'\n"
    "  check_mysql_slave --check replica --warning-fails  # Nagios/Icinga: WARNING exits 1\n"
    "  check_mysql_slave --check replica --io-thread-down warning --null-lag warning\n"
    "      # keepalived on the standby: a dead master (IO thread Connecting) must not fail it\n"
    "check_mysql command lines work as they are (docs/migrating-from-monitoring-plugins.md):\n"
    "  check_mysql_slave -H 192.0.2.12 -u nagios -f /etc/nagios/my.cnf -S -w 60 -c 300\n"
    "keepalived: vrrp_script chk_db { script \"/usr/libexec/hakit/check_mysql_slave --check "
    "replica\"; interval 2; timeout 3; fall 3; rise 2 }\n";

const std::vector<std::string> kStateNames{"ok", "warning", "critical", "unknown"};

constexpr const char* kMigration = "docs/migrating-from-monitoring-plugins.md";

/// check_mysql options with no place here: refused with the reason, never ignored.
void add_plugin_options(CLI::App& app) {
  app.add_option_function<std::string>(
         "-p,--password",
         [](const std::string& pw) {
           if (pw.empty()) return;  // check_mysql -p '': "no password"; hakit sends none then
           throw CLI::ValidationError(
               "--password",
               fmt::format(
                   "a password in argv is visible to every user (ps): put it in a MySQL "
                   "option file (-f/--defaults-file, mode 0600) or --password-file (see {})",
                   kMigration));
         },
         "Refused (visible in ps): use -f/--defaults-file or --password-file")
      ->type_name("PASSWORD");
  app.add_flag_callback(
         "-n,--ignore-auth",
         [] {
           throw CLI::ValidationError(
               "--ignore-auth",
               fmt::format("not supported: a server hakit cannot log in to cannot be judged; "
                           "give a user with SLAVE MONITOR (see {})",
                           kMigration));
         },
         "check_mysql option, refused")
      ->group("");
  app.add_option_function<std::string>(
         "-L,--ciphers",
         [](const std::string&) {
           throw CLI::ValidationError(
               "--ciphers",
               fmt::format("not supported: the connector's default TLS ciphers are used (see {})",
                           kMigration));
         },
         "check_mysql option, refused")
      ->group("");
}

CLI::Option* add_state(CLI::App& app, const std::string& names, State* out,
                       const std::string& help) {
  return app
      .add_option_function<std::string>(
          names, [out](const std::string& w) { *out = *config::state_from(w); }, help)
      ->type_name("STATE")
      ->transform(CLI::IsMember(kStateNames, CLI::ignore_case));
}

}  // namespace

std::unique_ptr<CLI::App> make_parser(Options* opts, cli::CommonOptions* common) {
  auto app = cli::make_app(kTool, kDescription, kExamples, common);
  auto& c = opts->check;
  auto& p = opts->profile;
  app->add_option("--check", opts->check_name,
                  "Use the checks: entry NAME (type: mysql) of the config")
      ->type_name("NAME");
  app->add_option("--mysql", opts->profile_name,
                  "Use the mysql: connection profile NAME (default: the check's, or 'local')")
      ->type_name("NAME");
  app->add_option_function<std::string>(
         "-m,--mode", [&c](const std::string& w) { c.mode = *config::check_mode_from(w); },
         "replica (default), master, galera or freshness")
      ->type_name("MODE")
      ->transform(CLI::IsMember({"replica", "master", "galera", "freshness"}));
  app->add_option_function<std::string>(
         "--role", [&c](const std::string& w) { c.role = *config::role_from(w); },
                  "replica|master|auto (default auto: replication configured = replica). A "
                  "read-only master or a writable replica is a WARNING")
      ->type_name("ROLE")
      ->transform(CLI::IsMember({"auto", "replica", "master"}));

  // Connection.
  app->add_option_function<std::string>(
         "-H,--host,--hostname",
         [&p](const std::string& h) {
           // check_mysql: an absolute path is the unix socket.
           if (!h.empty() && h.front() == '/') {
             p.socket = h;
             return;
           }
           p.host = h;
           p.host_given = true;  // even when equal to the default: beats --defaults-file
           p.socket.clear();  // a host on the command line means TCP, whatever the profile says
         },
         "Server host (default 127.0.0.1); an absolute path is a unix socket")
      ->type_name("HOST");
  cli::add_port(*app, &p.port, "Server port (default 3306)")->each([&p](const std::string&) {
    p.port_given = true;  // even when 3306: beats --defaults-file
  });
  app->add_option("-s,--socket", p.socket, "Unix socket instead of host/port")->type_name("PATH");
  app->add_option("-u,--user,--username", p.user, "User name")->type_name("USER");
  app->add_option("-d,--database", p.database, "Connect to this database (it must exist)")
      ->type_name("NAME");
  app->add_flag_callback(
      "-S,--check-slave", [&c] { c.role = config::Role::kReplica; },
      "This server must be a replica (check_mysql -S): --role replica");
  add_plugin_options(*app);
  app->add_option_function<std::string>(
         "--password-file", [opts](const std::string& f) { opts->password_file = f; },
         "Password: first line of this file (mode 0600, owned by root or you)")
      ->type_name("FILE");
  app->add_option_function<std::string>(
         "-f,--defaults-file,--file", [opts](const std::string& f) { opts->defaults_file = f; },
         "MySQL option file with user/password/host/port (mode 0600)")
      ->type_name("FILE");
  app->add_option("-g,--defaults-group,--group", p.defaults_group, "Group to read (default client)")
      ->type_name("GROUP");
  app->add_flag("-l,--tls,--ssl,!--no-tls", p.tls, "Require TLS");
  app->add_option("-C,--tls-ca,--ca-cert", p.tls_ca, "TLS: trust this CA file (turns TLS on)")
      ->type_name("FILE");
  app->add_option("-D,--tls-capath,--ca-dir", p.tls_capath, "TLS: directory of CA certificates")
      ->type_name("DIR");
  app->add_option("-a,--tls-cert,--cert", p.tls_cert, "TLS: client certificate")->type_name("FILE");
  app->add_option("-k,--tls-key,--key", p.tls_key, "TLS: client key (mode 0600)")
      ->type_name("FILE");
  app->add_flag_callback(
      "--tls-no-verify", [&p] { p.tls_verify_server_cert = false; },
      "TLS: do not verify the server certificate and host name");
  app->add_option_function<std::string>(
         "-t,--timeout",
         [&c](const std::string& text) {
           std::string err;
           auto v = parse_duration(text, &err);
           if (!v || v->count() == 0) throw CLI::ValidationError("--timeout", v ? "must be > 0" : err);
           c.timeout = *v;
         },
         "Whole check, hard: connect and every query (default 2s; bare number = s)")
      ->type_name("DURATION");

  // Replica.
  cli::add_duration(*app, "-w,--warning", &c.lag_warning,
                    "Replica: WARNING when the lag exceeds this (bare number = s)");
  cli::add_duration(*app, "-c,--critical", &c.lag_critical,
                    "Replica: CRITICAL when the lag exceeds this (bare number = s)");
  add_state(*app, "--null-lag", &c.null_lag,
            "Replica: state when the lag is NULL/unknown (default critical)");
  add_state(*app, "--io-thread-down", &c.io_thread_down,
            "Replica: state when the IO thread is not running, e.g. the master is down "
            "(default critical)");
  app->add_option("--connection", c.connection,
                  "Replica: MariaDB named connection (multi-source) or MySQL channel; default "
                  "all connections")
      ->type_name("NAME");
  app->add_option("--heartbeat-table", c.heartbeat_table,
                  "Replica: measure the lag from this pt-heartbeat table (db.table)")
      ->type_name("TABLE");
  app->add_option("--heartbeat-column", c.heartbeat_column,
                  "Replica: timestamp column of the heartbeat table (default ts)")
      ->type_name("COLUMN");
  app->add_option_function<long>(
         "--heartbeat-server-id", [&c](long id) { c.heartbeat_server_id = id; },
         "Replica: the primary's server_id row of the heartbeat table")
      ->type_name("ID")
      ->check(CLI::Range(0L, 4294967295L));
  app->add_flag("--heartbeat-utc,!--no-heartbeat-utc", c.heartbeat_utc,
                "Replica: the heartbeat is written in UTC (pt-heartbeat --utc)");

  // Galera.
  app->add_option("--min-cluster-size", c.min_cluster_size,
                  "Galera: CRITICAL when fewer nodes are in the cluster (default 1)")
      ->type_name("N")
      ->check(CLI::Range(1, 1000));
  app->add_flag("--allow-donor,!--no-allow-donor", c.allow_donor,
                "Galera: a Donor/Desynced node is healthy (clustercheck AVAILABLE_WHEN_DONOR)");

  // Freshness.
  app->add_option("-q,--query", c.query,
                  "Freshness: SQL returning a timestamp (DATETIME or epoch seconds); in the other "
                  "modes an extra check")
      ->type_name("SQL");
  cli::add_positive_duration(*app, "--max-age", &c.max_age,
             "Freshness: CRITICAL when the timestamp is older (default 5m)");
  app->add_option_function<std::string>(
         "--future-tolerance",
         [&c](const std::string& text) {
           std::string err;
           auto v = parse_duration(text, &err);
           if (!v) throw CLI::ValidationError("--future-tolerance", err);
           c.future_tolerance = *v;
         },
         "Freshness: WARNING when the timestamp is further in the future (clock skew or bad "
         "data; default 1m)")
      ->type_name("DURATION");

  app->add_option_function<std::string>(
         "--maintenance-file", [opts](const std::string& f) { opts->maintenance_file = f; },
         "CRITICAL while this file exists (default: the check's or config maintenance_file, "
         "else /etc/hakit/maintenance; '' disables)")
      ->type_name("FILE")
      ->multi_option_policy(CLI::MultiOptionPolicy::TakeLast);
  app->add_flag("--warning-fails,!--no-warning-fails", c.warning_fails,
                "WARNING exits 1 (Nagios convention; keepalived then counts it as a failure). "
                "Default: WARNING exits 0");
  return app;
}

bool resolve_options(const config::Document& doc, const std::vector<std::string>& args,
                     Options* opts, std::string* err) {
  Options merged;
  // Only this check's entry and its profile are read: a problem anywhere else in the shared
  // file is not ours.
  auto config_error = [&](const config::Diagnostics& diag) {
    for (const auto& d : diag.items()) spdlog::error("{}", d.render());
    *err = "config: " + diag.items().front().render();
    return false;
  };
  if (!opts->check_name.empty()) {
    if (!doc.entry("checks", opts->check_name).IsDefined()) {
      *err = config::missing_entry(doc, "mysql check", opts->check_name, doc.entry_names("checks"));
      return false;
    }
    config::Diagnostics diag(doc.where());
    if (!config::read_mysql_check(doc, opts->check_name, &merged.check, &diag))
      return config_error(diag);
  }
  // The profile: --mysql, else the check's; the default name 'local' may be absent (ad hoc).
  std::string profile = !opts->profile_name.empty() ? opts->profile_name
                        : !opts->check_name.empty()  ? merged.check.mysql
                                                     : "local";
  if (doc.entry("mysql", profile).IsDefined()) {
    config::Diagnostics diag(doc.where());
    if (!config::parse_entry(doc, "mysql", profile, config::parse_mysql_profile, &merged.profile,
                             &diag))
      return config_error(diag);
  } else if (!opts->profile_name.empty() || !opts->check_name.empty()) {
    *err = config::missing_entry(doc, "mysql profile", profile, doc.entry_names("mysql"));
    return false;
  }
  merged.check.mysql = profile;
  if (!merged.check.peer.empty()) {
    config::Diagnostics diag(doc.where());
    if (!config::parse_entry(doc, "mysql", merged.check.peer, config::parse_mysql_profile,
                             &merged.peer.emplace(), &diag))
      return config_error(diag);
  }
  if (!merged.check.instance.empty()) {
    config::Diagnostics diag(doc.where());
    merged.vip = config::read_instance_vip(doc, merged.check.instance, &diag);
    if (!diag.items().empty()) return config_error(diag);
  }
  merged.state_dir = doc.state_dir;
  merged.journal_path = doc.journal_path();
  merged.metrics_path = doc.metrics_path();
  if (!merged.check.instance.empty())
    merged.instance_state = doc.state_dir + "/notify." + merged.check.instance + ".json";
  // Apply the command line again on top: what was given there wins.
  cli::CommonOptions ignored;
  auto app = make_parser(&merged, &ignored);
  if (cli::parse(*app, args)) {
    *err = "bad command line";
    return false;
  }
  // check_mysql: a host (not a socket path) on the command line makes -s/--socket moot, in
  // whichever order they were given.
  if (const auto* h = app->get_option("--host");
      h->count() > 0 && !h->results().empty() && h->results().back().rfind('/', 0) != 0)
    merged.profile.socket.clear();
  if (merged.password_file) {
    merged.profile.password_file = *merged.password_file;
    merged.profile.defaults_file.clear();
  }
  if (merged.defaults_file) {
    merged.profile.defaults_file = *merged.defaults_file;
    merged.profile.password_file.clear();
  }
  if (!merged.maintenance_file)
    merged.maintenance_file = !merged.check.maintenance_file.empty()
                                  ? merged.check.maintenance_file
                                  : doc.maintenance_file;
  auto& c = merged.check;
  if (c.mode == config::CheckMode::kMaster && c.role == config::Role::kAuto)
    c.role = config::Role::kMaster;
  // The same rules as --check-config, now over the merged settings.
  std::string first;
  config::validate_mysql_check(c, [&](const std::string& key, const std::string& m) {
    if (first.empty()) first = key + ": " + m;
  });
  if (!first.empty()) {
    *err = first;
    return false;
  }
  if (!c.timeout) c.timeout = kDefaultTimeout;
  merged.check_name = opts->check_name;
  merged.profile_name = profile;
  *opts = std::move(merged);
  return true;
}

}  // namespace hakit::check_mysql
