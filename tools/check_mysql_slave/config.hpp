#pragma once
// checks: entries of `type: mysql`, owned by check_mysql_slave (connection profiles, shared
// with notify, are in common/mysql_profile.hpp).
#include <functional>
#include <optional>
#include <string>

#include "common/config.hpp"
#include "common/exit_codes.hpp"
#include "common/mysql_profile.hpp"
#include "common/units.hpp"
#include "common/yaml_reader.hpp"

namespace hakit::config {

/// What the check judges.
enum class CheckMode { kReplica, kMaster, kGalera, kFreshness, kGuard };
/// The role the node must have (auto: replication configured = replica).
enum class Role { kAuto, kReplica, kMaster };

/// The words operators write ("replica", "galera", "auto", ...).
const char* to_string(CheckMode v);
const char* to_string(Role v);
/// The word for a word; nullopt when it is not one.
std::optional<CheckMode> check_mode_from(const std::string& word);
std::optional<Role> role_from(const std::string& word);
/// "ok", "warning", "critical", "unknown" (any case) as a State; nullopt otherwise.
std::optional<State> state_from(const std::string& word);

/// One `checks:` entry with `type: mysql`.
struct MysqlCheckConfig {
  std::string mysql = "local";  ///< profile name
  CheckMode mode = CheckMode::kReplica;
  Role role = Role::kAuto;      ///< replica/master modes
  std::optional<Millis> timeout;            ///< whole check; default 2s
  std::optional<Millis> lag_warning;        ///< lag: {warning}
  std::optional<Millis> lag_critical;       ///< lag: {critical}
  State null_lag = State::kCritical;        ///< state when the lag is NULL (unknown)
  State io_thread_down = State::kCritical;  ///< state when the IO thread is not running
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
  std::string peer;                         ///< guard: the other node's profile
  std::string instance;                     ///< guard: the keepalived instance (its VIP)
  Millis peer_timeout{700};                 ///< guard: connect/read bound for the peer
};

/// Parses one mysql check entry (its `type` key included).
void parse_mysql_check(MapReader& entry, MysqlCheckConfig* out);

/// Everything about a mysql check that needs no server: thresholds in order, mode and role
/// that agree, the freshness query, heartbeat identifiers.
void validate_mysql_check(const MysqlCheckConfig& c,
                          const std::function<void(const std::string& key, const std::string& m)>& report);

/// Reads `checks.NAME` for check_mysql_slave: it must exist and be `type: mysql`. False with
/// the problems in `diag`.
bool read_mysql_check(const Document& doc, const std::string& name, MysqlCheckConfig* out,
                      Diagnostics* diag);

}  // namespace hakit::config
