#include "common/arbiter/keep.hpp"

#include <fmt/format.h>

namespace hakit::arbiter {

namespace {

std::string secs(std::int64_t ms) { return fmt::format("{:.1f} s", static_cast<double>(ms) / 1000.0); }

// Sets the database read-only and says why; CRITICAL either way (keepalived goes FAULT).
TickResult self_fence(LeaseKeeper& k, LocalDb& db, const config::Arbiter& a, const std::string& why,
                      const std::string& holder) {
  TickResult t;
  t.state = State::kCritical;
  std::string err;
  const bool done = db.fence(&err);
  t.fenced = done;
  const LeaseRecord& r = k.record();
  t.journal = Json{{"kind", "self-fence"},
                   {"instance", r.instance},
                   {"arbiter", a.name},
                   {"node", r.node},
                   {"key", r.key},
                   {"reason", why},
                   {"read_only", done},
                   {"lease_id", fmt::format("{:x}", r.lease_id)}};
  if (!holder.empty()) t.journal["holder"] = holder;
  if (!done) t.journal["error"] = err;
  t.summary = done ? fmt::format("self-fenced (read_only=ON): {}", why)
                   : fmt::format("must self-fence ({}) but cannot set read_only: {}",
                                 why, err);
  // The lease is no longer a writer's: the next tick (read-only) releases it if it still exists.
  k.record().self_fenced = true;
  k.record().phase = Phase::kNone;
  k.record().promoter_pid = 0;
  return t;
}

TickResult ok(std::string s, State st = State::kOk) { return TickResult{st, std::move(s), false, nullptr}; }

}  // namespace

TickResult keep_tick(LeaseKeeper& k, LocalDb& db, const config::Arbiter& a, bool promoter_alive) {
  LeaseRecord& r = k.record();
  std::string holder, err;
  bool ro = false;
  if (!db.read_only(&ro, &err)) {
    // Cannot tell whether it writes: keep a lease we hold (the server may come back writable
    // and must find it), and say so.
    std::string e;
    if (r.holds() && !k.must_fence()) k.renew(&holder, &e);
    return ok("cannot read read_only of the local server: " + err, State::kUnknown);
  }
  if (ro) {
    if (r.holds() && r.phase == Phase::kPromoting && promoter_alive) {
      if (k.renew(&holder, &err) == LeaseKeeper::Renewed::kYes)
        return ok(fmt::format("promotion in progress, lease renewed (self-fence "
                              "deadline in {})",
                              secs(k.ms_to_fence())));
      return ok("promotion in progress, read-only; lease renewal failed: " + err);
    }
    if (r.self_fenced) {
      // After a self-fence the node stays out of the VIP election until the arbiter answers
      // again. Cut off, it hears no VRRP and would become MASTER again inside the partition;
      // at the heal its priority could then win the VIP from the lease holder (two MASTERs
      // meeting resolve by priority, whatever nopreempt says), demote it, and leave the
      // cluster without a writable node while its own promotion waits for the lease.
      // Releasing its lease (the key too, if it still names this node) is that answer.
      if (!k.release(&err))
        return ok(fmt::format("self-fenced, and the arbiter does not answer ({}): not a "
                              "candidate for the VIP until it does",
                              err),
                  State::kCritical);
      r.self_fenced = false;
      TickResult t = ok("read-only after a self-fence; the arbiter answers again (lease "
                        "released): a candidate for the VIP again");
      t.journal = Json{{"kind", "arbiter"},          {"instance", r.instance}, {"arbiter", a.name},
                       {"event", "answers-again"},   {"node", r.node},         {"reason", t.summary}};
      return t;
    }
    if (r.holds() || r.phase != Phase::kNone) {
      // Demoted or fenced: hand the lease back so the other node need not wait for its TTL.
      const bool released = k.release(&err);
      return ok(released ? "read-only; released the lease"
                         : "read-only; lease not released (" + err +
                               "), it expires by itself");
    }
    return ok("read-only, holds no lease (standby)");
  }

  // Writable: must hold the lease.
  if (r.holds()) {
    if (k.must_fence()) {
      const std::int64_t to_fence = k.ms_to_fence(), margin = a.fence_margin().count();
      return self_fence(k, db, a,
                        fmt::format("lease not renewed for {} (ttl {}): etcd may expire it in {}",
                                    secs(r.ttl_ms - margin - to_fence), secs(r.ttl_ms),
                                    secs(to_fence + margin)),
                        "");
    }
    switch (k.renew(&holder, &err)) {
      case LeaseKeeper::Renewed::kYes:
        r.phase = Phase::kHolding;
        r.promoter_pid = 0;
        return ok(fmt::format("writable, lease held by {} (self-fence deadline in {})",
                              r.node, secs(k.ms_to_fence())));
      case LeaseKeeper::Renewed::kHeldByOther:
        return self_fence(k, db, a, fmt::format("the lease key names {}", holder), holder);
      case LeaseKeeper::Renewed::kFailed:
        if (k.must_fence())
          return self_fence(k, db, a, "lease renewal failed until the deadline: " + err, "");
        return ok(fmt::format("lease renewal failed ({}); self-fence in {}", err,
                              secs(k.ms_to_fence())),
                  State::kWarning);
      case LeaseKeeper::Renewed::kLost:
        break;  // re-acquired below
    }
  }
  const std::string lost = err;
  err.clear();
  switch (k.acquire(Millis(0), &holder, &err)) {
    case LeaseKeeper::Acquired::kYes: {
      r.phase = Phase::kHolding;
      r.promoter_pid = 0;
      TickResult t = ok(fmt::format("writable without a lease{}: acquired it",
                                    lost.empty() ? "" : " (" + lost + ")"));
      t.journal = Json{{"kind", "arbiter"},   {"instance", r.instance}, {"arbiter", a.name},
                       {"event", "acquired"}, {"node", r.node},         {"reason", t.summary}};
      return t;
    }
    case LeaseKeeper::Acquired::kHeldByOther:
      return self_fence(k, db, a, fmt::format("writable, but the lease is held by {}", holder), holder);
    case LeaseKeeper::Acquired::kUnavailable:
    case LeaseKeeper::Acquired::kGaveUp:  // (no give_up or stop here)
    case LeaseKeeper::Acquired::kStopped:
      break;
  }
  return self_fence(k, db, a, "writable without a lease, and the arbiter cannot grant one: " + err, "");
}

}  // namespace hakit::arbiter
