#include "common/config_notify.hpp"

namespace hakit::config {

namespace {

void parse_actions(MapReader& e, const std::string& key, std::vector<Action>* out) {
  YAML::Node list = e.raw(key);
  if (!list.IsDefined() || list.IsNull()) return;
  if (!list.IsSequence()) {
    e.diag().error(list, e.key_path(key), "must be a list of actions");
    return;
  }
  for (size_t i = 0; i < list.size(); ++i) {
    Action a;
    MapReader r(list[i], e.key_path(key) + "[" + std::to_string(i) + "]", e.diag());
    if (!r.valid()) continue;
    static const std::set<std::string> kinds{"mysql_promote", "mysql_demote", "run", "service",
                                             "flag",          "notify",       "sync"};
    for (const auto& k : kinds)
      if (r.has(k)) {
        a.kind = k;
        a.spec = r.raw(k);
      }
    a.timeout = r.duration("timeout", a.timeout, Millis(1), Millis(86'400'000));
    a.retries = static_cast<int>(r.integer("retries", a.retries, 0, 100));
    a.on_failure = r.choice("on_failure", a.on_failure, {"abort", "continue"});
    a.line = list[i].Mark().line + 1;
    r.finish();
    if (a.kind.empty()) {
      e.diag().error(list[i], r.path(), "no action kind (one of: mysql_promote, mysql_demote, run, service, flag, notify, sync)");
      continue;
    }
    out->push_back(std::move(a));
  }
}

}  // namespace

void parse_instance(MapReader& e, Instance* out) {
  if (auto v = e.map("vip")) {
    Vip vip;
    vip.address = v->string("address", "");
    vip.interface = v->string("interface", "");
    if (vip.address.empty()) v->error("address", "missing");
    v->finish();
    out->vip = vip;
  }
  parse_actions(e, "promote", &out->promote);
  parse_actions(e, "demote", &out->demote);
  out->min_interval = e.duration("min_interval", out->min_interval, Millis(0), Millis(86'400'000));
  e.finish();
}

void parse_notification(MapReader& e, Notification*) {
  // Owned by notify_*: email and webhook.
  e.raw("email");
  e.raw("webhook");
  e.finish();
}

}  // namespace hakit::config
