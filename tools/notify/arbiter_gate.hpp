#pragma once
// The instance's arbiter lease around one role change (docs/arbiter.md): a promotion must
// acquire it before any action runs and still hold it right before read_only=OFF; a demotion
// hands it back once the database is read-only.
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/arbiter/keep.hpp"
#include "common/lock.hpp"
#include "notify/config.hpp"
#include "notify/notify.hpp"
#include "notify/ports.hpp"

namespace hakit::notify {

/// The profile of the server the arbiter guards: the `mysql` of the instance's first
/// mysql_promote (else mysql_demote); "" when the instance has neither.
std::string guarded_profile(const config::Instance& inst);

/// arbiter::LocalDb over a connection profile: read_only probe, and the fence is the same
/// set_read_only(ON) that mysql_demote runs.
class ProfileLocalDb : public arbiter::LocalDb {
 public:
  ProfileLocalDb(DbConnector& connector, const config::MysqlProfile& profile, Millis timeout)
      : connector_(connector), profile_(profile), timeout_(timeout) {}
  bool read_only(bool* on, std::string* err) override;
  bool fence(std::string* err) override;

 private:
  DbConnector& connector_;
  config::MysqlProfile profile_;
  Millis timeout_;
};

/// Serializes every user of one instance's lease record on this node (run_dir lock).
std::optional<FileLock> lock_record(const config::Core& core, const std::string& instance,
                                    Millis timeout, std::string* err);

/// The lease of one instance during one notify event.
class ArbiterGate {
 public:
  ArbiterGate(const std::string& instance, const config::NotifyConfig& cfg, Services& svc);
  /// Promotion, before any action: acquires the lease, waiting up to acquire_timeout for
  /// another holder's lease to end. False + *why: refuse the promotion. `vip_elsewhere`, when
  /// set, names the other hosts that answer ARP for the VIP. The wait ends at once (refused)
  /// when another host answers on two looks kVipGateConfirm apart: the lease holder is alive
  /// and cut off from VRRP, journaled as arbiter.vip_also_held_by.
  /// `superseded`, when set, is asked at each look: true ends the wait (false, and
  /// superseded() is true): a newer event of the instance decides instead.
  bool acquire(Json* journal, std::string* why,
               const std::function<std::vector<std::string>()>& vip_elsewhere = {},
               const std::function<bool()>& superseded = {});
  /// True when the last acquire() ended because a newer event arrived.
  bool superseded() const { return superseded_; }
  /// Right before read_only=OFF: renews the lease and checks the key still names us.
  bool before_writable(std::string* why);
  /// After the promote list: kept (the renewer takes over) when it succeeded or the database is
  /// writable anyway; released when it failed with the database read-only.
  void after_promotion(bool ok, Json* journal);
  /// After the demote list: released when the local database is read-only.
  void after_demotion(Json* journal);

 private:
  bool with_keeper(Millis lock_wait, const std::function<void(arbiter::LeaseKeeper&)>& fn,
                   std::string* err);
  /// Releases the lease when the local database is confirmed read-only; false when it is not.
  bool release_if_read_only(Json* journal);
  std::string instance_;
  const config::NotifyConfig& cfg_;
  Services& svc_;
  const config::Arbiter& arbiter_;
  std::unique_ptr<arbiter::Etcd> etcd_;
  bool superseded_ = false;
};

}  // namespace hakit::notify
