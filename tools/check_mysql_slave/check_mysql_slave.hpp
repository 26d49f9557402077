#pragma once
// check_mysql_slave: role-aware database health for keepalived's vrrp_script, operators and
// Nagios. Modes: replica (threads, errors, lag; a writable master with no replication passes
// in its role), master, galera (wsrep state), freshness (a timestamp newer than --max-age).
// One Nagios line; a hung server costs --timeout and nothing more (see common/mysql).
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/cli.hpp"
#include "check_mysql_slave/config.hpp"
#include "common/mysql/fence.hpp"
#include "common/mysql/connection.hpp"
#include "common/mysql/status.hpp"
#include "common/process.hpp"
#include "common/result.hpp"
#include "common/state.hpp"

namespace hakit::check_mysql {

/// The service name printed first on the line.
inline constexpr const char* kService = "MYSQL";
/// Whole-check timeout when neither the command line nor the config gives one.
inline constexpr Millis kDefaultTimeout{2000};

/// What the command line asked for. `check` and `profile` hold the effective settings: the
/// config entry and profile (with --check/--mysql) overlaid with the command line.
struct Options {
  config::MysqlCheckConfig check;
  config::MysqlProfile profile;
  std::string check_name;                       ///< --check NAME
  std::string profile_name;                     ///< --mysql NAME
  std::optional<std::string> maintenance_file;  ///< --maintenance-file ("" disables)
  std::optional<std::string> password_file;     ///< command-line credentials replace the
  std::optional<std::string> defaults_file;     ///< profile's (one source of the password)
  std::optional<config::MysqlProfile> peer;     ///< guard: the peer's profile
  std::optional<config::Vip> vip;               ///< guard: the instance's VIP
  std::string state_dir;                        ///< guard: split-brain state and journal
  std::string journal_path;
  std::string metrics_path;
  std::string instance_state;   ///< guard: notify's state file of the instance
};

/// The tool's parser, writing into *opts and *common.
std::unique_ptr<CLI::App> make_parser(Options* opts, cli::CommonOptions* common);

/// Builds the effective options: the config's check entry and profile, then the command line
/// (`args`, re-parsed on top: what was given there wins). False with *err (an UNKNOWN).
bool resolve_options(const config::Document& doc, const std::vector<std::string>& args,
                     Options* opts, std::string* err);


/// What the server said, gathered for the replica/master evaluation.
struct ReplicationFacts {
  std::vector<mysql::ReplicaStatus> channels;  ///< empty: no replication configured
  std::optional<bool> read_only;
  std::optional<double> heartbeat_lag;         ///< seconds, when a heartbeat table is set
  std::string heartbeat_error;                 ///< why the heartbeat lag is unknown
};

/// Replica/master judgement: threads, errors (quoted), lag against -w/-c, role vs read_only.
CheckResult evaluate_replication(const config::MysqlCheckConfig& c, const ReplicationFacts& f);

/// Galera judgement: ready, connected, Synced (Donor allowed by option), Primary, size >= N.
CheckResult evaluate_galera(const config::MysqlCheckConfig& c, const mysql::GaleraStatus& g);

/// Freshness judgement: `age` seconds (nullopt: no timestamp, with `why`) against max_age.
CheckResult evaluate_freshness(const config::MysqlCheckConfig& c, std::optional<double> age,
                               const std::string& why);

/// Age in seconds of `value` against the server's clock (`server_now`: NOW(6) for civil
/// times, `server_epoch`: UNIX_TIMESTAMP(NOW(6)) for epoch numbers). nullopt + *err when the
/// value is not a timestamp.
std::optional<double> age_of(const std::string& value, const std::string& server_now,
                             const std::string& server_epoch, std::string* err);


/// What the guard found out (mode guard).
struct GuardFacts {
  bool read_only = true;
  bool replicating = false;      ///< replication configured
  bool replica_running = false;  ///< ... and both threads running
  std::string source;            ///< host:port it replicates from
  std::optional<mysql::FenceMark> mark;
  std::optional<mysql::Promotion> promotion;
  std::optional<bool> vip_here;  ///< nullopt: no instance/VIP configured or cannot tell
  /// While the VIP is here: the MACs of other hosts that answer ARP for it too (two VIP
  /// holders: VRRP between the nodes is broken). Empty when none or not probed.
  std::vector<std::string> vip_elsewhere;
  /// ... and they answered on consecutive runs (not the moment of a normal failover, when
  /// the old master may hold the VIP a few more milliseconds).
  bool vip_elsewhere_persists = false;
  /// The VIP is here but nobody could be asked (no CAP_NET_RAW: run by hand as another user).
  bool vip_unprobed = false;
  std::string promotion_failed;  ///< the last MASTER event's promotion "was refused: ..."
  bool peer_configured = false;
  bool peer_reachable = false;
  std::string peer_name;
  std::string peer_error;
  bool peer_read_only = true;
  bool peer_replicating = false;
  std::optional<mysql::Promotion> peer_promotion;
};

/// Guard judgement: may this node hold (or take) the VIP? CRITICAL when it is fenced by a
/// master that is still writable, holds errant transactions, is superseded by a newer
/// writable master (split brain, the older side), or holds the VIP while read-only and not
/// replicating. Split brain on the newer side is a WARNING (exit 0: it keeps the VIP).
CheckResult evaluate_guard(const config::MysqlCheckConfig& c, const GuardFacts& f);

/// True when the result says split brain (both nodes writable).
bool is_split_brain(const GuardFacts& f);

/// GuardFacts::promotion_failed from notify's instance state (state_dir/notify.INSTANCE.json):
/// "was refused at T", "FAILED at T", or "was interrupted at T (notify pid N is gone)" when
/// the last transition is a MASTER one that was refused, failed, or still says "running"
/// while the notify that wrote it no longer exists (`exists`: process_exists); "" otherwise
/// (ok, a promotion still running: waiting for its lease or running its actions, or no
/// record).
std::string promotion_failed_of(const Json& instance_state,
                                const std::function<bool(int)>& exists = process_exists);

/// The queries and the judgement over an open connection whose deadline is `deadline` (run()
/// opens one per check; hakitd keeps one across probes).
CheckResult check_connection(mysql::Connection& conn, const config::MysqlCheckConfig& c,
                             mysql::Clock::time_point deadline);

/// check_connection(), or the guard (mode guard, which also reads the peer, the VIP and
/// notify's records from `opts`): what run() and hakitd's probes call.
CheckResult check_options(mysql::Connection& conn, const Options& opts,
                          mysql::Clock::time_point deadline);

/// The CRITICAL result of a failed connect to `profile` (naming --timeout when it expired).
CheckResult connect_failed(const config::MysqlProfile& profile, const mysql::Error& e,
                           const config::MysqlCheckConfig& c);

/// The whole check: maintenance file, connection, queries, evaluation.
CheckResult run(const Options& opts);

}  // namespace hakit::check_mysql
