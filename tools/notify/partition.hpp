#pragma once
// Partition safety in the notify tools: privileges checked before a promotion touches the
// peer, what a server says about its role (read-only, replicating, last promotion), and the
// alerts sent for split brain, fencing without a reachable peer and errant transactions.
#include <string>
#include <vector>

#include "common/mysql/fence.hpp"
#include "notify/actions.hpp"
#include "notify/mysql_dialect.hpp"

namespace hakit::notify {

/// The fence/promotion records over a notify Db.
mysql::Session session_of(Db& db, const Dialect& dialect);

/// This node's name in fence marks and promotion records (the host name).
std::string node_name();

/// One privilege a step needs: any one of `any_of` (global, or on the hakit schema when
/// `schema` is set).
struct Need {
  std::string what;                 ///< the statement that needs it
  std::vector<std::string> any_of;  ///< "RELOAD", "SUPER" ...
  bool schema = false;              ///< may be granted ON hakit.* instead of ON *.*
};

/// What mysql_promote needs on this node's server.
std::vector<Need> promote_needs(const Dialect& d);
/// What fencing needs on the old master's server.
std::vector<Need> fence_needs(const Dialect& d, bool kill_sessions);
/// What mysql_demote needs (rejoin: auto adds CHANGE MASTER / START SLAVE).
std::vector<Need> demote_needs(const Dialect& d, bool kill_sessions, bool rejoin);

/// The needs the session's user lacks, as "PRIV (for what)". Empty when all are granted, or
/// when the server does not list the user's privileges (*note then says so).
std::vector<std::string> missing_privileges(Db& db, const std::vector<Need>& needs,
                                            std::string* note);

/// The GRANT an operator runs for the missing privileges of `needs` ("'hakit'@'HOST'" as
/// the account placeholder).
std::string grant_statement(const std::vector<Need>& needs, const std::vector<std::string>& missing);

/// What a server says about its role.
struct ServerView {
  bool read_only = true;
  bool replicating = false;  ///< replication configured on the connection
  std::string gtid;          ///< mysql::gtid_position()
  std::string slave_pos;     ///< MariaDB gtid_slave_pos
  std::optional<mysql::Promotion> promotion;
  std::optional<mysql::FenceMark> mark;
  /// Everything the server has seen: its own GTID position plus (MariaDB) gtid_slave_pos.
  std::string known_gtids() const { return slave_pos.empty() ? gtid : gtid + "," + slave_pos; }
};

/// Reads a server's view. False + *err when a query fails.
bool look_at(Db& db, const Dialect& d, const std::string& connection, ServerView* v,
             std::string* err);

/// Sends `text` to the instance's alert channels (`alerts:`), never failing the caller; the
/// alert also goes to the log (critical) and into `details["alerts"]`.
void alert(RunContext& ctx, const std::string& kind, const std::string& text, Json* details);

/// notify_master --preflight: every database the instance's actions touch is reachable and
/// grants what they need. One line per check on `lines`; returns OK, WARNING (the peer is
/// unreachable: a failover would promote without fencing) or CRITICAL (a missing privilege,
/// or this node's database unreachable).
State preflight(const config::NotifyConfig& cfg, const std::string& instance, Services& svc,
                std::vector<std::string>* lines);

}  // namespace hakit::notify
