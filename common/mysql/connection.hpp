#pragma once
// RAII MariaDB Connector/C connection with hard timeouts. Passwords come from password_file
// or an option file (defaults_file); they never reach argv or logs.
//
// Connector/C's own timeouts are whole seconds, and a hung server (SIGSTOP: the kernel still
// accepts, nobody answers) would hold a check for the rounded-up value. So every exchange runs
// through the non-blocking API and hakit waits on the socket itself, with millisecond
// timeouts: connect_timeout per connect, read/write_timeout per wait, and an optional overall
// deadline that bounds everything (a check's --timeout).
#include <chrono>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/mysql_profile.hpp"

struct st_mysql;
struct st_mysql_res;

namespace hakit::mysql {

/// One result row: column name → value (nullopt for SQL NULL).
using Row = std::map<std::string, std::optional<std::string>>;

/// Why a connection or query failed, in the operator's words.
struct Error {
  unsigned code = 0;         ///< server/client error number (1045 access denied, 2003 refused ...)
  std::string message;       ///< connector's message
  std::string explanation;   ///< hakit's reading: "access denied for user 'x'", "server hung" ...
  bool timed_out = false;    ///< hakit's own timeout or deadline expired (the server is silent)
  bool deadline = false;     ///< ... and it was the overall deadline (a check's --timeout)
  std::string describe() const;
};

/// Clock of the overall deadline.
using Clock = std::chrono::steady_clock;

/// Where a profile connects. With a defaults_file, host and port come from the file unless
/// the profile (config key or command line) gives them, even with the default values.
struct ConnectTarget {
  std::optional<std::string> host;  ///< nullopt: the defaults file's (or the connector's)
  unsigned port = 0;                ///< 0: the defaults file's (or 3306)
};

/// The host and port a profile asks for; see ConnectTarget.
ConnectTarget connect_target(const config::MysqlProfile& profile);

/// Initialises the connector once per process. Connector/C's implicit initialisation in the
/// first mysql_init() is not thread-safe: a process that opens connections from several
/// threads (hakitd) calls this first.
void library_init();

class Connection {
 public:
  /// Connects with the profile's timeouts (millisecond precision).
  static std::unique_ptr<Connection> open(const config::MysqlProfile& profile, Error* err);
  /// The same, and nothing (connect, every later query) outlives `deadline`: a check's
  /// --timeout. On expiry the operation fails with Error::timed_out set.
  static std::unique_ptr<Connection> open(const config::MysqlProfile& profile,
                                          Clock::time_point deadline, Error* err);
  ~Connection();
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  /// Runs a statement that returns rows.
  bool query(const std::string& sql, std::vector<Row>* rows, Error* err);
  /// Runs a statement that returns rows, keeping the column order (SHOW ... STATUS, \G style).
  bool query_ordered(const std::string& sql, std::vector<std::string>* columns,
                     std::vector<std::vector<std::optional<std::string>>>* rows, Error* err);
  /// Runs a statement and discards any result.
  bool exec(const std::string& sql, Error* err);
  /// First column of the first row ("SELECT @@read_only").
  std::optional<std::string> scalar(const std::string& sql, Error* err);

  std::string server_version() const;  ///< "10.11.19-MariaDB-0+deb12u1"
  bool is_mariadb() const;
  /// Numeric version: 101119 for 10.11.19.
  unsigned long version_number() const;
  /// Sets or clears the overall deadline for later operations.
  void set_deadline(std::optional<Clock::time_point> deadline) { deadline_ = deadline; }
  /// The TLS cipher in use, or "" when the connection is not encrypted.
  std::string tls_cipher() const;
  /// The session's sql_mode has NO_BACKSLASH_ESCAPES (as the server last reported it).
  bool no_backslash_escapes() const;
  /// `s` as an SQL string literal that is right under this session's sql_mode.
  std::string quote(const std::string& s) const;

 private:
  explicit Connection(st_mysql* m) : m_(m) {}
  static std::unique_ptr<Connection> open_impl(const config::MysqlProfile& profile,
                                               std::optional<Clock::time_point> deadline,
                                               Error* err);
  bool run(const std::string& sql, Error* err);
  st_mysql_res* store(Error* err, bool* failed);
  void drain();
  void fill_error(Error* err) const;
  /// Drives one non-blocking operation to its end: waits on the socket for `status`, at most
  /// `wait_limit` per wait and never past the deadline. Returns false when hakit's own limit
  /// expired (the operation was then failed inside the connector, so the handle stays usable).
  template <typename Cont>
  bool drive(int status, Millis wait_limit, Cont cont);
  st_mysql* m_;
  std::optional<Clock::time_point> deadline_;
  Clock::time_point start_;
  Millis connect_timeout_{0}, read_timeout_{0};
  bool timed_out_ = false;
  bool deadline_hit_ = false;
  Millis timeout_hit_{0};  ///< the limit that expired, for the message
};

}  // namespace hakit::mysql
