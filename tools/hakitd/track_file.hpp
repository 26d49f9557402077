#pragma once
// keepalived's track_file, written by hakitd: "0" while the check is healthy, the check's
// fail_value when it failed. keepalived reads the file through inotify whenever it changes;
// with `weight 0` any non-zero value puts the instance in FAULT, otherwise value x weight is
// added to the priority (keepalived.conf(5), "Track files").
#include <sys/stat.h>
#include <sys/types.h>

#include <string>

namespace hakit::hakitd {

class TrackFile {
 public:
  TrackFile(std::string path, int fail_value) : path_(std::move(path)), fail_value_(fail_value) {}

  /// Writes the value for `healthy` atomically (a temp file in the same directory, renamed
  /// over the path: keepalived never reads half a number), 0644. Writes only when the value
  /// changed or the file is not the one last written (deleted, or overwritten by keepalived's
  /// init_file at its start). False with *err.
  bool set(bool healthy, std::string* err);
  /// Writes the failed value whatever was written before (hakitd's exit).
  bool force_failed(std::string* err);
  const std::string& path() const { return path_; }
  /// The value that `healthy` writes.
  std::string value(bool healthy) const;

 private:
  bool write(bool healthy, std::string* err);
  bool still_ours() const;
  std::string path_;
  int fail_value_;
  bool written_ = false;
  bool healthy_ = false;
  struct stat written_stat_ {};  ///< what the file was right after our write
};

}  // namespace hakit::hakitd
