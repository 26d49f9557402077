#pragma once
// Reading what a server says about replication and Galera, independent of the connection so
// unit tests feed fake rows: SHOW SLAVE/REPLICA STATUS in both spellings (Slave_/Master_ and
// Replica_/Source_), MariaDB named connections and MySQL channels, SHOW STATUS LIKE 'wsrep%',
// and timestamps for freshness and heartbeat checks.
#include <optional>
#include <string>
#include <vector>

#include "common/mysql/connection.hpp"

namespace hakit::mysql {

/// Which replication-status statement a server understands.
/// MariaDB >= 10.5.1 and MySQL >= 8.0.22 speak REPLICA; older ones only SLAVE. On MariaDB
/// without a connection name, ALL ... STATUS lists every named connection (multi-source).
/// A name selects one MariaDB connection, or one MySQL channel (FOR CHANNEL).
/// `no_backslash_escapes`: the session's sql_mode has NO_BACKSLASH_ESCAPES (see sql_quote).
std::string replica_status_sql(bool mariadb, unsigned long version,
                               const std::string& connection_name, bool no_backslash_escapes);

/// Quotes a string as an SQL literal for a session with or without NO_BACKSLASH_ESCAPES in
/// its sql_mode ('it''s' with it, 'it\\'s' and \\\\, \\0 ... without), as
/// mysql_real_escape_string does. Connection::quote() knows the session's mode.
std::string sql_quote(const std::string& s, bool no_backslash_escapes);

/// One replication connection: a row of SHOW SLAVE/REPLICA STATUS in either spelling.
struct ReplicaStatus {
  std::string connection_name;  ///< MariaDB Connection_name / MySQL Channel_Name ("" = default)
  std::string source_host;
  int source_port = 0;
  std::string io_running;   ///< "Yes", "No", "Connecting", "Preparing"
  std::string sql_running;  ///< "Yes", "No"
  std::string io_state;     ///< Slave_IO_State: what the IO thread is doing
  unsigned io_errno = 0;
  std::string io_error;
  unsigned sql_errno = 0;
  std::string sql_error;
  std::optional<long long> seconds_behind;  ///< nullopt for NULL (lag unknown)
  long long sql_delay = 0;                   ///< MASTER_DELAY / SOURCE_DELAY seconds
  std::string using_gtid;                    ///< MariaDB: No, Slave_Pos, Current_Pos
  std::string gtid_io_pos;                   ///< MariaDB Gtid_IO_Pos (MySQL: Retrieved_Gtid_Set)
  std::string sql_running_state;  ///< Slave_SQL_Running_State / Replica_SQL_Running_State
  std::string source_log_file;    ///< Master_Log_File / Source_Log_File: the IO thread's file
  unsigned long long read_source_log_pos = 0;  ///< Read_Master_Log_Pos / Read_Source_Log_Pos
  std::string relay_source_log_file;           ///< Relay_Master_Log_File / Relay_Source_Log_File
  unsigned long long exec_source_log_pos = 0;  ///< Exec_Master_Log_Pos / Exec_Source_Log_Pos
  std::string relay_log_file;                  ///< Relay_Log_File: where the SQL thread reads
  unsigned long long relay_log_pos = 0;        ///< Relay_Log_Pos
  std::string retrieved_gtid_set;              ///< MySQL Retrieved_Gtid_Set ("" on MariaDB)
  std::string executed_gtid_set;               ///< MySQL Executed_Gtid_Set ("" on MariaDB)
  bool auto_position = false;                  ///< MySQL Auto_Position = 1 (GTID auto-positioning)

  bool io_ok() const { return io_running == "Yes"; }
  bool sql_ok() const { return sql_running == "Yes"; }
  /// "'name' " for a named connection, "" for the default one (message prefix).
  std::string label() const;
};

/// Reads one status row. Fails (with *err) when the thread columns are missing in both
/// spellings: the row is not replication status.
bool parse_replica_status(const Row& row, ReplicaStatus* out, std::string* err);

/// Galera node state from SHOW GLOBAL STATUS LIKE 'wsrep%'.
struct GaleraStatus {
  bool provider = false;            ///< a Galera provider is loaded (wsrep_provider_name set)
  std::string provider_name;        ///< wsrep_provider_name: "Galera"
  std::string ready;                ///< wsrep_ready: ON/OFF
  std::string connected;            ///< wsrep_connected: ON/OFF
  std::optional<int> local_state;   ///< wsrep_local_state: 1 Joining, 2 Donor, 3 Joined, 4 Synced
  std::string local_state_comment;  ///< wsrep_local_state_comment: "Synced", "Donor/Desynced"
  std::string cluster_status;       ///< wsrep_cluster_status: Primary, non-Primary, Disconnected
  std::optional<int> cluster_size;  ///< wsrep_cluster_size
};

/// Galera local states (wsrep_local_state).
enum GaleraState { kJoining = 1, kDonor = 2, kJoined = 3, kSynced = 4 };

/// Reads Variable_name/Value rows (any case of the column names).
GaleraStatus parse_galera_status(const std::vector<Row>& rows);

/// A point in time from an SQL value: "2026-11-22 03:00:00[.ffffff]", "2026-11-22T03:00:00Z"
/// (pt-heartbeat), a DATE, or seconds since the epoch ("1763780400", "1763780400.25").
struct Timestamp {
  double seconds = 0;  ///< civil times count as if UTC; epochs are true UTC
  bool epoch = false;  ///< the value was a number of seconds since 1970
};
std::optional<Timestamp> parse_timestamp(const std::string& text, std::string* err);

}  // namespace hakit::mysql
