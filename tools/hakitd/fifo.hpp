#pragma once
// keepalived's notify FIFO (vrrp_notify_fifo): one line per state change,
//   INSTANCE "VI_1" MASTER 100      GROUP "G1" BACKUP 0
// hakitd drains it as fast as keepalived writes (keepalived drops what a stalled reader does
// not take) and hands complete lines on; the FIFO is reopened when keepalived recreates it.
#include <sys/types.h>

#include <functional>
#include <optional>
#include <string>
#include <vector>

namespace hakit::hakitd {

/// One parsed FIFO line.
struct FifoEvent {
  std::string type;   ///< INSTANCE or GROUP
  std::string name;   ///< the instance or sync group
  std::string state;  ///< MASTER, BACKUP, FAULT, STOP, or an informational event
  int priority = -1;
  /// A role change the notify engine handles (MASTER, BACKUP, FAULT, STOP); false for the
  /// informational events (MASTER_RX_LOWER_PRI, MASTER_PRIORITY, BACKUP_PRIORITY).
  bool role_change() const;
};

/// Parses one line (without its newline). nullopt with *err for anything that is not a
/// keepalived notify line: garbage is logged and skipped, never acted on.
std::optional<FifoEvent> parse_fifo_line(const std::string& line, std::string* err);

/// Splits a byte stream into lines: feed() what read() returned, get every complete line.
/// A line longer than kMaxLine is dropped whole (reported once as an empty-named error).
class LineSplitter {
 public:
  static constexpr size_t kMaxLine = 4096;
  /// Appends bytes; returns the complete lines they finished (without '\n').
  std::vector<std::string> feed(const char* data, size_t n);
  /// Lines dropped because they were longer than kMaxLine.
  size_t dropped() const { return dropped_; }
  /// Forgets a partial line (the writer went away mid-line).
  void reset() { partial_.clear(), skipping_ = false; }

 private:
  std::string partial_;
  bool skipping_ = false;
  size_t dropped_ = 0;
};

/// Reads a FIFO path: creates it when missing (0600), reopens it when the writer closed it or
/// the path now names another FIFO (keepalived recreated it on reload).
class FifoReader {
 public:
  explicit FifoReader(std::string path) : path_(std::move(path)) {}
  ~FifoReader();
  FifoReader(const FifoReader&) = delete;
  FifoReader& operator=(const FifoReader&) = delete;

  /// Waits up to `timeout_ms` for data and reads everything there is; calls `on_line` for each
  /// complete line. False with *err when the FIFO cannot be (re)opened (retried next call).
  bool poll_once(int timeout_ms, const std::function<void(const std::string&)>& on_line,
                 std::string* err);
  const std::string& path() const { return path_; }
  /// How many times the FIFO was (re)opened.
  int opens() const { return opens_; }

 private:
  bool ensure_open(std::string* err);
  void close_fd();
  std::string path_;
  int fd_ = -1;
  dev_t dev_ = 0;
  ino_t ino_ = 0;
  int opens_ = 0;
  LineSplitter splitter_;
};

}  // namespace hakit::hakitd
