// check_mysql_slave: command line and config, merged (command line wins).
#include <fmt/format.h>

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
    "  check_mysql_slave -S /run/mysqld/mysqld.sock -u root       # replica or master, auto\n"
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
    "keepalived: vrrp_script chk_db { script \"/usr/libexec/hakit/check_mysql_slave --check "
    "replica\"; interval 2; timeout 3; fall 3; rise 2 }\n";

const std::vector<std::string> kStateNames{"ok", "warning", "critical", "unknown"};

CLI::Option* add_state(CLI::App& app, const std::string& names, std::string* out,
                       const std::string& help) {
  return app.add_option(names, *out, help)
      ->type_name("STATE")
      ->transform(CLI::IsMember(kStateNames, CLI::ignore_case));
}

}  // namespace

State parse_state(const std::string& name) {
  if (name == "ok") return State::kOk;
  if (name == "warning") return State::kWarning;
  if (name == "unknown") return State::kUnknown;
  return State::kCritical;
}

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
  app->add_option("-m,--mode", c.mode, "replica (default), master, galera or freshness")
      ->type_name("MODE")
      ->transform(CLI::IsMember({"replica", "master", "galera", "freshness"}));
  app->add_option("--role", c.role,
                  "replica|master|auto (default auto: replication configured = replica). A "
                  "read-only master or a writable replica is a WARNING")
      ->type_name("ROLE")
      ->transform(CLI::IsMember({"auto", "replica", "master"}));

  // Connection.
  app->add_option_function<std::string>(
         "-H,--host",
         [&p](const std::string& h) {
           p.host = h;
           p.host_given = true;  // even when equal to the default: beats --defaults-file
           p.socket.clear();  // a host on the command line means TCP, whatever the profile says
         },
         "Server host (default 127.0.0.1)")
      ->type_name("HOST");
  cli::add_port(*app, &p.port, "Server port (default 3306)")->each([&p](const std::string&) {
    p.port_given = true;  // even when 3306: beats --defaults-file
  });
  app->add_option("-S,--socket", p.socket, "Unix socket instead of host/port")->type_name("PATH");
  app->add_option("-u,--user", p.user, "User name")->type_name("USER");
  app->add_option_function<std::string>(
         "--password-file", [opts](const std::string& f) { opts->password_file = f; },
         "Password: first line of this file (mode 0600, owned by root or you)")
      ->type_name("FILE");
  app->add_option_function<std::string>(
         "--defaults-file", [opts](const std::string& f) { opts->defaults_file = f; },
         "MySQL option file with user/password/host/port (mode 0600)")
      ->type_name("FILE");
  app->add_option("--defaults-group", p.defaults_group, "Group to read (default client)")
      ->type_name("GROUP");
  app->add_flag("--tls,!--no-tls", p.tls, "Require TLS");
  app->add_option("--tls-ca", p.tls_ca, "TLS: trust this CA file (turns TLS on)")
      ->type_name("FILE");
  app->add_option("--tls-capath", p.tls_capath, "TLS: directory of CA certificates")
      ->type_name("DIR");
  app->add_option("--tls-cert", p.tls_cert, "TLS: client certificate")->type_name("FILE");
  app->add_option("--tls-key", p.tls_key, "TLS: client key (mode 0600)")->type_name("FILE");
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
  app->add_option("-n,--min-cluster-size", c.min_cluster_size,
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

bool resolve_options(const config::Config& cfg, const std::vector<std::string>& args,
                     Options* opts, std::string* err) {
  const std::string where = cfg.path.empty() ? "the config" : cfg.path;
  Options merged;
  if (!opts->check_name.empty()) {
    auto it = cfg.mysql_checks.find(opts->check_name);
    if (it == cfg.mysql_checks.end()) {
      std::string known;
      for (const auto& [name, _] : cfg.mysql_checks) known += (known.empty() ? "" : ", ") + name;
      *err = fmt::format("no mysql check '{}' in {}{}", opts->check_name, where,
                         known.empty() ? "" : " (mysql checks: " + known + ")");
      return false;
    }
    merged.check = it->second;
  }
  // The profile: --mysql, else the check's; the default name 'local' may be absent (ad hoc).
  std::string profile = !opts->profile_name.empty() ? opts->profile_name
                        : !opts->check_name.empty()  ? merged.check.mysql
                                                     : "local";
  if (auto it = cfg.mysql.find(profile); it != cfg.mysql.end()) {
    merged.profile = it->second;
  } else if (!opts->profile_name.empty()) {
    *err = fmt::format("no mysql profile '{}' in {}", profile, where);
    return false;
  }
  merged.check.mysql = profile;
  // Apply the command line again on top: what was given there wins.
  cli::CommonOptions ignored;
  auto app = make_parser(&merged, &ignored);
  if (cli::parse(*app, args)) {
    *err = "bad command line";
    return false;
  }
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
                                  : cfg.maintenance_file;
  auto& c = merged.check;
  if (c.mode == "master") c.role = c.role == "auto" ? "master" : c.role;
  if (c.mode == "master" && c.role == "replica") {
    *err = "--mode master with --role replica contradicts itself";
    return false;
  }
  if (c.mode == "freshness" && c.query.empty()) {
    *err = "mode freshness needs --query (SQL returning a timestamp)";
    return false;
  }
  if (c.lag_warning && c.lag_critical && *c.lag_warning > *c.lag_critical) {
    *err = "the lag warning is above the lag critical";
    return false;
  }
  if (!c.heartbeat_table.empty() && (!mysql::is_identifier_path(c.heartbeat_table) ||
                                     !mysql::is_identifier_path(c.heartbeat_column))) {
    *err = fmt::format("heartbeat table '{}' / column '{}': only letters, digits, _ and $ "
                       "(db.table)",
                       c.heartbeat_table, c.heartbeat_column);
    return false;
  }
  if (!c.timeout) c.timeout = kDefaultTimeout;
  merged.check_name = opts->check_name;
  merged.profile_name = profile;
  *opts = std::move(merged);
  return true;
}

}  // namespace hakit::check_mysql
