#include "common/state.hpp"

#include <fcntl.h>
#include <fmt/format.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <ctime>
#include <deque>
#include <fstream>

#include "common/lock.hpp"

namespace hakit {

std::string now_rfc3339() {
  auto now = std::chrono::system_clock::now();
  auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count();
  std::time_t secs = ms / 1000;
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S", &tm);
  return fmt::format("{}.{:03d}Z", buf, static_cast<int>(ms % 1000));
}

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

bool write_file_atomic(const std::string& path, const std::string& data, unsigned mode,
                       std::string* err) {
  std::string dir = dir_of(path);
  if (!make_dirs(dir, 0755, err)) return false;
  std::string tmp = fmt::format("{}.tmp.{}", path, getpid());
  int fd = open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, mode);
  if (fd < 0) {
    *err = fmt::format("cannot write {}: {}", tmp, std::strerror(errno));
    return false;
  }
  fchmod(fd, mode);
  size_t off = 0;
  while (off < data.size()) {
    ssize_t n = write(fd, data.data() + off, data.size() - off);
    if (n < 0) {
      if (errno == EINTR) continue;
      *err = fmt::format("cannot write {}: {}", tmp, std::strerror(errno));
      close(fd);
      unlink(tmp.c_str());
      return false;
    }
    off += static_cast<size_t>(n);
  }
  if (fsync(fd) != 0 || close(fd) != 0) {
    *err = fmt::format("cannot sync {}: {}", tmp, std::strerror(errno));
    unlink(tmp.c_str());
    return false;
  }
  if (rename(tmp.c_str(), path.c_str()) != 0) {
    *err = fmt::format("cannot rename {} to {}: {}", tmp, path, std::strerror(errno));
    unlink(tmp.c_str());
    return false;
  }
  int dfd = open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd >= 0) {
    fsync(dfd);
    close(dfd);
  }
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
  if (stat(path_.c_str(), &st) == 0 && static_cast<std::uint64_t>(st.st_size) >= max_bytes_) {
    for (int i = keep_ - 1; i >= 1; --i)
      rename(fmt::format("{}.{}", path_, i).c_str(), fmt::format("{}.{}", path_, i + 1).c_str());
    rename(path_.c_str(), (path_ + ".1").c_str());
  }
  int fd = open(path_.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC | O_NOFOLLOW, 0640);
  if (fd < 0) {
    *err = fmt::format("cannot open journal {}: {}", path_, std::strerror(errno));
    return false;
  }
  ssize_t n = write(fd, line.data(), line.size());
  bool ok = n == static_cast<ssize_t>(line.size());
  if (!ok) *err = fmt::format("cannot write journal {}: {}", path_, std::strerror(errno));
  if (fsync(fd) != 0 && ok) {
    *err = fmt::format("cannot fsync journal {}: {}", path_, std::strerror(errno));
    ok = false;
  }
  close(fd);
  return ok;
}

std::vector<Json> Journal::tail(std::size_t n) const {
  std::deque<Json> out;
  // Oldest rotation first so the newest entries end up last.
  for (int i = keep_; i >= 0; --i) {
    std::string p = i == 0 ? path_ : fmt::format("{}.{}", path_, i);
    std::ifstream in(p);
    std::string line;
    while (std::getline(in, line)) {
      Json j = Json::parse(line, nullptr, false);
      if (j.is_discarded()) continue;  // a torn last line after a crash is skipped
      out.push_back(std::move(j));
      if (out.size() > n) out.pop_front();
    }
  }
  return {out.begin(), out.end()};
}

static std::string flag_path(const std::string& state_dir) { return state_dir + "/failover.flag"; }

FailoverFlag read_failover_flag(const std::string& state_dir) {
  FailoverFlag f;
  std::ifstream in(flag_path(state_dir));
  if (!in) return f;
  f.set = true;
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
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
  return write_file_atomic(flag_path(state_dir), j.dump() + "\n", 0644, err);
}

bool clear_failover_flag(const std::string& state_dir, std::string* err) {
  if (unlink(flag_path(state_dir).c_str()) != 0 && errno != ENOENT) {
    *err = fmt::format("cannot remove {}: {}", flag_path(state_dir), std::strerror(errno));
    return false;
  }
  return true;
}

static std::string role_path(const std::string& state_dir, const std::string& instance) {
  return fmt::format("{}/role.{}", state_dir, instance);
}

std::optional<RoleRecord> read_role(const std::string& state_dir, const std::string& instance) {
  std::ifstream in(role_path(state_dir, instance));
  if (!in) return std::nullopt;
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  Json j = Json::parse(text, nullptr, false);
  if (j.is_discarded() || !j.is_object()) return std::nullopt;
  return RoleRecord{j.value("role", ""), j.value("time", ""), j.value("event", "")};
}

bool write_role(const std::string& state_dir, const std::string& instance, const RoleRecord& r,
                std::string* err) {
  Json j{{"role", r.role}, {"time", r.time.empty() ? now_rfc3339() : r.time}, {"event", r.event}};
  return write_file_atomic(role_path(state_dir, instance), j.dump() + "\n", 0644, err);
}

static std::string escape_label(const std::string& v) {
  std::string out;
  for (char c : v) {
    if (c == '\\' || c == '"') out += '\\';
    if (c == '\n') {
      out += "\\n";
      continue;
    }
    out += c;
  }
  return out;
}

bool write_metrics(const std::string& path, const std::vector<Metric>& metrics, std::string* err) {
  std::string text;
  std::string last_name;
  for (const auto& m : metrics) {
    if (m.name != last_name) {
      text += fmt::format("# HELP {} {}\n# TYPE {} {}\n", m.name, m.help, m.name, m.type);
      last_name = m.name;
    }
    text += m.name;
    if (!m.labels.empty()) {
      text += '{';
      for (size_t i = 0; i < m.labels.size(); ++i)
        text += fmt::format("{}{}=\"{}\"", i ? "," : "", m.labels[i].first,
                            escape_label(m.labels[i].second));
      text += '}';
    }
    text += fmt::format(" {}\n", m.value);
  }
  return write_file_atomic(path, text, 0644, err);
}

}  // namespace hakit
