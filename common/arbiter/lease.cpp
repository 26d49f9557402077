#include "common/arbiter/lease.hpp"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <ctime>
#include <fstream>

namespace hakit::arbiter {

LeaseKeeper::LeaseKeeper(const config::Arbiter& arbiter, const std::string& instance, Etcd& etcd,
                         Clock& clock, LeaseRecord record)
    : arbiter_(arbiter), etcd_(etcd), clock_(clock), rec_(std::move(record)) {
  rec_.instance = instance;
  rec_.key = arbiter_.key(instance);
  rec_.node = arbiter_.node_id();
}

bool LeaseKeeper::must_fence() const {
  return rec_.holds() && clock_.now_ms() >= rec_.fence_at_ms(arbiter_.fence_margin());
}

std::int64_t LeaseKeeper::ms_to_fence() const {
  return rec_.holds() ? rec_.fence_at_ms(arbiter_.fence_margin()) - clock_.now_ms() : 0;
}

LeaseKeeper::Renewed LeaseKeeper::renew(std::string* holder, std::string* err) {
  if (!rec_.holds()) return Renewed::kLost;
  const std::int64_t sent = clock_.now_ms();
  std::int64_t ttl_s = 0;
  if (!etcd_.keepalive(rec_.lease_id, &ttl_s, err)) return Renewed::kFailed;
  if (ttl_s <= 0) {
    *err = fmt::format("lease {:x} expired at etcd", rec_.lease_id);
    rec_.lease_id = 0;
    return Renewed::kLost;
  }
  rec_.last_send_ms = sent;
  rec_.ttl_ms = ttl_s * 1000;
  std::optional<KeyValue> kv;
  std::string e;
  if (!etcd_.get(rec_.key, &kv, &e)) {
    // The lease is alive; only another node's create after a delete could take the key, and
    // the next renewal looks again.
    spdlog::warn("arbiter: lease renewed but {} could not be read: {}", rec_.key, e);
    return Renewed::kYes;
  }
  if (!kv) {
    *err = fmt::format("key {} is gone (deleted by hand?)", rec_.key);
    return Renewed::kLost;
  }
  if (kv->value != rec_.node) {
    *holder = kv->value;
    other_lease_ = kv->lease;
    *err = fmt::format("key {} names {}", rec_.key, kv->value);
    return Renewed::kHeldByOther;
  }
  if (kv->lease != rec_.lease_id) {
    *err = fmt::format("key {} is on lease {:x}, not ours ({:x})", rec_.key, kv->lease, rec_.lease_id);
    return Renewed::kLost;
  }
  return Renewed::kYes;
}

bool LeaseKeeper::try_claim(std::string* holder, bool* won, std::string* err) {
  *won = false;
  if (rec_.holds()) {
    switch (renew(holder, err)) {
      case Renewed::kYes: *won = true; return true;
      case Renewed::kHeldByOther: return true;
      case Renewed::kFailed: return false;
      case Renewed::kLost: break;
    }
    if (rec_.lease_id) {
      std::string e;
      etcd_.revoke(rec_.lease_id, &e);  // ours and unusable; it would expire anyway
      rec_.lease_id = 0;
    }
  }
  std::optional<KeyValue> kv;
  if (!etcd_.get(rec_.key, &kv, err)) return false;
  if (kv && kv->value != rec_.node) {
    *holder = kv->value;
    other_lease_ = kv->lease;
    return true;
  }
  const std::int64_t sent = clock_.now_ms();
  std::int64_t id = 0, granted = 0;
  if (!etcd_.grant(arbiter_.ttl.count() / 1000, &id, &granted, err)) return false;
  bool ok = false;
  std::optional<KeyValue> current;
  const Json body = kv ? codec::replace_txn(rec_.key, rec_.node, kv->mod_revision, id)
                       : codec::create_txn(rec_.key, rec_.node, id);
  if (!etcd_.txn(body, &ok, &current, err)) {
    std::string e;
    etcd_.revoke(id, &e);
    return false;
  }
  if (!ok) {
    std::string e;
    etcd_.revoke(id, &e);
    *holder = current ? current->value : "";
    other_lease_ = current ? current->lease : 0;
    return true;  // somebody was faster; the caller waits and looks again
  }
  if (kv && kv->lease && kv->lease != id) {
    std::string e;
    etcd_.revoke(kv->lease, &e);  // our own older lease, now attached to nothing
  }
  rec_.lease_id = id;
  rec_.ttl_ms = granted * 1000;
  rec_.last_send_ms = sent;
  *won = true;
  return true;
}

LeaseKeeper::Acquired LeaseKeeper::acquire(Millis wait, std::string* holder, std::string* err,
                                           const std::function<bool()>& give_up,
                                           const std::function<bool()>& stop) {
  const std::int64_t deadline = clock_.now_ms() + wait.count();
  for (;;) {
    bool won = false;
    holder->clear();
    other_lease_ = 0;
    std::string e;
    const bool answered = try_claim(holder, &won, &e);
    if (won) {
      rec_.self_fenced = false;
      return Acquired::kYes;
    }
    if (!answered) *err = e;
    if (answered && !holder->empty() && give_up && holder_renewing(other_lease_) && give_up())
      return Acquired::kGaveUp;
    if (stop && stop()) return Acquired::kStopped;
    const std::int64_t left = deadline - clock_.now_ms();
    if (left <= 0) return answered ? Acquired::kHeldByOther : Acquired::kUnavailable;
    // The holder's lease expires or is released by itself; we only look again.
    clock_.sleep(Millis(std::min<std::int64_t>(left, arbiter_.renew_interval.count())));
  }
}

bool LeaseKeeper::holder_renewing(std::int64_t lease) {
  if (!lease) return true;  // a key on no lease never ends by itself
  std::int64_t left = 0, granted = 0;
  std::string e;
  if (!etcd_.time_to_live(lease, &left, &granted, &e)) {
    spdlog::debug("arbiter: TTL of the holder's lease {:x} unknown: {}", lease, e);
    return true;
  }
  holder_ttl_left_ = left;
  if (left < 0) return false;  // gone: the next look claims the key
  const std::int64_t g = granted > 0 ? granted : arbiter_.ttl.count() / 1000;
  // etcd reports whole seconds rounded down: the last renewal is at most g - left s old.
  // A live holder renews every renew_interval; allow one late tick and one request timeout.
  const std::int64_t window_ms = 2 * arbiter_.renew_interval.count() + arbiter_.timeout.count();
  const std::int64_t window_s = (window_ms + 999) / 1000;
  return g - left <= window_s;
}

bool LeaseKeeper::release(std::string* err) {
  bool ok = true;
  bool succeeded = false;
  std::optional<KeyValue> current;
  std::string e;
  if (!etcd_.txn(codec::delete_if_txn(rec_.key, rec_.node), &succeeded, &current, &e)) {
    ok = false;
    *err = e;
  }
  if (rec_.holds() && !etcd_.revoke(rec_.lease_id, &e)) {
    ok = false;
    *err = e;
  } else {
    rec_.lease_id = 0;
  }
  // Unreleased, the lease expires by itself within its TTL; the id stays in the record so the
  // next read-only tick tries again (the other node then need not wait for the TTL).
  rec_.phase = Phase::kNone;
  rec_.promoter_pid = 0;
  return ok;
}

}  // namespace hakit::arbiter
