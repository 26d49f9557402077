#include "common/arbiter/lease.hpp"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <ctime>
#include <fstream>

namespace hakit::arbiter {

std::int64_t BootClock::now_ms() {
  timespec ts{};
  clock_gettime(CLOCK_BOOTTIME, &ts);
  return static_cast<std::int64_t>(ts.tv_sec) * 1000 + ts.tv_nsec / 1'000'000;
}

void BootClock::sleep(Millis d) {
  if (d.count() <= 0) return;
  timespec ts{static_cast<time_t>(d.count() / 1000), static_cast<long>(d.count() % 1000) * 1'000'000};
  while (nanosleep(&ts, &ts) != 0) {
  }
}

std::string boot_id() {
  std::ifstream in("/proc/sys/kernel/random/boot_id");
  std::string id;
  std::getline(in, id);
  return id;
}

const char* to_string(Phase p) {
  switch (p) {
    case Phase::kNone: return "none";
    case Phase::kPromoting: return "promoting";
    case Phase::kHolding: return "holding";
  }
  return "?";
}

Json LeaseRecord::to_json() const {
  return {{"instance", instance},         {"key", key},
          {"node", node},                 {"lease_id", std::to_string(lease_id)},
          {"ttl_ms", ttl_ms},             {"last_send_boottime_ms", last_send_ms},
          {"phase", to_string(phase)},    {"promoter_pid", promoter_pid},
          {"endpoint", endpoint},         {"boot_id", boot_id}};
}

LeaseRecord LeaseRecord::from_json(const Json& j) {
  LeaseRecord r;
  r.instance = j.value("instance", "");
  r.key = j.value("key", "");
  r.node = j.value("node", "");
  r.lease_id = codec::int64_field(j, "lease_id");
  r.ttl_ms = j.value("ttl_ms", std::int64_t{0});
  r.last_send_ms = j.value("last_send_boottime_ms", std::int64_t{0});
  std::string ph = j.value("phase", "none");
  r.phase = ph == "promoting" ? Phase::kPromoting : ph == "holding" ? Phase::kHolding : Phase::kNone;
  r.promoter_pid = j.value("promoter_pid", 0);
  r.endpoint = j.value("endpoint", "");
  r.boot_id = j.value("boot_id", "");
  return r;
}

std::string record_path(const std::string& run_dir, const std::string& instance) {
  return fmt::format("{}/arbiter.{}.json", run_dir, instance);
}
std::string record_lock_path(const std::string& run_dir, const std::string& instance) {
  return fmt::format("{}/arbiter.{}.lock", run_dir, instance);
}

LeaseRecord read_record(const std::string& run_dir, const std::string& instance, std::string* err) {
  LeaseRecord none;
  none.instance = instance;
  std::ifstream in(record_path(run_dir, instance));
  if (!in) return none;
  Json j = Json::parse(in, nullptr, false);
  if (!j.is_object()) {
    *err = record_path(run_dir, instance) + " is corrupt; treated as holding no lease";
    return none;
  }
  LeaseRecord r = LeaseRecord::from_json(j);
  // Send times are CLOCK_BOOTTIME values: meaningless after a reboot.
  if (r.boot_id != boot_id()) return none;
  r.instance = instance;
  return r;
}

bool write_record(const std::string& run_dir, const LeaseRecord& r, std::string* err) {
  LeaseRecord w = r;
  w.boot_id = boot_id();
  return write_file_atomic(record_path(run_dir, r.instance), dump_json(w.to_json()) + "\n", 0644, err,
                           Durability::kAtomicOnly);
}

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

LeaseKeeper::Acquired LeaseKeeper::acquire(Millis wait, std::string* holder, std::string* err) {
  const std::int64_t deadline = clock_.now_ms() + wait.count();
  for (;;) {
    bool won = false;
    holder->clear();
    std::string e;
    const bool answered = try_claim(holder, &won, &e);
    if (won) return Acquired::kYes;
    if (!answered) *err = e;
    const std::int64_t left = deadline - clock_.now_ms();
    if (left <= 0) return answered ? Acquired::kHeldByOther : Acquired::kUnavailable;
    // The holder's lease expires or is released by itself; we only look again.
    clock_.sleep(Millis(std::min<std::int64_t>(left, arbiter_.renew_interval.count())));
  }
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
