// hakit-status --check: the report as one Nagios line (HAKIT-STATUS OK|WARNING|CRITICAL - ...).
#include <fmt/format.h>

#include "hakit_status/status.hpp"

namespace hakit::status {

namespace {

std::string text_of(const Json& j, const char* key) {
  auto it = j.find(key);
  return it != j.end() && it->is_string() ? it->get<std::string>() : "";
}

bool is_promotion(const Json& t) {
  return text_of(t, "to") == "master";
}

bool succeeded(const Json& t) {
  return text_of(t, "outcome") == "ok";
}

/// The first action of a transition that did not succeed: "mysql_promote: cannot connect".
std::string failed_action(const Json& t) {
  auto it = t.find("actions");
  if (it == t.end() || !it->is_array()) return "";
  for (const auto& a : *it) {
    if (!a.is_object() || text_of(a, "outcome") == "ok") continue;
    std::string err = text_of(a, "error");
    return text_of(a, "action") + (err.empty() ? "" : ": " + err);
  }
  return "";
}

/// A fence the promotion tried on a reachable peer that stayed writable.
bool fence_failed(const Json& t) {
  auto it = t.find("actions");
  if (it == t.end() || !it->is_array()) return false;
  for (const auto& a : *it) {
    auto d = a.is_object() ? a.find("details") : a.end();
    if (d == a.end() || !d->is_object()) continue;
    auto f = d->find("fence");
    if (f != d->end() && f->is_object() && text_of(*f, "result") == "failed") return true;
  }
  return false;
}

struct Verdict {
  State state = State::kOk;
  std::vector<std::string> critical, warning;
  void add(State s, std::string text) {
    state = worst(state, s);
    (s == State::kCritical ? critical : warning).push_back(std::move(text));
  }
};

void judge_instance(const Report& r, const InstanceStatus& s, Verdict* v) {
  const bool here = s.vip_present.value_or(false) || s.role == "master";
  auto it = r.last_transitions.find(s.name);
  if (it != r.last_transitions.end()) {
    auto mine = it->second.find(r.host);
    if (mine != it->second.end() && is_promotion(mine->second) && !succeeded(mine->second)) {
      std::string why = failed_action(mine->second);
      v->add(State::kCritical,
             fmt::format("{}: the last promotion {} at {}{}", s.name,
                         text_of(mine->second, "outcome") == "refused" ? "was refused" : "failed",
                         text_of(mine->second, "time"), why.empty() ? "" : " (" + why + ")"));
    } else if (mine != it->second.end() && is_promotion(mine->second) && here &&
               fence_failed(mine->second)) {
      v->add(State::kCritical,
             fmt::format("{}: split brain suspected: promoted at {} but the peer could not be "
                         "fenced (it may still be writable)",
                         s.name, text_of(mine->second, "time")));
    }
    // A journal that several nodes write to (or that was merged) can show two masters.
    std::vector<std::string> masters;
    for (const auto& [host, t] : it->second)
      if (is_promotion(t) && succeeded(t)) masters.push_back(host.empty() ? "?" : host);
    if (masters.size() > 1)
      v->add(State::kCritical, fmt::format("{}: split brain suspected: {} all took over last",
                                           s.name, fmt::join(masters, " and ")));
  }
  if (s.guard) {
    // The guard's own verdict (fenced, errant transactions, split brain, two VIP holders),
    // as it last ran.
    const Json last = s.guard->value("last", Json::object());
    const std::string state = last.value("state", "");
    if (s.guard->value("split_brain", false))
      v->add(State::kCritical, fmt::format("{}: SPLIT BRAIN since {}: {}", s.name,
                                           s.guard->value("since", "?"), last.value("summary", "")));
    else if (s.guard->value("two_vip_holders", false))
      v->add(State::kCritical,
             fmt::format("{}: TWO VIP HOLDERS since {}: {}", s.name,
                         s.guard->value("two_vip_holders_since", "?"), last.value("summary", "")));
    else if (state == "CRITICAL")
      v->add(State::kCritical, fmt::format("{}: guard at {}: {}", s.name, last.value("time", "?"),
                                           last.value("summary", "")));
  }
  if (here && r.flag.set && !r.flag.host.empty() && r.flag.host != r.host &&
      (r.flag.instance.empty() || r.flag.instance == s.name))
    v->add(State::kCritical,
           fmt::format("{}: split brain suspected: this node holds it ({}) but {} took over "
                       "at {} (failover flag)",
                       s.name, s.vip_present.value_or(false) ? "VIP here" : "role master",
                       r.flag.host, r.flag.time));
}

}  // namespace

CheckResult check_report(const Report& r) {
  Verdict v;
  for (const auto& s : r.instances) judge_instance(r, s, &v);
  if (r.flag.set)
    v.add(State::kWarning, fmt::format("failover flag set at {} by {} on {}", r.flag.time,
                                       r.flag.set_by.empty() ? "?" : r.flag.set_by,
                                       r.flag.host.empty() ? "?" : r.flag.host));
  for (const auto& w : r.warnings)
    if (w.find("failover flag") == std::string::npos) v.add(State::kWarning, w);

  CheckResult res;
  res.state = v.state;
  std::vector<std::string> items = v.critical;
  items.insert(items.end(), v.warning.begin(), v.warning.end());
  if (items.empty()) {
    std::vector<std::string> roles;
    for (const auto& s : r.instances)
      roles.push_back(fmt::format("{} {}{}", s.name, s.role.empty() ? "unknown" : s.role,
                                  !s.vip_present   ? ""
                                  : *s.vip_present ? " (VIP here)"
                                                   : " (VIP not here)"));
    res.summary = roles.empty() ? "no instances" : fmt::format("{}", fmt::join(roles, ", "));
    res.summary += ", failover flag clear";
  } else {
    res.summary = fmt::format("{}", fmt::join(items, "; "));
  }
  int masters = 0;
  for (const auto& s : r.instances) masters += s.role == "master";
  res.perfdata.push_back(
      {"masters", static_cast<double>(masters), "", std::nullopt, std::nullopt, 0.0, std::nullopt});
  res.perfdata.push_back(
      {"failover_flag", r.flag.set ? 1.0 : 0.0, "", std::nullopt, std::nullopt, 0.0, 1.0});
  return res;
}

}  // namespace hakit::status
