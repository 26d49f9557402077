#include "hakitd/track_file.hpp"

#include <sys/stat.h>

#include "common/state.hpp"

namespace hakit::hakitd {

std::string TrackFile::value(bool healthy) const {
  return healthy ? "0" : std::to_string(fail_value_);
}

bool TrackFile::still_ours() const {
  // Replaced (another inode) or rewritten in place (keepalived's init_file ... overwrite):
  // either way the file may no longer say what we last wrote.
  struct stat st {};
  const auto& w = written_stat_;
  return stat(path_.c_str(), &st) == 0 && st.st_dev == w.st_dev && st.st_ino == w.st_ino &&
         st.st_size == w.st_size && st.st_mtim.tv_sec == w.st_mtim.tv_sec &&
         st.st_mtim.tv_nsec == w.st_mtim.tv_nsec;
}

bool TrackFile::write(bool healthy, std::string* err) {
  // Rename only, no fsync: the file lives in /run (tmpfs) and a power loss restarts both
  // keepalived and hakitd, which writes it again.
  if (!write_file_atomic(path_, value(healthy) + "\n", 0644, err, Durability::kAtomicOnly)) {
    written_ = false;
    return false;
  }
  if (stat(path_.c_str(), &written_stat_) != 0) written_stat_ = {};
  written_ = true;
  healthy_ = healthy;
  return true;
}

bool TrackFile::set(bool healthy, std::string* err) {
  if (written_ && healthy_ == healthy && still_ours()) return true;
  return write(healthy, err);
}

bool TrackFile::force_failed(std::string* err) {
  return write(false, err);
}

}  // namespace hakit::hakitd
