#pragma once
// The one hakit.yaml: typed structs with defaults, loaded and validated in one pass.
// Each section has its own header (config_*.hpp) and parser, owned by the tool that uses it;
// load_config() runs them all so any tool's --check-config validates the whole file.
#include <map>
#include <string>

#include "common/config_http.hpp"
#include "common/config_mysql.hpp"
#include "common/config_notify.hpp"
#include "common/config_sync.hpp"
#include "common/units.hpp"
#include "common/yaml_reader.hpp"

namespace hakit::config {

/// log: {level, syslog, file, format}
struct LogConfig {
  std::string level = "info";  ///< trace, debug, info, warning, error
  bool syslog = true;
  std::string file;            ///< empty: no file
  std::string format = "text"; ///< text or json
};

/// The whole configuration file.
struct Config {
  std::string path;  ///< where it was loaded from; "" for built-in defaults
  LogConfig log;
  std::string state_dir = "/var/lib/hakit";  ///< journal, failover flag, roles
  std::string run_dir = "/run/hakit";        ///< locks
  std::string metrics_dir;                   ///< Prometheus textfiles; "" = state_dir/metrics
  std::string maintenance_file = "/etc/hakit/maintenance";  ///< forces every check CRITICAL
  std::map<std::string, MysqlProfile> mysql;
  std::map<std::string, HttpCheckConfig> http_checks;
  std::map<std::string, MysqlCheckConfig> mysql_checks;
  std::map<std::string, Instance> instances;
  std::map<std::string, Notification> notifications;
  std::map<std::string, SyncJob> sync;

  std::string metrics_path() const { return metrics_dir.empty() ? state_dir + "/metrics" : metrics_dir; }
};

/// Largest config file accepted: a 50 MB file is a mistake, not a config.
inline constexpr std::uintmax_t kMaxConfigBytes = 4 * 1024 * 1024;

/// Loads and validates `path`. On failure returns false and fills `diag` with every problem.
/// Checks the file's ownership and permissions as well (see secrets.hpp).
bool load_config(const std::string& path, Config* out, Diagnostics* diag);

/// Parses config text that was already read (used by load_config, tests and the fuzzer).
bool parse_config(const std::string& text, Config* out, Diagnostics* diag);

}  // namespace hakit::config
