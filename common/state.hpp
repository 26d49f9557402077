#pragma once
// Persistent state under state_dir: the journal (JSON lines, fsync'd, rotated by size), the
// failover flag, the role each instance last took, and Prometheus textfiles.
#include <nlohmann/json.hpp>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace hakit {

using Json = nlohmann::json;

/// Compact JSON text. Strings from outside (a server's error message, a web page) may not be
/// UTF-8: invalid bytes become U+FFFD instead of an exception that would kill a daemon.
inline std::string dump_json(const Json& j, int indent = -1) {
  return j.dump(indent, ' ', false, Json::error_handler_t::replace);
}

/// Appends one JSON object per line. Appends from several processes never interleave (one
/// write() under an flock), each line is fsync'd before append() returns.
class Journal {
 public:
  explicit Journal(std::string path, std::uint64_t max_bytes = 16 * 1024 * 1024, int keep = 5)
      : path_(std::move(path)), max_bytes_(max_bytes), keep_(keep) {}
  /// Adds "time" (RFC 3339, UTC, ms), "host" and "pid" when absent. False + *err on failure.
  bool append(Json entry, std::string* err) const;
  /// The last `n` entries (newest last), across the current file and its rotations.
  std::vector<Json> tail(std::size_t n) const;
  const std::string& path() const { return path_; }

 private:
  std::string path_;
  std::uint64_t max_bytes_;
  int keep_;
};

/// The failover flag: set by a promotion, it stops log copying until an operator clears it.
struct FailoverFlag {
  bool set = false;
  std::string time;      ///< RFC 3339
  std::string host;
  std::string set_by;    ///< tool or user
  std::string reason;
  std::string instance;
};

/// Reads state_dir/failover.flag. A corrupt file reads as set (fail safe) with the reason saying so.
FailoverFlag read_failover_flag(const std::string& state_dir);
/// Writes the flag atomically (temp file + rename + fsync of the directory).
bool set_failover_flag(const std::string& state_dir, const FailoverFlag& flag, std::string* err);
bool clear_failover_flag(const std::string& state_dir, std::string* err);

/// Longest instance name accepted.
inline constexpr std::size_t kMaxInstanceName = 128;

/// True when `name` can name files in run_dir/state_dir (no '/', '..', NUL, control
/// characters; 1-128 characters); else *err (when given) says why.
bool valid_instance_name(const std::string& name, std::string* err);

/// The role the notify tools last put an instance in ("master", "backup", "fault", "stop").
struct RoleRecord {
  std::string role;
  std::string time;
  std::string event;
};
std::optional<RoleRecord> read_role(const std::string& state_dir, const std::string& instance);
bool write_role(const std::string& state_dir, const std::string& instance, const RoleRecord& r,
                std::string* err);

/// One Prometheus sample.
struct Metric {
  std::string name;  ///< hakit_...
  std::string help;
  std::string type = "gauge";
  std::vector<std::pair<std::string, std::string>> labels;
  double value = 0;
};

/// Writes a node_exporter textfile atomically (temp + rename), so a scrape never reads half.
bool write_metrics(const std::string& path, const std::vector<Metric>& metrics, std::string* err);

/// How much a write_file_atomic() must survive.
enum class Durability {
  kCrashSafe,  ///< fsync of the file and its directory: survives a power loss (state, flag)
  kAtomicOnly  ///< rename only: readers never see half, a power loss may lose it (metrics)
};

/// Writes a whole file atomically with the given mode (temp in the same dir, rename).
bool write_file_atomic(const std::string& path, const std::string& data, unsigned mode,
                       std::string* err, Durability durability = Durability::kCrashSafe);

/// Now as RFC 3339 UTC with milliseconds: "2026-11-22T03:04:05.123Z".
std::string now_rfc3339();

/// This host's name.
std::string hostname();

}  // namespace hakit
