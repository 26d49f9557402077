#include "common/state.hpp"

#include <fcntl.h>
#include <fmt/format.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <chrono>
#include <cstring>
#include <ctime>
#include <deque>
#include <fstream>
#include <map>

#include "common/lock.hpp"
#include "common/units.hpp"

namespace hakit {

std::string now_rfc3339() { return format_rfc3339(std::chrono::system_clock::now()); }

std::string hostname() {
  char buf[256] = {};
  if (gethostname(buf, sizeof buf - 1) != 0) return "unknown";
  return buf;
}

static std::string dir_of(const std::string& path) {
  auto slash = path.rfind('/');
  if (slash == std::string::npos) return ".";
  return slash == 0 ? "/" : path.substr(0, slash);
}

// A rename or a new file is durable only once its directory is.
static void sync_dir(const std::string& dir) {
  int dfd = open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd >= 0) {
    fsync(dfd);
    close(dfd);
  }
}

bool write_file_atomic(const std::string& path, const std::string& data, unsigned mode,
                       std::string* err, Durability durability) {
  std::string dir = dir_of(path);
  if (!make_dirs(dir, 0755, err)) return false;
  // A unique temp name: two writers of the same file (two threads, a stale temp of a crashed
  // run) never share one.
  std::string tmp = path + ".tmp.XXXXXX";
  int fd = mkostemp(tmp.data(), O_CLOEXEC);
  if (fd < 0) {
    *err = fmt::format("cannot write {}: {}", path, std::strerror(errno));
    return false;
  }
  auto fail = [&](const char* what) {
    *err = fmt::format("cannot {} {}: {}", what, tmp, std::strerror(errno));
    close(fd);
    unlink(tmp.c_str());
    return false;
  };
  if (fchmod(fd, mode) != 0) return fail("chmod");
  size_t off = 0;
  while (off < data.size()) {
    ssize_t n = write(fd, data.data() + off, data.size() - off);
    if (n < 0) {
      if (errno == EINTR) continue;
      return fail("write");
    }
    off += static_cast<size_t>(n);
  }
  const bool crash_safe = durability == Durability::kCrashSafe;
  if (crash_safe && fsync(fd) != 0) return fail("sync");
  close(fd);
  if (rename(tmp.c_str(), path.c_str()) != 0) {
    *err = fmt::format("cannot rename {} to {}: {}", tmp, path, std::strerror(errno));
    unlink(tmp.c_str());
    return false;
  }
  if (crash_safe) sync_dir(dir);
  return true;
}

// Reads a small state file without iostreams (which throw on a directory). False with errno
// set when it cannot be read; at most `limit` bytes are read.
static bool read_small_file(const std::string& path, std::string* out,
                            size_t limit = 1u << 20) {
  int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOFOLLOW);
  if (fd < 0) return false;
  char buf[4096];
  while (out->size() < limit) {
    ssize_t n = read(fd, buf, sizeof buf);
    if (n == 0) break;
    if (n < 0) {
      if (errno == EINTR) continue;
      int e = errno;
      close(fd);
      errno = e;
      return false;
    }
    out->append(buf, static_cast<size_t>(n));
  }
  close(fd);
  return true;
}

bool Journal::append(Json entry, std::string* err) const {
  if (!entry.contains("time")) entry["time"] = now_rfc3339();
  if (!entry.contains("host")) entry["host"] = hostname();
  if (!entry.contains("pid")) entry["pid"] = getpid();
  std::string line = entry.dump(-1, ' ', false, Json::error_handler_t::replace) + "\n";
  if (!make_dirs(dir_of(path_), 0755, err)) return false;
  // The lock file, not the journal, is locked: rotation renames the journal under us.
  std::string lock_err;
  auto lock = FileLock::acquire(path_ + ".lock", Millis(5000), &lock_err);
  if (!lock) {
    *err = "journal " + lock_err;
    return false;
  }
  struct stat st {};
  bool created = stat(path_.c_str(), &st) != 0;
  if (!created && static_cast<std::uint64_t>(st.st_size) >= max_bytes_) {
    if (keep_ <= 0) {
      unlink(path_.c_str());
    } else {
      for (int i = keep_ - 1; i >= 1; --i)
        rename(fmt::format("{}.{}", path_, i).c_str(), fmt::format("{}.{}", path_, i + 1).c_str());
      rename(path_.c_str(), (path_ + ".1").c_str());
    }
    created = true;
  }
  int fd = open(path_.c_str(), O_RDWR | O_CREAT | O_APPEND | O_CLOEXEC | O_NOFOLLOW, 0640);
  if (fd < 0) {
    *err = fmt::format("cannot open journal {}: {}", path_, std::strerror(errno));
    return false;
  }
  // A line torn by a crash must not swallow this entry: start on a new line.
  off_t size_before = -1;
  if (fstat(fd, &st) == 0) {
    size_before = st.st_size;
    char last = '\n';
    if (st.st_size > 0 && pread(fd, &last, 1, st.st_size - 1) == 1 && last != '\n')
      line.insert(0, "\n");
  }
  // One write() per entry: O_APPEND places it whole, and the lock keeps rotation out.
  size_t off = 0;
  bool ok = true;
  while (off < line.size()) {
    ssize_t n = write(fd, line.data() + off, line.size() - off);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      *err = fmt::format("cannot write journal {}: {}", path_, std::strerror(errno));
      ok = false;
      break;
    }
    off += static_cast<size_t>(n);
  }
  // A full disk (ENOSPC after part of the line went in) must not leave a torn line: cut the
  // journal back to where this entry began. The lock keeps other writers out meanwhile.
  if (!ok && off > 0 && size_before >= 0 && ftruncate(fd, size_before) != 0)
    *err += fmt::format(" (and cannot cut the partial line: {})", std::strerror(errno));
  if (fsync(fd) != 0 && ok) {
    *err = fmt::format("cannot fsync journal {}: {}", path_, std::strerror(errno));
    ok = false;
  }
  close(fd);
  if (created) sync_dir(dir_of(path_));
  return ok;
}

std::vector<Json> Journal::tail(std::size_t n) const {
  // Newest file first, each read backwards line by line, so only the last n lines of a
  // 16 MB journal are parsed.
  std::vector<Json> newest_first;
  for (int i = 0; i <= std::max(keep_, 0) && newest_first.size() < n; ++i) {
    std::string p = i == 0 ? path_ : fmt::format("{}.{}", path_, i);
    std::string text;
    if (!read_small_file(p, &text, std::max<std::uint64_t>(max_bytes_ * 2, 256u << 20))) continue;
    size_t end = text.size();
    while (end > 0 && newest_first.size() < n) {
      size_t start = text.rfind('\n', end - 1);
      start = start == std::string::npos ? 0 : start + 1;
      if (end > start) {
        Json j = Json::parse(text.begin() + static_cast<long>(start),
                             text.begin() + static_cast<long>(end), nullptr, false);
        // A torn line after a crash is skipped.
        if (!j.is_discarded() && j.is_object()) newest_first.push_back(std::move(j));
      }
      end = start == 0 ? 0 : start - 1;
    }
  }
  return {newest_first.rbegin(), newest_first.rend()};
}

static std::string flag_path(const std::string& state_dir) { return state_dir + "/failover.flag"; }

FailoverFlag read_failover_flag(const std::string& state_dir) {
  FailoverFlag f;
  std::string text;
  if (!read_small_file(flag_path(state_dir), &text)) {
    // Only "no such file" means clear: a flag we cannot read still stops log copying.
    if (errno != ENOENT) {
      f.set = true;
      f.reason = fmt::format("flag file cannot be read: {} (treated as set)", std::strerror(errno));
    }
    return f;
  }
  f.set = true;
  Json j = Json::parse(text, nullptr, false);
  if (j.is_discarded() || !j.is_object()) {
    f.reason = "flag file exists but is not valid JSON (treated as set)";
    return f;
  }
  f.time = j.value("time", "");
  f.host = j.value("host", "");
  f.set_by = j.value("set_by", "");
  f.reason = j.value("reason", "");
  f.instance = j.value("instance", "");
  return f;
}

bool set_failover_flag(const std::string& state_dir, const FailoverFlag& flag, std::string* err) {
  Json j{{"time", flag.time.empty() ? now_rfc3339() : flag.time},
         {"host", flag.host.empty() ? hostname() : flag.host},
         {"set_by", flag.set_by},
         {"reason", flag.reason},
         {"instance", flag.instance}};
  return write_file_atomic(flag_path(state_dir), dump_json(j) + "\n", 0644, err);
}

bool clear_failover_flag(const std::string& state_dir, std::string* err) {
  if (unlink(flag_path(state_dir).c_str()) != 0) {
    if (errno == ENOENT) return true;
    *err = fmt::format("cannot remove {}: {}", flag_path(state_dir), std::strerror(errno));
    return false;
  }
  sync_dir(state_dir);
  return true;
}

static std::string role_path(const std::string& state_dir, const std::string& instance) {
  return fmt::format("{}/role.{}", state_dir, instance);
}

bool valid_instance_name(const std::string& name, std::string* err) {
  // An instance name becomes part of file names in run_dir and state_dir (locks, tickets,
  // role records, metrics): no path separators, no hidden or empty names, no control
  // characters, bounded length.
  const char* why = nullptr;
  if (name.empty())
    why = "empty";
  else if (name.size() > kMaxInstanceName)
    why = "longer than 128 characters";
  else if (name[0] == '.')
    why = "starts with '.'";
  else if (name.find_first_of("/\\") != std::string::npos)
    why = "contains '/' or '\\'";
  else if (std::any_of(name.begin(), name.end(), [](char c) {
             return static_cast<unsigned char>(c) < 0x20 || c == 0x7f || c == ' ';
           }))
    why = "contains a space or a control character";
  if (!why) return true;
  if (err) {
    std::string shown;
    for (char c : name.substr(0, 40))
      shown += static_cast<unsigned char>(c) < 0x20 || c == 0x7f ? '?' : c;
    *err = fmt::format(
        "'{}{}' is not a usable instance name: {} (it names files in run_dir "
        "and state_dir)",
        shown, name.size() > 40 ? "..." : "", why);
  }
  return false;
}

std::optional<RoleRecord> read_role(const std::string& state_dir, const std::string& instance) {
  if (!valid_instance_name(instance, nullptr)) return std::nullopt;
  std::string text;
  if (!read_small_file(role_path(state_dir, instance), &text)) return std::nullopt;
  Json j = Json::parse(text, nullptr, false);
  if (j.is_discarded() || !j.is_object()) return std::nullopt;
  return RoleRecord{j.value("role", ""), j.value("time", ""), j.value("event", "")};
}

bool write_role(const std::string& state_dir, const std::string& instance, const RoleRecord& r,
                std::string* err) {
  if (!valid_instance_name(instance, err)) return false;
  Json j{{"role", r.role}, {"time", r.time.empty() ? now_rfc3339() : r.time}, {"event", r.event}};
  return write_file_atomic(role_path(state_dir, instance), dump_json(j) + "\n", 0644, err);
}

namespace {

std::string escape_label(const std::string& v, bool quote) {
  std::string out;
  for (char c : v) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '\n') {
      out += "\\n";
    } else if (c == '"' && quote) {
      out += "\\\"";
    } else {
      out += c;
    }
  }
  return out;
}

bool valid_metric_name(const std::string& n, bool label) {
  if (n.empty()) return false;
  for (size_t i = 0; i < n.size(); ++i) {
    char c = n[i];
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' ||
              (c == ':' && !label) || (i > 0 && c >= '0' && c <= '9');
    if (!ok) return false;
  }
  return true;
}

// The exposition format spells the special values its own way.
std::string sample_value(double v) {
  if (std::isnan(v)) return "NaN";
  if (std::isinf(v)) return v > 0 ? "+Inf" : "-Inf";
  return fmt::format("{}", v);
}

}  // namespace

bool write_metrics(const std::string& path, const std::vector<Metric>& metrics, std::string* err) {
  // Samples of one name must follow their single HELP/TYPE header, wherever the caller put
  // them in the list; names keep the order they first appeared in.
  std::vector<std::string> order;
  std::map<std::string, std::vector<const Metric*>> by_name;
  for (const auto& m : metrics) {
    if (!valid_metric_name(m.name, false)) {
      *err = fmt::format("'{}' is not a valid Prometheus metric name", m.name);
      return false;
    }
    for (const auto& [k, v] : m.labels)
      if (!valid_metric_name(k, true) || k.rfind("__", 0) == 0) {
        *err = fmt::format("'{}' is not a valid Prometheus label name (metric {})", k, m.name);
        return false;
      }
    auto& group = by_name[m.name];
    if (group.empty()) order.push_back(m.name);
    group.push_back(&m);
  }
  std::string text;
  for (const auto& name : order) {
    const Metric& first = *by_name[name].front();
    text += fmt::format("# HELP {} {}\n# TYPE {} {}\n", name, escape_label(first.help, false),
                        name, first.type);
    for (const Metric* m : by_name[name]) {
      text += name;
      if (!m->labels.empty()) {
        text += '{';
        for (size_t i = 0; i < m->labels.size(); ++i)
          text += fmt::format("{}{}=\"{}\"", i ? "," : "", m->labels[i].first,
                              escape_label(m->labels[i].second, true));
        text += '}';
      }
      text += " " + sample_value(m->value) + "\n";
    }
  }
  // Metrics are rewritten on every run and lost metrics cost nothing; the fsyncs a crash-safe
  // write needs cost a promotion ~15 ms each on a busy disk.
  return write_file_atomic(path, text, 0644, err, Durability::kAtomicOnly);
}

}  // namespace hakit
