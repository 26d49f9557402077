#include "notify/config.hpp"

#include <fmt/format.h>

#include <array>

#include "common/process.hpp"
#include "common/state.hpp"

namespace hakit::config {

const char* to_string(OnFailure v) { return v == OnFailure::kAbort ? "abort" : "continue"; }
const char* to_string(CatchupPolicy v) { return v == CatchupPolicy::kRefuse ? "refuse" : "promote"; }
const char* to_string(Rejoin v) { return v == Rejoin::kManual ? "manual" : "auto"; }
const char* to_string(SplitBrain v) { return v == SplitBrain::kKeepNewest ? "keep-newest" : "demote"; }
const char* to_string(FlagOp v) { return v == FlagOp::kSet ? "set" : "clear"; }
const char* to_string(ServiceOp v) {
  switch (v) {
    case ServiceOp::kStart: return "start";
    case ServiceOp::kStop: return "stop";
    case ServiceOp::kRestart: return "restart";
    case ServiceOp::kIsActive: return "is-active";
  }
  return "?";
}

std::string Action::label() const {
  return std::visit(
      Overloaded{
          [](const MysqlPromoteSpec& p) { return "mysql_promote " + p.mysql; },
          [](const MysqlDemoteSpec& d) { return "mysql_demote " + d.mysql; },
          [](const RunSpec& r) { return "run " + format_argv(r.argv); },
          [](const ServiceSpec& v) { return fmt::format("service {} {}", to_string(v.op), v.unit); },
          [](const FlagSpec& f) { return std::string("flag ") + to_string(f.op); },
          [](const NotifySpec& n) { return "notify " + n.channel; },
          [](const SyncSpec& j) { return "sync " + j.job; },
      },
      spec);
}

namespace {


// `{kind: NAME}` or `{kind: {key: NAME, ...}}`: the short form names the one obvious thing.
std::optional<MapReader> spec_map(const YAML::Node& spec, const std::string& path,
                                  Diagnostics& diag) {
  if (!spec.IsDefined() || spec.IsNull() || !spec.IsMap()) return std::nullopt;
  return MapReader(spec, path, diag);
}

void parse_mysql_promote(const YAML::Node& spec, const std::string& path, Diagnostics& diag,
                         MysqlPromoteSpec* p) {
  if (spec.IsScalar()) {
    p->mysql = spec.Scalar();
    return;
  }
  auto r = spec_map(spec, path, diag);
  if (!r) return;
  p->mysql = r->string("mysql", p->mysql);
  p->connection = r->string("connection", p->connection);
  p->catchup_timeout = r->duration("catchup_timeout", p->catchup_timeout, Millis(0), Millis(86'400'000));
  p->on_catchup_timeout = r->choice("on_catchup_timeout", to_string(p->on_catchup_timeout),
                                    {"refuse", "promote"}) == "promote"
                              ? CatchupPolicy::kPromote
                              : CatchupPolicy::kRefuse;
  p->fence = r->string("fence", p->fence);
  p->fence_kill_sessions = r->boolean("fence_kill_sessions", p->fence_kill_sessions);
  p->fence_required = r->boolean("fence_required", p->fence_required);
  p->on_sql_error = r->choice("on_sql_error", to_string(p->on_sql_error), {"refuse", "promote"}) ==
                            "promote"
                        ? CatchupPolicy::kPromote
                        : CatchupPolicy::kRefuse;
  r->finish();
}

void parse_mysql_demote(const YAML::Node& spec, const std::string& path, Diagnostics& diag,
                        MysqlDemoteSpec* d) {
  if (spec.IsScalar()) {
    d->mysql = spec.Scalar();
    return;
  }
  auto r = spec_map(spec, path, diag);
  if (!r) return;
  d->mysql = r->string("mysql", d->mysql);
  d->connection = r->string("connection", d->connection);
  d->kill_sessions = r->boolean("kill_sessions", d->kill_sessions);
  d->rejoin = r->choice("rejoin", to_string(d->rejoin), {"manual", "auto"}) == "auto"
                  ? Rejoin::kAuto
                  : Rejoin::kManual;
  d->peer = r->string("peer", d->peer);
  d->on_split_brain = r->choice("on_split_brain", to_string(d->on_split_brain),
                                {"keep-newest", "demote"}) == "demote"
                          ? SplitBrain::kDemote
                          : SplitBrain::kKeepNewest;
  if (auto repl = r->map("replication")) {
    d->replication_user = repl->string("user", d->replication_user);
    d->replication_password_file = repl->string("password_file", d->replication_password_file);
    repl->finish();
  }
  if (d->rejoin == Rejoin::kAuto && d->peer.empty()) r->error("peer", "rejoin: auto needs a peer profile");
  if (d->rejoin == Rejoin::kAuto && d->replication_password_file.empty())
    r->error("replication", "rejoin: auto needs replication.password_file");
  r->finish();
}

// Reads the kind-specific part of one action: `kind` is its config word, `s` its value.
ActionSpec parse_spec(const std::string& kind, const YAML::Node& s, const std::string& path,
                      Diagnostics& diag, Action* a) {
  const std::string p = path + "." + kind;
  if (kind == "mysql_promote") {
    MysqlPromoteSpec spec;
    parse_mysql_promote(s, p, diag, &spec);
    return spec;
  }
  if (kind == "mysql_demote") {
    MysqlDemoteSpec spec;
    parse_mysql_demote(s, p, diag, &spec);
    return spec;
  }
  if (kind == "run") {
    // run: [argv...] or run: {argv: [...], env: {NAME: value}}
    RunSpec run;
    if (s.IsMap()) {
      MapReader r(s, p, diag);
      run.argv = r.strings("argv");
      if (auto env = r.raw("env"); env.IsMap())
        for (auto it = env.begin(); it != env.end(); ++it)
          run.env.push_back(it->first.Scalar() + "=" + it->second.Scalar());
      r.finish();
    } else if (s.IsSequence()) {
      for (const auto& x : s) run.argv.push_back(x.Scalar());
    } else if (s.IsScalar()) {
      run.argv.push_back(s.Scalar());
    }
    if (run.argv.empty()) diag.error(s, p, "needs a command (a list: [program, arg, ...])");
    return run;
  }
  if (kind == "service") {
    // service: {start: nagios}
    ServiceSpec svc;
    bool found = false;
    if (auto r = spec_map(s, p, diag)) {
      for (auto op : {ServiceOp::kStart, ServiceOp::kStop, ServiceOp::kRestart, ServiceOp::kIsActive})
        if (auto unit = r->string(to_string(op))) {
          if (found) r->error(to_string(op), "one operation per service action");
          found = true;
          svc.op = op;
          svc.unit = *unit;
        }
      r->finish();
    }
    if (!found) diag.error(s, p, "needs one of start, stop, restart, is-active with a unit name");
    return svc;
  }
  if (kind == "flag") {
    std::string op = s.IsScalar() ? s.Scalar() : "";
    if (op != "set" && op != "clear") diag.error(s, p, "must be set or clear");
    return FlagSpec{op == "clear" ? FlagOp::kClear : FlagOp::kSet};
  }
  if (kind == "notify") {
    NotifySpec n;
    if (s.IsScalar()) {
      n.channel = s.Scalar();
    } else if (auto r = spec_map(s, p, diag)) {
      n.channel = r->string("channel", "");
      n.subject = r->string("subject", "");
      r->finish();
    }
    if (n.channel.empty()) diag.error(s, p, "needs a notifications: channel name");
    // A failed notification never blocks a role change.
    a->on_failure = OnFailure::kContinue;
    return n;
  }
  SyncSpec j;
  if (s.IsScalar()) {
    j.job = s.Scalar();
  } else if (auto r = spec_map(s, p, diag)) {
    j.job = r->string("job", "");
    r->finish();
  }
  if (j.job.empty()) diag.error(s, p, "needs a sync: job name");
  return j;
}

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
    int kinds = 0;
    const YAML::Node& item = list[i];
    std::string kind;
    YAML::Node value;
    for (const char* k : kActionKinds)
      if (r.raw(k); item.IsMap() && item[k].IsDefined()) {
        // `- flag:` with nothing after it still names the kind; its value is checked below.
        kind = k;
        value = item[k];
        ++kinds;
      }
    a.timeout = r.duration("timeout", a.timeout, Millis(1), Millis(86'400'000));
    a.retries = static_cast<int>(r.integer("retries", a.retries, 0, 100));
    a.backoff = r.duration("backoff", a.backoff, Millis(0), Millis(3'600'000));
    a.on_failure = r.choice("on_failure", "abort", {"abort", "continue"}) == "continue"
                       ? OnFailure::kContinue
                       : OnFailure::kAbort;
    a.line = list[i].Mark().line + 1;
    r.finish();
    if (kinds > 1) {
      e.diag().error(list[i], r.path(), "one action kind per list entry");
      continue;
    }
    if (kind.empty()) {
      e.diag().error(list[i], r.path(), "no action kind (one of: mysql_promote, mysql_demote, run, service, flag, notify, sync)");
      continue;
    }
    a.spec = parse_spec(kind, value, r.path(), e.diag(), &a);
    out->push_back(std::move(a));
  }
}

void parse_email(MapReader& r, EmailChannel* m) {
  m->smtp = r.string("smtp", "");
  m->from = r.string("from", "");
  m->to = r.strings("to");
  m->subject = r.string("subject", m->subject);
  m->user = r.string("user", "");
  m->password_file = r.string("password_file", "");
  m->starttls = r.boolean("starttls", m->starttls);
  m->timeout = r.duration("timeout", m->timeout, Millis(1), Millis(600'000));
  if (m->smtp.rfind("smtp://", 0) != 0 && m->smtp.rfind("smtps://", 0) != 0)
    r.error("smtp", "must be smtp://HOST[:PORT] or smtps://HOST[:PORT]");
  if (m->from.empty()) r.error("from", "missing");
  if (m->to.empty()) r.error("to", "missing (one address or a list)");
  r.finish();
}

void parse_webhook(MapReader& r, WebhookChannel* w) {
  w->url = r.string("url", "");
  w->token_file = r.string("token_file", "");
  w->headers = r.strings("headers");
  w->timeout = r.duration("timeout", w->timeout, Millis(1), Millis(600'000));
  if (w->url.rfind("http://", 0) != 0 && w->url.rfind("https://", 0) != 0)
    r.error("url", "must be http:// or https://");
  r.finish();
}

}  // namespace

void parse_instance(MapReader& e, Instance* out) {
  if (auto v = e.map("vip")) parse_vip(*v, &out->vip.emplace());
  parse_actions(e, "promote", &out->promote);
  parse_actions(e, "demote", &out->demote);
  out->min_interval = e.duration("min_interval", out->min_interval, Millis(0), Millis(86'400'000));
  out->lock_timeout = e.duration("lock_timeout", out->lock_timeout, Millis(0), Millis(86'400'000));
  out->alerts = e.strings("alerts");
  out->arbiter = e.string("arbiter", "");
  e.finish();
}

void parse_notification(MapReader& e, Notification* out) {
  if (auto m = e.map("email")) parse_email(*m, &out->email.emplace());
  if (auto w = e.map("webhook")) parse_webhook(*w, &out->webhook.emplace());
  if (!out->email && !out->webhook) e.error("email", "a channel needs email: and/or webhook:");
  e.finish();
}

namespace {

// Calls fn(list, index, action) for every action of an instance.
template <class Fn>
void each_action(const Instance& inst, Fn fn) {
  for (const char* list : {"promote", "demote"}) {
    const auto& actions = std::string(list) == "promote" ? inst.promote : inst.demote;
    for (size_t i = 0; i < actions.size(); ++i) fn(list, i, actions[i]);
  }
}

// The names one action refers to: (section, name, what) triples.
std::vector<std::array<std::string, 3>> references(const Action& a) {
  std::vector<std::array<std::string, 3>> refs;
  auto add = [&](const char* section, const std::string& name, const char* what) {
    if (!name.empty()) refs.push_back({section, name, what});
  };
  std::visit(Overloaded{
                 [&](const MysqlPromoteSpec& p) {
                   add("mysql", p.mysql, "mysql profile");
                   add("mysql", p.fence, "mysql profile");
                 },
                 [&](const MysqlDemoteSpec& d) {
                   add("mysql", d.mysql, "mysql profile");
                   add("mysql", d.peer, "mysql profile");
                 },
                 [&](const NotifySpec& n) { add("notifications", n.channel, "notifications: channel"); },
                 [&](const SyncSpec& j) { add("sync", j.job, "sync: job"); },
                 [](const auto&) {},
             },
             a.spec);
  return refs;
}

// Every name the instance's actions refer to must exist; `fn` reads what it needs of each.
template <class Fn>
void resolve_references(const Document& doc, const std::string& name, const Instance& inst,
                        Diagnostics* diag, Fn fn) {
  each_action(inst, [&](const char* list, size_t i, const Action& a) {
    for (const auto& [section, ref, what] : references(a)) {
      if (doc.entry(section, ref).IsDefined()) {
        fn(section, ref);
        continue;
      }
      const YAML::Node inst_node = doc.entry("instances", name);
      const YAML::Node list_node = inst_node[list];
      YAML::Node at = list_node[i];
      diag->error(at, fmt::format("instances.{}.{}[{}]", name, list, i),
                  fmt::format("no {} named '{}'", what, ref));
    }
  });
  for (size_t i = 0; i < inst.alerts.size(); ++i) {
    const std::string& ref = inst.alerts[i];
    if (doc.entry("notifications", ref).IsDefined()) {
      fn("notifications", ref);
      continue;
    }
    YAML::Node at = doc.entry("instances", name)["alerts"][i];
    diag->error(at, fmt::format("instances.{}.alerts[{}]", name, i),
                fmt::format("no notifications: channel named '{}'", ref));
  }
}

// `arbiter: NAME` must name an arbiters: entry (read strictly: a promotion depends on it).
void check_arbiter_reference(const Document& doc, const std::string& name, const Instance& inst,
                             Diagnostics* diag, Arbiter* out) {
  if (doc.entry("arbiters", inst.arbiter).IsDefined()) {
    load_arbiter(doc, inst.arbiter, out, diag);
    return;
  }
  const YAML::Node at = doc.entry("instances", name)["arbiter"];
  diag->error(at, fmt::format("instances.{}.arbiter", name),
              missing_entry(doc, "arbiter", inst.arbiter, doc.entry_names("arbiters")));
}

}  // namespace

NotifyConfig notify_core(const Document& doc) {
  NotifyConfig c;
  static_cast<Core&>(c) = doc;
  c.path = doc.path;
  c.instance_names = doc.entry_names("instances");
  return c;
}

bool load_notify_config(const Document& doc, const std::string& instance, NotifyConfig* out,
                        Diagnostics* diag) {
  *out = notify_core(doc);
  size_t before = diag->items().size();
  // The name becomes part of lock, ticket and state file names: nothing that leaves run_dir.
  if (std::string why; !valid_instance_name(instance, &why)) {
    diag->error_at(0, 0, "instances." + instance, why);
    return false;
  }
  Instance& inst = out->instances[instance];
  if (!doc.entry("instances", instance).IsDefined()) {
    diag->error_at(0, 0, "instances." + instance, "no such instance");
    return false;
  }
  // References are resolved even when the entry has other problems: one run lists them all.
  parse_entry(doc, "instances", instance, parse_instance, &inst, diag);
  resolve_references(doc, instance, inst, diag, [&](const std::string& section, const std::string& ref) {
    if (section == "mysql" && !out->mysql.count(ref))
      parse_entry(doc, "mysql", ref, parse_mysql_profile, &out->mysql[ref], diag);
    else if (section == "notifications" && !out->notifications.count(ref))
      parse_entry(doc, "notifications", ref, parse_notification, &out->notifications[ref], diag);
    else if (section == "sync")
      out->sync.insert(ref);
  });
  if (!inst.arbiter.empty())
    check_arbiter_reference(doc, instance, inst, diag, &out->arbiters[inst.arbiter]);
  return diag->items().size() == before;
}

void validate_instances(const Document& doc, Diagnostics& diag) {
  check_entry_section(doc, "instances", diag);
  for (const auto& name : doc.entry_names("instances")) {
    if (std::string why; !valid_instance_name(name, &why)) {
      const YAML::Node section = doc.root["instances"];
      diag.error(section, "instances", why);
    }
    Instance inst;
    // References are checked even when the entry has other problems: one run lists them all.
    parse_entry(doc, "instances", name, parse_instance, &inst, &diag);
    resolve_references(doc, name, inst, &diag, [](const std::string&, const std::string&) {});
    Arbiter a;
    if (!inst.arbiter.empty()) check_arbiter_reference(doc, name, inst, &diag, &a);
  }
}

void validate_notifications(const Document& doc, Diagnostics& diag) {
  check_entry_section(doc, "notifications", diag);
  for (const auto& name : doc.entry_names("notifications")) {
    Notification n;
    parse_entry(doc, "notifications", name, parse_notification, &n, &diag);
  }
}

}  // namespace hakit::config
