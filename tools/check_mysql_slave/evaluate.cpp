// check_mysql_slave: pure judgements over what the server said (unit tests feed fake rows).
#include <fmt/format.h>

#include <cmath>

#include "check_mysql_slave/check_mysql_slave.hpp"

namespace hakit::check_mysql {

namespace {

/// Problems found so far; the summary lists them after the role.
struct Findings {
  State state = State::kOk;
  std::vector<std::string> problems;
  std::vector<std::string> notes;  ///< shown when nothing is wrong
  void add(State s, std::string text) {
    state = worst(state, s);
    problems.push_back(std::move(text));
  }
  /// "HEAD: problem, problem" or, when all is well, "HEAD<ok_sep>note, note".
  std::string render(const std::string& head, const std::string& ok_sep) const {
    const auto& items = problems.empty() ? notes : problems;
    std::string out;
    for (const auto& p : items) out += (out.empty() ? "" : ", ") + p;
    if (out.empty()) return head;
    return head + (problems.empty() ? ok_sep : ": ") + out;
  }
};

// A server's error text inside our one line: quoted, single-line, bounded.
std::string quote(const std::string& s, size_t max = 160) {
  std::string t;
  for (char c : s) t += (c == '\n' || c == '\r' || c == '"') ? (c == '"' ? '\'' : ' ') : c;
  if (t.size() > max) t = t.substr(0, max) + "...";
  return "\"" + t + "\"";
}

std::string secs_text(double s) {
  if (s < 10 && std::floor(s) != s) return fmt::format("{:.1f} s", s);
  return fmt::format("{:.0f} s", s);
}

std::optional<double> secs(const std::optional<Millis>& m) {
  if (!m) return std::nullopt;
  return seconds(*m);
}

void judge_lag(const config::MysqlCheckConfig& c, const std::string& who, double lag,
               const std::string& source, Findings* f) {
  auto w = secs(c.lag_warning), cr = secs(c.lag_critical);
  if (cr && lag > *cr)
    f->add(State::kCritical, fmt::format("{}lag {} > {}{}", who, secs_text(lag), secs_text(*cr),
                                         source));
  else if (w && lag > *w)
    f->add(State::kWarning, fmt::format("{}lag {} > {}{}", who, secs_text(lag), secs_text(*w),
                                        source));
  else
    f->notes.push_back(fmt::format("{}lag {}{}", who, secs_text(lag), source));
}

}  // namespace

CheckResult evaluate_replication(const config::MysqlCheckConfig& c, const ReplicationFacts& facts) {
  CheckResult res;
  Findings f;
  const bool configured = !facts.channels.empty();
  bool is_replica = configured;
  if (c.role == config::Role::kReplica) is_replica = true;
  if (c.role == config::Role::kMaster) is_replica = false;

  if (c.role == config::Role::kReplica && !configured)
    f.add(State::kCritical, "no replication configured");

  const bool many = facts.channels.size() > 1;
  for (const auto& ch : facts.channels) {
    const std::string who = ch.label();
    if (!ch.sql_ok()) {
      std::string t = fmt::format("{}SQL thread {}", who,
                                  ch.sql_running.empty() ? "not running" : ch.sql_running);
      if (ch.sql_errno) t += fmt::format(": error {} {}", ch.sql_errno, quote(ch.sql_error));
      f.add(State::kCritical, t);
    } else if (ch.sql_errno) {
      f.add(State::kCritical,
            fmt::format("{}SQL error {} {}", who, ch.sql_errno, quote(ch.sql_error)));
    }
    if (!ch.io_ok()) {
      std::string t = fmt::format("{}IO thread {}", who,
                                  ch.io_running.empty() ? "not running" : ch.io_running);
      if (ch.io_errno) t += fmt::format(": error {} {}", ch.io_errno, quote(ch.io_error));
      f.add(c.io_thread_down, t);
    } else if (ch.io_errno) {
      f.add(State::kWarning, fmt::format("{}IO error {} {}", who, ch.io_errno, quote(ch.io_error)));
    }
    // Lag: a stopped SQL thread is already CRITICAL and has no lag to speak of.
    if (!ch.sql_ok()) continue;
    const std::string label = many ? "lag_" + (ch.connection_name.empty() ? "default" : ch.connection_name)
                                   : "lag";
    if (!c.heartbeat_table.empty()) continue;  // one heartbeat lag below, not per channel
    if (!ch.seconds_behind) {
      f.add(c.null_lag,
            fmt::format("{}lag unknown (Seconds_Behind_Master is NULL)", who));
      continue;
    }
    double lag = static_cast<double>(*ch.seconds_behind);
    judge_lag(c, who, lag, "", &f);
    res.perfdata.push_back({label, lag, "s", secs(c.lag_warning), secs(c.lag_critical), 0.0, {}});
  }
  if (!c.heartbeat_table.empty() && (configured || c.role == config::Role::kReplica)) {
    if (facts.heartbeat_lag) {
      judge_lag(c, "", *facts.heartbeat_lag, " (heartbeat)", &f);
      res.perfdata.push_back({"lag", *facts.heartbeat_lag, "s", secs(c.lag_warning),
                              secs(c.lag_critical), 0.0, {}});
    } else {
      f.add(c.null_lag,
            "heartbeat lag unknown" +
                (facts.heartbeat_error.empty() ? "" : " (" + facts.heartbeat_error + ")"));
    }
  }

  if (facts.read_only) {
    if (is_replica && !*facts.read_only)
      f.add(State::kWarning, "replica is writable (read_only=OFF)");
    else if (!is_replica && *facts.read_only)
      f.add(State::kWarning, "master is read-only (read_only=ON)");
    else
      f.notes.push_back(*facts.read_only ? "read-only" : "writable");
  }
  // "replica running, lag 0 s, read-only" / "replica: SQL thread No: error 1062 \"...\""
  std::string head;
  if (is_replica) {
    head = many ? fmt::format("replica of {} sources", facts.channels.size()) : "replica";
    if (configured && f.problems.empty()) head += " running";
  } else {
    head = configured ? "master (replicating too)" : "master, no replication";
  }
  res.state = f.state;
  res.summary = f.render(head, ", ");
  return res;
}

CheckResult evaluate_galera(const config::MysqlCheckConfig& c, const mysql::GaleraStatus& g) {
  CheckResult res;
  Findings f;
  if (!g.provider) {
    res.state = State::kCritical;
    res.summary = "not a Galera node (no wsrep status: wsrep_on=OFF or no provider)";
    return res;
  }
  if (g.ready != "ON") f.add(State::kCritical, fmt::format("wsrep_ready={}", g.ready));
  if (g.connected != "ON") f.add(State::kCritical, fmt::format("wsrep_connected={}", g.connected));
  if (g.cluster_status != "Primary")
    f.add(State::kCritical,
          fmt::format("cluster status {} (this node is outside the Primary component)",
                      g.cluster_status.empty() ? "unknown" : g.cluster_status));
  std::string comment = g.local_state_comment.empty()
                            ? fmt::format("state {}", g.local_state.value_or(0))
                            : g.local_state_comment;
  if (g.local_state == mysql::kSynced) {
    f.notes.push_back("Synced");
  } else if (g.local_state == mysql::kDonor && c.allow_donor) {
    f.notes.push_back(comment + " (allowed)");
  } else {
    f.add(State::kCritical, fmt::format("{} ({}), not Synced", comment, g.local_state.value_or(0)));
  }
  if (g.cluster_status == "Primary") f.notes.push_back("Primary");
  int size = g.cluster_size.value_or(0);
  if (size < c.min_cluster_size)
    f.add(State::kCritical, fmt::format("cluster size {} < {}", size, c.min_cluster_size));
  else
    f.notes.push_back(fmt::format("cluster size {} (min {})", size, c.min_cluster_size));
  res.perfdata.push_back({"cluster_size", static_cast<double>(size), "", {},
                          static_cast<double>(c.min_cluster_size), 0.0, {}});
  res.state = f.state;
  res.summary = f.render("Galera node", " ");
  return res;
}

CheckResult evaluate_freshness(const config::MysqlCheckConfig& c, std::optional<double> age,
                               const std::string& why) {
  CheckResult res;
  const double max = seconds(c.max_age);
  if (!age) {
    res.state = State::kCritical;
    res.summary = "freshness: " + (why.empty() ? "the query returned no timestamp" : why);
    return res;
  }
  double a = std::max(0.0, *age);
  res.perfdata.push_back({"age", a, "s", {}, max, 0.0, {}});
  if (-*age > seconds(c.future_tolerance)) {
    // A future timestamp would read as "fresh" for as long as it stays in the future, so a
    // dead writer with a skewed clock (or bad data) would never look stale: say so.
    res.state = State::kWarning;
    res.summary = fmt::format("timestamp {} in the future (> {} tolerance): clock skew or bad data",
                              format_duration(Millis(static_cast<long long>(-*age * 1000))),
                              format_duration(c.future_tolerance));
  } else if (a > max) {
    res.state = State::kCritical;
    res.summary = fmt::format("stale: last update {} ago > {}",
                              format_duration(Millis(static_cast<long long>(a * 1000))),
                              format_duration(c.max_age));
  } else {
    res.state = State::kOk;
    res.summary = fmt::format("fresh: last update {} ago (max {})",
                              format_duration(Millis(static_cast<long long>(a * 1000))),
                              format_duration(c.max_age));
  }
  return res;
}

std::optional<double> age_of(const std::string& value, const std::string& server_now,
                             const std::string& server_epoch, std::string* err) {
  auto ts = mysql::parse_timestamp(value, err);
  if (!ts) return std::nullopt;
  auto now = mysql::parse_timestamp(ts->epoch ? server_epoch : server_now, err);
  if (!now) return std::nullopt;
  return now->seconds - ts->seconds;
}

std::string promotion_failed_of(const Json& st, const std::function<bool(int)>& exists) {
  if (!st.is_object() || !st.contains("last_transition") || !st["last_transition"].is_object())
    return "";
  const Json& lt = st["last_transition"];
  const std::string outcome = lt.value("outcome", "ok");
  const std::string at = lt.value("time", "?");
  if (lt.value("state", "") != "MASTER") return "";
  if (outcome == "refused") return "was refused at " + at;
  if (outcome == "failed") return "FAILED at " + at;
  if (outcome == "running") {
    const Json& pid = lt.contains("pid") ? lt["pid"] : Json();
    if (pid.is_number_integer() && !exists(pid.get<int>()))
      return fmt::format("was interrupted at {} (notify pid {} is gone)", at, pid.get<int>());
  }
  return "";
}

bool is_split_brain(const GuardFacts& f) {
  return !f.read_only && !f.replicating && f.peer_reachable && !f.peer_read_only &&
         !f.peer_replicating;
}

namespace {

CheckResult evaluate_roles(const GuardFacts& f);

}  // namespace

CheckResult evaluate_guard(const config::MysqlCheckConfig& c, const GuardFacts& f) {
  (void)c;
  CheckResult res = evaluate_roles(f);
  if (f.vip_elsewhere.empty() || !f.vip_here || !*f.vip_here) return res;
  const bool writable_master = !f.read_only && !f.replicating;
  const std::string two = fmt::format("TWO VIP HOLDERS: the VIP is also answered by {} (VRRP "
                                      "between the nodes is broken)",
                                      fmt::join(f.vip_elsewhere, ", "));
  if (!f.vip_elsewhere_persists) {
    // Seen once: a failover's old master may hold the VIP a few more milliseconds.
    res.summary += ", " + two + ", seen once";
    return res;
  }
  if (res.state == State::kCritical) {
    res.summary += "; " + two;
  } else if (!writable_master) {
    res.state = State::kCritical;
    res.summary = two + ": this node is read-only and gives the VIP up; " + res.summary;
  } else {
    res.state = std::max(res.state, State::kWarning);
    res.summary = two + ": this node is the writable master and keeps it; " + res.summary;
  }
  return res;
}

namespace {

CheckResult evaluate_roles(const GuardFacts& f) {
  CheckResult res;
  const std::string peer = f.peer_name.empty() ? "the peer" : f.peer_name;
  const bool peer_is_master = f.peer_reachable && !f.peer_read_only && !f.peer_replicating;
  auto when = [](const std::optional<mysql::Promotion>& p) {
    return p ? p->at + " UTC" : std::string("never");
  };
  if (f.mark && f.mark->errant()) {
    res.state = State::kCritical;
    res.summary = fmt::format("errant transactions {} (found {} UTC): this node must stay out of the "
                              "VIP until it is rebuilt from the master and the mark cleared "
                              "(notify_backup --clear-fence)",
                              f.mark->detail, f.mark->at);
    return res;
  }
  if (f.mark && peer_is_master) {
    res.state = State::kCritical;
    res.summary = fmt::format(
        "fenced by {} at {} UTC (GTID {}) and {} is the writable master: this node stays out "
        "of the VIP{} (clear with notify_backup --clear-fence once re-attached)",
        f.mark->by, f.mark->at, f.mark->gtid.empty() ? "?" : f.mark->gtid, peer,
        f.replica_running ? ", replicating from " + f.source : ", NOT replicating");
    return res;
  }
  if (is_split_brain(f)) {
    const std::int64_t mine = f.promotion ? f.promotion->epoch_us : 0;
    const std::int64_t theirs = f.peer_promotion ? f.peer_promotion->epoch_us : 0;
    if (theirs >= mine) {
      res.state = State::kCritical;
      res.summary = fmt::format(
          "SPLIT BRAIN: {} is writable too and was promoted later ({} >= this node's {}): this "
          "node is superseded and must give up the VIP",
          peer, when(f.peer_promotion), when(f.promotion));
    } else {
      res.state = State::kWarning;
      res.summary = fmt::format(
          "SPLIT BRAIN: {} is writable too but was promoted earlier ({} < this node's {}): this "
          "node keeps the writes, {} must step down",
          peer, when(f.peer_promotion), when(f.promotion), peer);
    }
    return res;
  }
  std::vector<std::string> notes;
  if (!f.read_only && !f.replicating) {
    res.state = State::kOk;
    notes.push_back("writable master");
  } else if (f.replicating) {
    res.state = f.replica_running ? State::kOk : State::kWarning;
    notes.push_back(fmt::format("replica of {}{}", f.source,
                                f.replica_running ? "" : " (threads not running)"));
    if (f.vip_here && *f.vip_here && !f.promotion_failed.empty()) {
      res.state = State::kCritical;
      notes.push_back("holds the VIP but its promotion " + f.promotion_failed);
    }
  } else {
    // Read-only and not replicating: a demoted node nobody re-attached yet.
    res.state = State::kWarning;
    notes.push_back("read-only and not replicating (demoted; not re-attached)");
    if (f.vip_here && *f.vip_here && !f.promotion_failed.empty()) {
      res.state = State::kCritical;
      notes.push_back("holds the VIP while read-only: its promotion " + f.promotion_failed);
    }
  }
  if (f.mark) notes.push_back(fmt::format("fence mark from {} at {} UTC ({} {})", f.mark->by,
                                          f.mark->at, peer,
                                          f.peer_reachable ? "is not the writable master"
                                                           : "unreachable"));
  if (f.peer_configured)
    notes.push_back(f.peer_reachable
                        ? fmt::format("{} {}", peer,
                                      f.peer_read_only ? (f.peer_replicating ? "is a replica" : "is read-only")
                                                       : "is the writable master")
                        : fmt::format("{} unreachable ({})", peer, f.peer_error));
  for (const auto& n : notes) res.summary += (res.summary.empty() ? "" : ", ") + n;
  return res;
}

}  // namespace

}  // namespace hakit::check_mysql
