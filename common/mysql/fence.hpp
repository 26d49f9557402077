#pragma once
// Partition safety records kept in each server's own `hakit` schema, written with
// sql_log_bin=0 so that they never replicate and never count as transactions (a fence mark
// written on the old master must not become an errant GTID there):
//   hakit.fence      "this server was fenced (set read-only) by NODE at T, at GTID G", or
//                    "this server holds errant transactions": it must not take the VIP
//                    while the node that fenced it is the writable master.
//   hakit.promotion  when this server was last made writable by a promotion: after a
//                    partition heals, the newer promotion is the master with the newest
//                    acknowledged writes.
// Both notify (over its Db port) and check_mysql_slave (over a Connection) use them, so the
// SQL goes through a small session interface.
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "common/mysql/connection.hpp"

namespace hakit::mysql {

/// The statements the records need of one server session.
struct Session {
  std::function<bool(const std::string& sql, std::vector<Row>* rows, std::string* err)> query;
  std::function<bool(const std::string& sql, std::string* err)> exec;
  std::function<std::string(const std::string& text)> quote;  ///< SQL string literal
  bool mariadb = true;
};

/// A Session over a Connection.
Session session_of(Connection& conn);

/// One row of hakit.fence that is not cleared.
struct FenceMark {
  std::int64_t id = 0;
  std::string at;            ///< UTC, "2026-11-25 17:40:01.123456"
  std::string by;            ///< the node that fenced (its host name), or this node
  std::string by_address;    ///< its address as this server saw it, when known
  std::string gtid;          ///< this server's GTID position when it was fenced
  std::string reason;        ///< "fenced" or "errant"
  std::string detail;        ///< errant GTID ranges, the fencer's promotion ...
  bool errant() const { return reason == "errant"; }
};

/// One row of hakit.promotion.
struct Promotion {
  std::string at;            ///< UTC
  std::int64_t epoch_us = 0; ///< the server's clock: orders promotions of two nodes
  std::string host;          ///< the node promoted
  std::string gtid;          ///< its GTID position when it became writable
};

/// Records a fence mark on the session's server (sql_log_bin=0; creates the schema).
bool write_fence_mark(Session& s, const FenceMark& mark, std::string* err);
/// The mark that matters most: errant transactions first, else the newest not cleared;
/// nullopt when none (or the schema does not exist yet).
bool read_fence_mark(Session& s, std::optional<FenceMark>* out, std::string* err);
/// Clears every mark (kept as history with cleared_at and the reason). Returns the number.
int clear_fence_marks(Session& s, const std::string& why, std::string* err);

/// Records a promotion of the session's server (sql_log_bin=0).
bool write_promotion(Session& s, const std::string& host, const std::string& gtid,
                     std::string* err);
/// The newest promotion record; nullopt when none.
bool read_last_promotion(Session& s, std::optional<Promotion>* out, std::string* err);

/// The server's GTID position as one string: MariaDB gtid_binlog_state (every domain-server
/// pair), MySQL gtid_executed.
std::string gtid_position(Session& s);

/// One domain-server-seq triple of a MariaDB GTID list.
struct MariaGtid {
  std::uint32_t domain = 0;
  std::uint32_t server = 0;
  std::uint64_t seq = 0;
};
/// Parses "0-101-5,1-102-7" (spaces and newlines allowed); malformed items are skipped.
std::vector<MariaGtid> parse_maria_gtids(const std::string& text);

/// MariaDB: the transactions in `local` (gtid_binlog_state of the node that lost) that the
/// winner does not have: ranges "D-S-A..B" (or "D-S-1..B" when the winner never saw server
/// S in domain D). `winner` is everything the winner has: its gtid_binlog_state and
/// gtid_slave_pos, comma-joined. Empty: the loser's history is a prefix of the winner's and
/// it can replicate from it.
std::vector<std::string> errant_maria(const std::string& local, const std::string& winner);

/// The errant transactions of this session's server against `winner_position` (the winner's
/// gtid_position() plus, on MariaDB, its gtid_slave_pos). MySQL asks the server
/// (GTID_SUBTRACT). False + *err when the server cannot tell.
bool errant_transactions(Session& local, const std::string& winner_position,
                         std::vector<std::string>* errant, std::string* err);

}  // namespace hakit::mysql
