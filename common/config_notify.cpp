#include "common/config_notify.hpp"

#include <fmt/format.h>

#include "common/config.hpp"
#include "common/process.hpp"

namespace hakit::config {

std::string Action::label() const {
  if (kind == "run") return "run " + format_argv(argv);
  if (kind == "service") return fmt::format("service {} {}", service_op, service_unit);
  if (kind == "flag") return "flag " + flag_op;
  if (kind == "notify") return "notify " + channel;
  if (kind == "sync") return "sync " + job;
  if (kind == "mysql_promote") return "mysql_promote " + promote.mysql;
  if (kind == "mysql_demote") return "mysql_demote " + demote.mysql;
  return kind;
}

namespace {

const std::set<std::string> kKinds{"mysql_promote", "mysql_demote", "run",  "service",
                                   "flag",          "notify",       "sync"};

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
  p->on_catchup_timeout = r->choice("on_catchup_timeout", p->on_catchup_timeout, {"refuse", "promote"});
  p->fence = r->string("fence", p->fence);
  p->fence_kill_sessions = r->boolean("fence_kill_sessions", p->fence_kill_sessions);
  p->fence_required = r->boolean("fence_required", p->fence_required);
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
  d->rejoin = r->choice("rejoin", d->rejoin, {"manual", "auto"});
  d->peer = r->string("peer", d->peer);
  if (auto repl = r->map("replication")) {
    d->replication_user = repl->string("user", d->replication_user);
    d->replication_password_file = repl->string("password_file", d->replication_password_file);
    repl->finish();
  }
  if (d->rejoin == "auto" && d->peer.empty()) r->error("peer", "rejoin: auto needs a peer profile");
  if (d->rejoin == "auto" && d->replication_password_file.empty())
    r->error("replication", "rejoin: auto needs replication.password_file");
  r->finish();
}

// Reads the kind-specific part of one action.
void parse_spec(Action* a, const std::string& path, Diagnostics& diag) {
  const YAML::Node& s = a->spec;
  const std::string p = path + "." + a->kind;
  if (a->kind == "mysql_promote") {
    parse_mysql_promote(s, p, diag, &a->promote);
  } else if (a->kind == "mysql_demote") {
    parse_mysql_demote(s, p, diag, &a->demote);
  } else if (a->kind == "run") {
    // run: [argv...] or run: {argv: [...], env: {NAME: value}}
    YAML::Node argv = s;
    if (s.IsMap()) {
      MapReader r(s, p, diag);
      a->argv = r.strings("argv");
      if (auto env = r.raw("env"); env.IsMap())
        for (auto it = env.begin(); it != env.end(); ++it)
          a->env.push_back(it->first.Scalar() + "=" + it->second.Scalar());
      r.finish();
    } else if (s.IsSequence()) {
      for (const auto& x : s) a->argv.push_back(x.Scalar());
    } else if (s.IsScalar()) {
      a->argv.push_back(s.Scalar());
    }
    if (a->argv.empty()) diag.error(s, p, "needs a command (a list: [program, arg, ...])");
  } else if (a->kind == "service") {
    // service: {start: nagios}
    if (auto r = spec_map(s, p, diag)) {
      for (const char* op : {"start", "stop", "restart", "is-active"})
        if (auto unit = r->string(op)) {
          if (!a->service_op.empty()) r->error(op, "one operation per service action");
          a->service_op = op;
          a->service_unit = *unit;
        }
      r->finish();
    }
    if (a->service_op.empty())
      diag.error(s, p, "needs one of start, stop, restart, is-active with a unit name");
  } else if (a->kind == "flag") {
    a->flag_op = s.IsScalar() ? s.Scalar() : "";
    if (a->flag_op != "set" && a->flag_op != "clear") diag.error(s, p, "must be set or clear");
  } else if (a->kind == "notify") {
    if (s.IsScalar()) {
      a->channel = s.Scalar();
    } else if (auto r = spec_map(s, p, diag)) {
      a->channel = r->string("channel", "");
      a->subject = r->string("subject", "");
      r->finish();
    }
    if (a->channel.empty()) diag.error(s, p, "needs a notifications: channel name");
    // A failed notification never blocks a role change.
    a->on_failure = "continue";
  } else if (a->kind == "sync") {
    if (s.IsScalar()) {
      a->job = s.Scalar();
    } else if (auto r = spec_map(s, p, diag)) {
      a->job = r->string("job", "");
      r->finish();
    }
    if (a->job.empty()) diag.error(s, p, "needs a sync: job name");
  }
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
    for (const auto& k : kKinds)
      if (r.raw(k); item.IsMap() && item[k].IsDefined()) {
        const YAML::Node n = item[k];
        // `- flag:` with nothing after it still names the kind; its value is checked below.
        a.kind = k;
        a.spec = n;
        ++kinds;
      }
    a.timeout = r.duration("timeout", a.timeout, Millis(1), Millis(86'400'000));
    a.retries = static_cast<int>(r.integer("retries", a.retries, 0, 100));
    a.backoff = r.duration("backoff", a.backoff, Millis(0), Millis(3'600'000));
    a.on_failure = r.choice("on_failure", a.on_failure, {"abort", "continue"});
    a.line = list[i].Mark().line + 1;
    r.finish();
    if (kinds > 1) {
      e.diag().error(list[i], r.path(), "one action kind per list entry");
      continue;
    }
    if (a.kind.empty()) {
      e.diag().error(list[i], r.path(), "no action kind (one of: mysql_promote, mysql_demote, run, service, flag, notify, sync)");
      continue;
    }
    parse_spec(&a, r.path(), e.diag());
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
  out->lock_timeout = e.duration("lock_timeout", out->lock_timeout, Millis(0), Millis(86'400'000));
  e.finish();
}

void parse_notification(MapReader& e, Notification* out) {
  if (auto m = e.map("email")) parse_email(*m, &out->email.emplace());
  if (auto w = e.map("webhook")) parse_webhook(*w, &out->webhook.emplace());
  if (!out->email && !out->webhook) e.error("email", "a channel needs email: and/or webhook:");
  e.finish();
}

void check_notify_references(const Config& cfg, const YAML::Node& root, Diagnostics* diag) {
  auto missing = [&](const std::string& inst, const char* list, size_t i, const std::string& what,
                     const std::string& name) {
    YAML::Node at = root["instances"][inst][list][i];
    diag->error(at, fmt::format("instances.{}.{}[{}]", inst, list, i),
                fmt::format("no {} named '{}'", what, name));
  };
  for (const auto& [name, inst] : cfg.instances) {
    for (const char* list : {"promote", "demote"}) {
      const auto& actions = std::string(list) == "promote" ? inst.promote : inst.demote;
      for (size_t i = 0; i < actions.size(); ++i) {
        const Action& a = actions[i];
        if (a.kind == "mysql_promote") {
          if (!cfg.mysql.count(a.promote.mysql)) missing(name, list, i, "mysql profile", a.promote.mysql);
          if (!a.promote.fence.empty() && !cfg.mysql.count(a.promote.fence))
            missing(name, list, i, "mysql profile", a.promote.fence);
        } else if (a.kind == "mysql_demote") {
          if (!cfg.mysql.count(a.demote.mysql)) missing(name, list, i, "mysql profile", a.demote.mysql);
          if (!a.demote.peer.empty() && !cfg.mysql.count(a.demote.peer))
            missing(name, list, i, "mysql profile", a.demote.peer);
        } else if (a.kind == "notify" && !cfg.notifications.count(a.channel)) {
          missing(name, list, i, "notifications: channel", a.channel);
        } else if (a.kind == "sync" && !cfg.sync.count(a.job)) {
          missing(name, list, i, "sync: job", a.job);
        }
      }
    }
  }
}

}  // namespace hakit::config
