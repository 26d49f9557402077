#include "sitesync/joblock.hpp"

#include <fcntl.h>
#include <fmt/format.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>

namespace hakit::sitesync {

std::vector<std::string> lock_dir_candidates(const std::string& run_dir, uid_t uid) {
  std::vector<std::string> dirs;
  if (!run_dir.empty())
    dirs.push_back(uid == 0 ? run_dir + "/sitesync" : fmt::format("{}/sitesync-{}", run_dir, uid));
  const char* tmp = std::getenv("TMPDIR");
  dirs.push_back(fmt::format("{}/hakit-sitesync-{}", tmp && *tmp == '/' ? tmp : "/tmp", uid));
  return dirs;
}

bool ensure_private_dir(const std::string& dir, uid_t uid, std::string* err) {
  if (mkdir(dir.c_str(), 0700) != 0 && errno != EEXIST) {
    *err = fmt::format("cannot create {}: {}", dir, std::strerror(errno));
    return false;
  }
  int fd = open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0) {
    *err = errno == ELOOP || errno == ENOTDIR
               ? fmt::format("{} is not a directory (a symlink?); remove it", dir)
               : fmt::format("cannot open {}: {}", dir, std::strerror(errno));
    return false;
  }
  struct stat st {};
  bool ok = fstat(fd, &st) == 0;
  if (!ok) {
    *err = fmt::format("cannot stat {}: {}", dir, std::strerror(errno));
  } else if (st.st_uid != uid) {
    // Another user's directory: a lock there could be held or removed by them.
    *err = fmt::format("{} belongs to uid {}, not to uid {}", dir, st.st_uid, uid);
    ok = false;
  } else if ((st.st_mode & 077) != 0 && fchmod(fd, 0700) != 0) {
    *err = fmt::format("{} is mode {:o} and cannot be made 0700: {}", dir, st.st_mode & 0777,
                       std::strerror(errno));
    ok = false;
  }
  close(fd);
  return ok;
}

std::optional<std::string> private_lock_dir(const std::string& run_dir, uid_t uid,
                                            std::string* err) {
  std::string why;
  // run_dir itself (root creates /run/hakit on first use; others usually cannot).
  if (!run_dir.empty()) make_dirs(run_dir, 0755, &why);
  why.clear();
  for (const auto& dir : lock_dir_candidates(run_dir, uid)) {
    std::string e;
    if (ensure_private_dir(dir, uid, &e)) return dir;
    why += (why.empty() ? "" : "; ") + e;
  }
  *err = "no usable lock directory: " + why;
  return std::nullopt;
}

JobLock::~JobLock() {
  if (dest_fd_ >= 0) close(dest_fd_);
}

std::optional<JobLock> JobLock::try_acquire(const std::string& lock_file, const std::string& dest,
                                            bool follow_dest_symlink, pid_t* holder,
                                            std::string* err) {
  auto named = FileLock::try_acquire(lock_file, holder, err);
  if (!named) return std::nullopt;
  // The destination's own flock: another user's run (own lock directory) into the same
  // destination holds it. Reading the directory is enough to take it.
  int flags = O_RDONLY | O_DIRECTORY | O_CLOEXEC | (follow_dest_symlink ? 0 : O_NOFOLLOW);
  bool busy = false;
  int fd = open_and_try_flock(dest, flags, "the destination", &busy, err);
  if (fd < 0) {
    *holder = 0;
    return std::nullopt;
  }
  return JobLock(std::move(*named), fd);
}

}  // namespace hakit::sitesync
