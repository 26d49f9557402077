#pragma once
// The action engine: each action with its timeout, retries with backoff (local recovery
// before giving up), and on_failure. Built-in action kinds live in actions.cpp and mysql.cpp.
#include <chrono>
#include <functional>
#include <string>

#include "notify/config.hpp"
#include "common/state.hpp"
#include "notify/notify.hpp"
#include "notify/ports.hpp"

namespace hakit::notify {

using Clock = std::chrono::steady_clock;

/// What one attempt of an action reports.
struct Attempt {
  bool ok = false;
  bool refused = false;    ///< a guard said no (catch-up timeout): retrying will not help
  std::string error;       ///< one line, never a secret
  Json details = Json::object();  ///< positions, fence result, rejoin statement ...
};

/// State shared by the actions of one event.
struct RunContext {
  const Event& event;
  const config::NotifyConfig& cfg;
  const std::string& config_path;
  Services& svc;
  std::string from_role;         ///< role before this event
  Json positions = Json::object();  ///< filled by mysql_promote / mysql_demote
  Json actions = Json::array();     ///< journal records of the actions so far
  std::string outcome = "ok";       ///< "ok" until an action fails; notify reports it
  std::string message;              ///< why it failed
  Clock::time_point started = Clock::now();  ///< process start (promotion latency base)
  std::int64_t writable_ms = -1;    ///< mysql_promote: process start → read_only=OFF
  /// mysql_promote calls it right before read_only=OFF; false (+ why) refuses the promotion.
  std::function<bool(std::string*)> before_writable;
  /// True once a newer event of the instance has arrived (keepalived changed its mind): a
  /// wait that is only a convenience (mysql_demote's rejoin) stops then, freeing the lock.
  std::function<bool()> superseded;
  /// mysql_demote calls it once read_only=ON is set, before it waits to re-attach: notify
  /// hands the arbiter lease back there, so the peer's promotion need not wait for the
  /// demotion to end.
  std::function<void()> after_read_only;
};

/// Runs one attempt of `a`, bounded by `deadline`.
Attempt run_once(const config::Action& a, RunContext& ctx, Clock::time_point deadline);

/// Runs `a` with retries and backoff; appends its journal record to ctx.actions.
/// Returns the record's outcome: "ok", "failed" or "refused".
std::string run_action(const config::Action& a, size_t index, RunContext& ctx);

/// mysql_promote and mysql_demote (mysql.cpp).
Attempt mysql_promote(const config::MysqlPromoteSpec& spec, RunContext& ctx,
                      Clock::time_point deadline);
Attempt mysql_demote(const config::MysqlDemoteSpec& spec, RunContext& ctx,
                     Clock::time_point deadline);

/// Placeholders for notifications: instance, state, event, host, time, from, to, outcome,
/// message, positions, actions.
std::map<std::string, std::string> placeholders(const RunContext& ctx);

/// The JSON document a webhook receives.
Json webhook_document(const RunContext& ctx);

/// notify_master or notify_backup, by the event's direction (for flag records).
std::string log_tool_name(const RunContext& ctx);

/// Time left before `deadline` (at least 1 ms).
Millis remaining(Clock::time_point deadline);

}  // namespace hakit::notify
