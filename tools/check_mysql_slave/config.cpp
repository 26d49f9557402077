#include "check_mysql_slave/config.hpp"

#include <fmt/format.h>

#include <cctype>

namespace hakit::config {

namespace {

const std::set<std::string> kStates{"ok", "warning", "critical", "unknown"};

std::string lower(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

}  // namespace

const char* to_string(CheckMode v) {
  switch (v) {
    case CheckMode::kReplica: return "replica";
    case CheckMode::kMaster: return "master";
    case CheckMode::kGalera: return "galera";
    case CheckMode::kFreshness: return "freshness";
    case CheckMode::kGuard: return "guard";
  }
  return "?";
}

const char* to_string(Role v) {
  switch (v) {
    case Role::kAuto: return "auto";
    case Role::kReplica: return "replica";
    case Role::kMaster: return "master";
  }
  return "?";
}

std::optional<CheckMode> check_mode_from(const std::string& word) {
  for (auto m : {CheckMode::kReplica, CheckMode::kMaster, CheckMode::kGalera, CheckMode::kFreshness,
                 CheckMode::kGuard})
    if (word == to_string(m)) return m;
  return std::nullopt;
}

std::optional<Role> role_from(const std::string& word) {
  for (auto r : {Role::kAuto, Role::kReplica, Role::kMaster})
    if (word == to_string(r)) return r;
  return std::nullopt;
}

std::optional<State> state_from(const std::string& word) {
  const std::string w = lower(word);
  if (w == "ok") return State::kOk;
  if (w == "warning") return State::kWarning;
  if (w == "critical") return State::kCritical;
  if (w == "unknown") return State::kUnknown;
  return std::nullopt;
}

void parse_mysql_check(MapReader& e, MysqlCheckConfig* out) {
  e.choice("type", {"mysql"});
  out->mysql = e.string("mysql", out->mysql);
  out->mode = *check_mode_from(
      e.choice("mode", to_string(out->mode), {"replica", "master", "galera", "freshness", "guard"}));
  out->role = *role_from(e.choice("role", to_string(out->role), {"auto", "replica", "master"}));
  if (auto t = e.duration("timeout", Millis(1), Millis(3'600'000))) out->timeout = t;
  if (auto lag = e.map("lag")) {
    if (auto w = lag->duration("warning", Millis(0), Millis(365LL * 86'400'000)))
      out->lag_warning = w;
    if (auto c = lag->duration("critical", Millis(0), Millis(365LL * 86'400'000)))
      out->lag_critical = c;
    lag->finish();
  }
  out->null_lag = *state_from(e.choice("null_lag", "critical", kStates));
  out->io_thread_down = *state_from(e.choice("io_thread_down", "critical", kStates));
  out->connection = e.string("connection", out->connection);
  if (auto hb = e.map("heartbeat")) {
    out->heartbeat_table = hb->string("table", out->heartbeat_table);
    out->heartbeat_column = hb->string("column", out->heartbeat_column);
    if (auto id = hb->integer("server_id", 0, 4294967295LL)) out->heartbeat_server_id = *id;
    out->heartbeat_utc = hb->boolean("utc", out->heartbeat_utc);
    if (out->heartbeat_table.empty()) hb->error("table", "missing (e.g. percona.heartbeat)");
    hb->finish();
  }
  out->min_cluster_size =
      static_cast<int>(e.integer("min_cluster_size", out->min_cluster_size, 1, 1000));
  out->allow_donor = e.boolean("allow_donor", out->allow_donor);
  out->query = e.string("query", out->query);
  out->max_age = e.duration("max_age", out->max_age, Millis(1), Millis(365LL * 86'400'000));
  out->future_tolerance =
      e.duration("future_tolerance", out->future_tolerance, Millis(0), Millis(86'400'000));
  out->maintenance_file = e.string("maintenance_file", out->maintenance_file);
  e.require_absolute("maintenance_file", out->maintenance_file);
  out->warning_fails = e.boolean("warning_fails", out->warning_fails);
  out->peer = e.string("peer", out->peer);
  out->instance = e.string("instance", out->instance);
  if (auto t = e.duration("peer_timeout", Millis(1), Millis(60'000))) out->peer_timeout = *t;
  e.finish();
  validate_mysql_check(*out, [&](const std::string& key, const std::string& m) { e.error(key, m); });
}

void validate_mysql_check(const MysqlCheckConfig& c,
                          const std::function<void(const std::string&, const std::string&)>& report) {
  if (c.lag_warning && c.lag_critical && *c.lag_warning > *c.lag_critical)
    report("lag", "the lag warning is above the lag critical");
  if (c.mode == CheckMode::kMaster && c.role == Role::kReplica)
    report("role", "mode master with role replica contradicts itself");
  if (c.mode == CheckMode::kFreshness && c.query.empty())
    report("query", "mode freshness needs a query returning a timestamp (query:, or --query)");
  if (c.mode != CheckMode::kGuard && (!c.peer.empty() || !c.instance.empty()))
    report(!c.peer.empty() ? "peer" : "instance", "only mode guard reads it");
  if (!c.heartbeat_table.empty() && (!mysql::is_identifier_path(c.heartbeat_table) ||
                                     !mysql::is_identifier_path(c.heartbeat_column)))
    report("heartbeat",
           fmt::format("table '{}' / column '{}': only letters, digits, _ and $ (db.table)",
                       c.heartbeat_table, c.heartbeat_column));
}

bool read_mysql_check(const Document& doc, const std::string& name, MysqlCheckConfig* out,
                      Diagnostics* diag) {
  if (!entry_type_is(doc, "checks", name, "mysql", "check_http_200", diag)) return false;
  if (!parse_entry(doc, "checks", name, parse_mysql_check, out, diag)) return false;
  // The guard's references: the peer profile and the instance (for its VIP).
  const YAML::Node entry = doc.entry("checks", name);
  bool ok = true;
  if (!out->peer.empty() && !doc.entry("mysql", out->peer).IsDefined()) {
    diag->error(entry["peer"], "checks." + name + ".peer",
                fmt::format("no mysql profile named '{}'", out->peer));
    ok = false;
  }
  if (!out->instance.empty() && !doc.entry("instances", out->instance).IsDefined()) {
    diag->error(entry["instance"], "checks." + name + ".instance",
                fmt::format("no instance named '{}'", out->instance));
    ok = false;
  }
  return ok;
}

}  // namespace hakit::config
