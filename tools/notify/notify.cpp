#include "notify/notify.hpp"

#include <CLI/CLI.hpp>
#include <fcntl.h>
#include <fmt/format.h>
#include <spdlog/spdlog.h>
#include <sys/file.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <thread>

#include "common/arp_probe.hpp"
#include "common/lock.hpp"
#include "notify/actions.hpp"
#include "notify/partition.hpp"
#include "notify/arbiter_gate.hpp"

namespace hakit::notify {

namespace {

const std::vector<std::string> kStates{"MASTER", "BACKUP", "FAULT", "STOP"};

// Taken during static initialisation: promotion latency is measured from process start.
const Clock::time_point kProcessStart = Clock::now();

std::string upper(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return std::toupper(c); });
  return s;
}

std::int64_t epoch_ms() {
  return std::chrono::duration_cast<Millis>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

Json read_json_file(const std::string& path) {
  std::ifstream in(path);
  if (!in) return Json::object();
  Json j = Json::parse(in, nullptr, false);
  return j.is_object() ? j : Json::object();
}

void write_metrics_file(const config::NotifyConfig& cfg, const std::string& instance, const Json& st) {
  std::vector<Metric> m;
  std::vector<std::pair<std::string, std::string>> inst{{"instance", instance}};
  const Json last = st.value("last_transition", Json::object());
  m.push_back({"hakit_notify_last_transition_timestamp_seconds",
               "When the last role change of the instance finished", "gauge", inst,
               static_cast<double>(last.value("epoch_ms", std::int64_t{0})) / 1000.0});
  m.push_back({"hakit_notify_last_transition_success",
               "1 when the last role change ran all its actions (or had nothing to do)", "gauge",
               {{"instance", instance}, {"state", last.value("state", "")}},
               last.value("outcome", "") == "ok" ? 1.0 : 0.0});
  m.push_back({"hakit_notify_promotions_total", "Successful promotions of this node", "counter",
               inst, static_cast<double>(st.value("promotions", 0))});
  m.push_back({"hakit_notify_last_promotion_timestamp_seconds", "When this node was last promoted",
               "gauge", inst,
               static_cast<double>(st.value("last_promotion_epoch_ms", std::int64_t{0})) / 1000.0});
  std::string err;
  if (!write_metrics(fmt::format("{}/hakit_notify_{}.prom", cfg.metrics_path(), instance), m, &err))
    spdlog::warn("metrics: {}", err);
  // The flag belongs to the node, not to an instance: one file, so node_exporter never sees
  // the same series twice when a node runs several instances.
  std::vector<Metric> flag{{"hakit_failover_flag",
                            "1 while the failover flag is set (log copying stopped)", "gauge", {},
                            read_failover_flag(cfg.state_dir).set ? 1.0 : 0.0}};
  if (!write_metrics(cfg.metrics_path() + "/hakit_failover_flag.prom", flag, &err))
    spdlog::warn("metrics: {}", err);
}

Outcome finish(Outcome out, const config::NotifyConfig& cfg, bool journal) {
  out.journal["decision"] = out.decision;
  out.journal["exit"] = static_cast<int>(out.code);
  out.journal["message"] = out.message;
  if (journal) {
    std::string err;
    if (!Journal(cfg.journal_path()).append(out.journal, &err)) spdlog::error("journal: {}", err);
  }
  if (out.code == ExitCode::kSuccess)
    spdlog::info("{}", out.message);
  else
    spdlog::error("{}", out.message);
  return out;
}

// Marks the local database as fenced by `holder` (sql_log_bin=0, as every fence mark): a
// promotion given up because that node still holds the lease and the VIP. "written", or why not.
std::string mark_superseded(const config::Instance& inst, const config::NotifyConfig& cfg,
                            Services& svc, const std::string& holder,
                            const std::vector<std::string>& vip_others) {
  const std::string profile = guarded_profile(inst);
  if (profile.empty() || !cfg.mysql.count(profile)) return "not written: no mysql profile";
  std::string err;
  auto db = svc.db->open(cfg.mysql.at(profile), Millis(5000), &err);
  if (!db) return "not written: cannot connect to " + profile + ": " + err;
  const Dialect dialect = Dialect::detect(*db);
  mysql::Session s = session_of(*db, dialect);
  mysql::FenceMark mark;
  mark.by = holder;
  mark.gtid = mysql::gtid_position(s);
  mark.reason = "fenced";
  mark.detail = fmt::format("superseded: {} holds the arbiter lease and still answers ARP for the "
                            "VIP ({}): VRRP between the nodes does not get through",
                            holder, fmt::join(vip_others, ", "));
  if (!mysql::write_fence_mark(s, mark, &err)) return "not written: " + err;
  return "written";
}

}  // namespace

std::string Event::role() const {
  std::string r = state;
  std::transform(r.begin(), r.end(), r.begin(), [](unsigned char c) { return std::tolower(c); });
  return r;
}

void add_options(CLI::App& app, Options* opt) {
  app.add_option("-i,--instance", opt->instance, "VRRP instance (or sync group) from instances:")
      ->type_name("NAME");
  app.add_option("--state", opt->state,
                 "MASTER, BACKUP, FAULT or STOP (default: " + opt->default_state + ")")
      ->type_name("STATE");
  app.add_flag("--force", opt->force, "Promote even within the instance's min_interval (anti-flap)");
  app.add_flag("--clear-failover-flag", opt->clear_flag,
               "Clear the failover flag (log copying resumes) and exit; journaled with --reason");
  app.add_flag("--preflight", opt->preflight,
               "Check that every database the instance's actions touch is reachable and grants "
               "what they need (and say what to GRANT); changes nothing");
  app.add_flag("--clear-fence", opt->clear_fence,
               "Clear the fence mark of the instance's database (it was fenced by the peer, or "
               "holds errant transactions) once it is re-attached or rebuilt; journaled with "
               "--reason");
  app.add_option("--reason", opt->reason, "Why the flag or fence is cleared (journaled)")
      ->type_name("TEXT");
  app.add_option("keepalived_args", opt->generic,
                 "keepalived's generic notify arguments: TYPE NAME STATE [PRIORITY]")
      ->type_name("ARG");
}

bool make_event(const Options& opt, const config::NotifyConfig& cfg, Event* ev, std::string* err) {
  ev->args = opt.argv;
  ev->force = opt.force;
  std::string name = opt.instance;
  std::string state = opt.state.empty() ? "" : upper(opt.state);
  if (!opt.generic.empty()) {
    const auto& g = opt.generic;
    if (g.size() < 3 || g.size() > 4) {
      *err = fmt::format("expected keepalived's generic arguments TYPE NAME STATE [PRIORITY], got {} "
                         "argument{}", g.size(), g.size() == 1 ? "" : "s");
      return false;
    }
    ev->type = upper(g[0]);
    if (ev->type != "INSTANCE" && ev->type != "GROUP") {
      *err = fmt::format("TYPE must be INSTANCE or GROUP, not '{}'", g[0]);
      return false;
    }
    if (!name.empty() && name != g[1]) {
      *err = fmt::format("--instance {} and the generic NAME {} disagree", name, g[1]);
      return false;
    }
    name = g[1];
    std::string gs = upper(g[2]);
    if (gs == "DELETED") gs = "STOP";  // keepalived reload removed the instance: stand down
    if (!state.empty() && state != gs) {
      *err = fmt::format("--state {} and the generic STATE {} disagree", state, gs);
      return false;
    }
    state = gs;
    if (g.size() == 4) {
      char* end = nullptr;
      long p = std::strtol(g[3].c_str(), &end, 10);
      if (g[3].empty() || *end != '\0' || p < 0 || p > 255) {
        *err = fmt::format("PRIORITY must be a number 0-255, not '{}'", g[3]);
        return false;
      }
      ev->priority = static_cast<int>(p);
    }
  }
  if (state.empty()) state = opt.default_state;
  if (std::find(kStates.begin(), kStates.end(), state) == kStates.end()) {
    *err = fmt::format("state must be MASTER, BACKUP, FAULT or STOP, not '{}'", state);
    return false;
  }
  if (name.empty()) {
    *err = "no instance: use --instance NAME, or keepalived's generic arguments TYPE NAME STATE";
    return false;
  }
  if (!valid_instance_name(name, err)) return false;
  if (std::find(cfg.instance_names.begin(), cfg.instance_names.end(), name) ==
      cfg.instance_names.end()) {
    std::set<std::string> known(cfg.instance_names.begin(), cfg.instance_names.end());
    std::string hint = config::closest(name, known);
    *err = fmt::format("unknown instance '{}' in {}{}", name, cfg.path.empty() ? "config" : cfg.path,
                       !hint.empty()   ? fmt::format(" (did you mean '{}'?)", hint)
                       : known.empty() ? " (no instances: configured)"
                                       : "");
    return false;
  }
  ev->instance = name;
  ev->state = state;
  return true;
}

std::string lock_path(const config::NotifyConfig& cfg, const std::string& instance) {
  return fmt::format("{}/notify.{}.lock", cfg.run_dir, instance);
}
std::string ticket_path(const config::NotifyConfig& cfg, const std::string& instance) {
  return fmt::format("{}/notify.{}.ticket", cfg.run_dir, instance);
}
std::string instance_state_path(const config::NotifyConfig& cfg, const std::string& instance) {
  return fmt::format("{}/notify.{}.json", cfg.state_dir, instance);
}

std::uint64_t take_ticket(const std::string& path, std::string* err) {
  auto slash = path.rfind('/');
  if (slash != std::string::npos && slash > 0 && !make_dirs(path.substr(0, slash), 0755, err))
    return 0;
  int fd = open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0644);
  if (fd < 0 || flock(fd, LOCK_EX) != 0) {
    *err = fmt::format("cannot take a ticket in {}: {}", path, std::strerror(errno));
    if (fd >= 0) close(fd);
    return 0;
  }
  char buf[32] = {};
  ssize_t n = pread(fd, buf, sizeof buf - 1, 0);
  std::uint64_t t = n > 0 ? std::strtoull(buf, nullptr, 10) + 1 : 1;
  // Fixed width: the new number always overwrites the old one whole, so no ftruncate (which
  // costs milliseconds on ext4) is needed.
  std::string s = fmt::format("{:020d}\n", t);
  bool ok = pwrite(fd, s.data(), s.size(), 0) == static_cast<ssize_t>(s.size());
  if (!ok) *err = fmt::format("cannot write ticket {}: {}", path, std::strerror(errno));
  close(fd);  // releases the flock
  return ok ? t : 0;
}

std::uint64_t newest_ticket(const std::string& path) {
  int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return 0;
  flock(fd, LOCK_SH);
  char buf[32] = {};
  ssize_t n = pread(fd, buf, sizeof buf - 1, 0);
  close(fd);
  return n > 0 ? std::strtoull(buf, nullptr, 10) : 0;
}

std::string expand(const std::string& text, const std::map<std::string, std::string>& vars) {
  std::string out;
  size_t i = 0;
  while (i < text.size()) {
    size_t open = text.find('{', i);
    if (open == std::string::npos) break;
    size_t close = text.find('}', open);
    if (close == std::string::npos) break;
    out.append(text, i, open - i);
    auto it = vars.find(text.substr(open + 1, close - open - 1));
    if (it != vars.end()) {
      out += it->second;
    } else {
      out.append(text, open, close - open + 1);
    }
    i = close + 1;
  }
  out.append(text, i, std::string::npos);
  return out;
}

Outcome handle_event(const Event& ev, const config::NotifyConfig& cfg, const std::string& config_path,
                     Services& svc) {
  const config::Instance& inst = cfg.instances.at(ev.instance);
  const auto t0 = Clock::now();
  Outcome out;
  Json& j = out.journal;
  j = Json{{"kind", "transition"},
           {"instance", ev.instance},
           {"event", {{"type", ev.type}, {"state", ev.state}, {"priority", ev.priority}}},
           {"to", ev.role()},
           {"args", ev.args},
           {"force", ev.force}};
  std::string err;
  const std::string what = fmt::format("{} {}", ev.instance, ev.state);

  std::uint64_t ticket = ev.ticket ? ev.ticket : take_ticket(ticket_path(cfg, ev.instance), &err);
  if (!ticket) {
    out.code = ExitCode::kFailed;
    out.decision = "error";
    out.message = fmt::format("{}: nothing done: {}", what, err);
    return finish(out, cfg, true);
  }
  j["ticket"] = ticket;
  spdlog::info("{}: event arrived (ticket {}), waiting for the instance lock", what, ticket);

  auto lock = FileLock::acquire(lock_path(cfg, ev.instance), inst.lock_timeout, &err);
  const auto waited = std::chrono::duration_cast<Millis>(Clock::now() - t0);
  j["lock_wait_ms"] = waited.count();
  if (!lock) {
    out.code = ExitCode::kFailed;
    out.decision = "lock-timeout";
    out.message = fmt::format("{}: nothing done: {} (an earlier event is still running its actions)",
                              what, err);
    return finish(out, cfg, true);
  }
  auto prev = read_role(cfg.state_dir, ev.instance);
  const std::string from = prev ? prev->role : "";
  j["from"] = from;

  // A newer event took its ticket while we waited: it carries keepalived's latest word.
  if (std::uint64_t newest = newest_ticket(ticket_path(cfg, ev.instance)); newest > ticket) {
    out.decision = "superseded";
    out.message = fmt::format("{}: skipped, superseded by a newer event (ticket {} > {})", what,
                              newest, ticket);
    return finish(out, cfg, true);
  }
  // keepalived adds the VIP before notify_master and removes it before notify_backup, so a
  // MASTER or BACKUP event that disagrees with the addresses here is stale. FAULT and STOP
  // always demote: keepalived is giving the node up whatever the addresses say right now.
  if (inst.vip && (ev.state == "MASTER" || ev.state == "BACKUP")) {
    std::string perr;
    bool here = svc.addresses->is_local(inst.vip->address, inst.vip->interface, &perr);
    j["vip"] = {{"address", inst.vip->address}, {"present", here}};
    if (!perr.empty()) {
      spdlog::warn("{}: cannot check the VIP ({}); going on as if it agreed", what, perr);
    } else if (ev.promotion() != here) {
      out.decision = "stale";
      out.message = fmt::format("{}: skipped as stale: the VIP {} is {} this host", what,
                                inst.vip->address, here ? "still on" : "not on");
      return finish(out, cfg, true);
    }
  }
  Json st = read_json_file(instance_state_path(cfg, ev.instance));
  // What the guard reads (check_mysql_slave --check guard, instance_state): a node that holds
  // the VIP while its last promotion was refused or failed is CRITICAL, so keepalived takes the
  // VIP away from it instead of leaving it on a read-only node. Written for every event whose
  // actions ran, for every refused promotion, and as "running" once a MASTER event passed
  // the stale and anti-flap checks; not for an event skipped as superseded.
  auto record_transition = [&](const std::string& outcome) {
    st["last_transition"] = {{"time", now_rfc3339()}, {"epoch_ms", epoch_ms()},
                             {"state", ev.state},     {"outcome", outcome},
                             {"ticket", ticket}};
    // Who runs it: a notify killed half-way (SIGKILL, the OOM killer) never writes the
    // outcome, and the guard tells it by this pid being gone.
    if (outcome == "running") st["last_transition"]["pid"] = static_cast<int>(getpid());
    std::string werr;
    if (!write_file_atomic(instance_state_path(cfg, ev.instance), dump_json(st) + "\n", 0644, &werr))
      spdlog::error("{}: cannot write {}: {}", what, instance_state_path(cfg, ev.instance), werr);
    // The metrics describe finished transitions: a running one leaves the last one's there.
    if (outcome != "running") write_metrics_file(cfg, ev.instance, st);
  };
  if (ev.promotion() && inst.min_interval.count() > 0) {
    std::int64_t last = st.value("last_promotion_epoch_ms", std::int64_t{0});
    std::int64_t since = epoch_ms() - last;
    if (last > 0 && since < inst.min_interval.count()) {
      if (!ev.force) {
        out.code = ExitCode::kRefused;
        out.decision = "refused";
        out.message = fmt::format(
            "{}: promotion refused by anti-flap: the last one was {} ago, min_interval is {} "
            "(run with --force to override); nothing changed",
            what, format_duration(Millis(since)), format_duration(inst.min_interval));
        record_transition("refused");
        return finish(out, cfg, true);
      }
      spdlog::warn("{}: promoting within min_interval because of --force", what);
    }
  }

  // Two VIP holders: does another host answer ARP for the VIP this node now holds? Then VRRP
  // between the nodes is broken (protocol 112 dropped, a one-way fault) and the other MASTER
  // is alive. Asked off the promotion's path (the answer waits kVipProbeWait); alerted after.
  // An answer counts when it comes twice, apart: a failover's old master may still hold the VIP
  // for the few milliseconds keepalived takes to let it go.
  std::vector<std::string> vip_others;  // confirmed
  // Who else answers ARP for the VIP; asked only while the VIP is here (once a heal made this
  // node BACKUP, or its guard FAULT, while its promotion waited for the lease, the other node
  // answering is normal).
  std::function<std::vector<std::string>()> probe_vip;
  if (inst.vip && ev.promotion()) {
    probe_vip = [&svc, &inst, what]() {
      std::string perr;
      if (!svc.addresses->is_local(inst.vip->address, inst.vip->interface, &perr)) {
        if (!perr.empty()) spdlog::info("{}: cannot check the VIP: {}", what, perr);
        return std::vector<std::string>{};
      }
      auto o = svc.addresses->other_holders(inst.vip->address, inst.vip->interface, kVipProbeWait,
                                            &perr);
      if (!o) spdlog::info("{}: cannot ask who else holds the VIP: {}", what, perr);
      return o.value_or(std::vector<std::string>{});
    };
  }
  RunContext ctx{ev, cfg, config_path, svc, from};
  ctx.superseded = [&cfg, &ev, ticket]() {
    return newest_ticket(ticket_path(cfg, ev.instance)) > ticket;
  };
  auto alert_two_holders = [&](const std::string& outcome) {
    if (vip_others.empty()) return;
    j["vip"]["also_held_by"] = vip_others;
    alert(ctx, "two-vip-holders",
          fmt::format("the VIP {} is held by {} and also answered by {} at the same time: "
                      "VRRP between the nodes does not get through (protocol 112 dropped, "
                      "a one-way link fault) while the other node is alive. {}",
                      inst.vip->address, node_name(), fmt::join(vip_others, ", "), outcome),
          &j);
  };

  // With an arbiter, nothing of a promotion runs before this node holds the lease.
  std::optional<ArbiterGate> gate;
  if (!inst.arbiter.empty()) gate.emplace(ev.instance, cfg, svc);
  // From here this MASTER event is the node's word on the promotion: an older refusal must not
  // make the guard CRITICAL while this one waits for the lease or runs its actions.
  if (ev.promotion()) record_transition("running");
  if (gate && ev.promotion() && !gate->acquire(&j, &err, probe_vip, ctx.superseded)) {
    if (gate->superseded()) {
      // keepalived changed its mind while the lease was held elsewhere (the guard made this
      // node FAULT, a heal made it BACKUP): nothing ran, the newer event decides. Not recorded
      // as a refusal: that newer event may be a MASTER one that promotes.
      out.decision = "superseded";
      out.message = fmt::format("{}: skipped: {}; nothing ran, the database stays read-only",
                                what, err);
      return finish(out, cfg, true);
    }
    out.code = ExitCode::kRefused;
    out.decision = "refused";
    out.message = fmt::format("{}: promotion refused: {}; no action ran, the database stays "
                              "read-only", what, err);
    if (j["arbiter"].contains("vip_also_held_by")) {
      vip_others = j["arbiter"]["vip_also_held_by"].get<std::vector<std::string>>();
      // Superseded by a live master: marked as fenced by it, so that the guard keeps this node
      // out of the VIP for as long as that node is the writable master (instead of keepalived
      // making it MASTER again after every down timer, each time holding the VIP read-only),
      // and lets it take over once that node is gone. Cleared as any fence mark.
      const std::string holder = j["arbiter"].value("holder", "");
      j["arbiter"]["mark"] = mark_superseded(inst, cfg, svc, holder, vip_others);
    }
    record_transition("refused");  // first: the guard acts on it; the alert may take seconds
    alert_two_holders(fmt::format(
        "This node's promotion was refused (the other node holds the arbiter lease) and it is "
        "marked as fenced by {}: its guard gives the VIP up and keeps it out while {} is the "
        "writable master. Once VRRP gets through again: notify_backup --instance {} "
        "--clear-fence --reason TEXT.",
        j["arbiter"].value("holder", "?"), j["arbiter"].value("holder", "?"), ev.instance));
    return finish(out, cfg, true);
  }
  // The promotion goes on (the lease in hand, or no arbiter): the probe runs beside the actions
  // (a jthread: joined on every way out of this function).
  std::jthread vip_probe;
  if (probe_vip)
    vip_probe = std::jthread([&probe_vip, &vip_others, &svc]() {
      if (probe_vip().empty()) return;
      svc.sleep(kVipConfirmAfter);
      vip_others = probe_vip();
    });

  out.decision = "ran";
  ctx.started = ev.received == Clock::time_point{} ? kProcessStart : ev.received;
  if (gate && ev.promotion())
    ctx.before_writable = [&gate](std::string* why) { return gate->before_writable(why); };
  bool lease_handed_back = false;
  if (gate && !ev.promotion())
    ctx.after_read_only = [&gate, &j, &lease_handed_back]() {
      if (lease_handed_back) return;
      gate->after_demotion(&j);
      lease_handed_back = true;
    };
  const auto& list = ev.promotion() ? inst.promote : inst.demote;
  spdlog::info("{}: {} ({} action{}), was {}", what, ev.promotion() ? "promoting" : "demoting",
               list.size(), list.size() == 1 ? "" : "s", from.empty() ? "unknown" : from);
  std::string failed_kind, failed_label;
  std::vector<std::string> not_run;
  for (size_t i = 0; i < list.size(); ++i) {
    const config::Action& a = list[i];
    if (!failed_label.empty() && !std::holds_alternative<config::NotifySpec>(a.spec)) {
      // After an abort only notifications run: the operator must hear about it.
      not_run.push_back(a.label());
      ctx.actions.push_back({{"action", a.label()}, {"outcome", "not-run"}});
      continue;
    }
    std::string result = run_action(a, i, ctx);
    if (result != "ok" && a.on_failure == config::OnFailure::kAbort && failed_label.empty()) {
      failed_kind = result;
      failed_label = a.label();
      ctx.outcome = result == "refused" ? "refused" : "failed";
      ctx.message = ctx.actions.back().value("error", "");
    }
  }
  if (vip_probe.joinable()) vip_probe.join();
  alert_two_holders(failed_label.empty()
                        ? "This node was promoted (the fence of the other node is in this "
                          "event's journal entry); the other node's guard gives the VIP up."
                        : "This node's promotion did not complete.");
  j["actions"] = ctx.actions;
  j["positions"] = ctx.positions;
  if (ctx.writable_ms >= 0) j["writable_ms"] = ctx.writable_ms;
  const bool ok = failed_label.empty();
  if (gate && ev.promotion()) gate->after_promotion(ok, &j);
  if (gate && !ev.promotion() && !lease_handed_back) gate->after_demotion(&j);
  if (ok || !ev.promotion()) {
    // keepalived has moved us whatever our actions did; a failed promotion keeps the old role
    // so sitesync's `when:` gate does not treat a half-promoted node as the master.
    if (!write_role(cfg.state_dir, ev.instance, {ev.role(), now_rfc3339(), ev.state}, &err))
      spdlog::error("{}: cannot write the role record: {}", what, err);
  }
  if (ok && ev.promotion()) {
    st["last_promotion_epoch_ms"] = epoch_ms();
    st["last_promotion"] = now_rfc3339();
    st["promotions"] = st.value("promotions", 0) + 1;
  }
  record_transition(ok ? "ok" : ctx.outcome);

  const auto ms = std::chrono::duration_cast<Millis>(Clock::now() - t0).count();
  j["outcome"] = ok ? "ok" : ctx.outcome;
  j["duration_ms"] = ms;
  if (ok) {
    out.message = fmt::format("{}: {} done in {} ms ({} action{})", what,
                              ev.promotion() ? "promotion" : "demotion", ms, list.size(),
                              list.size() == 1 ? "" : "s");
  } else {
    out.code = failed_kind == "refused" ? ExitCode::kRefused : ExitCode::kFailed;
    std::string done;
    for (const auto& r : ctx.actions)
      if (r.value("outcome", "") == "ok") done += (done.empty() ? "" : ", ") + r.value("action", "");
    std::string rest;
    for (const auto& n : not_run) rest += (rest.empty() ? "" : ", ") + n;
    out.message = fmt::format(
        "{}: {} {} at '{}': {}. Node left with done: [{}], not run: [{}]{}", what,
        ev.promotion() ? "promotion" : "demotion", failed_kind == "refused" ? "refused" : "FAILED",
        failed_label, ctx.message, done, rest,
        ev.promotion() ? "; this node holds the VIP but is not promoted: fix the cause, then run "
                         "notify_master --instance " + ev.instance + " again"
                       : "");
  }
  return finish(out, cfg, true);
}

Outcome clear_flag(const config::NotifyConfig& cfg, const std::string& reason, const std::string& tool) {
  Outcome out;
  FailoverFlag before = read_failover_flag(cfg.state_dir);
  out.journal = Json{{"kind", "failover-flag"},
                     {"action", "clear"},
                     {"reason", reason},
                     {"tool", tool},
                     {"was_set", before.set},
                     {"flag", {{"time", before.time}, {"instance", before.instance},
                               {"reason", before.reason}}}};
  std::string err;
  if (!clear_failover_flag(cfg.state_dir, &err)) {
    out.code = ExitCode::kFailed;
    out.decision = "error";
    out.message = "failover flag NOT cleared: " + err;
  } else {
    out.decision = "cleared";
    out.message = before.set ? fmt::format("failover flag cleared (was set {} by {} for {}); "
                                           "log copying resumes",
                                           before.time, before.set_by, before.instance)
                             : "failover flag was not set; nothing to clear";
  }
  for (const auto& name : cfg.instance_names)
    write_metrics_file(cfg, name, read_json_file(instance_state_path(cfg, name)));
  return finish(out, cfg, true);
}

Outcome clear_fence(const config::NotifyConfig& cfg, const std::string& instance,
                    const std::string& reason, const std::string& tool, Services& svc) {
  Outcome out;
  out.journal = Json{{"kind", "fence"}, {"action", "clear"}, {"instance", instance},
                     {"reason", reason}, {"tool", tool}};
  // The instance's own database: the profile its mysql_promote/mysql_demote names.
  std::string profile;
  const auto& inst = cfg.instances.at(instance);
  for (const auto* list : {&inst.demote, &inst.promote})
    for (const auto& a : *list) {
      if (const auto* d = std::get_if<config::MysqlDemoteSpec>(&a.spec); d && profile.empty())
        profile = d->mysql;
      if (const auto* p = std::get_if<config::MysqlPromoteSpec>(&a.spec); p && profile.empty())
        profile = p->mysql;
    }
  std::string err;
  std::unique_ptr<Db> db;
  if (profile.empty()) {
    err = "the instance has no mysql_promote or mysql_demote action: no database to clear";
  } else if (!(db = svc.db->open(cfg.mysql.at(profile), Millis(5000), &err))) {
    err = "cannot connect to " + profile + ": " + err;
  }
  if (db) {
    const Dialect dialect = Dialect::detect(*db);
    mysql::Session s = session_of(*db, dialect);
    std::optional<mysql::FenceMark> mark;
    mysql::read_fence_mark(s, &mark, &err);
    const int n = mysql::clear_fence_marks(s, reason, &err);
    if (n >= 0) {
      out.decision = "cleared";
      out.journal["cleared"] = n;
      if (mark)
        out.journal["mark"] = {{"by", mark->by}, {"at", mark->at}, {"reason", mark->reason},
                               {"detail", mark->detail}};
      out.message = n == 0 ? fmt::format("{}: no fence mark on {}; nothing to clear", instance, profile)
                           : fmt::format("{}: fence mark cleared on {} (was: {} by {} at {} UTC{}); "
                                         "the guard check no longer keeps this node out of the VIP",
                                         instance, profile, mark ? mark->reason : "?",
                                         mark ? mark->by : "?", mark ? mark->at : "?",
                                         mark && !mark->detail.empty() ? ", " + mark->detail : "");
      return finish(out, cfg, true);
    }
  }
  out.code = ExitCode::kFailed;
  out.decision = "error";
  out.message = fmt::format("{}: fence mark NOT cleared: {}", instance, err);
  return finish(out, cfg, true);
}

int run(const Options& opt, const config::Document& doc) {
  config::NotifyConfig cfg = config::notify_core(doc);
  if (opt.clear_fence && opt.reason.empty()) {
    std::fprintf(stderr, "%s: --clear-fence needs --reason TEXT (it is journaled)\n",
                 opt.tool.c_str());
    return static_cast<int>(ExitCode::kUsage);
  }
  if (opt.clear_flag) {
    if (opt.reason.empty()) {
      std::fprintf(stderr, "%s: --clear-failover-flag needs --reason TEXT (it is journaled)\n",
                   opt.tool.c_str());
      return static_cast<int>(ExitCode::kUsage);
    }
    return static_cast<int>(clear_flag(cfg, opt.reason, opt.tool).code);
  }
  Event ev;
  std::string err;
  if (!make_event(opt, cfg, &ev, &err)) {
    std::fprintf(stderr, "%s: %s; nothing changed\n", opt.tool.c_str(), err.c_str());
    return static_cast<int>(ExitCode::kUsage);
  }
  // Only this instance and what its actions name are read (strictly): a typo in another
  // tool's section of the shared file must not stop a promotion.
  config::Diagnostics diag(doc.where());
  if (!config::load_notify_config(doc, ev.instance, &cfg, &diag)) {
    std::fputs(diag.render().c_str(), stderr);
    std::fprintf(stderr, "%s: instance %s: config is not valid; nothing changed\n",
                 opt.tool.c_str(), ev.instance.c_str());
    return static_cast<int>(ExitCode::kUsage);
  }
  Services svc = real_services();
  if (opt.preflight) {
    std::vector<std::string> lines;
    const State s = preflight(cfg, ev.instance, svc, &lines);
    std::printf("PREFLIGHT %s - instance %s: %zu check%s\n", state_name(s), ev.instance.c_str(),
                lines.size(), lines.size() == 1 ? "" : "s");
    for (const auto& l : lines) std::printf("  %s\n", l.c_str());
    return static_cast<int>(s);
  }
  Outcome o = opt.clear_fence ? clear_fence(cfg, ev.instance, opt.reason, opt.tool, svc)
                              : handle_event(ev, cfg, opt.config_path, svc);
  if (o.code != ExitCode::kSuccess) std::fprintf(stderr, "%s: %s\n", opt.tool.c_str(), o.message.c_str());
  return static_cast<int>(o.code);
}

}  // namespace hakit::notify
