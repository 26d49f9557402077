#pragma once
// instances: and notifications:, owned by notify_master / notify_backup. The actions are a
// typed variant (a kind the engine does not handle fails to compile) and every option an
// operator chooses from a list is an enum.
#include <map>
#include <optional>
#include <set>
#include <string>
#include <variant>
#include <vector>

#include "common/arbiter/config.hpp"
#include "common/config.hpp"
#include "common/mysql_profile.hpp"
#include "common/units.hpp"
#include "common/yaml_reader.hpp"

namespace hakit::config {

/// on_failure: what the list does after an action failed for good.
enum class OnFailure { kAbort, kContinue };
/// mysql_promote on_catchup_timeout: refuse (stay read-only, alert) or promote anyway.
enum class CatchupPolicy { kRefuse, kPromote };
/// mysql_demote rejoin: log the statement (manual) or re-point to the peer (auto).
enum class Rejoin { kManual, kAuto };
/// mysql_demote on_split_brain: fence the stale peer and stay writable, or demote anyway.
enum class SplitBrain { kKeepNewest, kDemote };
/// service: the systemctl verb.
enum class ServiceOp { kStart, kStop, kRestart, kIsActive };
/// flag: set or clear the failover flag.
enum class FlagOp { kSet, kClear };

/// The words operators write for these enums ("abort", "is-active", ...).
const char* to_string(OnFailure v);
const char* to_string(CatchupPolicy v);
const char* to_string(Rejoin v);
const char* to_string(SplitBrain v);
const char* to_string(ServiceOp v);
const char* to_string(FlagOp v);

/// mysql_promote: bounded catch-up, optional fencing of the peer, then writable.
struct MysqlPromoteSpec {
  std::string mysql = "local";          ///< profile of this node's server
  std::string connection;               ///< MariaDB named replication connection ("" = default)
  Millis catchup_timeout{60000};        ///< how long the SQL thread may take to apply the relay log
  CatchupPolicy on_catchup_timeout = CatchupPolicy::kRefuse;
  std::string fence;                    ///< profile of the old master to set read-only ("" = none)
  bool fence_kill_sessions = false;     ///< also kill the old master's client sessions
  bool fence_required = false;          ///< refuse when the fence profile cannot be reached
  /// The SQL thread stopped with an error: refuse (default), or promote past it (the
  /// transactions behind the failed one are lost). Separate from on_catchup_timeout.
  CatchupPolicy on_sql_error = CatchupPolicy::kRefuse;
};

/// mysql_demote: read-only, optional session kill, rejoin manual (logged) or auto (re-point).
struct MysqlDemoteSpec {
  std::string mysql = "local";
  std::string connection;
  bool kill_sessions = false;
  Rejoin rejoin = Rejoin::kManual;
  std::string peer;                     ///< profile of the new master (host/port for the rejoin)
  std::string replication_user = "repl";
  std::string replication_password_file;  ///< secret file; needed for rejoin: auto
  /// Both this node and the peer are writable masters (a healed partition) and keepalived
  /// makes this one BACKUP: keep-newest fences the peer instead when this node's promotion
  /// is the newer one (its writes are the newest); demote always demotes this node.
  SplitBrain on_split_brain = SplitBrain::kKeepNewest;
};

/// run: an argv vector (no shell), with extra environment.
struct RunSpec {
  std::vector<std::string> argv;
  std::vector<std::string> env;  ///< NAME=value
};
/// service: systemctl VERB UNIT.
struct ServiceSpec {
  ServiceOp op = ServiceOp::kStart;
  std::string unit;
};
/// flag: set or clear the failover flag.
struct FlagSpec {
  FlagOp op = FlagOp::kSet;
};
/// notify: a notifications: channel.
struct NotifySpec {
  std::string channel;
  std::string subject;  ///< overrides the channel's subject
};
/// sync: a sitesync job, run as `sitesync --config FILE JOB`.
struct SyncSpec {
  std::string job;
};

/// What one action does; std::visit over it handles every kind or fails to compile.
using ActionSpec =
    std::variant<MysqlPromoteSpec, MysqlDemoteSpec, RunSpec, ServiceSpec, FlagSpec, NotifySpec, SyncSpec>;

/// std::visit with one lambda per alternative.
template <class... F>
struct Overloaded : F... {
  using F::operator()...;
};
template <class... F>
Overloaded(F...) -> Overloaded<F...>;

/// The config word of each kind, in ActionSpec's order.
inline constexpr const char* kActionKinds[] = {"mysql_promote", "mysql_demote", "run", "service",
                                               "flag",          "notify",       "sync"};

/// One ordered action of a promote or demote list.
struct Action {
  ActionSpec spec;
  Millis timeout{30000};
  int retries = 0;
  Millis backoff{1000};  ///< pause before the first retry; doubles each retry
  OnFailure on_failure = OnFailure::kAbort;
  int line = 0;

  /// "mysql_promote", "service", ...
  std::string kind() const { return kActionKinds[spec.index()]; }
  /// "mysql_promote", "run /usr/bin/x", "service start nagios", "notify ops" for logs.
  std::string label() const;
};


/// A keepalived VRRP instance (or sync group) hakit manages (`instances: {VI_1: {...}}`).
struct Instance {
  std::optional<Vip> vip;
  std::vector<Action> promote;
  std::vector<Action> demote;  ///< run as listed: write it top-down (reverse of promote)
  Millis min_interval{0};      ///< anti-flap: minimum time between two promotions
  Millis lock_timeout{300000}; ///< how long an event waits for the one running before it
  /// notifications: channels told about split brain, a promotion that could not fence the
  /// old master, and errant transactions found at a rejoin.
  std::vector<std::string> alerts;
  std::string arbiter;         ///< arbiters: entry whose lease gates promotion ("" = none)
};

/// E-mail over SMTP (libcurl).
struct EmailChannel {
  std::string smtp;                ///< smtp://host:port or smtps://host:port
  std::string from;
  std::vector<std::string> to;
  std::string subject = "[hakit] {instance} {state} on {host}: {outcome}";
  std::string user;
  std::string password_file;
  bool starttls = false;
  Millis timeout{10000};
};

/// JSON POST (libcurl).
struct WebhookChannel {
  std::string url;
  std::string token_file;          ///< "Authorization: Bearer <token>" from a secret file
  std::vector<std::string> headers;
  Millis timeout{10000};
};

/// A notification channel (`notifications: {ops: {email: ..., webhook: ...}}`).
struct Notification {
  std::optional<EmailChannel> email;
  std::optional<WebhookChannel> webhook;
};

/// Parses one `instances:` entry.
void parse_instance(MapReader& entry, Instance* out);
/// Parses one `notifications:` entry.
void parse_notification(MapReader& entry, Notification* out);

/// What notify reads from the shared file: the instance in hand and exactly the entries its
/// actions name. A typo anywhere else (another instance, a sync job, a check) is not read.
struct NotifyConfig : Core {
  std::string path;
  std::vector<std::string> instance_names;            ///< every instance (for messages, metrics)
  std::map<std::string, Instance> instances;          ///< the one being handled
  std::map<std::string, MysqlProfile> mysql;          ///< profiles its actions name
  std::map<std::string, Notification> notifications;  ///< channels its actions name
  std::set<std::string> sync;                         ///< jobs its sync actions name
  std::map<std::string, Arbiter> arbiters;            ///< the instance's arbiter, if any
};

/// The shared settings and instance names only (enough for --clear-failover-flag).
NotifyConfig notify_core(const Document& doc);

/// Reads `instances.NAME` and every entry its actions name. False with the problems in `diag`.
bool load_notify_config(const Document& doc, const std::string& instance, NotifyConfig* out,
                        Diagnostics* diag);

/// Registry validators: every instance (with its references) and every channel, strictly.
void validate_instances(const Document& doc, Diagnostics& diag);
void validate_notifications(const Document& doc, Diagnostics& diag);

}  // namespace hakit::config
