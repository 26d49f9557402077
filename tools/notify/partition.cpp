#include "notify/partition.hpp"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <set>

#include "common/state.hpp"
#include "notify/mysql_state.hpp"

namespace hakit::notify {

mysql::Session session_of(Db& db, const Dialect& dialect) {
  mysql::Session s;
  s.query = [&db](const std::string& sql, std::vector<mysql::Row>* rows, std::string* err) {
    return db.query(sql, rows, err);
  };
  s.exec = [&db](const std::string& sql, std::string* err) { return db.exec(sql, err); };
  s.quote = [&db](const std::string& text) { return db.quote(text); };
  s.mariadb = dialect.mariadb;
  return s;
}

std::string node_name() { return hostname(); }

namespace {

// MariaDB 10.11 took READ_ONLY ADMIN out of SUPER; before that SUPER also did.
std::vector<std::string> read_only_privs(const Dialect& d) {
  if (!d.mariadb) return {"SYSTEM_VARIABLES_ADMIN", "SUPER"};
  if (d.version >= 101100) return {"READ_ONLY ADMIN"};
  return {"READ_ONLY ADMIN", "SUPER"};
}

void marks_needs(const Dialect& d, std::vector<Need>* n) {
  n->push_back({"SET SESSION sql_log_bin=0 (hakit's fence/promotion records)",
                d.mariadb ? std::vector<std::string>{"BINLOG ADMIN", "SUPER"}
                          : std::vector<std::string>{"SYSTEM_VARIABLES_ADMIN",
                                                     "SESSION_VARIABLES_ADMIN", "SUPER"}});
  for (const char* p : {"CREATE", "INSERT", "UPDATE", "SELECT"})
    n->push_back({std::string(p) + " on the hakit schema (fence/promotion records)", {p}, true});
}

}  // namespace

std::vector<Need> promote_needs(const Dialect& d) {
  std::vector<Need> n;
  const bool m = d.mariadb;
  n.push_back({m ? "SHOW SLAVE STATUS" : "SHOW REPLICA STATUS",
               m ? std::vector<std::string>{"SLAVE MONITOR", "SUPER"}
                 : std::vector<std::string>{"REPLICATION CLIENT", "SUPER"}});
  n.push_back({"STOP/START SLAVE, CHANGE MASTER",
               m ? std::vector<std::string>{"REPLICATION SLAVE ADMIN", "SUPER"}
                 : std::vector<std::string>{"REPLICATION_SLAVE_ADMIN", "SUPER"}});
  n.push_back({"RESET SLAVE ALL", {"RELOAD"}});
  n.push_back({"SET GLOBAL read_only", read_only_privs(d)});
  n.push_back({"SHOW MASTER STATUS / GTID positions",
               m ? std::vector<std::string>{"BINLOG MONITOR", "SUPER"}
                 : std::vector<std::string>{"REPLICATION CLIENT", "SUPER"}});
  marks_needs(d, &n);
  return n;
}

std::vector<Need> fence_needs(const Dialect& d, bool kill_sessions) {
  std::vector<Need> n;
  n.push_back({"SET GLOBAL read_only on the old master", read_only_privs(d)});
  n.push_back({"SHOW MASTER STATUS on the old master",
               d.mariadb ? std::vector<std::string>{"BINLOG MONITOR", "SUPER"}
                         : std::vector<std::string>{"REPLICATION CLIENT", "SUPER"}});
  if (kill_sessions) {
    n.push_back({"KILL (fence_kill_sessions)", d.mariadb
                                                   ? std::vector<std::string>{"CONNECTION ADMIN", "SUPER"}
                                                   : std::vector<std::string>{"CONNECTION_ADMIN", "SUPER"}});
    n.push_back({"see every session (fence_kill_sessions)", {"PROCESS"}});
  }
  marks_needs(d, &n);
  return n;
}

std::vector<Need> demote_needs(const Dialect& d, bool kill_sessions, bool rejoin) {
  std::vector<Need> n;
  n.push_back({"SET GLOBAL read_only", read_only_privs(d)});
  if (kill_sessions) {
    n.push_back({"KILL (kill_sessions)", d.mariadb ? std::vector<std::string>{"CONNECTION ADMIN", "SUPER"}
                                                   : std::vector<std::string>{"CONNECTION_ADMIN", "SUPER"}});
    n.push_back({"see every session (kill_sessions)", {"PROCESS"}});
  }
  if (rejoin)
    n.push_back({"CHANGE MASTER / START SLAVE (rejoin: auto)",
                 d.mariadb ? std::vector<std::string>{"REPLICATION SLAVE ADMIN", "SUPER"}
                           : std::vector<std::string>{"REPLICATION_SLAVE_ADMIN", "SUPER"}});
  marks_needs(d, &n);
  return n;
}

std::vector<std::string> missing_privileges(Db& db, const std::vector<Need>& needs,
                                            std::string* note) {
  std::set<std::string> global, schema;
  std::vector<mysql::Row> rows;
  std::string err;
  // information_schema lists the current account's own privileges to any account.
  if (!db.query("SELECT PRIVILEGE_TYPE FROM information_schema.USER_PRIVILEGES", &rows, &err) ||
      rows.empty()) {
    *note = err.empty() ? "the server lists no privileges for this account (cannot check)"
                        : "cannot read the account's privileges: " + err;
    return {};
  }
  for (const auto& r : rows) global.insert(field(r, "PRIVILEGE_TYPE"));
  if (global.size() == 1 && global.count("")) {
    *note = "the server lists no privileges for this account (cannot check)";
    return {};
  }
  rows.clear();
  if (db.query("SELECT PRIVILEGE_TYPE FROM information_schema.SCHEMA_PRIVILEGES WHERE "
               "TABLE_SCHEMA = 'hakit'",
               &rows, &err))
    for (const auto& r : rows) schema.insert(field(r, "PRIVILEGE_TYPE"));
  std::vector<std::string> missing;
  for (const auto& n : needs) {
    bool ok = std::any_of(n.any_of.begin(), n.any_of.end(), [&](const std::string& p) {
      return global.count(p) || (n.schema && schema.count(p));
    });
    if (!ok) missing.push_back(fmt::format("{} (for {})", n.any_of.front(), n.what));
  }
  return missing;
}

std::string grant_statement(const std::vector<Need>& needs, const std::vector<std::string>& missing) {
  std::vector<std::string> global, schema;
  for (const auto& n : needs)
    for (const auto& m : missing)
      if (m.rfind(n.any_of.front() + " (for " + n.what, 0) == 0) {
        auto& list = n.schema ? schema : global;
        if (std::find(list.begin(), list.end(), n.any_of.front()) == list.end())
          list.push_back(n.any_of.front());
      }
  auto join = [](const std::vector<std::string>& v) {
    std::string s;
    for (const auto& x : v) s += (s.empty() ? "" : ", ") + x;
    return s;
  };
  std::string out;
  if (!global.empty()) out += "GRANT " + join(global) + " ON *.* TO <hakit account>;";
  if (!schema.empty())
    out += (out.empty() ? "" : " ") + std::string("GRANT ") + join(schema) +
           " ON hakit.* TO <hakit account>;";
  return out;
}

bool look_at(Db& db, const Dialect& d, const std::string& connection, ServerView* v,
             std::string* err) {
  std::vector<mysql::Row> rows;
  if (!db.query("SELECT @@GLOBAL.read_only AS ro", &rows, err) || rows.empty()) {
    if (err->empty()) *err = "SELECT @@GLOBAL.read_only returned nothing";
    return false;
  }
  const std::string ro = field(rows[0], "ro");
  v->read_only = ro != "0" && ro != "OFF";
  rows.clear();
  std::string e;
  if (db.query(d.status(connection), &rows, &e)) v->replicating = !rows.empty();
  mysql::Session s = session_of(db, d);
  v->gtid = mysql::gtid_position(s);
  if (d.mariadb) {
    rows.clear();
    if (db.query("SELECT @@GLOBAL.gtid_slave_pos AS p", &rows, &e) && !rows.empty())
      v->slave_pos = field(rows[0], "p");
  }
  std::string re;
  if (!mysql::read_last_promotion(s, &v->promotion, &re))
    spdlog::debug("cannot read hakit.promotion: {}", re);
  if (!mysql::read_fence_mark(s, &v->mark, &re)) spdlog::debug("cannot read hakit.fence: {}", re);
  return true;
}

void alert(RunContext& ctx, const std::string& kind, const std::string& text, Json* details) {
  spdlog::critical("{} {}: {}", ctx.event.instance, kind, text);
  Json record{{"kind", kind}, {"text", text}};
  const auto& inst = ctx.cfg.instances.at(ctx.event.instance);
  for (const auto& name : inst.alerts) {
    auto it = ctx.cfg.notifications.find(name);
    if (it == ctx.cfg.notifications.end()) continue;
    constexpr Millis kAlertTimeout{5000};
    std::string err;
    if (const auto& email = it->second.email) {
      const std::string subject =
          fmt::format("[hakit] ALERT {} {} on {}", kind, ctx.event.instance, node_name());
      bool sent = ctx.svc.messenger->send_email(
          *email, subject,
          fmt::format("hakit on {}: {} for instance {} at {}.\n\n{}\n\nJournal: {}\n", node_name(),
                      kind, ctx.event.instance, now_rfc3339(), text, ctx.cfg.journal_path()),
          std::min(email->timeout, kAlertTimeout), &err);
      record[name + ".email"] = sent ? "sent" : err;
    }
    if (const auto& hook = it->second.webhook) {
      Json doc{{"source", "hakit"},     {"kind", "alert"},
               {"alert", kind},         {"instance", ctx.event.instance},
               {"host", node_name()},   {"time", now_rfc3339()},
               {"text", text},          {"state", ctx.event.state}};
      bool sent = ctx.svc.messenger->post_json(*hook, dump_json(doc),
                                               std::min(hook->timeout, kAlertTimeout), &err);
      record[name + ".webhook"] = sent ? "sent" : err;
    }
  }
  // Its own journal entry too: `hakit-status` and an operator grepping the journal find it
  // without reading every transition's details.
  std::string jerr;
  if (!Journal(ctx.cfg.journal_path())
           .append(Json{{"kind", "alert"}, {"alert", kind}, {"instance", ctx.event.instance},
                        {"state", ctx.event.state}, {"text", text}, {"delivery", record}},
                   &jerr))
    spdlog::error("journal: {}", jerr);
  if (details) {
    if (!details->contains("alerts")) (*details)["alerts"] = Json::array();
    (*details)["alerts"].push_back(record);
  }
}

namespace {

// One database: reachable, and the account grants `needs_of(dialect)`.
State probe(const config::NotifyConfig& cfg, const std::string& profile, const std::string& role,
            State unreachable, const std::function<std::vector<Need>(const Dialect&)>& needs_of,
            Services& svc, std::vector<std::string>* lines) {
  auto it = cfg.mysql.find(profile);
  if (it == cfg.mysql.end()) {
    lines->push_back(fmt::format("CRITICAL {} ({}): no such mysql profile", role, profile));
    return State::kCritical;
  }
  const auto& p = it->second;
  const std::string where = !p.socket.empty() ? p.socket : fmt::format("{}:{}", p.host, p.port);
  std::string err;
  auto db = svc.db->open(p, Millis(3000), &err);
  if (!db) {
    lines->push_back(fmt::format("{} {} ({}, {}): unreachable: {}", state_name(unreachable), role,
                                 profile, where, err));
    return unreachable;
  }
  const Dialect d = Dialect::detect(*db);
  const auto needs = needs_of(d);
  std::string note;
  auto missing = missing_privileges(*db, needs, &note);
  if (!missing.empty()) {
    std::string list;
    for (const auto& m : missing) list += (list.empty() ? "" : ", ") + m;
    lines->push_back(fmt::format("CRITICAL {} ({}, {}, {}): missing {}. Run: {}", role, profile,
                                 where, d.name(), list, grant_statement(needs, missing)));
    return State::kCritical;
  }
  lines->push_back(fmt::format("OK {} ({}, {}, {}): reachable, {}", role, profile, where, d.name(),
                               note.empty() ? "privileges granted" : note));
  return State::kOk;
}

}  // namespace

State preflight(const config::NotifyConfig& cfg, const std::string& instance, Services& svc,
                std::vector<std::string>* lines) {
  State worst_state = State::kOk;
  const auto& inst = cfg.instances.at(instance);
  bool any = false;
  for (const auto& a : inst.promote)
    if (const auto* p = std::get_if<config::MysqlPromoteSpec>(&a.spec)) {
      any = true;
      worst_state = worst(worst_state, probe(cfg, p->mysql, "this node's database (mysql_promote)",
                                             State::kCritical,
                                             [](const Dialect& d) { return promote_needs(d); }, svc, lines));
      if (!p->fence.empty())
        worst_state = worst(worst_state,
                            probe(cfg, p->fence, "the peer to fence (mysql_promote fence)",
                                  p->fence_required ? State::kCritical : State::kWarning,
                                  [k = p->fence_kill_sessions](const Dialect& d) { return fence_needs(d, k); },
                                  svc, lines));
    }
  for (const auto& a : inst.demote)
    if (const auto* d = std::get_if<config::MysqlDemoteSpec>(&a.spec)) {
      any = true;
      const bool rejoin = d->rejoin == config::Rejoin::kAuto;
      worst_state = worst(worst_state,
                          probe(cfg, d->mysql, "this node's database (mysql_demote)", State::kCritical,
                                [k = d->kill_sessions, rejoin](const Dialect& dd) {
                                  return demote_needs(dd, k, rejoin);
                                },
                                svc, lines));
      if (!d->peer.empty())
        worst_state = worst(worst_state,
                            probe(cfg, d->peer, "the peer (mysql_demote split brain / errant check)",
                                  State::kWarning, [](const Dialect&) { return std::vector<Need>{}; },
                                  svc, lines));
    }
  if (!any) lines->push_back("OK no mysql_promote/mysql_demote action: nothing to check");
  for (const auto& name : inst.alerts)
    lines->push_back(fmt::format("OK alerts go to notifications channel '{}'", name));
  return worst_state;
}

}  // namespace hakit::notify
