// mysql_promote and mysql_demote. Both are idempotent: every step checks the server's state
// first, so a second run (or a run after a crash half-way) completes what the first began.
#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <map>
#include <optional>
#include <sstream>

#include "common/secrets.hpp"
#include "notify/actions.hpp"
#include "notify/mysql_dialect.hpp"
#include "notify/mysql_state.hpp"
#include "notify/partition.hpp"
#include "notify/read_only.hpp"

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

bool caught_up(const mysql::ReplicaStatus& st, const std::string& gtid_slave_pos,
               bool positions_valid, std::string* why_not) {
  // The SQL thread waits for more relay log only once it has applied all of it.
  const std::string& state = st.sql_running_state;
  bool idle = state.find("read all relay log") != std::string::npos;
  if (!st.sql_ok()) {
    *why_not = "SQL thread not running";
    return false;
  }
  if (!idle) {
    *why_not = "SQL thread busy: " + (state.empty() ? std::string("starting") : state);
    return false;
  }
  if (positions_valid) {
    bool same_file = st.relay_source_log_file == st.source_log_file;
    if (!same_file || st.exec_source_log_pos < st.read_source_log_pos) {
      *why_not = fmt::format("applied {}:{} < received {}:{}", st.relay_source_log_file,
                             st.exec_source_log_pos, st.source_log_file, st.read_source_log_pos);
      return false;
    }
  }
  const std::string& io = st.gtid_io_pos;
  if (!io.empty() && !gtid_covers(gtid_slave_pos, io)) {
    *why_not = fmt::format("applied GTID {} < received {}", gtid_slave_pos, io);
    return false;
  }
  return true;
}

namespace {

constexpr const char* kNoConnection = "There is no master connection";  // MariaDB
constexpr const char* kNoChannel = "does not exist";  // MySQL: "Replica channel 'x' does not exist"

using Status = std::optional<mysql::ReplicaStatus>;

// SHOW SLAVE/REPLICA STATUS through the one parser the check uses; nullopt when no
// replication is configured (or the named connection/channel is gone).
bool slave_status(Db& db, const Dialect& dialect, const std::string& conn, Status* out,
                  std::string* err) {
  std::vector<mysql::Row> rows;
  std::string e;
  const std::string sql = dialect.status(conn);
  if (!db.query(sql, &rows, &e)) {
    if (e.find(kNoConnection) != std::string::npos || e.find(kNoChannel) != std::string::npos) {
      out->reset();
      return true;
    }
    *err = sql + ": " + e;
    return false;
  }
  out->reset();
  if (rows.empty()) return true;
  mysql::ReplicaStatus st;
  if (!mysql::parse_replica_status(rows[0], &st, &e)) {
    *err = sql + ": " + e;
    return false;
  }
  *out = std::move(st);
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

}  // namespace

bool set_read_only(Db& db, const Dialect& dialect, bool on, std::string* err) {
  std::string e;
  if (!dialect.mariadb) {
    // MySQL: super_read_only also stops SUPER users; it implies read_only, so order matters.
    std::string sro = fmt::format("SET GLOBAL super_read_only={}", on ? "ON" : "OFF");
    if (!db.exec(sro, &e) && e.find("Unknown system variable") == std::string::npos) {
      *err = sro + ": " + e;
      return false;
    }
  }
  return exec(db, fmt::format("SET GLOBAL read_only={}", on ? "ON" : "OFF"), err);
}

namespace {

Json positions(Db& db, const Dialect& dialect) {
  Json p = Json::object();
  std::vector<mysql::Row> rows;
  std::string err;
  if (db.query(dialect.binlog_status(), &rows, &err) && !rows.empty()) {
    p["binlog_file"] = field(rows[0], "File");
    p["binlog_pos"] = field(rows[0], "Position");
  }
  if (dialect.mariadb) {
    p["gtid_binlog_pos"] = scalar(db, "SELECT @@GLOBAL.gtid_binlog_pos");
    p["gtid_current_pos"] = scalar(db, "SELECT @@GLOBAL.gtid_current_pos");
  } else {
    p["gtid_executed"] = scalar(db, "SELECT @@GLOBAL.gtid_executed");
  }
  return p;
}

// Fences a server: read-only (and sessions killed) so nothing more is written there, and a
// fence mark in its hakit schema (outside replication) saying who fenced it, when and at which
// GTID, so that its check, hakit-status and its operator know why it is read-only.
// `fenced_by_peer`: this node carries a fence mark of its own and the target is still the
// writable master: that is a partition between the keepalived nodes, not a failure, and
// the caller stands down (result "standing-down", the target untouched).
Json fence_server(const std::string& profile, bool kill_sessions, const std::string& why,
                  const std::optional<mysql::FenceMark>& fenced_by_peer, RunContext& ctx,
                  Clock::time_point deadline) {
  Json f{{"profile", profile}};
  auto it = ctx.cfg.mysql.find(profile);
  if (it == ctx.cfg.mysql.end()) {
    f["result"] = "no such mysql profile";
    return f;
  }
  std::string err;
  auto db = ctx.svc.db->open(it->second, remaining(deadline), &err);
  if (!db) {
    f["result"] = "unreachable";
    f["error"] = err;
    spdlog::warn("fence: {} unreachable ({}): it cannot take writes if it is down", profile, err);
    return f;
  }
  const Dialect dialect = Dialect::detect(*db);
  ServerView view;
  std::string verr;
  const bool seen = look_at(*db, dialect, "", &view, &verr);
  if (fenced_by_peer && seen && !view.read_only && !view.replicating) {
    f["result"] = "standing-down";
    f["error"] = fmt::format("this node was fenced by {} at {} UTC and {} is still the writable "
                             "master: the nodes lost each other's VRRP, not the master",
                             fenced_by_peer->by, fenced_by_peer->at, profile);
    return f;
  }
  std::string note;
  const auto needs = fence_needs(dialect, kill_sessions);
  if (auto missing = missing_privileges(*db, needs, &note); !missing.empty()) {
    f["result"] = "cannot-fence";
    f["missing_privileges"] = missing;
    f["grant"] = grant_statement(needs, missing);
    f["error"] = fmt::format("{} is reachable but this account cannot fence it: missing {}",
                             profile, missing.front());
    return f;
  }
  // A running replica (keepalived starting the master while its replica is healthy) is read
  // only already and follows us: setting read_only again is harmless, a mark would keep a
  // healthy standby out of the VIP.
  const bool replica = seen && view.read_only && view.replicating;
  mysql::Session session = session_of(*db, dialect);
  mysql::FenceMark mark;
  mark.by = node_name();
  mark.gtid = view.gtid;
  mark.reason = "fenced";
  mark.detail = why;
  std::string merr;
  // MySQL's super_read_only stops every writer, us included: the mark goes first there.
  bool marked = !replica && !dialect.mariadb && mysql::write_fence_mark(session, mark, &merr);
  if (!set_read_only(*db, dialect, true, &err)) {
    f["result"] = "failed";
    f["error"] = err;
    spdlog::error("fence: could not set {} read-only: {}", profile, err);
    return f;
  }
  f["result"] = "read-only";
  if (kill_sessions) f["killed_sessions"] = kill_client_sessions(*db, &err);
  f["master"] = positions(*db, dialect);
  if (replica) {
    f["mark"] = "none: a running replica";
    return f;
  }
  if (dialect.mariadb) marked = mysql::write_fence_mark(session, mark, &merr);
  f["mark"] = marked ? Json("written") : Json("not written: " + merr);
  if (!marked) spdlog::warn("fence: {} is read-only but its fence mark was not written: {}", profile, merr);
  spdlog::info("fence: {} set read-only{}", profile,
               kill_sessions ? fmt::format(", {} sessions killed", f.value("killed_sessions", 0)) : "");
  return f;
}

// After fencing: let the IO thread fetch everything the old master has before stopping it.
bool wait_io_thread(Db& db, const Dialect& dialect, const std::string& conn, const Json& master,
                    RunContext& ctx, Clock::time_point deadline) {
  const std::string file = master.value("binlog_file", "");
  const auto pos = std::strtoull(master.value("binlog_pos", "0").c_str(), nullptr, 10);
  const std::string gtid = master.value("gtid_binlog_pos", "");
  const std::string executed = master.value("gtid_executed", "");  // MySQL
  Millis pause(2);
  while (Clock::now() < deadline) {
    Status st;
    std::string err;
    if (!slave_status(db, dialect, conn, &st, &err) || !st) return false;
    if (!st->io_ok()) return false;
    bool by_pos = !file.empty() && st->source_log_file == file && st->read_source_log_pos >= pos;
    bool by_gtid =
        dialect.mariadb
            ? !gtid.empty() && gtid_covers(st->gtid_io_pos, gtid)
            : !executed.empty() &&
                  scalar(db, fmt::format("SELECT GTID_SUBSET({}, {})", db.quote(executed),
                                         db.quote(st->retrieved_gtid_set))) == "1";
    if (by_pos || by_gtid) return true;
    ctx.svc.sleep(pause);
    pause = std::min(pause * 2, Millis(50));
  }
  return false;
}

// MySQL: has the SQL thread applied what the IO thread retrieved? Asks the server to wait at
// most `wait` for it (WAIT_FOR_EXECUTED_GTID_SET with GTIDs, SOURCE_POS_WAIT without), so a
// poll costs no more than that. nullopt + *why when the server cannot tell (thread stopped).
std::optional<bool> mysql_caught_up(Db& db, const Dialect& dialect, const std::string& conn,
                                    const mysql::ReplicaStatus& st, Millis wait, std::string* why) {
  const std::string secs = fmt::format("{:.3f}", std::max<double>(seconds(wait), 0.001));
  std::string sql;
  if (!st.retrieved_gtid_set.empty()) {
    sql = fmt::format("SELECT WAIT_FOR_EXECUTED_GTID_SET({}, {})", db.quote(st.retrieved_gtid_set),
                      secs);
  } else {
    sql = fmt::format("SELECT {}({}, {}, {}{})", dialect.pos_wait_function(),
                      db.quote(st.source_log_file), st.read_source_log_pos, secs,
                      conn.empty() ? "" : ", " + db.quote(conn));
  }
  std::vector<mysql::Row> rows;
  std::string err;
  if (!db.query(sql, &rows, &err) || rows.empty() || rows[0].empty() || !rows[0].begin()->second) {
    *why = err.empty() ? sql + " returned NULL (SQL thread not running?)" : sql + ": " + err;
    return std::nullopt;
  }
  const long long r = std::strtoll(rows[0].begin()->second->c_str(), nullptr, 10);
  // WAIT_FOR_EXECUTED_GTID_SET: 0 done, 1 timeout. *_POS_WAIT: events waited for (>= 0), -1
  // timeout.
  const bool done = st.retrieved_gtid_set.empty() ? r >= 0 : r == 0;
  if (!done)
    *why = st.retrieved_gtid_set.empty()
               ? fmt::format("applied {}:{} < received {}:{}", st.relay_source_log_file,
                             st.exec_source_log_pos, st.source_log_file, st.read_source_log_pos)
               : fmt::format("executed GTID set {} does not contain the retrieved {}",
                             st.executed_gtid_set, st.retrieved_gtid_set);
  return done;
}

// How long rejoin: auto waits for an unreachable new master before it gives up (logged).
constexpr Millis kRejoinWait{15000};

// Did this promotion stop a replication (rather than find a master already)?
bool st_was_replica(const Json& d) { return d.contains("replication") && d["replication"].is_object(); }

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
  const Dialect dialect = Dialect::detect(*db);
  if (dialect.version) d["server"] = dialect.name();
  const std::string& c = spec.connection;
  Status st;
  if (!slave_status(*db, dialect, c, &st, &at.error)) return at;
  const auto catchup_deadline = std::min(deadline, Clock::now() + spec.catchup_timeout);

  // Preflight: everything this promotion will need here, before it touches the peer. A
  // promotion that fences the old master and then fails on RESET SLAVE ALL leaves no
  // writable node at all.
  {
    std::string note;
    auto needs = promote_needs(dialect);
    if (!st) needs.erase(needs.begin(), needs.begin() + 3);  // no replication to stop or reset
    if (auto missing = missing_privileges(*db, needs, &note); !missing.empty()) {
      at.refused = true;
      d["missing_privileges"] = missing;
      d["grant"] = grant_statement(needs, missing);
      at.error = fmt::format("promotion refused before any change: the account of profile {} "
                             "lacks {}; grant it ({}) and run notify_master again",
                             spec.mysql, missing.front(), grant_statement(needs, missing));
      return at;
    }
    if (!note.empty()) d["privileges"] = note;
  }
  mysql::Session local = session_of(*db, dialect);
  std::optional<mysql::FenceMark> own_mark;
  if (std::string me; !mysql::read_fence_mark(local, &own_mark, &me))
    spdlog::debug("mysql_promote: cannot read this node's fence mark: {}", me);
  if (own_mark && own_mark->errant()) {
    at.refused = true;
    d["fence_mark"] = {{"by", own_mark->by}, {"at", own_mark->at}, {"reason", own_mark->reason},
                       {"detail", own_mark->detail}};
    at.error = fmt::format("promotion refused: this node holds errant transactions ({}) found at "
                           "{} UTC; it must be rebuilt or reconciled first (docs/operations.md, "
                           "\"Partitions\"), then cleared with notify_backup --clear-fence",
                           own_mark->detail, own_mark->at);
    return at;
  }

  if (!spec.fence.empty()) {
    d["fence"] = fence_server(spec.fence, spec.fence_kill_sessions,
                              fmt::format("promotion of {} ({})", node_name(), ctx.event.instance),
                              own_mark, ctx, catchup_deadline);
    const std::string r = d["fence"].value("result", "");
    if (r == "standing-down" || r == "cannot-fence") {
      at.refused = true;
      at.error = "promotion refused: " + d["fence"].value("error", "") +
                 "; nothing changed, this node stays read-only";
      return at;
    }
    if (spec.fence_required && r != "read-only") {
      at.refused = true;
      at.error = fmt::format("fence of {} {}: promotion refused (fence_required); this node stays "
                             "read-only", spec.fence, r);
      return at;
    }
    if (r == "unreachable")
      alert(ctx, "possible-split-brain",
            fmt::format("{} promotes without fencing the old master ({}: {}). If that node is "
                        "alive behind a partition and still writable, both accept writes until "
                        "the partition heals; the newer promotion (this one) wins then.",
                        node_name(), spec.fence, d["fence"].value("error", "")),
            &d);
    if (r == "read-only" && st && st->io_ok())
      d["fence"]["io_thread_fetched_all"] =
          wait_io_thread(*db, dialect, c, d["fence"]["master"], ctx, catchup_deadline);
  }

  if (st) {
    d["replication"] = {{"master", fmt::format("{}:{}", st->source_host, st->source_port)},
                        {"using_gtid", dialect.mariadb     ? st->using_gtid
                                       : st->auto_position ? "Auto_Position"
                                                           : "No"},
                        {"sql_delay", std::to_string(st->sql_delay)}};
    // Nothing new may arrive while we apply what is here.
    if (!exec(*db, dialect.stop(c, "IO_THREAD"), &at.error)) return at;
    if (!slave_status(*db, dialect, c, &st, &at.error)) return at;
  }
  bool positions_valid = true;
  if (st && st->sql_delay > 0) {
    // A delayed SQL thread would sit on the relay log for MASTER_DELAY seconds. CHANGE MASTER
    // drops the relay log unless it is told where the SQL thread stands, so name its position.
    if (!exec(*db, dialect.stop(c), &at.error)) return at;
    if (!slave_status(*db, dialect, c, &st, &at.error) || !st) return at;
    const std::string change = dialect.change_source(
        c, fmt::format("{}=0, RELAY_LOG_FILE={}, RELAY_LOG_POS={}", dialect.option("DELAY"),
                       db->quote(st->relay_log_file), st->relay_log_pos));
    if (!exec(*db, change, &at.error)) return at;
    d["master_delay_cleared"] = std::to_string(st->sql_delay);
    spdlog::info("mysql_promote: MASTER_DELAY {} cleared so the relay log is applied now",
                 st->sql_delay);
    positions_valid = false;  // the master positions were reset to the relay position named
    if (!slave_status(*db, dialect, c, &st, &at.error) || !st) return at;
  }
  if (st) {
    auto sql_error = [&st] {
      return fmt::format("the SQL thread stopped with error {}: {}", st->sql_errno, st->sql_error);
    };
    bool sql_failed = false;
    if (!st->sql_ok()) {
      if (st->sql_errno != 0) {
        sql_failed = true;
        at.error = sql_error();
      } else if (!exec(*db, dialect.start(c, "SQL_THREAD"), &at.error)) {
        return at;
      }
    }
    const auto t0 = Clock::now();
    std::string why;
    bool done = false;
    Millis pause(2);
    while (at.error.empty()) {
      if (!slave_status(*db, dialect, c, &st, &at.error) || !st) break;
      if (dialect.mariadb || (!positions_valid && st->retrieved_gtid_set.empty())) {
        const std::string applied =
            dialect.mariadb ? scalar(*db, "SELECT @@GLOBAL.gtid_slave_pos") : "";
        done = caught_up(*st, applied, positions_valid, &why);
      } else {
        // MySQL: the server waits (bounded) until the SQL thread applied what was retrieved.
        auto left = std::chrono::duration_cast<Millis>(catchup_deadline - Clock::now());
        done =
            mysql_caught_up(*db, dialect, c, *st, std::clamp(left, Millis(1), Millis(1000)), &why)
                .value_or(false);
      }
      if (done) break;
      if (!st->sql_ok() && st->sql_errno != 0) {
        sql_failed = true;
        at.error = sql_error();
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
      if (st)
        d["catchup"]["status"] = {
            {"read", fmt::format("{}:{}", st->source_log_file, st->read_source_log_pos)},
            {"applied", fmt::format("{}:{}", st->relay_source_log_file, st->exec_source_log_pos)},
            {"gtid_io_pos", st->gtid_io_pos}};
      // An SQL thread stopped by an error is not "slow": promoting past it drops the failed
      // transaction and everything behind it, so it has its own, separate switch.
      const auto policy = sql_failed ? spec.on_sql_error : spec.on_catchup_timeout;
      const char* key = sql_failed ? "on_sql_error" : "on_catchup_timeout";
      if (policy == config::CatchupPolicy::kRefuse) {
        // Stay a replica: writable with a gap would lose the rows still in the relay log.
        std::string e2;
        set_read_only(*db, dialect, true, &e2);
        if (d.contains("master_delay_cleared")) {
          // Put the delay back as the operator configured it.
          const std::string delay = d.value("master_delay_cleared", "0");
          exec(*db, dialect.stop(c), &e2);
          if (exec(*db, dialect.change_source(c, fmt::format("{}={}", dialect.option("DELAY"), delay)),
                   &e2))
            d["master_delay_restored"] = delay;
          else
            spdlog::error("mysql_promote: could not restore MASTER_DELAY={}: {}", delay, e2);
        }
        exec(*db, dialect.start(c), &e2);
        at.refused = true;
        at.error += fmt::format("; promotion refused ({}: refuse): the database stays read-only "
                                "and replication was restarted", key);
        return at;
      }
      spdlog::critical("mysql_promote: {}; promoting anyway ({}: promote): transactions still in "
                       "the relay log are LOST", at.error, key);
      d["catchup"]["forced"] = at.error;
      d["catchup"]["forced_by"] = key;
      at.error.clear();
    }
    if (!exec(*db, dialect.stop(c), &at.error)) return at;
    if (!exec(*db, dialect.reset_all(c), &at.error)) return at;
  } else {
    d["replication"] = "none configured (already promoted, or never a replica)";
  }
  const bool was_writable = [&] {
    std::vector<mysql::Row> rows;
    std::string e;
    return db->query("SELECT @@GLOBAL.read_only AS ro", &rows, &e) && !rows.empty() &&
           (field(rows[0], "ro") == "0" || field(rows[0], "ro") == "OFF");
  }();
  // The arbiter (when configured) renews and checks its lease right before the node writes.
  if (ctx.before_writable && !ctx.before_writable(&at.error)) {
    at.refused = true;
    return at;
  }
  if (!set_read_only(*db, dialect, false, &at.error)) return at;
  ctx.writable_ms = std::chrono::duration_cast<Millis>(Clock::now() - ctx.started).count();
  ctx.positions = positions(*db, dialect);
  d["positions"] = ctx.positions;
  // The records that order masters after a partition: when this node became writable, and
  // that any fence mark it carried is over. A node that was writable already keeps its
  // promotion time (a restart of keepalived is not a newer master).
  std::string re;
  if (!was_writable || st_was_replica(d)) {
    if (mysql::write_promotion(local, node_name(), mysql::gtid_position(local), &re))
      d["promotion_record"] = "written";
    else
      d["promotion_record"] = "not written: " + re;
  }
  if (own_mark) {
    const int n = mysql::clear_fence_marks(local, "promoted by " + node_name(), &re);
    d["fence_mark_cleared"] = n >= 0 ? Json(n) : Json("failed: " + re);
  }
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
  const Dialect dialect = Dialect::detect(*db);
  if (dialect.version) d["server"] = dialect.name();
  mysql::Session local = session_of(*db, dialect);

  // The peer's view: whether both are writable masters (a healed partition), and what it
  // has, to tell whether this node can replicate from it.
  std::optional<ServerView> peer_view;
  if (!spec.peer.empty()) {
    std::string perr;
    if (auto pdb = ctx.svc.db->open(ctx.cfg.mysql.at(spec.peer),
                                    std::min(remaining(deadline), Millis(2000)), &perr)) {
      ServerView v;
      if (look_at(*pdb, Dialect::detect(*pdb), "", &v, &perr)) peer_view = v;
    }
    if (!peer_view) d["peer"] = "unreachable: " + perr;
  }
  ServerView me;
  std::string merr;
  const bool seen = look_at(*db, dialect, spec.connection, &me, &merr);
  if (seen && peer_view && !me.read_only && !me.replicating && !peer_view->read_only &&
      !peer_view->replicating) {
    // Split brain: both nodes writable. The newer promotion holds the newest acknowledged
    // writes (clients follow the VIP to the node promoted last).
    const std::int64_t mine = me.promotion ? me.promotion->epoch_us : 0;
    const std::int64_t theirs = peer_view->promotion ? peer_view->promotion->epoch_us : 0;
    const std::string when_mine = me.promotion ? me.promotion->at + " UTC" : "never";
    const std::string when_theirs = peer_view->promotion ? peer_view->promotion->at + " UTC" : "never";
    d["split_brain"] = {{"this_promoted", when_mine}, {"peer_promoted", when_theirs}};
    if (ctx.event.state == "BACKUP" && spec.on_split_brain == config::SplitBrain::kKeepNewest &&
        mine > theirs) {
      Json f = fence_server(spec.peer, spec.kill_sessions,
                            fmt::format("split brain: {} (promoted {}) kept, this node promoted {}",
                                        node_name(), when_mine, when_theirs),
                            std::nullopt, ctx, deadline);
      d["fence"] = f;
      if (f.value("result", "") == "read-only") {
        alert(ctx, "split-brain",
              fmt::format("both {} and {} were writable. {} holds the newer promotion ({} > {}) "
                          "and stays writable; {} was fenced (read-only) and will give up the VIP "
                          "through its guard check. Rows written on {} since the partition are "
                          "errant there.",
                          node_name(), spec.peer, node_name(), when_mine, when_theirs, spec.peer,
                          spec.peer),
              &d);
        d["kept_writable"] = true;
        d["read_only"] = false;
        at.ok = true;
        return at;
      }
      spdlog::error("mysql_demote: split brain, this node is newer but the peer could not be "
                    "fenced ({}): demoting this node after all", f.value("error", f.value("result", "")));
    }
    alert(ctx, "split-brain",
          fmt::format("both {} and {} were writable; {} (promoted {}) is demoted, {} (promoted {}) "
                      "keeps the writes. Rows written on {} since the partition are errant.",
                      node_name(), spec.peer, node_name(), when_mine, spec.peer, when_theirs,
                      node_name()),
          &d);
  }

  if (!set_read_only(*db, dialect, true, &at.error)) return at;
  d["read_only"] = true;
  if (ctx.after_read_only) ctx.after_read_only();
  if (spec.kill_sessions) {
    int n = kill_client_sessions(*db, &err);
    d["killed_sessions"] = n;
    if (n < 0) spdlog::warn("mysql_demote: cannot list client sessions: {}", err);
  }
  ctx.positions = positions(*db, dialect);
  const std::string& c = spec.connection;
  Status st;
  if (!slave_status(*db, dialect, c, &st, &at.error)) return at;

  std::string host = "<new master host>", port = "3306";
  if (!spec.peer.empty()) {
    const auto& p = ctx.cfg.mysql.at(spec.peer);
    host = p.host;
    port = std::to_string(p.port);
  }
  auto change = [&](const std::string& password_sql) {
    return dialect.change_source(
        c, dialect.source_options(host, port, spec.replication_user, password_sql));
  };
  const std::string shown_password =
      spec.replication_password_file.empty()
          ? "'<replication password>'"
          : "'<password from " + spec.replication_password_file + ">'";
  const std::string statement = change(shown_password) + "; " + dialect.start(c) + ";";
  const bool to_peer = st && st->source_host == host && std::to_string(st->source_port) == port;
  const bool running = st && st->io_ok() && st->sql_ok();
  auto writable_master = [](const std::optional<ServerView>& v) {
    return v && !v->read_only && !v->replicating;
  };
  if (spec.rejoin == config::Rejoin::kAuto && !spec.peer.empty() && !(to_peer && running) &&
      !writable_master(peer_view)) {
    // This node is read-only now. The new master may not answer yet (a link coming back, ARP
    // not resolved), or not be writable yet: its notify_master runs at the same time as this
    // notify_backup (catch-up, fence, lease), and no later event of this node would re-attach
    // it once it has become so (a node it fenced stays FAULT). Ask again for a while rather
    // than leave the node detached; a newer event of this instance ends the wait at once
    // (this node may be the one to become MASTER).
    const auto until = std::min(deadline - Millis(500), Clock::now() + kRejoinWait);
    auto stop = [&ctx]() { return ctx.superseded && ctx.superseded(); };
    while (!writable_master(peer_view) && Clock::now() < until && !stop()) {
      ctx.svc.sleep(Millis(500));
      if (stop()) break;
      const auto left = std::chrono::duration_cast<Millis>(until - Clock::now());
      if (left <= Millis(0)) break;
      std::string perr;
      if (auto pdb = ctx.svc.db->open(ctx.cfg.mysql.at(spec.peer), std::min(left, Millis(1000)),
                                      &perr)) {
        ServerView v;
        if (look_at(*pdb, Dialect::detect(*pdb), "", &v, &perr)) {
          peer_view = v;
          d.erase("peer");
          continue;
        }
      }
      if (!peer_view) d["peer"] = "unreachable: " + perr;
    }
    if (stop()) d["rejoin_wait"] = "ended by a newer event";
  }
  // Errant transactions: writes this node took that the new master never got (a partition
  // with both writable). Replicating from the new master would then fail or diverge, so the
  // node stays read-only, marked, and the operator is told exactly which transactions.
  if (peer_view && !(to_peer && running)) {
    std::vector<std::string> errant;
    std::string eerr;
    if (mysql::errant_transactions(local, peer_view->known_gtids(), &errant, &eerr) &&
        !errant.empty()) {
      std::string list;
      for (const auto& e : errant) list += (list.empty() ? "" : ",") + e;
      d["errant_gtids"] = errant;
      d["rejoin"] = "refused: errant transactions";
      d["rejoin_statement"] = statement;
      mysql::FenceMark mark;
      mark.by = node_name();
      mark.gtid = mysql::gtid_position(local);
      mark.reason = "errant";
      mark.detail = list;
      std::string werr;
      d["mark"] = mysql::write_fence_mark(local, mark, &werr) ? Json("written")
                                                              : Json("not written: " + werr);
      alert(ctx, "errant-transactions",
            fmt::format("{} holds transactions the new master {} does not have: {}. It stays "
                        "read-only and out of the VIP. Inspect them (mariadb-binlog / "
                        "SHOW BINLOG EVENTS), re-apply what must be kept on {}, rebuild this node "
                        "from it, then run: {} and notify_backup --instance {} --clear-fence "
                        "--reason TEXT",
                        node_name(), spec.peer, list, spec.peer, statement, ctx.event.instance),
            &d);
      d["positions"] = ctx.positions;
      at.ok = true;
      return at;
    }
    if (!eerr.empty()) d["errant_check"] = "failed: " + eerr;
  }
  if (to_peer && running) {
    d["rejoin"] = "already replicating from " + host + ":" + port;
  } else if (spec.rejoin == config::Rejoin::kAuto && peer_view &&
             (peer_view->read_only || peer_view->replicating)) {
    // The peer is no master (yet): keepalived starting both nodes as BACKUP, or the peer's
    // promotion still running. Replicating from a replica would make a circle.
    d["rejoin"] = "deferred: the peer is not a writable master (yet)";
    d["rejoin_statement"] = statement;
  } else if (spec.rejoin == config::Rejoin::kAuto && !peer_view) {
    // Without the new master's GTID set there is no telling whether this node can replicate
    // from it: re-pointing now could silently skip or clash with errant transactions.
    d["rejoin"] = "deferred: the new master is unreachable, its GTID set cannot be compared";
    d["rejoin_statement"] = statement;
    spdlog::warn("mysql_demote: read-only, not re-attached: {} is unreachable, so this node's "
                 "GTID set cannot be checked against it. Once it answers, run: {}",
                 spec.peer, statement);
  } else if (spec.rejoin == config::Rejoin::kManual) {
    d["rejoin"] = "manual";
    d["rejoin_statement"] = statement;
    spdlog::warn("mysql_demote: this node is read-only and not replicating. To re-attach it to "
                 "the new master, check the new master's journal entry, then run: {}",
                 statement);
  } else if (to_peer) {
    if (!exec(*db, dialect.start(c), &at.error)) return at;
    d["rejoin"] = "restarted replication from " + host + ":" + port;
  } else {
    auto password = read_secret_file(spec.replication_password_file, &err);
    if (!password) {
      at.error = "rejoin: " + err;
      return at;
    }
    Secret secret(std::move(*password));
    std::string e;
    db->exec(dialect.stop(c), &e);  // not configured yet: nothing to stop
    if (!db->exec(change(db->quote(secret.reveal())), &e)) {
      // A server error can quote the statement back: never let the password through.
      for (size_t p; !secret.empty() && (p = e.find(secret.reveal())) != std::string::npos;)
        e.replace(p, secret.reveal().size(), "***");
      at.error = change(shown_password) + ": " + e;
      return at;
    }
    if (!exec(*db, dialect.start(c), &at.error)) return at;
    d["rejoin"] = "re-pointed to " + host + ":" + port;
    d["rejoin_statement"] = statement;
    spdlog::info("mysql_demote: replicating from the new master {}:{} (GTID)", host, port);
  }
  d["positions"] = ctx.positions;
  at.ok = true;
  return at;
}

}  // namespace hakit::notify
