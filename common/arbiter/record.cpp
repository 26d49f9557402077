#include "common/arbiter/record.hpp"

#include <fmt/format.h>

#include <ctime>
#include <fstream>

namespace hakit::arbiter {

std::int64_t int64_field(const Json& j, const char* name) {
  if (!j.is_object()) return 0;
  auto it = j.find(name);
  if (it == j.end()) return 0;
  if (it->is_number_integer()) return it->get<std::int64_t>();
  if (it->is_string()) {
    try {
      return std::stoll(it->get<std::string>());
    } catch (const std::exception&) {
      return 0;
    }
  }
  return 0;
}

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
          {"self_fenced", self_fenced},
          {"endpoint", endpoint},         {"boot_id", boot_id}};
}

LeaseRecord LeaseRecord::from_json(const Json& j) {
  LeaseRecord r;
  r.instance = j.value("instance", "");
  r.key = j.value("key", "");
  r.node = j.value("node", "");
  r.lease_id = int64_field(j, "lease_id");
  r.ttl_ms = j.value("ttl_ms", std::int64_t{0});
  r.last_send_ms = j.value("last_send_boottime_ms", std::int64_t{0});
  std::string ph = j.value("phase", "none");
  r.phase = ph == "promoting" ? Phase::kPromoting : ph == "holding" ? Phase::kHolding : Phase::kNone;
  r.promoter_pid = j.value("promoter_pid", 0);
  r.self_fenced = j.value("self_fenced", false);
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

}  // namespace hakit::arbiter
