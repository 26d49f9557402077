#pragma once
// hakitd: the resident companion of keepalived. Runs the daemon: section's checks in-process
// on their period with hysteresis and keeps each one's keepalived track_file saying what it
// found; reads keepalived's notify FIFO and runs each event through notify's engine (the same
// serialization, staleness rules, actions and journal as notify_master/notify_backup).
#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "common/config.hpp"
#include "hakitd/config.hpp"
#include "hakitd/dispatch.hpp"
#include "hakitd/guard.hpp"
#include "hakitd/health.hpp"
#include "hakitd/probe.hpp"
#include "hakitd/track_file.hpp"

namespace hakit::hakitd {

/// One check as the status file, the metrics and hakit-status show it.
struct CheckStatus {
  std::string name;
  std::string type;
  std::string track_file;
  bool healthy = false;
  std::string reason;      ///< why it is (un)healthy
  std::string since;       ///< RFC 3339 of the last change of `healthy`
  std::string last_state;  ///< OK, WARNING, CRITICAL, UNKNOWN ("" before the first probe)
  std::string last_summary;
  bool last_passed = false;
  double last_latency = 0;  ///< seconds
  std::uint64_t probes = 0;
  std::uint64_t failures = 0;  ///< probes that did not pass
  bool in_flight = false;
};

/// One check: its probe thread, hysteresis and track_file.
class CheckRunner {
 public:
  CheckRunner(config::DaemonCheck cfg, std::unique_ptr<Probe> probe, std::string journal_path);
  ~CheckRunner();
  CheckRunner(const CheckRunner&) = delete;
  CheckRunner& operator=(const CheckRunner&) = delete;

  /// Takes over the state of the runner it replaces (a reload keeps a healthy check healthy).
  void inherit(const CheckRunner& old);
  void start();
  /// Asks the probe thread to stop (a running probe ends within its timeout) and joins it.
  void stop();
  /// The main loop's tick: a hanging probe fails the check after fall_after; the track file
  /// is written again when something else replaced it.
  void supervise(Clock::time_point now);
  /// Writes the failed value (hakitd exits, or the check was removed by a reload).
  void give_up();
  /// False when the probe thread has made no progress for far longer than a probe may take.
  bool alive(Clock::time_point now) const;
  CheckStatus status() const;
  const config::DaemonCheck& config() const { return cfg_; }

 private:
  void loop();
  void apply(bool changed, const std::string& summary);  // under mu_
  config::DaemonCheck cfg_;
  std::unique_ptr<Probe> probe_;
  std::string journal_path_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  bool stopping_ = false;
  bool gave_up_ = false;
  Health health_;
  TrackFile track_;
  CheckStatus status_;
  std::optional<Clock::time_point> in_flight_since_;
  Clock::time_point last_progress_;
  std::thread thread_;
};

/// The whole daemon.
class Daemon {
 public:
  explicit Daemon(std::string config_path) : config_path_(std::move(config_path)) {}
  ~Daemon();
  /// Reads the config (strictly: daemon:, and every check it names). False with *err.
  bool load(std::string* err);
  /// Runs until SIGTERM or SIGINT (SIGHUP reloads); returns the exit code. The signals must
  /// be blocked in every thread before the call (block_signals()).
  int run();
  /// Blocks SIGTERM, SIGINT and SIGHUP in the calling thread (and the threads it starts).
  static void block_signals();
  /// One FIFO line: parsed, filtered and queued (public for the tests).
  void on_fifo_line(const std::string& line);
  /// Every check's status (public for the tests).
  std::vector<CheckStatus> statuses() const;

 private:
  bool build(std::shared_ptr<const config::Document> doc, const config::DaemonConfig& dc,
             std::vector<std::unique_ptr<CheckRunner>>* out, std::string* err);
  void reload();
  void handle(const notify::Event& ev);
  void fifo_loop();
  void write_status();
  std::string config_path_;
  mutable std::mutex mu_;  ///< guards doc_, dc_ and runners_
  std::shared_ptr<const config::Document> doc_;
  config::DaemonConfig dc_;
  std::vector<std::unique_ptr<CheckRunner>> runners_;
  std::unique_ptr<Dispatcher> dispatcher_;
  ExitGuard guard_;
  std::thread fifo_thread_;
  std::atomic<bool> stopping_{false};
  std::atomic<std::uint64_t> fifo_events_{0}, fifo_garbage_{0}, fifo_opens_{0};
  std::string started_;
};

}  // namespace hakit::hakitd
