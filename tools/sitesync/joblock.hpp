#pragma once
// The job lock, safe for every user who runs sitesync: root from /etc/cron.d, the site user
// from its own crontab, an operator at a terminal, in any order. Each user gets a private
// lock directory (0700, owned by them, checked); the destination directory itself is
// flock'ed too, so two users syncing into one destination still exclude each other. Both
// fds are passed to rsync: the job stays locked until rsync is gone, even if sitesync was
// SIGKILLed.
#include <sys/types.h>

#include <optional>
#include <string>
#include <vector>

#include "common/lock.hpp"

namespace hakit::sitesync {

/// The lock directories to try for a user, best first: run_dir/sitesync for root,
/// run_dir/sitesync-UID for others, then /tmp/hakit-sitesync-UID (or $TMPDIR).
std::vector<std::string> lock_dir_candidates(const std::string& run_dir, uid_t uid);

/// Creates `dir` 0700 when missing and checks it: a real directory (no symlink), owned by
/// `uid`, no access for group or others (a looser mode of our own directory is tightened).
bool ensure_private_dir(const std::string& dir, uid_t uid, std::string* err);

/// The first candidate that ensure_private_dir accepts; *err lists why each one failed.
std::optional<std::string> private_lock_dir(const std::string& run_dir, uid_t uid,
                                            std::string* err);

/// A held job lock: the named lock in the user's directory and the destination's flock.
class JobLock {
 public:
  /// Tries once. Busy (another run holds it) → nullopt with *holder set (0 when the holder
  /// is another user's run) and *err empty; any other problem → nullopt with *err.
  static std::optional<JobLock> try_acquire(const std::string& lock_file, const std::string& dest,
                                            bool follow_dest_symlink, pid_t* holder,
                                            std::string* err);
  JobLock(JobLock&& o) noexcept : named_(std::move(o.named_)), dest_fd_(o.dest_fd_) {
    o.dest_fd_ = -1;
  }
  JobLock(const JobLock&) = delete;
  JobLock& operator=(const JobLock&) = delete;
  JobLock& operator=(JobLock&&) = delete;
  ~JobLock();

  /// The fds a child must inherit to keep the job locked while it runs.
  std::vector<int> fds() const { return {named_.fd(), dest_fd_}; }

 private:
  JobLock(FileLock named, int dest_fd) : named_(std::move(named)), dest_fd_(dest_fd) {}
  FileLock named_;
  int dest_fd_ = -1;
};

}  // namespace hakit::sitesync
