#include "common/lock.hpp"

#include <fcntl.h>
#include <fmt/format.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <thread>

namespace hakit {

bool make_dirs(const std::string& path, unsigned mode, std::string* err) {
  if (path.empty()) return true;
  std::string cur;
  size_t pos = 0;
  while (pos != std::string::npos) {
    pos = path.find('/', pos + 1);
    cur = path.substr(0, pos);
    if (cur.empty()) continue;
    if (mkdir(cur.c_str(), mode) != 0 && errno != EEXIST) {
      *err = fmt::format("cannot create {}: {}", cur, std::strerror(errno));
      return false;
    }
  }
  struct stat st {};
  if (stat(path.c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) {
    *err = fmt::format("{} is not a directory", path);
    return false;
  }
  return true;
}

pid_t lock_holder(const std::string& path) {
  int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return 0;
  char buf[32] = {};
  ssize_t n = read(fd, buf, sizeof buf - 1);
  close(fd);
  if (n <= 0) return 0;
  return static_cast<pid_t>(std::atol(buf));
}

int open_and_try_flock(const std::string& path, int flags, const char* what, bool* busy,
                       std::string* err) {
  *busy = false;
  int fd = open(path.c_str(), flags, 0644);
  if (fd < 0) {
    *err = fmt::format("cannot open {} {}: {}", what, path, std::strerror(errno));
    return -1;
  }
  if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
    int e = errno;
    close(fd);
    if (e == EWOULDBLOCK)
      *busy = true;
    else
      *err = fmt::format("cannot lock {} {}: {}", what, path, std::strerror(e));
    return -1;
  }
  return fd;
}

FileLock& FileLock::operator=(FileLock&& o) noexcept {
  if (this != &o) {
    if (fd_ >= 0) close(fd_);
    fd_ = o.fd_;
    path_ = std::move(o.path_);
    o.fd_ = -1;
  }
  return *this;
}

FileLock::~FileLock() {
  if (fd_ >= 0) {
    // Leave the file: unlinking races with a waiter that already opened it.
    close(fd_);
  }
}

std::optional<FileLock> FileLock::try_acquire(const std::string& path, pid_t* holder,
                                              std::string* err) {
  *holder = 0;
  auto slash = path.rfind('/');
  if (slash != std::string::npos && slash > 0 && !make_dirs(path.substr(0, slash), 0755, err))
    return std::nullopt;
  bool busy = false;
  int fd = open_and_try_flock(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, "lock", &busy, err);
  if (fd < 0) {
    if (busy) *holder = lock_holder(path);
    return std::nullopt;
  }
  // Overwrite, then cut: a reader never sees an empty file between the two.
  std::string pid = std::to_string(getpid()) + "\n";
  if (pwrite(fd, pid.data(), pid.size(), 0) == static_cast<ssize_t>(pid.size()))
    (void)!ftruncate(fd, static_cast<off_t>(pid.size()));
  return FileLock(fd, path);
}

std::optional<FileLock> FileLock::acquire(const std::string& path, Millis timeout,
                                          std::string* err) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  auto pause = Millis(2);
  while (true) {
    pid_t holder = 0;
    err->clear();
    auto lock = try_acquire(path, &holder, err);
    if (lock) return lock;
    if (!err->empty()) return std::nullopt;
    if (std::chrono::steady_clock::now() >= deadline) {
      *err = holder ? fmt::format("lock {} held by pid {} for longer than {}", path, holder,
                                  format_duration(timeout))
                    : fmt::format("lock {} busy for longer than {}", path, format_duration(timeout));
      return std::nullopt;
    }
    std::this_thread::sleep_for(pause);
    pause = std::min(pause * 2, Millis(50));
  }
}

}  // namespace hakit
