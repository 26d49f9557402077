#pragma once
// The replication statements a server understands, from its flavour and version: MariaDB
// keeps SLAVE/MASTER (as hakit always spoke it); MySQL 8.0.22+ speaks REPLICA, 8.0.23+
// CHANGE REPLICATION SOURCE TO, 8.2+ SHOW BINARY LOG STATUS, and 8.4 removed the old words.
#include <string>

namespace hakit::notify {

class Db;

/// One server's replication dialect.
struct Dialect {
  bool mariadb = true;
  unsigned long version = 0;  ///< major*10000 + minor*100 + patch: 8.0.30 → 80030, 10.11.6 → 101106
  bool no_backslash_escapes = false;  ///< the session's sql_mode (literals are quoted for it)

  /// From SELECT VERSION() and @@version_comment ("8.4.3", "MySQL Community Server - GPL").
  static Dialect from_version(const std::string& version, const std::string& comment);
  /// Asks the server (SELECT VERSION(), @@version_comment); falls back to the connector's
  /// flavour with version 0 (the old statements) when the answer is unusable.
  static Dialect detect(Db& db);

  /// MySQL 8.0.22+: STOP/START/RESET REPLICA, SHOW REPLICA STATUS.
  bool replica_words() const { return !mariadb && version >= 80022; }
  /// MySQL 8.0.23+: CHANGE REPLICATION SOURCE TO with SOURCE_* options.
  bool source_words() const { return !mariadb && version >= 80023; }

  /// An SQL string literal right under this session's sql_mode.
  std::string quote(const std::string& s) const;
  /// "MariaDB 10.11.6" / "MySQL 8.4.3" for the journal.
  std::string name() const;
  /// SHOW SLAVE|REPLICA STATUS of the connection/channel.
  std::string status(const std::string& connection) const;
  /// STOP SLAVE|REPLICA [IO_THREAD|SQL_THREAD] (`thread` "" for both).
  std::string stop(const std::string& connection, const std::string& thread = "") const;
  /// START SLAVE|REPLICA [IO_THREAD|SQL_THREAD].
  std::string start(const std::string& connection, const std::string& thread = "") const;
  /// RESET SLAVE|REPLICA ALL.
  std::string reset_all(const std::string& connection) const;
  /// An option name of CHANGE ... TO: "MASTER_DELAY", or "SOURCE_DELAY" on MySQL 8.0.23+
  /// (`suffix` "DELAY", "HOST", "PORT", "USER", "PASSWORD", "AUTO_POSITION").
  std::string option(const std::string& suffix) const;
  /// CHANGE MASTER|REPLICATION SOURCE TO `options` (named with option()).
  std::string change_source(const std::string& connection, const std::string& options) const;
  /// Options re-pointing this node at a new source with GTID auto-positioning.
  std::string source_options(const std::string& host, const std::string& port,
                             const std::string& user, const std::string& password_sql) const;
  /// SHOW MASTER STATUS, or SHOW BINARY LOG STATUS on MySQL 8.2+.
  std::string binlog_status() const;
  /// MASTER_POS_WAIT, or SOURCE_POS_WAIT on MySQL 8.0.26+.
  std::string pos_wait_function() const;
};

}  // namespace hakit::notify
