// mysql_promote and mysql_demote. Both are idempotent: every step checks the server's state
// first, so a second run (or a run after a crash half-way) completes what the first began.
#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <map>
#include <sstream>

#include "common/secrets.hpp"
#include "notify/actions.hpp"
#include "notify/mysql_state.hpp"

namespace hakit::notify {

std::map<std::uint32_t, std::uint64_t> parse_gtid_list(const std::string& text) {
  std::map<std::uint32_t, std::uint64_t> out;
  std::stringstream in(text);
  std::string item;
  while (std::getline(in, item, ',')) {
    unsigned long domain = 0, server = 0;
    unsigned long long seq = 0;
    if (std::sscanf(item.c_str(), " %lu-%lu-%llu", &domain, &server, &seq) == 3)
      out[static_cast<std::uint32_t>(domain)] = seq;
  }
  return out;
}

bool gtid_covers(const std::string& applied, const std::string& received) {
  auto a = parse_gtid_list(applied);
  for (const auto& [domain, seq] : parse_gtid_list(received)) {
    auto it = a.find(domain);
    if (it == a.end() || it->second < seq) return false;
  }
  return true;
}

std::string field(const mysql::Row& r, const std::string& key) {
  auto it = r.find(key);
  return it != r.end() && it->second ? *it->second : "";
}

bool caught_up(const mysql::Row& st, const std::string& gtid_slave_pos, bool positions_valid,
               std::string* why_not) {
  // The SQL thread waits for more relay log only once it has applied all of it.
  std::string state = field(st, "Slave_SQL_Running_State");
  bool idle = state.find("read all relay log") != std::string::npos;
  if (field(st, "Slave_SQL_Running") != "Yes") {
    *why_not = "SQL thread not running";
    return false;
  }
  if (!idle) {
    *why_not = "SQL thread busy: " + (state.empty() ? std::string("starting") : state);
    return false;
  }
  if (positions_valid) {
    bool same_file = field(st, "Relay_Master_Log_File") == field(st, "Master_Log_File");
    auto exec = std::strtoull(field(st, "Exec_Master_Log_Pos").c_str(), nullptr, 10);
    auto read = std::strtoull(field(st, "Read_Master_Log_Pos").c_str(), nullptr, 10);
    if (!same_file || exec < read) {
      *why_not = fmt::format("applied {}:{} < received {}:{}", field(st, "Relay_Master_Log_File"),
                             exec, field(st, "Master_Log_File"), read);
      return false;
    }
  }
  std::string io = field(st, "Gtid_IO_Pos");
  if (!io.empty() && !gtid_covers(gtid_slave_pos, io)) {
    *why_not = fmt::format("applied GTID {} < received {}", gtid_slave_pos, io);
    return false;
  }
  return true;
}

namespace {

constexpr const char* kNoConnection = "There is no master connection";

std::string conn_sql(const Db& db, const std::string& name) {
  return name.empty() ? "" : " " + db.quote(name);
}

// SHOW SLAVE STATUS; nullopt when no replication is configured (or the named one is gone).
bool slave_status(Db& db, const std::string& conn, std::optional<mysql::Row>* out,
                  std::string* err) {
  std::vector<mysql::Row> rows;
  std::string e;
  if (!db.query("SHOW SLAVE" + conn_sql(db, conn) + " STATUS", &rows, &e)) {
    if (e.find(kNoConnection) != std::string::npos) {
      out->reset();
      return true;
    }
    *err = "SHOW SLAVE STATUS: " + e;
    return false;
  }
  if (rows.empty()) {
    out->reset();
  } else {
    *out = rows[0];
  }
  return true;
}

std::string scalar(Db& db, const std::string& sql) {
  std::vector<mysql::Row> rows;
  std::string err;
  if (!db.query(sql, &rows, &err) || rows.empty() || rows[0].empty()) return "";
  auto v = rows[0].begin()->second;
  return v ? *v : "";
}

bool exec(Db& db, const std::string& sql, std::string* err) {
  std::string e;
  if (db.exec(sql, &e)) {
    spdlog::debug("mysql: {}", sql);
    return true;
  }
  *err = sql + ": " + e;
  return false;
}

// Client sessions: everything but replication, system threads and ourselves.
int kill_client_sessions(Db& db, std::string* err) {
  std::vector<mysql::Row> rows;
  if (!db.query("SELECT ID FROM information_schema.PROCESSLIST WHERE ID <> CONNECTION_ID() "
                "AND USER NOT IN ('system user', 'event_scheduler', '') AND COMMAND NOT IN "
                "('Binlog Dump', 'Binlog Dump GTID', 'Daemon', 'Slave_IO', 'Slave_SQL', "
                "'Slave_worker', 'Killed')",
                &rows, err))
    return -1;
  int killed = 0;
  for (const auto& r : rows) {
    std::string e;
    if (db.exec("KILL CONNECTION " + field(r, "ID"), &e)) ++killed;  // gone already: fine
  }
  return killed;
}

bool set_read_only(Db& db, bool on, std::string* err) {
  std::string e;
  if (!db.is_mariadb()) {
    // MySQL: super_read_only also stops SUPER users; it implies read_only, so order matters.
    std::string sro = fmt::format("SET GLOBAL super_read_only={}", on ? "ON" : "OFF");
    if (!db.exec(sro, &e) && e.find("Unknown system variable") == std::string::npos) {
      *err = sro + ": " + e;
      return false;
    }
  }
  return exec(db, fmt::format("SET GLOBAL read_only={}", on ? "ON" : "OFF"), err);
}

Json positions(Db& db) {
  Json p = Json::object();
  std::vector<mysql::Row> rows;
  std::string err;
  if (db.query("SHOW MASTER STATUS", &rows, &err) && !rows.empty()) {
    p["binlog_file"] = field(rows[0], "File");
    p["binlog_pos"] = field(rows[0], "Position");
  }
  if (db.is_mariadb()) {
    p["gtid_binlog_pos"] = scalar(db, "SELECT @@GLOBAL.gtid_binlog_pos");
    p["gtid_current_pos"] = scalar(db, "SELECT @@GLOBAL.gtid_current_pos");
  } else {
    p["gtid_executed"] = scalar(db, "SELECT @@GLOBAL.gtid_executed");
  }
  return p;
}

// Fences the old master: read-only (and sessions killed) so nothing more is written there.
// Returns its binlog position (to let our IO thread fetch up to it), empty when unreachable.
Json fence(const config::MysqlPromoteSpec& spec, RunContext& ctx, Clock::time_point deadline) {
  Json f{{"profile", spec.fence}};
  auto it = ctx.cfg.mysql.find(spec.fence);
  if (it == ctx.cfg.mysql.end()) {
    f["result"] = "no such mysql profile";
    return f;
  }
  std::string err;
  auto db = ctx.svc.db->open(it->second, remaining(deadline), &err);
  if (!db) {
    f["result"] = "unreachable";
    f["error"] = err;
    spdlog::warn("fence: {} unreachable ({}): it cannot take writes if it is down", spec.fence, err);
    return f;
  }
  if (!set_read_only(*db, true, &err)) {
    f["result"] = "failed";
    f["error"] = err;
    spdlog::error("fence: could not set {} read-only: {}", spec.fence, err);
    return f;
  }
  f["result"] = "read-only";
  if (spec.fence_kill_sessions) f["killed_sessions"] = kill_client_sessions(*db, &err);
  f["master"] = positions(*db);
  spdlog::info("fence: {} set read-only{}", spec.fence,
               spec.fence_kill_sessions ? fmt::format(", {} sessions killed", f.value("killed_sessions", 0)) : "");
  return f;
}

// After fencing: let the IO thread fetch everything the old master has before stopping it.
bool wait_io_thread(Db& db, const std::string& conn, const Json& master, RunContext& ctx,
                    Clock::time_point deadline) {
  const std::string file = master.value("binlog_file", "");
  const auto pos = std::strtoull(master.value("binlog_pos", "0").c_str(), nullptr, 10);
  const std::string gtid = master.value("gtid_binlog_pos", "");
  Millis pause(2);
  while (Clock::now() < deadline) {
    std::optional<mysql::Row> st;
    std::string err;
    if (!slave_status(db, conn, &st, &err) || !st) return false;
    if (field(*st, "Slave_IO_Running") != "Yes") return false;
    bool by_pos = !file.empty() && field(*st, "Master_Log_File") == file &&
                  std::strtoull(field(*st, "Read_Master_Log_Pos").c_str(), nullptr, 10) >= pos;
    bool by_gtid = !gtid.empty() && gtid_covers(field(*st, "Gtid_IO_Pos"), gtid);
    if (by_pos || by_gtid) return true;
    ctx.svc.sleep(pause);
    pause = std::min(pause * 2, Millis(50));
  }
  return false;
}

}  // namespace

Attempt mysql_promote(const config::MysqlPromoteSpec& spec, RunContext& ctx,
                      Clock::time_point deadline) {
  Attempt at;
  Json& d = at.details;
  std::string err;
  auto db = ctx.svc.db->open(ctx.cfg.mysql.at(spec.mysql), remaining(deadline), &err);
  if (!db) {
    at.error = fmt::format("cannot connect to {}: {}", spec.mysql, err);
    return at;
  }
  const std::string c = conn_sql(*db, spec.connection);
  std::optional<mysql::Row> st;
  if (!slave_status(*db, spec.connection, &st, &at.error)) return at;
  const auto catchup_deadline = std::min(deadline, Clock::now() + spec.catchup_timeout);

  if (!spec.fence.empty()) {
    d["fence"] = fence(spec, ctx, catchup_deadline);
    const std::string r = d["fence"].value("result", "");
    if (spec.fence_required && r != "read-only") {
      at.refused = true;
      at.error = fmt::format("fence of {} {}: promotion refused (fence_required); this node stays "
                             "read-only", spec.fence, r);
      return at;
    }
    if (r == "read-only" && st && field(*st, "Slave_IO_Running") == "Yes")
      d["fence"]["io_thread_fetched_all"] =
          wait_io_thread(*db, spec.connection, d["fence"]["master"], ctx, catchup_deadline);
  }

  if (st) {
    d["replication"] = {{"master", field(*st, "Master_Host") + ":" + field(*st, "Master_Port")},
                        {"using_gtid", field(*st, "Using_Gtid")},
                        {"sql_delay", field(*st, "SQL_Delay")}};
    // Nothing new may arrive while we apply what is here.
    if (!exec(*db, "STOP SLAVE" + c + " IO_THREAD", &at.error)) return at;
    if (!slave_status(*db, spec.connection, &st, &at.error)) return at;
  }
  bool positions_valid = true;
  if (st && std::strtoul(field(*st, "SQL_Delay").c_str(), nullptr, 10) > 0) {
    // A delayed SQL thread would sit on the relay log for MASTER_DELAY seconds. CHANGE MASTER
    // drops the relay log unless it is told where the SQL thread stands, so name its position.
    if (!exec(*db, "STOP SLAVE" + c, &at.error)) return at;
    if (!slave_status(*db, spec.connection, &st, &at.error) || !st) return at;
    std::string change =
        fmt::format("CHANGE MASTER{} TO MASTER_DELAY=0, RELAY_LOG_FILE={}, RELAY_LOG_POS={}", c,
                    db->quote(field(*st, "Relay_Log_File")), field(*st, "Relay_Log_Pos"));
    if (!exec(*db, change, &at.error)) return at;
    d["master_delay_cleared"] = field(*st, "SQL_Delay");
    spdlog::info("mysql_promote: MASTER_DELAY {} cleared so the relay log is applied now",
                 field(*st, "SQL_Delay"));
    positions_valid = false;  // the master positions were reset to the relay position named
    if (!slave_status(*db, spec.connection, &st, &at.error) || !st) return at;
  }
  if (st) {
    if (field(*st, "Slave_SQL_Running") != "Yes") {
      if (field(*st, "Last_SQL_Errno") != "0" && !field(*st, "Last_SQL_Errno").empty()) {
        at.refused = spec.on_catchup_timeout == "refuse";
        at.error = fmt::format("the SQL thread stopped with error {}: {}", field(*st, "Last_SQL_Errno"),
                               field(*st, "Last_SQL_Error"));
      } else if (!exec(*db, "START SLAVE" + c + " SQL_THREAD", &at.error)) {
        return at;
      }
    }
    const auto t0 = Clock::now();
    std::string why;
    bool done = false;
    Millis pause(2);
    while (at.error.empty()) {
      if (!slave_status(*db, spec.connection, &st, &at.error) || !st) break;
      done = caught_up(*st, scalar(*db, "SELECT @@GLOBAL.gtid_slave_pos"), positions_valid, &why);
      if (done) break;
      if (field(*st, "Slave_SQL_Running") == "No" && field(*st, "Last_SQL_Errno") != "0") {
        at.error = fmt::format("the SQL thread stopped with error {}: {}", field(*st, "Last_SQL_Errno"),
                               field(*st, "Last_SQL_Error"));
        break;
      }
      if (Clock::now() >= catchup_deadline) {
        at.error = fmt::format("catch-up did not finish within {}: {}",
                               format_duration(spec.catchup_timeout), why);
        break;
      }
      ctx.svc.sleep(pause);
      pause = std::min(pause * 2, Millis(50));
    }
    d["catchup"] = {{"result", done ? "caught-up" : "incomplete"},
                    {"ms", std::chrono::duration_cast<Millis>(Clock::now() - t0).count()}};
    if (!done) {
      if (st) d["catchup"]["status"] = {{"read", field(*st, "Master_Log_File") + ":" + field(*st, "Read_Master_Log_Pos")},
                                        {"applied", field(*st, "Relay_Master_Log_File") + ":" + field(*st, "Exec_Master_Log_Pos")},
                                        {"gtid_io_pos", field(*st, "Gtid_IO_Pos")}};
      if (spec.on_catchup_timeout == "refuse") {
        // Stay a replica: writable with a gap would lose the rows still in the relay log.
        std::string e2;
        set_read_only(*db, true, &e2);
        exec(*db, "START SLAVE" + c, &e2);
        at.refused = true;
        at.error += "; promotion refused (on_catchup_timeout: refuse): the database stays "
                    "read-only and replication was restarted";
        return at;
      }
      spdlog::critical("mysql_promote: {}; promoting anyway (on_catchup_timeout: promote): "
                       "transactions still in the relay log are LOST", at.error);
      d["catchup"]["forced"] = at.error;
      at.error.clear();
    }
    if (!exec(*db, "STOP SLAVE" + c, &at.error)) return at;
    if (!exec(*db, "RESET SLAVE" + c + " ALL", &at.error)) return at;
  } else {
    d["replication"] = "none configured (already promoted, or never a replica)";
  }
  if (!set_read_only(*db, false, &at.error)) return at;
  ctx.writable_ms = std::chrono::duration_cast<Millis>(Clock::now() - ctx.started).count();
  ctx.positions = positions(*db);
  d["positions"] = ctx.positions;
  at.ok = true;
  return at;
}

Attempt mysql_demote(const config::MysqlDemoteSpec& spec, RunContext& ctx,
                     Clock::time_point deadline) {
  Attempt at;
  Json& d = at.details;
  std::string err;
  auto db = ctx.svc.db->open(ctx.cfg.mysql.at(spec.mysql), remaining(deadline), &err);
  if (!db) {
    at.error = fmt::format("cannot connect to {}: {}", spec.mysql, err);
    return at;
  }
  if (!set_read_only(*db, true, &at.error)) return at;
  d["read_only"] = true;
  if (spec.kill_sessions) {
    int n = kill_client_sessions(*db, &err);
    d["killed_sessions"] = n;
    if (n < 0) spdlog::warn("mysql_demote: cannot list client sessions: {}", err);
  }
  ctx.positions = positions(*db);
  const std::string c = conn_sql(*db, spec.connection);
  std::optional<mysql::Row> st;
  if (!slave_status(*db, spec.connection, &st, &at.error)) return at;

  std::string host = "<new master host>", port = "3306";
  if (!spec.peer.empty()) {
    const auto& p = ctx.cfg.mysql.at(spec.peer);
    host = p.host;
    port = std::to_string(p.port);
  }
  const bool mariadb = db->is_mariadb();
  auto change = [&](const std::string& password_sql) {
    return fmt::format(
        "CHANGE MASTER{} TO MASTER_HOST={}, MASTER_PORT={}, MASTER_USER={}, "
        "MASTER_PASSWORD={}, {}",
        c, db->quote(host), port, db->quote(spec.replication_user), password_sql,
        mariadb ? "MASTER_USE_GTID=current_pos" : "MASTER_AUTO_POSITION=1");
  };
  const std::string shown_password =
      spec.replication_password_file.empty()
          ? "'<replication password>'"
          : "'<password from " + spec.replication_password_file + ">'";
  const std::string statement = change(shown_password) + "; START SLAVE" + c + ";";
  const bool to_peer = st && field(*st, "Master_Host") == host && field(*st, "Master_Port") == port;
  const bool running = st && field(*st, "Slave_IO_Running") == "Yes" &&
                       field(*st, "Slave_SQL_Running") == "Yes";
  if (to_peer && running) {
    d["rejoin"] = "already replicating from " + host + ":" + port;
  } else if (spec.rejoin == "manual") {
    d["rejoin"] = "manual";
    d["rejoin_statement"] = statement;
    spdlog::warn("mysql_demote: this node is read-only and not replicating. To re-attach it to "
                 "the new master, check the new master's journal entry, then run: {}",
                 statement);
  } else if (to_peer) {
    if (!exec(*db, "START SLAVE" + c, &at.error)) return at;
    d["rejoin"] = "restarted replication from " + host + ":" + port;
  } else {
    auto password = read_secret_file(spec.replication_password_file, &err);
    if (!password) {
      at.error = "rejoin: " + err;
      return at;
    }
    Secret secret(std::move(*password));
    std::string e;
    db->exec("STOP SLAVE" + c, &e);  // not configured yet: nothing to stop
    if (!db->exec(change(db->quote(secret.reveal())), &e)) {
      // A server error can quote the statement back: never let the password through.
      for (size_t p; !secret.empty() && (p = e.find(secret.reveal())) != std::string::npos;)
        e.replace(p, secret.reveal().size(), "***");
      at.error = change(shown_password) + ": " + e;
      return at;
    }
    if (!exec(*db, "START SLAVE" + c, &at.error)) return at;
    d["rejoin"] = "re-pointed to " + host + ":" + port;
    d["rejoin_statement"] = statement;
    spdlog::info("mysql_demote: replicating from the new master {}:{} (GTID)", host, port);
  }
  d["positions"] = ctx.positions;
  at.ok = true;
  return at;
}

}  // namespace hakit::notify
