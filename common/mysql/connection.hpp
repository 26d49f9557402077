#pragma once
// RAII MariaDB Connector/C connection with hard timeouts. Passwords come from password_file
// or an option file (defaults_file); they never reach argv or logs.
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/config_mysql.hpp"

struct st_mysql;

namespace hakit::mysql {

/// One result row: column name → value (nullopt for SQL NULL).
using Row = std::map<std::string, std::optional<std::string>>;

/// Why a connection or query failed, in the operator's words.
struct Error {
  unsigned code = 0;         ///< server/client error number (1045 access denied, 2003 refused ...)
  std::string message;       ///< connector's message
  std::string explanation;   ///< hakit's reading: "access denied for user 'x'", "server hung" ...
  std::string describe() const;
};

class Connection {
 public:
  /// Connects with the profile's timeouts. `overall_timeout`, when set, caps connect, read and
  /// write timeouts so the whole exchange stays inside a check's --timeout.
  static std::unique_ptr<Connection> open(const config::MysqlProfile& profile, Error* err);
  ~Connection();
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  /// Runs a statement that returns rows.
  bool query(const std::string& sql, std::vector<Row>* rows, Error* err);
  /// Runs a statement and discards any result.
  bool exec(const std::string& sql, Error* err);
  /// First column of the first row ("SELECT @@read_only").
  std::optional<std::string> scalar(const std::string& sql, Error* err);

  std::string server_version() const;  ///< "10.11.19-MariaDB-0+deb12u1"
  bool is_mariadb() const;
  /// Numeric version: 101119 for 10.11.19.
  unsigned long version_number() const;

 private:
  explicit Connection(st_mysql* m) : m_(m) {}
  void fill_error(Error* err) const;
  st_mysql* m_;
};

}  // namespace hakit::mysql
