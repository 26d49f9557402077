#pragma once
// mysql: named connection profiles. Shared by the tools that speak MySQL (check_mysql_slave,
// notify_master/notify_backup); pure parsing, so it lives in hakit_common and every tool's
// --check-config can validate it without linking the MySQL client.
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
  std::string password_file;  ///< secret file: first line is the password
  std::string defaults_file;  ///< MySQL option file (user/password/host/port)
  std::string defaults_group = "client";
  std::string database;  ///< database to connect to ("" = none; check_mysql -d)
  Millis connect_timeout{2000};
  Millis read_timeout{2000};
  Millis write_timeout{2000};
  bool tls = false;                    ///< require TLS (refuse an unencrypted connection)
  std::string tls_ca;                  ///< CA file; setting any tls_* file turns TLS on
  std::string tls_capath;              ///< directory of CA certificates
  std::string tls_cert;                ///< client certificate
  std::string tls_key;                 ///< client key (a secret file: 0600)
  bool tls_verify_server_cert = true;  ///< check the server certificate and host name

  /// True when any TLS option is set.
  bool wants_tls() const {
    return tls || !tls_ca.empty() || !tls_capath.empty() || !tls_cert.empty();
  }
};

/// Reads one `mysql:` entry; every problem goes to the reader's diagnostics.
void parse_mysql_profile(MapReader& entry, MysqlProfile* out);

}  // namespace hakit::config

namespace hakit::mysql {

/// True when `name` is a safe SQL identifier path ("percona.heartbeat", "ts"): letters,
/// digits, '_' and '$', dot-separated. Such names are interpolated into SQL, so nothing else.
bool is_identifier_path(const std::string& name);

}  // namespace hakit::mysql
