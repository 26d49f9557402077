#pragma once
// instances: (notify_master / notify_backup) and notifications:.
#include <optional>
#include <string>
#include <vector>

#include "common/units.hpp"
#include "common/yaml_reader.hpp"

namespace hakit::config {

/// mysql_promote: bounded catch-up, optional fencing of the peer, then writable.
struct MysqlPromoteSpec {
  std::string mysql = "local";          ///< profile of this node's server
  std::string connection;               ///< MariaDB named replication connection ("" = default)
  Millis catchup_timeout{60000};        ///< how long the SQL thread may take to apply the relay log
  std::string on_catchup_timeout = "refuse";  ///< refuse (stay read-only, alert) | promote
  std::string fence;                    ///< profile of the old master to set read-only ("" = none)
  bool fence_kill_sessions = false;     ///< also kill the old master's client sessions
  bool fence_required = false;          ///< refuse when the fence profile cannot be reached
};

/// mysql_demote: read-only, optional session kill, rejoin manual (logged) or auto (re-point).
struct MysqlDemoteSpec {
  std::string mysql = "local";
  std::string connection;
  bool kill_sessions = false;
  std::string rejoin = "manual";        ///< manual | auto
  std::string peer;                     ///< profile of the new master (host/port for the rejoin)
  std::string replication_user = "repl";
  std::string replication_password_file;  ///< secret file; needed for rejoin: auto
};

/// One ordered action of a promote or demote list.
struct Action {
  std::string kind;  ///< mysql_promote, mysql_demote, run, service, flag, notify, sync
  YAML::Node spec;   ///< the action's own settings as written
  Millis timeout{30000};
  int retries = 0;
  Millis backoff{1000};              ///< pause before the first retry; doubles each retry
  std::string on_failure = "abort";  ///< abort | continue
  int line = 0;

  MysqlPromoteSpec promote;          ///< kind == mysql_promote
  MysqlDemoteSpec demote;            ///< kind == mysql_demote
  std::vector<std::string> argv;     ///< kind == run
  std::vector<std::string> env;      ///< kind == run: extra NAME=value
  std::string service_op;            ///< kind == service: start | stop | restart | is-active
  std::string service_unit;          ///< kind == service
  std::string flag_op;               ///< kind == flag: set | clear
  std::string channel;               ///< kind == notify: notifications: entry
  std::string subject;               ///< kind == notify: overrides the channel's subject
  std::string job;                   ///< kind == sync: sync: job name

  /// "mysql_promote", "run /usr/bin/x", "service start nagios", "notify ops" for logs.
  std::string label() const;
};

struct Vip {
  std::string address;
  std::string interface;
};

/// A keepalived VRRP instance (or sync group) hakit manages (`instances: {VI_1: {...}}`).
struct Instance {
  std::optional<Vip> vip;
  std::vector<Action> promote;
  std::vector<Action> demote;  ///< run as listed: write it top-down (reverse of promote)
  Millis min_interval{0};      ///< anti-flap: minimum time between two promotions
  Millis lock_timeout{300000}; ///< how long an event waits for the one running before it
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

void parse_instance(MapReader& entry, Instance* out);
void parse_notification(MapReader& entry, Notification* out);

struct Config;
/// Names that instances' actions refer to (mysql profiles, channels, sync jobs) must exist.
void check_notify_references(const Config& cfg, const YAML::Node& root, Diagnostics* diag);

}  // namespace hakit::config
