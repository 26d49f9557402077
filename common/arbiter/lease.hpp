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
#include <functional>
#include <optional>
#include <string>

#include "common/arbiter/config.hpp"
#include "common/arbiter/etcd.hpp"
#include "common/arbiter/record.hpp"
#include "common/state.hpp"

namespace hakit::arbiter {

/// Acquires, renews and releases one instance's lease.
class LeaseKeeper {
 public:
  LeaseKeeper(const config::Arbiter& arbiter, const std::string& instance, Etcd& etcd, Clock& clock,
              LeaseRecord record);

  /// Result of an acquire.
  enum class Acquired { kYes, kHeldByOther, kUnavailable, kGaveUp, kStopped };
  /// Takes the lease by compare-and-swap: creates the key with a fresh lease when it is absent,
  /// or re-attaches it when it already names this node. When another node holds it, waits up
  /// to `wait` for that lease to expire or be released (never steals). *holder names the other
  /// node; *err says why on kUnavailable.
  /// `give_up`, when set, is asked each time the key names another node that keeps renewing
  /// its lease (holder_renewing): true ends the wait at once with kGaveUp (notify_master: that
  /// node demonstrably still holds the VIP). A holder that stopped renewing is never a reason
  /// to give up: cut off from etcd, it self-fences and its lease ends within the wait.
  /// `stop`, when set, is asked after every look that did not win: true ends the wait with
  /// kStopped (notify: a newer event of the instance arrived, keepalived changed its mind).
  Acquired acquire(Millis wait, std::string* holder, std::string* err,
                   const std::function<bool()>& give_up = {},
                   const std::function<bool()>& stop = {});

  /// Whether the holder's lease `lease` was renewed lately: granted TTL - TTL left (etcd's
  /// whole seconds, rounded down) is within 2 x renew_interval + timeout, rounded up to whole
  /// seconds (3 s with the sample's 1 s and 500 ms): one late renewal tick is tolerated, a
  /// master cut off for a VRRP down timer (~3.6 s) is not. True when etcd cannot tell (then
  /// only give_up decides) or the key carries no lease. Limits (docs/arbiter.md): with a VRRP
  /// down timer shorter than that window, or right after an etcd leader change (the new
  /// leader extends every lease to a full TTL), a cut-off holder still counts as renewing.
  /// Notes what it read in holder_ttl_left().
  bool holder_renewing(std::int64_t lease);
  /// The holder lease's TTL left (whole seconds, -1 gone) at the last look of acquire(), if
  /// it was read.
  std::optional<std::int64_t> holder_ttl_left() const { return holder_ttl_left_; }

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
  std::int64_t other_lease_ = 0;  ///< the lease of the key when it named another node
  std::optional<std::int64_t> holder_ttl_left_;
};

}  // namespace hakit::arbiter
