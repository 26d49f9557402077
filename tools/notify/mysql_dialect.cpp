#include "notify/mysql_dialect.hpp"

#include <fmt/format.h>

#include <cstdio>

#include "common/mysql/status.hpp"
#include "notify/mysql_state.hpp"
#include "notify/ports.hpp"

namespace hakit::notify {

namespace {

bool contains_mariadb(std::string s) {
  for (auto& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s.find("mariadb") != std::string::npos;
}

}  // namespace

Dialect Dialect::from_version(const std::string& version, const std::string& comment) {
  Dialect d;
  d.mariadb = contains_mariadb(version) || contains_mariadb(comment);
  unsigned long major = 0, minor = 0, patch = 0;
  if (std::sscanf(version.c_str(), "%lu.%lu.%lu", &major, &minor, &patch) >= 2)
    d.version = major * 10000 + minor * 100 + patch;
  return d;
}

Dialect Dialect::detect(Db& db) {
  std::vector<mysql::Row> rows;
  std::string err;
  if (db.query("SELECT VERSION() AS version, @@version_comment AS comment", &rows, &err) &&
      !rows.empty()) {
    Dialect d = from_version(field(rows[0], "version"), field(rows[0], "comment"));
    // The connection knows its sql_mode: a backslash it does not double is not an escape.
    d.no_backslash_escapes = db.quote("\\") == "'\\'";
    if (d.version) return d;
  }
  Dialect d;
  d.mariadb = db.is_mariadb();
  d.no_backslash_escapes = db.quote("\\") == "'\\'";
  return d;
}

std::string Dialect::quote(const std::string& s) const {
  return mysql::sql_quote(s, no_backslash_escapes);
}

std::string Dialect::name() const {
  return fmt::format("{} {}.{}.{}", mariadb ? "MariaDB" : "MySQL", version / 10000,
                     version / 100 % 100, version % 100);
}

namespace {

/// MariaDB names the connection after the keyword; MySQL names the channel at the end.
std::string statement(const Dialect& d, const std::string& head, const std::string& connection,
                      const std::string& tail) {
  if (connection.empty()) return head + (tail.empty() ? "" : " " + tail);
  if (d.mariadb)
    return fmt::format("{} {}{}", head, d.quote(connection), tail.empty() ? "" : " " + tail);
  return fmt::format("{}{} FOR CHANNEL {}", head, tail.empty() ? "" : " " + tail,
                     d.quote(connection));
}

}  // namespace

std::string Dialect::status(const std::string& connection) const {
  if (mariadb) return statement(*this, "SHOW SLAVE", connection, "STATUS");
  return statement(*this, replica_words() ? "SHOW REPLICA STATUS" : "SHOW SLAVE STATUS", connection,
                   "");
}

std::string Dialect::stop(const std::string& connection, const std::string& thread) const {
  return statement(*this, replica_words() ? "STOP REPLICA" : "STOP SLAVE", connection, thread);
}

std::string Dialect::start(const std::string& connection, const std::string& thread) const {
  return statement(*this, replica_words() ? "START REPLICA" : "START SLAVE", connection, thread);
}

std::string Dialect::reset_all(const std::string& connection) const {
  return statement(*this, replica_words() ? "RESET REPLICA" : "RESET SLAVE", connection, "ALL");
}

std::string Dialect::option(const std::string& suffix) const {
  return (source_words() ? "SOURCE_" : "MASTER_") + suffix;
}

std::string Dialect::change_source(const std::string& connection,
                                   const std::string& options) const {
  if (mariadb) return statement(*this, "CHANGE MASTER", connection, "TO " + options);
  const std::string head = source_words() ? "CHANGE REPLICATION SOURCE TO " : "CHANGE MASTER TO ";
  return statement(*this, head + options, connection, "");
}

std::string Dialect::source_options(const std::string& host, const std::string& port,
                                    const std::string& user,
                                    const std::string& password_sql) const {
  return fmt::format("{}={}, {}={}, {}={}, {}={}, {}", option("HOST"), quote(host),
                     option("PORT"), port, option("USER"), quote(user), option("PASSWORD"),
                     password_sql,
                     mariadb ? "MASTER_USE_GTID=current_pos" : option("AUTO_POSITION") + "=1");
}

std::string Dialect::binlog_status() const {
  return !mariadb && version >= 80200 ? "SHOW BINARY LOG STATUS" : "SHOW MASTER STATUS";
}

std::string Dialect::pos_wait_function() const {
  return !mariadb && version >= 80026 ? "SOURCE_POS_WAIT" : "MASTER_POS_WAIT";
}

}  // namespace hakit::notify
