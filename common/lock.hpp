#pragma once
// Named locks on files (flock): released by the kernel when the holder dies, so a crashed
// run never leaves a lock behind. The holder's pid is written into the file for messages.
#include <sys/types.h>

#include <optional>
#include <string>

#include "common/units.hpp"

namespace hakit {

class FileLock {
 public:
  /// Tries once. When another process holds it, returns nothing and sets *holder to the
  /// holder's pid (0 when unknown). Other errors go to *err.
  static std::optional<FileLock> try_acquire(const std::string& path, pid_t* holder,
                                             std::string* err);
  /// Waits up to `timeout`. On timeout *err says "held by pid N".
  static std::optional<FileLock> acquire(const std::string& path, Millis timeout, std::string* err);

  FileLock(FileLock&& o) noexcept : fd_(o.fd_), path_(std::move(o.path_)) { o.fd_ = -1; }
  FileLock& operator=(FileLock&& o) noexcept;
  FileLock(const FileLock&) = delete;
  FileLock& operator=(const FileLock&) = delete;
  ~FileLock();

  const std::string& path() const { return path_; }
  /// The locked fd: a child that inherits it keeps the lock held until it is gone too.
  int fd() const { return fd_; }

 private:
  FileLock(int fd, std::string path) : fd_(fd), path_(std::move(path)) {}
  int fd_ = -1;
  std::string path_;
};

/// Opens `path` with `flags` and takes flock(LOCK_EX|LOCK_NB) on it. Returns the locked fd;
/// -1 with *busy set when another process holds it, -1 with *err ("cannot open/lock WHAT
/// PATH: why") on any other failure. `what` names the thing in messages ("lock").
int open_and_try_flock(const std::string& path, int flags, const char* what, bool* busy,
                       std::string* err);

/// The pid recorded in a lock file (0 when none or unreadable).
pid_t lock_holder(const std::string& path);

/// Creates a directory and its parents with the given mode (existing ones are left as they are).
bool make_dirs(const std::string& path, unsigned mode, std::string* err);

}  // namespace hakit
