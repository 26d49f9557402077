#pragma once
// The lease record an arbiter client keeps between runs (run_dir/arbiter.INSTANCE.json), and
// the boot clock its times are in. Pure (no etcd, no libcurl): hakit-status reads it to show
// the lease without asking etcd; the lease logic (lease.hpp) writes it.
#include <cstdint>
#include <string>

#include "common/state.hpp"
#include "common/units.hpp"

namespace hakit::arbiter {

/// An int64 field that etcd sends as a string ("7587899152855741447") or a number; 0 when absent.
std::int64_t int64_field(const Json& j, const char* name);

/// A monotonic clock (CLOCK_BOOTTIME in production) and a way to wait.
class Clock {
 public:
  virtual ~Clock() = default;
  virtual std::int64_t now_ms() = 0;
  virtual void sleep(Millis d) = 0;
};

/// CLOCK_BOOTTIME and nanosleep.
class BootClock : public Clock {
 public:
  std::int64_t now_ms() override;
  void sleep(Millis d) override;
};

/// This boot's id (/proc/sys/kernel/random/boot_id), "" when unreadable.
std::string boot_id();

/// Where a node stands with an instance's lease.
enum class Phase {
  kNone,       ///< holds nothing
  kPromoting,  ///< notify_master acquired it and is promoting (renewed even while read-only)
  kHolding,    ///< the writable master holds it
};
const char* to_string(Phase p);

/// What is persisted between runs (run_dir/arbiter.INSTANCE.json).
struct LeaseRecord {
  std::string instance;
  std::string key;
  std::string node;
  std::int64_t lease_id = 0;      ///< 0: no lease
  std::int64_t ttl_ms = 0;        ///< the TTL etcd granted
  std::int64_t last_send_ms = 0;  ///< CLOCK_BOOTTIME when the last successful grant/keepalive was sent
  Phase phase = Phase::kNone;
  int promoter_pid = 0;           ///< the notify_master run in kPromoting
  /// The renewer set the database read-only (lease lost or not renewable); cleared once etcd
  /// answers again (or this node acquires the lease). Until then the node is no VIP candidate.
  bool self_fenced = false;
  std::string endpoint;           ///< the member that answered last
  std::string boot_id;

  bool holds() const { return lease_id != 0; }
  /// The moment the holder must be read-only (last_send + ttl - margin).
  std::int64_t fence_at_ms(Millis margin) const { return last_send_ms + ttl_ms - margin.count(); }
  /// The earliest moment etcd may expire the lease.
  std::int64_t expiry_floor_ms() const { return last_send_ms + ttl_ms; }
  Json to_json() const;
  static LeaseRecord from_json(const Json& j);
};

/// The record's path.
std::string record_path(const std::string& run_dir, const std::string& instance);
/// The lock serializing every reader/writer of one instance's record.
std::string record_lock_path(const std::string& run_dir, const std::string& instance);
/// Reads the record; a missing file, another boot or a corrupt file read as "holds nothing"
/// (a corrupt one with *err set). Callers treat "holds nothing" on a writable DB as unsafe.
LeaseRecord read_record(const std::string& run_dir, const std::string& instance, std::string* err);
bool write_record(const std::string& run_dir, const LeaseRecord& r, std::string* err);

}  // namespace hakit::arbiter
