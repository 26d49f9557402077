#pragma once
// The guards that stand between a cron line and an rsync that could wipe a node's data:
// the role and failover-flag gates, the deletion guard, and the round schedule.
#include <chrono>
#include <optional>
#include <string>

#include "sitesync/config.hpp"
#include "sitesync/rsync.hpp"

namespace hakit::sitesync {

/// What the gates ask about this host (a fake in unit tests).
class HostView {
 public:
  virtual ~HostView() = default;
  /// The role the notify tools recorded for an instance ("" when none).
  virtual std::string recorded_role(const std::string& instance) = 0;
  /// Whether the failover flag is set; *why says who set it and when.
  virtual bool failover_flag(std::string* why) = 0;
  /// Whether an address is configured on a local interface.
  virtual bool has_address(const std::string& address) = 0;
};

/// The real host: state_dir files and getifaddrs().
class SystemHostView : public HostView {
 public:
  explicit SystemHostView(std::string state_dir) : state_dir_(std::move(state_dir)) {}
  std::string recorded_role(const std::string& instance) override;
  bool failover_flag(std::string* why) override;
  bool has_address(const std::string& address) override;

 private:
  std::string state_dir_;
};

/// Why a job must not run now ("" = it may run). Checks the failover flag, then `when`.
std::string gate_skip_reason(const config::SyncJob& job,
                             HostView& host);

/// The verdict of the deletion guard on a probe (dry run with --delete) of the source.
struct DeleteVerdict {
  bool allowed = true;
  std::string reason;  ///< why not, in the operator's words
};

/// An empty source never deletes; more than max_delete entries is refused; a source holding
/// fewer than min_source_fraction of what the destination holds is refused.
DeleteVerdict check_deletions(const RsyncStats& probe, const config::SyncJob& job);

/// When round k (0-based) of a run started at `start` may begin.
struct RoundSlot {
  std::chrono::steady_clock::time_point at;  ///< wait until then
  bool late = false;  ///< the previous round ran past this slot: skip it
};

/// Round k's slot: start + k * interval; late when `now` is more than the grace past it
/// (a tenth of the interval, at least 1 s). interval 0 runs rounds back to back.
RoundSlot round_slot(int k, std::chrono::steady_clock::time_point start, Millis interval,
                     std::chrono::steady_clock::time_point now);

}  // namespace hakit::sitesync
