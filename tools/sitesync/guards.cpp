#include "sitesync/guards.hpp"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <cmath>
#include <cstring>

#include "common/netaddr.hpp"
#include "common/state.hpp"

namespace hakit::sitesync {

std::string SystemHostView::recorded_role(const std::string& instance) {
  auto r = read_role(state_dir_, instance);
  return r ? r->role : "";
}

bool SystemHostView::failover_flag(std::string* why) {
  FailoverFlag f = read_failover_flag(state_dir_);
  if (!f.set) return false;
  *why = fmt::format("failover flag set{}{}{}", f.time.empty() ? "" : " at " + f.time,
                     f.set_by.empty() ? "" : " by " + f.set_by,
                     f.reason.empty() ? "" : " (" + f.reason + ")");
  return true;
}

bool SystemHostView::has_address(const std::string& address) {
  std::string err;
  auto local = address_is_local(address, "", &err);
  if (!local) spdlog::warn("role gate: cannot tell whether the VIP is here: {}", err);
  return local.value_or(false);
}

std::string gate_skip_reason(const config::SyncJob& job, HostView& host) {
  std::string why;
  if (job.skip_on_failover_flag && host.failover_flag(&why)) return why;
  if (job.when == "any") return "";
  std::string role = host.recorded_role(job.instance);
  std::string source = "recorded role";
  if (role.empty()) {
    // No notify event recorded yet (fresh node): the VIP says who is master.
    if (!job.instance_vip)
      return fmt::format("when: {}, but no role is recorded for instance {} and it has no vip "
                         "to look at",
                         job.when, job.instance);
    role = host.has_address(job.instance_vip->address) ? "master" : "backup";
    source = fmt::format("vip {} {}", job.instance_vip->address,
                         role == "master" ? "is here" : "is not here");
  }
  if (role == job.when) return "";
  return fmt::format("when: {}, but instance {} is {} ({})", job.when, job.instance, role, source);
}

DeleteVerdict check_deletions(const RsyncStats& probe, const config::SyncJob& job) {
  DeleteVerdict v;
  if (probe.deleted == 0) return v;
  // "Number of files" counts the source's top directory too.
  std::uint64_t source_entries = probe.entries > 0 ? probe.entries - 1 : 0;
  std::uint64_t dest_entries = source_entries + probe.deleted;
  if (!probe.found || probe.regular == 0) {
    v.allowed = false;
    v.reason = fmt::format("the source lists no files; refusing to delete {} entr{} from the "
                           "destination (empty or unmounted source?); delete: false or "
                           "--disable-delete copies without deleting",
                           probe.deleted, probe.deleted == 1 ? "y" : "ies");
  } else if (job.max_delete && probe.deleted > *job.max_delete) {
    v.allowed = false;
    v.reason = fmt::format("would delete {} entries, more than max_delete {} (raise max_delete "
                           "or --max-delete to allow it)",
                           probe.deleted, *job.max_delete);
  } else if (!std::isfinite(job.min_source_fraction)) {
    // Never reached through the parsers; a NaN must not switch the guard off all the same.
    v.allowed = false;
    v.reason = "min_source_fraction is not a number; refusing to delete";
  } else if (job.min_source_fraction > 0 &&
             static_cast<double>(source_entries) <
                 job.min_source_fraction * static_cast<double>(dest_entries)) {
    v.allowed = false;
    v.reason = fmt::format(
        "the source holds {} entries, the destination {}: less than min_source_fraction {} "
        "(half-mounted source?); refusing to delete {} (lower min_source_fraction or "
        "--min-source-fraction, 0 disables)",
        source_entries, dest_entries, job.min_source_fraction, probe.deleted);
  }
  return v;
}

RoundSlot round_slot(int k, std::chrono::steady_clock::time_point start, Millis interval,
                     std::chrono::steady_clock::time_point now) {
  RoundSlot s;
  s.at = start + interval * k;
  if (k == 0 || interval.count() == 0) {
    s.at = std::min(s.at, now);
    return s;
  }
  Millis grace = std::max(Millis(1000), interval / 10);
  s.late = now > s.at + grace;
  return s;
}

}  // namespace hakit::sitesync
