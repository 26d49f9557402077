#include "notify/arbiter_gate.hpp"

#include <fmt/format.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include "common/arp_probe.hpp"
#include "notify/mysql_dialect.hpp"
#include "notify/read_only.hpp"

namespace hakit::notify {

std::string guarded_profile(const config::Instance& inst) {
  for (const auto* list : {&inst.promote, &inst.demote})
    for (const auto& a : *list) {
      if (const auto* p = std::get_if<config::MysqlPromoteSpec>(&a.spec)) return p->mysql;
      if (const auto* d = std::get_if<config::MysqlDemoteSpec>(&a.spec)) return d->mysql;
    }
  return "";
}

bool ProfileLocalDb::read_only(bool* on, std::string* err) {
  auto db = connector_.open(profile_, timeout_, err);
  if (!db) return false;
  std::vector<mysql::Row> rows;
  if (!db->query("SELECT @@global.read_only AS ro", &rows, err)) return false;
  const auto& v = rows.empty() ? std::nullopt : rows[0].begin()->second;
  if (!v) {
    *err = "SELECT @@global.read_only returned nothing";
    return false;
  }
  *on = *v == "1" || *v == "ON";
  return true;
}

bool ProfileLocalDb::fence(std::string* err) {
  auto db = connector_.open(profile_, timeout_, err);
  if (!db) return false;
  return set_read_only(*db, Dialect::detect(*db), true, err);
}

std::optional<FileLock> lock_record(const config::Core& core, const std::string& instance,
                                    Millis timeout, std::string* err) {
  if (!make_dirs(core.run_dir, 0755, err)) return std::nullopt;
  return FileLock::acquire(arbiter::record_lock_path(core.run_dir, instance), timeout, err);
}

ArbiterGate::ArbiterGate(const std::string& instance, const config::NotifyConfig& cfg, Services& svc)
    : instance_(instance),
      cfg_(cfg),
      svc_(svc),
      arbiter_(cfg.arbiters.at(cfg.instances.at(instance).arbiter)),
      etcd_(svc.etcd(arbiter_)) {}

bool ArbiterGate::with_keeper(Millis lock_wait,
                              const std::function<void(arbiter::LeaseKeeper&)>& fn,
                              std::string* err) {
  auto lock = lock_record(cfg_, instance_, lock_wait, err);
  if (!lock) return false;
  std::string rerr;
  arbiter::LeaseRecord rec = arbiter::read_record(cfg_.run_dir, instance_, &rerr);
  if (!rerr.empty()) spdlog::warn("arbiter: {}", rerr);
  arbiter::LeaseKeeper keeper(arbiter_, instance_, *etcd_, *svc_.clock, rec);
  fn(keeper);
  if (!arbiter::write_record(cfg_.run_dir, keeper.record(), err)) return false;
  return true;
}

bool ArbiterGate::acquire(Json* journal, std::string* why,
                          const std::function<std::vector<std::string>()>& vip_elsewhere,
                          const std::function<bool()>& superseded) {
  using R = arbiter::LeaseKeeper::Acquired;
  R result = R::kUnavailable;
  std::string holder, err;
  // Asked at each poll that finds the lease held by another node that keeps renewing it
  // (LeaseKeeper::holder_renewing: a master cut off from etcd stops renewing, self-fences and
  // drops the VIP, so its ARP answers while it still can are no reason to give up). Another
  // host answers ARP for the VIP, and again kVipGateConfirm later: not a dead master whose
  // lease runs out but a live one that cannot hear this node's VRRP. Waiting for its lease
  // would only keep the VIP on a read-only node. Both looks within one poll, so that this is
  // decided within a second of the event, before the guard's own two-holders verdict (two
  // runs >= 0.5 s apart) takes the VIP away under it.
  // The VIP leaving this node is not looked at here: keepalived then sends a FAULT or BACKUP
  // event, whose ticket ends the wait through `superseded` (a promotion never starts its
  // actions on a node keepalived has moved on from; the newer event decides).
  std::vector<std::string> others;
  auto give_up = [&]() {
    if (!vip_elsewhere) return false;
    if (vip_elsewhere().empty()) return false;
    svc_.clock->sleep(kVipGateConfirm);
    others = vip_elsewhere();
    return !others.empty();
  };
  const auto t0 = std::chrono::steady_clock::now();
  // A keep tick holds the record lock for at most one request timeout or so.
  std::optional<std::int64_t> holder_ttl;
  bool locked = with_keeper(arbiter_.acquire_wait() + 4 * arbiter_.timeout, [&](arbiter::LeaseKeeper& k) {
    result = k.acquire(arbiter_.acquire_wait(), &holder, &err, give_up, superseded);
    holder_ttl = k.holder_ttl_left();
    if (result == R::kYes) {
      k.record().phase = arbiter::Phase::kPromoting;
      k.record().promoter_pid = static_cast<int>(getpid());
    }
  }, &err);
  const auto waited =
      std::chrono::duration_cast<Millis>(std::chrono::steady_clock::now() - t0).count();
  Json& a = (*journal)["arbiter"];
  a = {{"name", arbiter_.name}, {"key", arbiter_.key(instance_)}, {"node", arbiter_.node_id()},
       {"waited_ms", waited}};
  if (locked && result == R::kYes) {
    a["lease"] = "acquired";
    spdlog::info("arbiter: lease {} acquired for {} ({} ms)", arbiter_.key(instance_),
                 arbiter_.node_id(), waited);
    return true;
  }
  superseded_ = locked && result == R::kStopped;
  a["lease"] = superseded_ ? "not acquired: a newer event arrived" : "refused";
  if (!holder.empty()) a["holder"] = holder;
  if (holder_ttl) a["holder_ttl_left_s"] = *holder_ttl;
  if (!err.empty()) a["error"] = err;
  if (superseded_) {
    *why = fmt::format("a newer event of the instance arrived while this promotion waited for "
                       "the arbiter lease {}{}", arbiter_.key(instance_),
                       holder.empty() ? "" : " (held by " + holder + ")");
  } else if (locked && result == R::kGaveUp) {
    a["vip_also_held_by"] = others;
    *why = fmt::format("the arbiter lease {} is held by {}, which still holds the VIP as well "
                       "(ARP answered by {}): VRRP between the nodes is broken, not the master "
                       "dead; this node gives the VIP up instead of waiting for the lease",
                       arbiter_.key(instance_), holder, fmt::join(others, ", "));
  } else if (locked && result == R::kHeldByOther)
    *why = fmt::format("the arbiter lease {} is held by {} and did not end within {}",
                       arbiter_.key(instance_), holder, format_duration(arbiter_.acquire_wait()));
  else
    *why = fmt::format("the arbiter {} cannot grant the lease {}: {}", arbiter_.name,
                       arbiter_.key(instance_), err);
  return false;
}

bool ArbiterGate::before_writable(std::string* why) {
  using R = arbiter::LeaseKeeper::Renewed;
  R result = R::kFailed;
  std::string holder, err;
  bool fence_due = false;
  bool locked = with_keeper(4 * arbiter_.timeout + arbiter_.renew_interval, [&](arbiter::LeaseKeeper& k) {
    result = k.renew(&holder, &err);
    fence_due = k.must_fence();
  }, &err);
  if (locked && result == R::kYes && !fence_due) return true;
  *why = fmt::format("promotion refused before read_only=OFF: the arbiter lease {} is no longer "
                     "held ({}); the database stays read-only",
                     arbiter_.key(instance_), err.empty() ? "held by " + holder : err);
  return false;
}

void ArbiterGate::after_promotion(bool ok, Json* journal) {
  if (!ok && release_if_read_only(journal)) return;
  // Promoted, or failed after read_only=OFF: a writable node keeps the lease (the renewer
  // renews it from now on).
  std::string err;
  bool locked = with_keeper(4 * arbiter_.timeout + arbiter_.renew_interval, [&](arbiter::LeaseKeeper& k) {
    k.record().phase = arbiter::Phase::kHolding;
    k.record().promoter_pid = 0;
  }, &err);
  (*journal)["arbiter"]["lease"] = locked ? "held" : "held (record not updated: " + err + ")";
}

void ArbiterGate::after_demotion(Json* journal) {
  (*journal)["arbiter"] = {{"name", arbiter_.name}, {"key", arbiter_.key(instance_)}};
  release_if_read_only(journal);
}

bool ArbiterGate::release_if_read_only(Json* journal) {
  Json& a = (*journal)["arbiter"];
  const std::string profile = guarded_profile(cfg_.instances.at(instance_));
  bool ro = false;
  std::string err;
  if (profile.empty() || !cfg_.mysql.count(profile)) {
    err = "no mysql profile to check read_only on";
  } else {
    ProfileLocalDb db(*svc_.db, cfg_.mysql.at(profile), arbiter_.timeout * 4);
    if (!db.read_only(&ro, &err)) ro = false;
  }
  if (!ro) {
    // Never hand the lease away while this node might still write; the renewer fences it.
    a["lease"] = "kept: the database is not confirmed read-only" + (err.empty() ? "" : " (" + err + ")");
    spdlog::warn("arbiter: lease {} {}", arbiter_.key(instance_), a["lease"].get<std::string>());
    return false;
  }
  bool released = false;
  bool locked = with_keeper(4 * arbiter_.timeout + arbiter_.renew_interval, [&](arbiter::LeaseKeeper& k) {
    released = k.release(&err);
  }, &err);
  a["lease"] = locked && released ? "released" : "not released (it expires by itself): " + err;
  return true;
}

}  // namespace hakit::notify
