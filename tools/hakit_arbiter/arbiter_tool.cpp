#include "hakit_arbiter/arbiter_tool.hpp"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <cstdio>

#include "common/arbiter/preflight.hpp"
#include "common/process.hpp"
#include "notify/arbiter_gate.hpp"

namespace hakit::arbiter_tool {

namespace {

constexpr const char* kService = "ARBITER";

CheckResult unknown(std::string why) { return CheckResult{State::kUnknown, std::move(why), {}}; }

// The instances to look at: the one asked for, or every instance with an arbiter.
std::vector<std::string> arbitrated(const config::Document& doc, const std::string& instance) {
  if (!instance.empty()) return {instance};
  std::vector<std::string> out;
  for (const auto& name : doc.entry_names("instances")) {
    const YAML::Node a = doc.entry("instances", name)["arbiter"];
    if (a.IsDefined() && a.IsScalar()) out.push_back(name);
  }
  return out;
}

// Reads the instance strictly (its arbiter and the profiles its actions name).
bool load(const config::Document& doc, const std::string& instance, config::NotifyConfig* cfg,
          std::string* err) {
  config::Diagnostics diag(doc.where());
  if (!config::load_notify_config(doc, instance, cfg, &diag)) {
    *err = diag.items().empty() ? "config is not valid" : diag.items().front().render();
    return false;
  }
  if (cfg->instances.at(instance).arbiter.empty()) {
    *err = fmt::format("instance {} has no arbiter: key", instance);
    return false;
  }
  return true;
}

// status and preflight need only the instance's arbiter, not its actions or mysql secrets.
bool load_arbiter_of(const config::Document& doc, const std::string& instance, config::Arbiter* out,
                     std::string* err) {
  const YAML::Node ref = doc.entry("instances", instance)["arbiter"];
  if (!ref.IsDefined() || !ref.IsScalar()) {
    *err = fmt::format("instance {} has no arbiter: key", instance);
    return false;
  }
  config::Diagnostics diag(doc.where());
  if (!config::load_arbiter(doc, ref.Scalar(), out, &diag)) {
    *err = diag.items().empty() ? "arbiter config is not valid" : diag.items().front().render();
    return false;
  }
  return true;
}

}  // namespace

CheckResult keep(const config::Document& doc, const std::string& instance, const std::string& mysql,
                 notify::Services& svc) {
  config::NotifyConfig cfg;
  std::string err;
  if (!load(doc, instance, &cfg, &err)) return unknown(err);
  const config::Instance& inst = cfg.instances.at(instance);
  const config::Arbiter& a = cfg.arbiters.at(inst.arbiter);
  const std::string profile = mysql.empty() ? notify::guarded_profile(inst) : mysql;
  if (profile.empty())
    return unknown(fmt::format("instance {} has no mysql_promote/mysql_demote: name the server "
                               "with --mysql PROFILE",
                               instance));
  if (!cfg.mysql.count(profile)) {
    config::Diagnostics diag(doc.where());
    if (!config::parse_entry(doc, "mysql", profile, config::parse_mysql_profile, &cfg.mysql[profile], &diag))
      return unknown(fmt::format("no usable mysql profile '{}'", profile));
  }
  // A promotion holds the record only for a few requests (or while it waits for another
  // node's lease, when this node is read-only anyway).
  auto lock = notify::lock_record(cfg, instance, a.renew_interval / 2, &err);
  if (!lock) return CheckResult{State::kWarning, "lease record busy: " + err, {}};
  std::string rerr;
  arbiter::LeaseRecord rec = arbiter::read_record(cfg.run_dir, instance, &rerr);
  if (!rerr.empty()) spdlog::warn("arbiter: {}", rerr);
  auto etcd = svc.etcd(a);
  if (auto* http = dynamic_cast<arbiter::HttpEtcd*>(etcd.get()); http && !rec.endpoint.empty())
    http->set_preferred(rec.endpoint);
  arbiter::LeaseKeeper keeper(a, instance, *etcd, *svc.clock, rec);
  notify::ProfileLocalDb db(*svc.db, cfg.mysql.at(profile), a.timeout);
  arbiter::TickResult t = arbiter::keep_tick(keeper, db, a, process_exists(keeper.record().promoter_pid));
  if (auto* http = dynamic_cast<arbiter::HttpEtcd*>(etcd.get())) keeper.record().endpoint = http->preferred();
  if (!arbiter::write_record(cfg.run_dir, keeper.record(), &err))
    spdlog::error("arbiter: cannot write the lease record: {}", err);
  if (!t.journal.is_null()) {
    if (t.state == State::kCritical) spdlog::critical("{}: {}", instance, t.summary);
    if (!Journal(cfg.journal_path()).append(t.journal, &err)) spdlog::error("journal: {}", err);
  }
  CheckResult res{t.state, instance + ": " + t.summary, {}};
  if (keeper.record().holds())
    res.perfdata.push_back({"fence_in", static_cast<double>(keeper.ms_to_fence()) / 1000.0, "s"});
  return res;
}

CheckResult status(const config::Document& doc, const std::string& instance, notify::Services& svc) {
  const auto names = arbitrated(doc, instance);
  if (names.empty()) return unknown("no instance has an arbiter: key");
  CheckResult all{State::kOk, "", {}};
  bool first = true;
  std::map<std::string, arbiter::Quorum> probed;
  for (const auto& name : names) {
    config::Arbiter a;
    std::string err;
    CheckResult one{State::kOk, "", {}};
    if (!load_arbiter_of(doc, name, &a, &err)) {
      one = unknown(name + ": " + err);
    } else {
      arbiter::HttpEtcd etcd(a);
      if (!probed.count(a.name)) probed[a.name] = arbiter::quorum(etcd.probe_members());
      const auto q = probed[a.name];
      std::optional<arbiter::KeyValue> kv;
      std::int64_t ttl = -1;
      if (!etcd.get(a.key(name), &kv, &err)) {
        one = {State::kCritical, fmt::format("{}: cannot read {}: {}", name, a.key(name), err), {}};
      } else if (!kv) {
        one = {State::kWarning, fmt::format("{}: nobody holds {}", name, a.key(name)), {}};
      } else {
        std::int64_t granted = 0;
        etcd.time_to_live(kv->lease, &ttl, &granted, &err);
        one = {State::kOk, fmt::format("{}: held by {} (ttl {} s left)", name, kv->value, ttl), {}};
        one.perfdata.push_back({name + "_ttl_left", static_cast<double>(ttl), "s"});
      }
      one.summary += fmt::format("; {} {}/{} members reachable", a.name, q.reachable, q.total);
      if (!q.majority())
        one.state = State::kCritical;
      else if (q.reachable < q.total)
        one.state = worst(one.state, State::kWarning);
    }
    if (first) {
      all = one;
      first = false;
    } else {
      all = combine(all, one);
    }
  }
  (void)svc;
  return all;
}

int preflight(const config::Document& doc, const std::string& instance, notify::Services& svc) {
  (void)svc;
  const auto names = arbitrated(doc, instance);
  std::set<std::string> done;
  bool ok = !names.empty();
  if (names.empty()) std::puts("FAIL no instance has an arbiter: key");
  for (const auto& name : names) {
    config::Arbiter a;
    std::string err;
    if (!load_arbiter_of(doc, name, &a, &err)) {
      std::printf("FAIL %s: %s\n", name.c_str(), err.c_str());
      ok = false;
      continue;
    }
    if (!done.insert(a.name).second) continue;
    arbiter::HttpEtcd etcd(a);
    for (const auto& item : arbiter::preflight(a, etcd)) {
      std::printf("%s %s: %s: %s\n", item.ok ? "ok  " : "FAIL", a.name.c_str(), item.what.c_str(),
                  item.detail.c_str());
      ok = ok && item.ok;
    }
  }
  return static_cast<int>(ok ? ExitCode::kSuccess : ExitCode::kFailed);
}

int run(const Options& opt, const config::Document& doc) {
  notify::Services svc = notify::real_services();
  if (opt.command == "preflight") return preflight(doc, opt.instance, svc);
  CheckResult r = opt.command == "keep" ? keep(doc, opt.instance, opt.mysql, svc)
                                        : status(doc, opt.instance, svc);
  std::puts(r.render(kService).c_str());
  // keep: a WARNING (renewals failing, deadline not reached) must not move the VIP.
  return opt.command == "keep" ? check_exit_code(r.state, false) : static_cast<int>(r.state);
}

}  // namespace hakit::arbiter_tool
