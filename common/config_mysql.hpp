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
  std::string socket;
  std::string user;
  std::string password_file;   ///< secret file: first line is the password
  std::string defaults_file;   ///< MySQL option file (user/password/host/port)
  std::string defaults_group = "client";
  Millis connect_timeout{2000};
  Millis read_timeout{2000};
  Millis write_timeout{2000};
  // Owned by check_mysql_slave: TLS options etc.
};

/// One `checks:` entry with `type: mysql`.
struct MysqlCheckConfig {
  std::string mysql = "local";  ///< profile name
  std::string mode = "replica";
  // Owned by check_mysql_slave: role, lag thresholds, galera, freshness ...
};

void parse_mysql_profile(MapReader& entry, MysqlProfile* out);
void parse_mysql_check(MapReader& entry, MysqlCheckConfig* out);

}  // namespace hakit::config
