#pragma once
// The exit guard: a forked watchman that outlives hakitd just long enough to write the
// failed value into every track file, when hakitd dies in a way that gives it no chance to
// (SIGKILL, the OOM killer, a crash). It holds only the read end of a pipe hakitd writes;
// EOF means hakitd is gone. keepalived's vrrp_track_process is the other guard, but it needs
// the kernel's process connector, which exists only in the initial network namespace (not
// in containers or keepalived run in a namespace); this one works everywhere.
#include <sys/types.h>

#include <string>

namespace hakit::hakitd {

class ExitGuard {
 public:
  ExitGuard() = default;
  ~ExitGuard();
  ExitGuard(const ExitGuard&) = delete;
  ExitGuard& operator=(const ExitGuard&) = delete;

  /// Forks the guard. Call before any thread starts (fork copies only the calling thread).
  /// False with *err; hakitd then runs without it (logged).
  bool start(std::string* err);
  /// Tells the guard one more file to fail, and the value that says failed.
  void add(const std::string& path, const std::string& failed_value);
  pid_t pid() const { return pid_; }

 private:
  int fd_ = -1;
  pid_t pid_ = -1;
};

/// The guard's process name (/proc/PID/comm): not "hakitd", so keepalived's
/// vrrp_track_process on hakitd never counts it.
inline constexpr const char* kGuardName = "hakitd-guard";

}  // namespace hakit::hakitd
