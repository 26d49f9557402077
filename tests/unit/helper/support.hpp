#pragma once
// Small helpers shared by the unit tests: temp dirs, files with a given mode, running code
// as another user in a forked child, and "is this process gone".
#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <sstream>
#include <string>
#include <vector>

namespace hakit::test {

/// `needle` occurs in `hay`.
inline bool contains(const std::string& hay, const std::string& needle) {
  return hay.find(needle) != std::string::npos;
}

/// A fresh directory under /tmp, removed with everything in it at scope exit.
class TempDir {
 public:
  TempDir() {
    char tmpl[] = "/tmp/hakit-unit-XXXXXX";
    path_ = mkdtemp(tmpl);
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::string& path() const { return path_; }
  /// path/name
  std::string operator/(const std::string& name) const { return path_ + "/" + name; }
  /// Writes path/name with `content` and `mode`; returns the path.
  std::string write(const std::string& name, const std::string& content, mode_t mode = 0600) const {
    std::string p = *this / name;
    std::ofstream(p, std::ios::binary | std::ios::trunc) << content;
    chmod(p.c_str(), mode);
    return p;
  }

 private:
  std::string path_;
};

/// The whole content of a file ("" when unreadable).
inline std::string slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

/// Runs `fn` in a forked child after switching to `uid` (tests run as root, so "unreadable"
/// needs another user). Returns fn's result, or -1 when the child died otherwise.
inline int run_as_uid(uid_t uid, const std::function<int()>& fn) {
  pid_t pid = fork();
  if (pid == 0) {
    if (setgid(uid) != 0 || setuid(uid) != 0) _exit(100);
    _exit(fn());
  }
  int status = 0;
  waitpid(pid, &status, 0);
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

/// True when `pid` no longer runs: gone, or a zombie (in containers PID 1 may never reap
/// orphans, but a zombie holds no resources and runs no code).
inline bool process_gone(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  if (!in) return true;
  std::string stat((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  auto paren = stat.rfind(')');
  return paren != std::string::npos && paren + 2 < stat.size() &&
         (stat[paren + 2] == 'Z' || stat[paren + 2] == 'X');
}

/// Path of the helper binary (lock holder, journal writer, stubborn child).
inline std::string helper_path() { return HAKIT_TEST_HELPER; }

/// The statements of hakit's partition records and privilege preflight (tested apart in
/// test_notify_partition.cpp): left out where a test pins down the replication statements.
inline bool partition_statement(const std::string& s) {
  for (const char* w : {"hakit.", "sql_log_bin", "CREATE DATABASE IF NOT EXISTS hakit",
                        "information_schema.USER_PRIVILEGES", "SCHEMA_PRIVILEGES",
                        "@@GLOBAL.read_only AS ro", "gtid_binlog_state AS g", "gtid_executed AS g",
                        "gtid_slave_pos AS p",
                        "GTID_SUBTRACT"})
    if (s.find(w) != std::string::npos) return true;
  return false;
}
/// `v` without partition_statement()s.
inline std::vector<std::string> without_partition(const std::vector<std::string>& v) {
  std::vector<std::string> out;
  for (const auto& s : v)
    if (!partition_statement(s)) out.push_back(s);
  return out;
}

}  // namespace hakit::test
