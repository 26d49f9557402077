#pragma once
// The lease logic of the arbiter, pure over two small interfaces (etcd and a clock), so unit
// tests drive it with a fake clock and a fake etcd.
//
// Safety rule (docs/arbiter.md): etcd cannot expire a lease before send_time + ttl, where
// send_time is when the grant or the last successful keepalive was SENT (etcd resets the TTL
// when it processes the request, which is later). So the holder must be read-only by
// last_send + ttl - margin, with margin >= one renewal period + one request timeout. Send
// times are CLOCK_BOOTTIME values (they keep counting through a suspend, like etcd's clock),
// persisted in run_dir with the boot id, so a process-per-run renewer keeps them across runs
// and a reboot invalidates them.
#include <cstdint>
#include <optional>
#include <string>

#include "common/arbiter/config.hpp"
#include "common/arbiter/etcd.hpp"
#include "common/state.hpp"

namespace hakit::arbiter {

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

/// Acquires, renews and releases one instance's lease.
class LeaseKeeper {
 public:
  LeaseKeeper(const config::Arbiter& arbiter, const std::string& instance, Etcd& etcd, Clock& clock,
              LeaseRecord record);

  /// Result of an acquire.
  enum class Acquired { kYes, kHeldByOther, kUnavailable };
  /// Takes the lease by compare-and-swap: creates the key with a fresh lease when it is absent,
  /// or re-attaches it when it already names this node. When another node holds it, waits up
  /// to `wait` for that lease to expire or be released (never steals). *holder names the other
  /// node; *err says why on kUnavailable.
  Acquired acquire(Millis wait, std::string* holder, std::string* err);

  /// Result of a renewal.
  enum class Renewed { kYes, kLost, kHeldByOther, kFailed };
  /// Sends a keepalive (send time noted first) and checks the key still names this node with
  /// this lease. kLost: the lease or key is gone (re-acquire); kFailed: etcd did not answer.
  Renewed renew(std::string* holder, std::string* err);

  /// Deletes the key if it names this node and revokes the lease. Never touches another's key.
  /// When etcd does not answer, the lease id stays in the record for the next try.
  bool release(std::string* err);

  /// True when the holder must be read-only now: it holds a lease and now >= fence_at.
  bool must_fence() const;
  /// Milliseconds until must_fence() (negative once past; 0 when nothing is held).
  std::int64_t ms_to_fence() const;

  const LeaseRecord& record() const { return rec_; }
  LeaseRecord& record() { return rec_; }

 private:
  bool try_claim(std::string* holder, bool* won, std::string* err);
  config::Arbiter arbiter_;
  Etcd& etcd_;
  Clock& clock_;
  LeaseRecord rec_;
};

}  // namespace hakit::arbiter
