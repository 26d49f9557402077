#pragma once
// sitesync's run: for each target, the gates, the job lock, then N rounds of
// copy → (probe → guard → delete) → after-command, with a summary in the log, the journal
// and a metrics textfile. Process I/O, the host and the clock sit behind interfaces so the
// unit tests drive it with fakes.
#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include "common/exit_codes.hpp"
#include "common/process.hpp"
#include "sitesync/guards.hpp"
#include "sitesync/options.hpp"

namespace hakit::sitesync {

/// Time, so the round schedule can be tested without sleeping.
class Clock {
 public:
  virtual ~Clock() = default;
  virtual std::chrono::steady_clock::time_point now() = 0;
  virtual void sleep_until(std::chrono::steady_clock::time_point t) = 0;
};

/// The real clock.
class SystemClock : public Clock {
 public:
  std::chrono::steady_clock::time_point now() override;
  void sleep_until(std::chrono::steady_clock::time_point t) override;
};

/// How this run behaves (from the command line and the terminal).
struct RunMode {
  bool dry_run = false;
  bool estimate = false;
  std::optional<std::uint64_t> bandwidth;  ///< --bandwidth, bytes/s
  bool progress = false;                   ///< a terminal is watching
  int verbosity = 0;
};

/// What one round did.
struct RoundResult {
  ExitCode code = ExitCode::kSuccess;
  bool warning = false;  ///< rsync exit 24 (vanished files)
  std::uint64_t files = 0, bytes = 0, deleted = 0;
  std::vector<std::string> new_files, changed_files;
  std::string message;   ///< why it failed or was refused
};

/// What one target's run did.
struct TargetResult {
  std::string name;
  ExitCode code = ExitCode::kSuccess;
  std::string outcome;  ///< ok, warning, failed, refused, skipped, busy, dry-run, estimate
  int rounds_run = 0, rounds_skipped = 0, rounds_failed = 0;
  std::uint64_t files = 0, bytes = 0, deleted = 0;
  Millis elapsed{0};
  std::string message;
};

/// Runs targets one after the other.
class Syncer {
 public:
  Syncer(const config::Document& cfg, ProcessRunner& runner, HostView& host, Clock& clock,
         RunMode mode)
      : cfg_(cfg), runner_(runner), host_(host), clock_(clock), mode_(mode) {}

  /// One target: gates, lock, rounds, report.
  TargetResult run(const Target& t);
  /// All targets; the exit code is the highest of theirs (2 refused > 1 failed > 0).
  ExitCode run_all(const std::vector<Target>& targets);

  /// Where the job lock lives (run_dir/sitesync/NAME.lock).
  std::string lock_path(const Target& t) const;

 private:
  RoundResult round(const Target& t, int k);
  RoundResult copy_pass(const Target& t, bool probe, bool* deletions_due);
  RoundResult delete_passes(const Target& t);
  RoundResult rsync_pass(const Target& t, Pass pass, bool* max_delete_hit);
  bool after_command(const Target& t, int k, const RoundResult& r, std::string* why);
  TargetResult estimate(const Target& t);
  TargetResult dry_run(const Target& t);
  void report(const Target& t, const TargetResult& r);
  void remove_stale_temp_files(const Target& t);

  const config::Document& cfg_;
  ProcessRunner& runner_;
  HostView& host_;
  Clock& clock_;
  RunMode mode_;
  std::vector<std::string> pending_new_, pending_changed_;  ///< not yet seen by a good after-command
};

/// "1.00 GiB" style.
std::string human_bytes(std::uint64_t bytes);

}  // namespace hakit::sitesync
