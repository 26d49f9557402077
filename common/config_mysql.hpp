#pragma once
// mysql: connection profiles, and checks: entries of `type: mysql` (check_mysql_slave).
#include <optional>
#include <string>

#include "common/units.hpp"
#include "common/yaml_reader.hpp"

namespace hakit::config {

/// A named MySQL/MariaDB connection profile (`mysql: {local: {...}}`).
struct MysqlProfile {
  std::string host = "127.0.0.1";
  int port = 3306;
  bool host_given = false;  ///< host set by the config or the command line (beats defaults_file)
  bool port_given = false;  ///< port set by the config or the command line (beats defaults_file)
  std::string socket;
  std::string user;
  std::string password_file;   ///< secret file: first line is the password
  std::string defaults_file;   ///< MySQL option file (user/password/host/port)
  std::string defaults_group = "client";
  Millis connect_timeout{2000};
  Millis read_timeout{2000};
  Millis write_timeout{2000};
  bool tls = false;                     ///< require TLS (refuse an unencrypted connection)
  std::string tls_ca;                   ///< CA file; setting any tls_* file turns TLS on
  std::string tls_capath;               ///< directory of CA certificates
  std::string tls_cert;                 ///< client certificate
  std::string tls_key;                  ///< client key (a secret file: 0600)
  bool tls_verify_server_cert = true;   ///< check the server certificate and host name

  /// True when any TLS option is set.
  bool wants_tls() const {
    return tls || !tls_ca.empty() || !tls_capath.empty() || !tls_cert.empty();
  }
};

/// One `checks:` entry with `type: mysql`.
struct MysqlCheckConfig {
  std::string mysql = "local";  ///< profile name
  std::string mode = "replica"; ///< replica, master, galera, freshness
  std::string role = "auto";    ///< auto, replica, master (replica/master modes)
  std::optional<Millis> timeout;            ///< whole check; default 2s
  std::optional<Millis> lag_warning;        ///< lag: {warning}
  std::optional<Millis> lag_critical;       ///< lag: {critical}
  std::string null_lag = "critical";        ///< state when the lag is NULL (unknown)
  std::string io_thread_down = "critical";  ///< state when the IO thread is not running
  std::string connection;                   ///< MariaDB named connection / MySQL channel
  std::string heartbeat_table;              ///< pt-heartbeat table ("percona.heartbeat")
  std::string heartbeat_column = "ts";
  std::optional<long> heartbeat_server_id;  ///< the primary's server_id row
  bool heartbeat_utc = false;               ///< pt-heartbeat --utc
  int min_cluster_size = 1;                 ///< galera
  bool allow_donor = false;                 ///< galera: Donor/Desynced counts as healthy
  std::string query;                        ///< freshness: SQL returning a timestamp
  Millis max_age{300'000};                  ///< freshness
  Millis future_tolerance{60'000};          ///< freshness: a newer timestamp is reported
  std::string maintenance_file;             ///< overrides the top-level maintenance_file
  bool warning_fails = false;               ///< WARNING exits 1 (fails keepalived); default 0
};

void parse_mysql_profile(MapReader& entry, MysqlProfile* out);
void parse_mysql_check(MapReader& entry, MysqlCheckConfig* out);

}  // namespace hakit::config
