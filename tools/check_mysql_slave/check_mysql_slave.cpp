#include "check_mysql_slave/check_mysql_slave.hpp"

#include <fmt/format.h>
#include <spdlog/spdlog.h>
#include <sys/stat.h>

#include <algorithm>
#include <fstream>

#include "common/arp_probe.hpp"
#include "common/netaddr.hpp"
#include "common/state.hpp"

namespace hakit::check_mysql {

namespace {

using mysql::Clock;

std::string target(const config::MysqlProfile& p) {
  std::string where = !p.socket.empty() ? p.socket
                      : !p.defaults_file.empty() && p.host == config::MysqlProfile{}.host
                          ? "(" + p.defaults_file + ")"
                          : fmt::format("{}:{}", p.host, p.port);
  return p.user.empty() ? where : fmt::format("{} as {}", where, p.user);
}

CheckResult failed(const std::string& what, const mysql::Error& e) {
  return CheckResult{State::kCritical, what + ": " + e.describe(), {}};
}

/// The same, naming the check's --timeout when that is what expired.
CheckResult failed(const std::string& what, mysql::Error e, const config::MysqlCheckConfig& c) {
  if (e.deadline)
    e.explanation = fmt::format("no answer within the {} timeout (server hung or overloaded?)",
                                format_duration(c.timeout.value_or(kDefaultTimeout)));
  return failed(what, e);
}

std::optional<std::string> cell(const std::vector<std::optional<std::string>>& row, size_t i) {
  return i < row.size() ? row[i] : std::nullopt;
}

/// SHOW ... STATUS, @@read_only and the optional heartbeat: everything the replica/master
/// judgement needs. False with *res set when a query fails.
bool gather_replication(mysql::Connection& conn, const config::MysqlCheckConfig& c,
                        ReplicationFacts* facts, CheckResult* res) {
  mysql::Error e;
  const std::string sql = mysql::replica_status_sql(conn.is_mariadb(), conn.version_number(),
                                                    c.connection, conn.no_backslash_escapes());
  std::vector<mysql::Row> rows;
  spdlog::debug("{}", sql);
  // MariaDB refuses an unknown connection name (ER_MASTER_INFO); MySQL returns no rows.
  constexpr unsigned kNoSuchConnection = 1617;
  if (!conn.query(sql, &rows, &e) && !(e.code == kNoSuchConnection && !c.connection.empty())) {
    *res = failed(sql, e, c);
    return false;
  }
  for (const auto& row : rows) {
    mysql::ReplicaStatus st;
    std::string err;
    if (!mysql::parse_replica_status(row, &st, &err)) {
      *res = CheckResult{State::kUnknown, sql + ": " + err, {}};
      return false;
    }
    facts->channels.push_back(std::move(st));
  }
  if (!c.connection.empty() && facts->channels.empty() && c.role != config::Role::kMaster) {
    // A named connection that does not exist is a mistake, not a master.
    *res = CheckResult{State::kCritical,
                       fmt::format("no replication connection named '{}'", c.connection), {}};
    return false;
  }
  auto ro = conn.scalar("SELECT @@global.read_only", &e);
  if (!ro) {
    *res = failed("SELECT @@global.read_only", e, c);
    return false;
  }
  facts->read_only = *ro != "0" && *ro != "OFF";

  if (!c.heartbeat_table.empty() && !facts->channels.empty()) {
    std::string where = c.heartbeat_server_id
                            ? fmt::format(" WHERE server_id = {}", *c.heartbeat_server_id)
                            : "";
    const std::string hb = fmt::format(
        "SELECT (SELECT {0} FROM {1}{2} ORDER BY {0} DESC LIMIT 1), {3}, UNIX_TIMESTAMP()",
        c.heartbeat_column, c.heartbeat_table, where,
        c.heartbeat_utc ? "UTC_TIMESTAMP(6)" : "NOW(6)");
    std::vector<std::string> cols;
    std::vector<std::vector<std::optional<std::string>>> hrows;
    if (!conn.query_ordered(hb, &cols, &hrows, &e)) {
      if (e.timed_out) {
        *res = failed("heartbeat", e, c);
        return false;
      }
      facts->heartbeat_error = e.describe();
    } else if (hrows.empty() || !cell(hrows[0], 0)) {
      facts->heartbeat_error = "no heartbeat row in " + c.heartbeat_table;
    } else {
      std::string err;
      facts->heartbeat_lag = age_of(*cell(hrows[0], 0), cell(hrows[0], 1).value_or(""),
                                    cell(hrows[0], 2).value_or(""), &err);
      if (!facts->heartbeat_lag) facts->heartbeat_error = err;
    }
  }
  return true;
}

CheckResult check_galera(mysql::Connection& conn, const config::MysqlCheckConfig& c) {
  mysql::Error e;
  std::vector<mysql::Row> rows;
  const std::string sql = "SHOW GLOBAL STATUS LIKE 'wsrep%'";
  if (!conn.query(sql, &rows, &e)) return failed(sql, e, c);
  return evaluate_galera(c, mysql::parse_galera_status(rows));
}

// Longest value read as a timestamp ("2024-01-31 23:59:59.123456", epoch seconds).
constexpr size_t kMaxTimestampBytes = 64;

CheckResult check_freshness(mysql::Connection& conn, const config::MysqlCheckConfig& c) {
  mysql::Error e;
  std::vector<std::string> cols;
  std::vector<std::vector<std::optional<std::string>>> rows;
  spdlog::debug("freshness query: {}", c.query);
  // Only the first row is read: the server sends no more (a query over a million rows must
  // not be transferred and held whole).
  if (!conn.exec("SET SESSION sql_select_limit=1", &e)) return failed("sql_select_limit", e, c);
  if (!conn.query_ordered(c.query, &cols, &rows, &e)) return failed("freshness query", e, c);
  if (rows.empty()) return evaluate_freshness(c, std::nullopt, "the query returned no rows");
  auto value = cell(rows[0], 0);
  if (!value) return evaluate_freshness(c, std::nullopt, "the query returned NULL");
  if (value->size() > kMaxTimestampBytes)
    return evaluate_freshness(
        c, std::nullopt,
        fmt::format("the query's value is not a timestamp ({} bytes, starting '{}...')",
                    value->size(), value->substr(0, 40)));
  // The server's clock, not ours: the value was written by (and is read in the time zone of)
  // the database, and a checking host's clock skew must not make a master look dead.
  std::vector<std::vector<std::optional<std::string>>> now;
  if (!conn.query_ordered("SELECT NOW(6), UNIX_TIMESTAMP(NOW(6))", &cols, &now, &e))
    return failed("SELECT NOW(6)", e, c);
  std::string err;
  auto age = age_of(*value, now.empty() ? "" : cell(now[0], 0).value_or(""),
                    now.empty() ? "" : cell(now[0], 1).value_or(""), &err);
  return evaluate_freshness(c, age, age ? "" : "the query's value: " + err);
}


// Reads what the guard judges: this server, the peer (bounded by peer_timeout), the VIP and
// notify's record of the last promotion.
GuardFacts gather_guard(mysql::Connection& conn, const Options& opts, mysql::Clock::time_point deadline,
                        CheckResult* res, bool* ok) {
  const auto& c = opts.check;
  GuardFacts f;
  *ok = false;
  ReplicationFacts rf;
  if (!gather_replication(conn, c, &rf, res)) return f;
  f.read_only = rf.read_only.value_or(true);
  f.replicating = !rf.channels.empty();
  f.replica_running = f.replicating && std::all_of(rf.channels.begin(), rf.channels.end(),
                                                   [](const auto& ch) { return ch.io_ok() && ch.sql_ok(); });
  if (f.replicating)
    f.source = fmt::format("{}:{}", rf.channels[0].source_host, rf.channels[0].source_port);
  mysql::Session local = mysql::session_of(conn);
  std::string err;
  if (!mysql::read_fence_mark(local, &f.mark, &err) || !mysql::read_last_promotion(local, &f.promotion, &err)) {
    *res = CheckResult{State::kUnknown, "cannot read hakit's fence/promotion records: " + err, {}};
    return f;
  }
  if (opts.vip) {
    std::string verr;
    f.vip_here = address_is_local(opts.vip->address, opts.vip->interface, &verr);
    if (!f.vip_here) spdlog::warn("guard: cannot tell whether the VIP is here: {}", verr);
    if (f.vip_here && *f.vip_here && Clock::now() + kVipProbeWait < deadline) {
      // Does another host answer for it too? (Not when it is elsewhere: then that is normal.)
      if (auto others = other_holders(opts.vip->address, opts.vip->interface, kVipProbeWait, &verr)) {
        f.vip_elsewhere = *others;
      } else {
        f.vip_unprobed = true;
        spdlog::debug("guard: cannot ask who else holds the VIP: {}", verr);
      }
    }
  }
  if (!opts.instance_state.empty()) {
    std::ifstream in(opts.instance_state);
    f.promotion_failed = promotion_failed_of(in ? Json::parse(in, nullptr, false) : Json());
  }
  if (opts.peer) {
    f.peer_configured = true;
    f.peer_name = c.peer;
    config::MysqlProfile p = *opts.peer;
    p.connect_timeout = std::min(p.connect_timeout, c.peer_timeout);
    p.read_timeout = std::min(p.read_timeout, c.peer_timeout);
    p.write_timeout = std::min(p.write_timeout, c.peer_timeout);
    mysql::Error e;
    const auto peer_deadline = std::min(deadline, mysql::Clock::now() + 2 * c.peer_timeout);
    if (auto pc = mysql::Connection::open(p, peer_deadline, &e)) {
      mysql::Session ps = mysql::session_of(*pc);
      std::vector<mysql::Row> rows;
      std::string perr;
      if (ps.query("SELECT @@GLOBAL.read_only AS ro", &rows, &perr) && !rows.empty()) {
        auto it = rows[0].find("ro");
        const std::string ro = it != rows[0].end() && it->second ? *it->second : "1";
        f.peer_read_only = ro != "0" && ro != "OFF";
        rows.clear();
        const std::string sql = mysql::replica_status_sql(pc->is_mariadb(), pc->version_number(),
                                                          c.connection, pc->no_backslash_escapes());
        if (ps.query(sql, &rows, &perr)) f.peer_replicating = !rows.empty();
        mysql::read_last_promotion(ps, &f.peer_promotion, &perr);
        f.peer_reachable = true;
      } else {
        f.peer_error = perr;
      }
    } else {
      f.peer_error = e.describe();
    }
  }
  *ok = true;
  return f;
}

std::string guard_name(const Options& opts) {
  return !opts.check.instance.empty() ? opts.check.instance : opts.check_name;
}

std::string guard_state_path(const Options& opts) {
  const std::string name = guard_name(opts);
  return name.empty() || opts.state_dir.empty() ? "" : opts.state_dir + "/guard." + name + ".json";
}

Json read_guard_state(const std::string& path) {
  std::ifstream in(path);
  Json st = in ? Json::parse(in, nullptr, false) : Json::object();
  return st.is_object() ? st : Json::object();
}

std::int64_t epoch_ms_now() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// Another holder of the VIP counts once it answered on two runs at least this far apart.
constexpr std::int64_t kVipElsewhereMinMs = 500;

// Split brain and two VIP holders are events as much as states: journaled when they start and
// end, and metrics for dashboards, whatever the exit code says.
void record_guard(const Options& opts, const GuardFacts& f, const CheckResult& r) {
  const std::string name = guard_name(opts);
  const std::string path = guard_state_path(opts);
  if (path.empty()) return;
  const bool split = is_split_brain(f);
  Json st = read_guard_state(path);
  const bool was = st.value("split_brain", false);
  std::string err;
  // Two VIP holders: the streak starts at the first answer, counts once it persists. A run that
  // could not ask (another user, by hand) neither starts nor ends it.
  const bool two = !f.vip_elsewhere.empty() && f.vip_elsewhere_persists;
  const bool was_two = st.value("two_vip_holders", false);
  if (f.vip_unprobed) {
    // keep the streak as it is
  } else if (f.vip_elsewhere.empty()) {
    st.erase("vip_elsewhere_since_ms");
  } else if (!st.contains("vip_elsewhere_since_ms")) {
    st["vip_elsewhere_since_ms"] = epoch_ms_now();
  }
  if (two != was_two && !f.vip_unprobed) {
    Json entry{{"kind", "two-vip-holders"},
               {"tool", "check_mysql_slave"},
               {"instance", name},
               {"event", two ? "detected" : "ended"},
               {"vip", opts.vip ? opts.vip->address : ""},
               {"also_held_by", f.vip_elsewhere},
               {"verdict", r.summary}};
    if (!Journal(opts.journal_path).append(entry, &err)) spdlog::debug("journal: {}", err);
    if (two) spdlog::critical("{}: {}", name, r.summary);
    st["two_vip_holders"] = two;
    st["two_vip_holders_since"] = now_rfc3339();
  }
  if (split != was) {
    Json entry{{"kind", "split-brain"},
               {"tool", "check_mysql_slave"},
               {"instance", name},
               {"event", split ? "detected" : "ended"},
               {"peer", f.peer_name},
               {"this_promoted", f.promotion ? f.promotion->at : ""},
               {"peer_promoted", f.peer_promotion ? f.peer_promotion->at : ""},
               {"verdict", r.summary}};
    if (!Journal(opts.journal_path).append(entry, &err)) spdlog::debug("journal: {}", err);
    if (split) spdlog::critical("{}: {}", name, r.summary);
    st["split_brain"] = split;
    st["since"] = now_rfc3339();
  }
  st["last"] = {{"time", now_rfc3339()}, {"state", state_name(r.state)}, {"summary", r.summary}};
  if (!write_file_atomic(path, dump_json(st) + "\n", 0644, &err)) spdlog::debug("{}: {}", path, err);
  std::vector<std::pair<std::string, std::string>> l{{"instance", name}};
  std::vector<Metric> m{
      {"hakit_split_brain", "1 while this node and its peer are both writable masters", "gauge", l,
       split ? 1.0 : 0.0},
      {"hakit_fenced", "1 while this node carries a fence mark (fenced, or errant transactions)",
       "gauge", l, f.mark ? 1.0 : 0.0},
      {"hakit_errant_transactions", "1 while this node is marked with errant transactions", "gauge",
       l, f.mark && f.mark->errant() ? 1.0 : 0.0},
      {"hakit_vip_other_holders",
       "Other hosts answering ARP for the VIP while this node holds it (0 normally)", "gauge", l,
       static_cast<double>(f.vip_elsewhere.size())},
      {"hakit_guard_state", "The guard's last state (0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN)",
       "gauge", l, static_cast<double>(static_cast<int>(r.state))}};
  if (!write_metrics(opts.metrics_path + "/hakit_guard_" + name + ".prom", m, &err))
    spdlog::debug("metrics: {}", err);
}
}  // namespace

CheckResult check_connection(mysql::Connection& conn, const config::MysqlCheckConfig& c,
                             mysql::Clock::time_point deadline) {
  CheckResult res;
  if (c.mode == config::CheckMode::kGuard) {
    // The guard reads the peer, the VIP and notify's records: it runs as a vrrp_script
    // (check_mysql_slave --check NAME), not over a bare connection.
    res.state = State::kUnknown;
    res.summary = "mode guard needs the peer profile and the instance (check_options)";
  } else if (c.mode == config::CheckMode::kGalera) {
    res = check_galera(conn, c);
  } else if (c.mode == config::CheckMode::kFreshness) {
    res = check_freshness(conn, c);
  } else {
    ReplicationFacts facts;
    if (gather_replication(conn, c, &facts, &res)) res = evaluate_replication(c, facts);
  }
  if (c.mode != config::CheckMode::kFreshness && !c.query.empty() && Clock::now() < deadline)
    res = combine(res, check_freshness(conn, c));
  return res;
}

CheckResult check_options(mysql::Connection& conn, const Options& opts,
                          mysql::Clock::time_point deadline) {
  if (opts.check.mode != config::CheckMode::kGuard) return check_connection(conn, opts.check, deadline);
  CheckResult res;
  bool ok = false;
  GuardFacts f = gather_guard(conn, opts, deadline, &res, &ok);
  if (ok && !f.vip_elsewhere.empty()) {
    const std::string path = guard_state_path(opts);
    const Json st = path.empty() ? Json::object() : read_guard_state(path);
    const std::int64_t since = st.value("vip_elsewhere_since_ms", std::int64_t{0});
    f.vip_elsewhere_persists = since > 0 && epoch_ms_now() - since >= kVipElsewhereMinMs;
  }
  if (ok) {
    res = evaluate_guard(opts.check, f);
    record_guard(opts, f, res);
  }
  return res;
}

CheckResult connect_failed(const config::MysqlProfile& profile, const mysql::Error& e,
                           const config::MysqlCheckConfig& c) {
  return failed("cannot connect to " + target(profile), e, c);
}

CheckResult run(const Options& opts) {
  const auto start = Clock::now();
  if (auto m = maintenance_result(opts.maintenance_file.value_or(""))) return *m;
  const auto& c = opts.check;
  const auto deadline = start + c.timeout.value_or(kDefaultTimeout);
  mysql::Error e;
  auto conn = mysql::Connection::open(opts.profile, deadline, &e);
  if (!conn) return connect_failed(opts.profile, e, c);
  spdlog::debug("connected to {} ({}){}", target(opts.profile), conn->server_version(),
                conn->tls_cipher().empty() ? "" : ", TLS " + conn->tls_cipher());
  CheckResult res = check_options(*conn, opts, deadline);
  double took = std::chrono::duration<double>(Clock::now() - start).count();
  res.perfdata.push_back({"time", took, "s", {}, {}, 0.0, {}});
  return res;
}

}  // namespace hakit::check_mysql
