#include "hakit_status/status.hpp"

#include <fmt/format.h>
#include <fcntl.h>
#include <unistd.h>
#include <spdlog/spdlog.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <map>

#include "common/process.hpp"
#include "common/arbiter/config.hpp"
#include "common/arbiter/record.hpp"
#include "common/netaddr.hpp"

namespace hakit::status {

namespace {

// The journal's fields are written by several tools; accept the names they may use.
std::string first_string(const Json& j, std::initializer_list<const char*> keys) {
  for (const char* k : keys) {
    auto it = j.find(k);
    if (it != j.end() && it->is_string()) return it->get<std::string>();
  }
  return "";
}

std::string lower(std::string s) {
  for (auto& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

}  // namespace

bool local_address_present(const std::string& address) {
  std::string err;
  auto local = address_is_local(address, "", &err);
  if (!local) spdlog::warn("cannot tell whether {} is here: {}", address, err);
  return local.value_or(false);
}

std::string entry_kind(const Json& e) {
  if (!e.is_object()) return "other";
  std::string tool = first_string(e, {"tool", "source"});
  std::string kind = lower(first_string(e, {"kind", "type", "event"}));
  if (tool == "sitesync" || kind == "sync" || kind == "sitesync" || e.contains("job"))
    return "sync";
  if (tool.rfind("notify", 0) == 0 || e.contains("instance")) return "notify";
  return "other";
}

bool sync_succeeded(const Json& e) {
  std::string outcome = lower(first_string(e, {"outcome", "result", "status"}));
  if (outcome.empty()) {
    auto it = e.find("ok");
    return it != e.end() && it->is_boolean() && it->get<bool>();
  }
  return outcome == "ok" || outcome == "success" || outcome == "succeeded" ||
         outcome == "warning" || outcome == "done";
}

std::optional<std::time_t> parse_time(const std::string& t) {
  std::tm tm{};
  const char* end = strptime(t.c_str(), "%Y-%m-%dT%H:%M:%S", &tm);
  if (!end) return std::nullopt;
  return timegm(&tm);
}

std::string age(std::time_t then, std::time_t now) {
  long long d = static_cast<long long>(now - then);
  if (d < 0) return "in the future";
  if (d < 120) return fmt::format("{}s ago", d);
  if (d < 2 * 3600) return fmt::format("{}m ago", d / 60);
  if (d < 2 * 86400) return fmt::format("{}h ago", d / 3600);
  return fmt::format("{}d ago", d / 86400);
}

namespace {

std::string number_field(const Json& e, std::initializer_list<const char*> keys) {
  for (const char* k : keys) {
    auto it = e.find(k);
    if (it == e.end()) continue;
    if (it->is_number_integer()) return std::to_string(it->get<long long>());
    if (it->is_number()) return fmt::format("{:.3g}", it->get<double>());
    if (it->is_string()) return it->get<std::string>();
  }
  return "";
}

// Durations appear as seconds (float) or milliseconds depending on the writer.
std::string duration_field(const Json& e) {
  for (const char* k : {"seconds", "duration_s", "duration_seconds", "elapsed_s"}) {
    auto it = e.find(k);
    if (it != e.end() && it->is_number()) return fmt::format("{:.1f}s", it->get<double>());
  }
  for (const char* k : {"duration_ms", "elapsed_ms", "ms"}) {
    auto it = e.find(k);
    if (it != e.end() && it->is_number()) return fmt::format("{:.1f}s", it->get<double>() / 1000);
  }
  return "";
}

std::string bytes_field(const Json& e) {
  for (const char* k : {"bytes", "bytes_transferred"}) {
    auto it = e.find(k);
    if (it == e.end() || !it->is_number()) continue;
    double b = it->get<double>();
    const char* units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
    int u = 0;
    while (b >= 1024 && u < 4) {
      b /= 1024;
      ++u;
    }
    return u == 0 ? fmt::format("{:.0f} B", b) : fmt::format("{:.1f} {}", b, units[u]);
  }
  return "";
}

std::string join_nonempty(const std::vector<std::string>& parts) {
  std::string out;
  for (const auto& p : parts) {
    if (p.empty()) continue;
    if (!out.empty()) out += ' ';
    out += p;
  }
  return out;
}

}  // namespace

std::string describe_entry(const Json& e) {
  if (!e.is_object()) return dump_json(e);
  std::string outcome = first_string(e, {"outcome", "result", "status"});
  std::string detail = first_string(e, {"error", "message", "reason"});
  std::string kind = first_string(e, {"kind", "type"});
  std::string text;
  if (kind == "failover-flag") {
    // notify_* --clear-failover-flag: who cleared it and the reason they gave.
    text = join_nonempty({"failover flag", first_string(e, {"action"}), first_string(e, {"tool"})});
    detail = first_string(e, {"reason", "message"});
    if (!detail.empty()) text += ": " + detail;
    return text;
  }
  if (entry_kind(e) == "sync") {
    std::string files = number_field(e, {"files", "files_transferred"});
    text = join_nonempty({"sync", first_string(e, {"job"}), outcome,
                          files.empty() ? "" : files + " files", bytes_field(e),
                          duration_field(e)});
  } else if (entry_kind(e) == "notify") {
    std::string from = first_string(e, {"from", "from_role", "previous"});
    std::string to = first_string(e, {"to", "to_role", "role"});
    std::string move = to.empty() ? "" : (from.empty() ? "?" : from) + "->" + to;
    // keepalived's event: a string, or {type, state, priority} from the notify tools.
    std::string event = first_string(e, {"event"});
    auto ev = e.find("event");
    if (ev != e.end() && ev->is_object()) event = first_string(*ev, {"state"});
    std::string decision = first_string(e, {"decision"});
    if (decision == "ran") decision.clear();
    std::string actions;
    auto it = e.find("actions");
    if (it != e.end() && it->is_array()) actions = fmt::format("{} actions", it->size());
    text = join_nonempty({first_string(e, {"tool"}), first_string(e, {"instance"}), move, event,
                          decision, outcome, actions, duration_field(e)});
    // A skipped event says why only in its message.
    if (!decision.empty() && outcome.empty() && !detail.empty()) outcome = decision;
  } else {
    text = join_nonempty({first_string(e, {"tool", "kind", "type", "event"}), outcome});
    if (text.empty()) text = e.dump(-1, ' ', false, Json::error_handler_t::replace);
  }
  std::string o = lower(outcome);
  if (!detail.empty() && detail != outcome && o != "ok" && o != "success") text += ": " + detail;
  return text;
}

namespace {

// hakitd's own status file; a pid that is gone makes its figures history (a warning).
void read_daemon_status(const std::string& state_dir, Report* r) {
  std::ifstream in(state_dir + "/hakitd.json");
  if (!in) return;
  Json j = Json::parse(in, nullptr, false);
  if (!j.is_object()) return;
  const int pid = j.value("pid", 0);
  r->daemon_running = process_exists(pid);
  if (!r->daemon_running)
    r->warnings.push_back(
        fmt::format("hakitd (pid {}) is not running: its probes below are from {}", pid,
                    j.value("time", std::string("?"))));
  r->daemon = std::move(j);
}

// The instance's arbiter lease from the local record (no etcd call), and the warnings an
// operator needs: a master without a lease, or one its renewer has not renewed in time.
void read_lease(const config::Document& cfg, InstanceStatus* s, Report* r) {
  YAML::Node inst = cfg.entry("instances", s->name);
  if (!inst.IsMap() || !inst["arbiter"] || !inst["arbiter"].IsScalar()) return;
  const std::string name = inst["arbiter"].Scalar();
  Json a{{"arbiter", name}};
  config::Arbiter arb;
  config::Diagnostics diag(cfg.where());
  if (!config::load_arbiter(cfg, name, &arb, &diag)) {
    for (const auto& d : diag.items()) r->warnings.push_back("config: " + d.render());
    a["error"] = "the arbiter's config does not load";
    s->arbiter = std::move(a);
    return;
  }
  // A record that exists but cannot be read (another user's run_dir, a bad link) is said so,
  // not shown as "no lease" (which would also raise a false warning on a master).
  const std::string path = arbiter::record_path(cfg.run_dir, s->name);
  if (int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC); fd >= 0) {
    ::close(fd);
  } else if (errno != ENOENT) {
    a["error"] = fmt::format("cannot read {}: {}", path, std::strerror(errno));
    s->arbiter = std::move(a);
    return;
  }
  std::string err;
  const arbiter::LeaseRecord rec = arbiter::read_record(cfg.run_dir, s->name, &err);
  a["key"] = arb.key(s->name);
  a["phase"] = arbiter::to_string(rec.phase);
  a["holds"] = rec.holds();
  if (rec.self_fenced) a["self_fenced"] = true;
  std::int64_t fence_in = 0;
  if (rec.holds()) {
    fence_in = rec.fence_at_ms(arb.fence_margin()) - arbiter::BootClock().now_ms();
    a["lease_id"] = fmt::format("{:x}", rec.lease_id);
    a["ttl_ms"] = rec.ttl_ms;
    a["self_fence_in_ms"] = fence_in;
    if (!rec.endpoint.empty()) a["endpoint"] = rec.endpoint;
  }
  if (!err.empty()) a["error"] = err;
  if (s->role == "master" && !rec.holds())
    r->warnings.push_back(fmt::format(
        "{}: master without the {} lease (its renewer sets a writable master read-only; "
        "`hakit-arbiter status --instance {}` asks etcd)", s->name, name, s->name));
  else if (s->role == "master" && fence_in < 0)
    r->warnings.push_back(fmt::format(
        "{}: the {} lease was last renewed {} ms past its self-fence time: is the renewer "
        "(vrrp_script running `hakit-arbiter keep`) running?", s->name, name, -fence_in));
  s->arbiter = std::move(a);
}

}  // namespace

Report collect(const config::Document& cfg, const Options& opts, const AddressProbe& probe) {
  Report r;
  r.host = hostname();
  r.time = now_rfc3339();
  r.state_dir = cfg.state_dir;
  for (const auto& name : cfg.entry_names("instances")) {
    if (!opts.instance.empty() && name != opts.instance) continue;
    // Only the vip is read: the rest of the instance is notify's, and a problem there is
    // reported by --check-config, not here.
    config::Diagnostics diag(cfg.where());
    std::optional<config::Vip> vip = config::read_instance_vip(cfg, name, &diag);
    for (const auto& d : diag.items()) r.warnings.push_back("config: " + d.render());
    InstanceStatus s;
    s.name = name;
    if (auto rec = read_role(cfg.state_dir, name)) {
      s.role = rec->role;
      s.role_time = rec->time;
      s.role_event = rec->event;
    }
    if (vip && !vip->address.empty()) {
      s.vip = vip->address;
      s.vip_interface = vip->interface;
      s.vip_present = probe(vip->address);
      if (s.role == "master" && !*s.vip_present)
        r.warnings.push_back(fmt::format(
            "{}: recorded role is master but the VIP {} is not on this host", name, s.vip));
      if (s.role != "master" && *s.vip_present)
        r.warnings.push_back(fmt::format("{}: the VIP {} is on this host but the recorded role is {}",
                                         name, s.vip, s.role.empty() ? "unknown" : s.role));
    }
    {
      std::ifstream in(cfg.state_dir + "/guard." + name + ".json");
      Json g = in ? Json::parse(in, nullptr, false) : Json();
      if (g.is_object()) s.guard = std::move(g);
    }
    read_lease(cfg, &s, &r);
    r.instances.push_back(std::move(s));
  }
  r.flag = read_failover_flag(cfg.state_dir);
  if (r.flag.set && !r.flag.host.empty() && r.flag.host != r.host)
    r.warnings.push_back(fmt::format("the failover flag was written on {}, not on this host",
                                     r.flag.host));

  read_daemon_status(cfg.state_dir, &r);

  Journal journal(cfg.journal_path());
  std::size_t scan = std::max(opts.entries, kSyncScanEntries);
  std::vector<Json> all = journal.tail(scan);
  std::map<std::string, SyncStatus> syncs;
  for (const auto& job : cfg.entry_names("sync")) {
    syncs[job].job = job;
    syncs[job].configured = true;
  }
  for (const auto& e : all) {
    if (e.is_object() && e.value("kind", "") == "transition") {
      // Skipped events (stale, superseded, lock timeout) did nothing: they say nothing of state.
      const std::string decision = first_string(e, {"decision"});
      const std::string instance = first_string(e, {"instance"});
      if ((decision.empty() || decision == "ran" || decision == "refused") && !instance.empty())
        r.last_transitions[instance][first_string(e, {"host"})] = e;
    }
    if (entry_kind(e) != "sync") continue;
    std::string job = first_string(e, {"job"});
    if (job.empty()) continue;
    // Ad-hoc runs (getperf form) of one module into two site homes are two syncs: keyed by
    // destination.
    bool adhoc = e.contains("adhoc") && e["adhoc"].is_boolean() && e["adhoc"].get<bool>();
    std::string dest = adhoc ? first_string(e, {"dest"}) : "";
    if (!dest.empty()) job += " (" + dest + ")";
    auto& s = syncs[job];
    s.adhoc = adhoc;
    s.job = job;
    s.last = e;
    if (sync_succeeded(e)) s.last_success = first_string(e, {"time"});
  }
  for (auto& [job, s] : syncs) r.syncs.push_back(std::move(s));

  std::vector<Json> picked;
  for (auto it = all.rbegin(); it != all.rend() && picked.size() < opts.entries; ++it) {
    if (!opts.instance.empty() && first_string(*it, {"instance"}) != opts.instance) continue;
    picked.push_back(*it);
  }
  r.journal.assign(picked.rbegin(), picked.rend());
  return r;
}

Json to_json(const Report& r) {
  Json out{{"host", r.host}, {"time", r.time}, {"state_dir", r.state_dir}};
  Json insts = Json::array();
  for (const auto& s : r.instances) {
    Json j{{"name", s.name}, {"role", s.role.empty() ? Json() : Json(s.role)}};
    if (!s.role_time.empty()) j["role_time"] = s.role_time;
    if (!s.role_event.empty()) j["role_event"] = s.role_event;
    if (!s.vip.empty()) {
      j["vip"] = s.vip;
      if (!s.vip_interface.empty()) j["vip_interface"] = s.vip_interface;
    }
    j["vip_present"] = s.vip_present ? Json(*s.vip_present) : Json();
    if (s.guard) j["guard"] = *s.guard;
    if (s.arbiter) j["arbiter"] = *s.arbiter;
    insts.push_back(std::move(j));
  }
  out["instances"] = std::move(insts);
  Json flag{{"set", r.flag.set}};
  if (r.flag.set) {
    flag["time"] = r.flag.time;
    flag["host"] = r.flag.host;
    flag["set_by"] = r.flag.set_by;
    flag["reason"] = r.flag.reason;
    flag["instance"] = r.flag.instance;
  }
  out["failover_flag"] = std::move(flag);
  Json syncs = Json::array();
  for (const auto& s : r.syncs) {
    Json j{{"job", s.job}, {"configured", s.configured}};
    j["last_run"] = s.last ? *s.last : Json();
    j["last_success"] = s.last_success.empty() ? Json() : Json(s.last_success);
    syncs.push_back(std::move(j));
  }
  out["sync"] = std::move(syncs);
  if (r.daemon) {
    out["daemon"] = *r.daemon;
    out["daemon"]["running"] = r.daemon_running;
  }
  out["journal"] = r.journal;
  out["warnings"] = r.warnings;
  return out;
}

}  // namespace hakit::status
