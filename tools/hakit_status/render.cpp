// The terminal rendering of a Report, and the status metrics textfile.
#include <fmt/format.h>

#include <algorithm>

#include "hakit_status/status.hpp"

namespace hakit::status {

namespace {

using Row = std::vector<std::string>;

// Columns padded to the widest cell, two spaces apart; the last column is not padded.
std::string table(const Row& header, const std::vector<Row>& rows) {
  std::vector<std::size_t> width(header.size(), 0);
  auto measure = [&](const Row& r) {
    for (std::size_t i = 0; i < r.size() && i < width.size(); ++i)
      width[i] = std::max(width[i], r[i].size());
  };
  measure(header);
  for (const auto& r : rows) measure(r);
  auto line = [&](const Row& r) {
    std::string out = "  ";
    for (std::size_t i = 0; i < r.size(); ++i) {
      out += r[i];
      if (i + 1 < r.size()) out += std::string(width[i] - r[i].size() + 2, ' ');
    }
    while (!out.empty() && out.back() == ' ') out.pop_back();
    return out + "\n";
  };
  std::string out = line(header);
  for (const auto& r : rows) out += line(r);
  return out;
}

std::string when(const std::string& t, std::time_t now) {
  if (t.empty()) return "-";
  auto then = parse_time(t);
  return then ? fmt::format("{} ({})", t, age(*then, now)) : t;
}

std::string or_dash(const std::string& s) { return s.empty() ? "-" : s; }

std::string field(const Json& e, const char* key) {
  auto it = e.find(key);
  if (it == e.end() || it->is_null()) return "";
  if (it->is_string()) return it->get<std::string>();
  return it->dump();
}

}  // namespace

std::string render_table(const Report& r, std::time_t now) {
  std::string out = fmt::format("hakit status on {} at {} (state dir {})\n\n", r.host, r.time,
                                r.state_dir);

  out += "Instances\n";
  if (r.instances.empty()) {
    out += "  (no instances in the config)\n";
  } else {
    std::vector<Row> rows;
    for (const auto& s : r.instances) {
      std::string vip = s.vip.empty() ? "-" : s.vip;
      if (!s.vip_interface.empty()) vip += " on " + s.vip_interface;
      std::string here = !s.vip_present ? "-" : (*s.vip_present ? "yes" : "no");
      rows.push_back({s.name, s.role.empty() ? "unknown" : s.role, when(s.role_time, now),
                      or_dash(s.role_event), vip, here});
    }
    out += table({"INSTANCE", "ROLE", "SINCE", "EVENT", "VIP", "VIP HERE"}, rows);
    for (const auto& s : r.instances) {
      if (!s.guard) continue;
      const Json last = s.guard->value("last", Json::object());
      out += fmt::format("  {} guard ({}): {} {}\n", s.name, when(last.value("time", ""), now),
                         last.value("state", "?"), last.value("summary", ""));
    }
    for (const auto& s : r.instances) {
      if (!s.arbiter) continue;
      const Json& a = *s.arbiter;
      std::string line = fmt::format("  {} arbiter {}: ", s.name, a.value("arbiter", "?"));
      if (a.value("holds", false))
        line += fmt::format("{} lease {} on {}, self-fence in {:.1f} s unless renewed{}",
                            a.value("phase", "?"), a.value("lease_id", "?"), a.value("key", "?"),
                            a.value("self_fence_in_ms", std::int64_t{0}) / 1000.0,
                            a.contains("endpoint") ? " (via " + a.value("endpoint", "") + ")" : "");
      else if (a.contains("key"))
        line += fmt::format("no lease held on {}", a.value("key", "?"));
      if (a.value("self_fenced", false))
        line += "; self-fenced: no VIP candidate until the arbiter answers";
      if (a.contains("error")) line += (a.contains("key") ? "; " : "") + a.value("error", "");
      out += line + "\n";
    }
  }

  out += "\nFailover flag\n";
  if (!r.flag.set) {
    out += "  not set\n";
  } else {
    out += fmt::format("  SET {} by {} on {}", when(r.flag.time, now), or_dash(r.flag.set_by),
                       or_dash(r.flag.host));
    if (!r.flag.instance.empty()) out += fmt::format(" (instance {})", r.flag.instance);
    out += "\n";
    if (!r.flag.reason.empty()) out += fmt::format("  reason: {}\n", r.flag.reason);
    out += "  log copying stays stopped until an operator clears it (docs/operations.md)\n";
  }

  out += "\nSync jobs\n";
  if (r.syncs.empty()) {
    out += "  (no sync jobs configured or journaled)\n";
  } else {
    std::vector<Row> rows;
    for (const auto& s : r.syncs) {
      if (!s.last) {
        rows.push_back({s.job, "-", "never run (in the journal)", "", when(s.last_success, now)});
        continue;
      }
      rows.push_back({s.job, when(field(*s.last, "time"), now),
                      or_dash(field(*s.last, "outcome").empty() ? field(*s.last, "result")
                                                                 : field(*s.last, "outcome")),
                      describe_entry(*s.last), when(s.last_success, now)});
    }
    out += table({"JOB", "LAST RUN", "OUTCOME", "DETAILS", "LAST SUCCESS"}, rows);
  }

  if (r.daemon) {
    const Json& d = *r.daemon;
    out += fmt::format("\nResident daemon (hakitd pid {}, {}, status of {})\n", field(d, "pid"),
                       r.daemon_running ? "running" : "NOT RUNNING", when(field(d, "time"), now));
    std::vector<Row> rows;
    if (d.contains("checks") && d["checks"].is_array()) {
      for (const auto& c : d["checks"]) {
        if (!c.is_object()) continue;
        const bool healthy = c.value("healthy", false);
        rows.push_back({field(c, "name"), healthy ? "healthy" : "FAILED",
                        when(field(c, "since"), now), or_dash(field(c, "last_state")),
                        fmt::format("{:.3f} s", c.value("last_latency_seconds", 0.0)),
                        fmt::format("{}/{}", c.value("failures", 0), c.value("probes", 0)),
                        or_dash(field(c, "reason")) + ": " + or_dash(field(c, "last_summary"))});
      }
    }
    out += table({"CHECK", "STATE", "SINCE", "LAST", "LATENCY", "FAILED/PROBES", "WHY"}, rows);
    if (d.contains("fifo") && d["fifo"].is_object() && !field(d["fifo"], "path").empty())
      out += fmt::format("  notify FIFO {}: {} event(s), {} garbage line(s) ignored\n",
                         field(d["fifo"], "path"), field(d["fifo"], "events"),
                         field(d["fifo"], "garbage_lines"));
  }

  out += fmt::format("\nJournal (last {} entries)\n", r.journal.size());
  if (r.journal.empty()) {
    out += "  (empty)\n";
  } else {
    std::vector<Row> rows;
    for (const auto& e : r.journal)
      rows.push_back({or_dash(field(e, "time")), or_dash(field(e, "host")), describe_entry(e)});
    out += table({"TIME", "HOST", "WHAT"}, rows);
  }

  if (!r.warnings.empty()) {
    out += "\nWarnings\n";
    for (const auto& w : r.warnings) out += "  ! " + w + "\n";
  }
  return out;
}

bool write_status_metrics(const config::Core& cfg, const Report& r, std::string* err) {
  std::vector<Metric> m;
  for (const auto& s : r.instances) {
    for (const char* role : {"master", "backup", "fault", "stop"})
      m.push_back({"hakit_status_role", "Role each instance last took (1 for the current role)",
                   "gauge", {{"instance", s.name}, {"role", role}}, s.role == role ? 1.0 : 0.0});
  }
  for (const auto& s : r.instances) {
    if (!s.vip_present) continue;
    m.push_back({"hakit_status_vip_present", "1 when the instance's VIP is on a local interface",
                 "gauge", {{"instance", s.name}}, *s.vip_present ? 1.0 : 0.0});
  }
  // sitesync writes each run's figures; the last *successful* run is only in the journal.
  for (const auto& s : r.syncs) {
    auto t = parse_time(s.last_success);
    // A job removed from the config is history in the journal, not a series to alert on.
    if (!t || (!s.configured && !s.adhoc)) continue;
    m.push_back({"hakit_status_sync_last_success_timestamp_seconds",
                 "When the newest successful run of the sync job in the journal ended", "gauge",
                 {{"job", s.job}}, static_cast<double>(*t)});
  }
  m.push_back({"hakit_status_warnings", "Inconsistencies hakit-status found (role vs VIP)",
               "gauge", {}, static_cast<double>(r.warnings.size())});
  m.push_back({"hakit_status_last_run_timestamp_seconds",
               "When hakit-status last refreshed this file", "gauge", {},
               static_cast<double>(std::time(nullptr))});
  return write_metrics(cfg.metrics_path() + "/hakit_status.prom", m, err);
}

}  // namespace hakit::status
