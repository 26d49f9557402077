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
  bool stderr_summary = false;  ///< no terminal (cron): one stderr line per failure or refusal
  int verbosity = 0;
};

/// What the getperf step of a round (extract, aggregate, purge) did.
struct SiteStep {
  std::uint64_t archives = 0;        ///< archives extracted
  std::uint64_t archives_refused = 0;  ///< hostile or unreadable archives
  std::vector<std::string> files;    ///< extracted files (absolute), for the aggregation
  int aggregate_runs = 0;            ///< aggregation commands run
  std::string aggregate_result;      ///< "", "ok", or what went wrong
  std::uint64_t purged = 0;          ///< time directories removed by --purge
};

/// What one round did.
struct RoundResult {
  ExitCode code = ExitCode::kSuccess;
  bool warning = false;  ///< rsync exit 24 (vanished files)
  bool interrupted = false;  ///< a termination signal reached rsync: no further round
  std::uint64_t files = 0, bytes = 0, deleted = 0;
  std::vector<std::string> new_files, changed_files;
  SiteStep site;
  std::string message;   ///< why it failed or was refused
};

/// What one target's run did.
struct TargetResult {
  std::string name;
  ExitCode code = ExitCode::kSuccess;
  std::string outcome;  ///< ok, warning, failed, refused, skipped, busy, dry-run, estimate
  int rounds_run = 0, rounds_skipped = 0, rounds_failed = 0;
  std::uint64_t files = 0, bytes = 0, deleted = 0;
  std::uint64_t archives = 0, archives_refused = 0, extracted = 0, purged = 0;
  int aggregate_runs = 0;
  std::string aggregate_result;  ///< the last round's aggregation: "", "ok" or the failure
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

  /// Where the job lock lives: NAME.lock in this user's private lock directory
  /// (run_dir/sitesync for root, run_dir/sitesync-UID or /tmp/hakit-sitesync-UID for others).
  /// "" with *err when no directory is usable.
  std::string lock_path(const Target& t, std::string* err) const;

  /// Removes the metrics textfiles of sync jobs that are no longer in the config.
  void remove_stale_metrics() const;

 private:
  RoundResult round(const Target& t, int k);
  RoundResult delete_passes(const Target& t);
  /// A dry-run pass (probe, estimate, --dry-run): "" with *p filled, or why it failed.
  std::string dry_pass(const Target& t, Pass pass, ProcessResult* p);
  /// Extraction of the round's new archives, aggregation, purge (getperf.cpp's rules).
  SiteStep site_step(const Target& t, const std::vector<std::string>& changed, std::string* why,
                     ExitCode* code);
  bool aggregate(const Target& t, const std::vector<std::string>& files, SiteStep* s,
                 std::string* why);
  bool purge(const Target& t, SiteStep* s, std::string* why, ExitCode* code);
  /// rsync's spec: lock fds inherited, dies with us, in the terminal's group when watched.
  ProcessSpec rsync_spec(const Target& t, std::vector<std::string> argv) const;
  RoundResult rsync_pass(const Target& t, Pass pass, bool* max_delete_hit);
  bool after_command(const Target& t, int k, const RoundResult& r, std::string* why);
  TargetResult estimate(const Target& t);
  TargetResult dry_run(const Target& t);
  void report(const Target& t, const TargetResult& r);
  /// Leftovers of a killed run: always the partial dir; the whole dest when `killed_before`.
  void remove_stale_temp_files(const Target& t, bool killed_before);

  const config::Document& cfg_;
  ProcessRunner& runner_;
  HostView& host_;
  Clock& clock_;
  RunMode mode_;
  std::vector<int> lock_fds_;  ///< the held job lock, passed on to rsync
  std::vector<std::string> pending_new_, pending_changed_;  ///< not yet seen by a good after-command
};

/// "1.00 GiB" style.
std::string human_bytes(std::uint64_t bytes);

}  // namespace hakit::sitesync
