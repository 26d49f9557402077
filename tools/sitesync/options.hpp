#pragma once
// sitesync's command line: the job form (`sitesync JOB...`, `--all`) and the ad-hoc form
// operators already have in their crontabs from getperf
// (`sitesync [-t N] [--interval SEC] [--disable-delete] [--grep K1,K2] rsync://host/module...`).
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/cli.hpp"
#include "sitesync/config.hpp"

namespace hakit::sitesync {

/// Everything the command line can say. Unset optionals leave the config (or default) alone.
struct Options {
  cli::CommonOptions common;
  std::vector<std::string> args;  ///< JOB... or SOURCE... [DEST]
  bool all = false;
  std::optional<int> times;       ///< -t/--times: rounds (NOT a timeout: getperf's meaning)
  std::optional<Millis> interval;
  bool disable_delete = false;
  std::vector<std::string> grep;
  bool dry_run = false;
  bool estimate = false;
  std::optional<std::uint64_t> bandwidth;  ///< --bandwidth for --estimate, bytes/s
  std::optional<Millis> timeout;           ///< hard limit of one rsync run
  std::optional<Millis> io_timeout;        ///< rsync --timeout
  std::optional<Millis> contimeout;
  std::optional<std::uint64_t> max_delete;
  std::optional<double> min_source_fraction;
  std::vector<std::string> exclude;
  std::optional<std::uint64_t> bwlimit;    ///< bytes/s
  std::vector<std::string> after;          ///< --after PROG [--after-arg ARG]...
  std::optional<Millis> after_timeout;
  bool ignore_failover_flag = false;
  bool no_delay_updates = false;
  bool delay_updates = false;     ///< --delay-updates: all files of a pass appear together
  bool progress = false, no_progress = false;
  bool follow_dest_symlink = false;
  std::optional<std::string> site_home;     ///< getperf site home (ad hoc: the current dir)
  bool no_extract = false;                  ///< copy only: no extraction, aggregation, purge
  std::vector<std::string> aggregate;       ///< --aggregate PROG [--aggregate-arg ARG]...
  std::optional<std::string> getperf_home;  ///< default aggregation: DIR/script/sumup
  std::optional<Millis> aggregate_timeout;
  bool purge = false;                       ///< getperf --purge
  std::optional<Millis> purge_analysis, purge_summary;
  bool purge_may_empty = false;
};

/// The parser; values land in *o.
std::unique_ptr<CLI::App> make_cli(Options* o);

/// Whether the arguments name jobs (a config file must exist) rather than ad-hoc sources.
bool config_required(const Options& o);

/// One unit of work: a job (named in the config or made from the command line) with its lock.
struct Target {
  std::string name;       ///< job name, or the module / directory name of an ad-hoc source
  std::string lock_name;  ///< file name of the job lock under run_dir
  config::SyncJob job;    ///< command-line values already applied
  bool adhoc = false;
};

/// Turns the arguments into targets. `cwd` is where ./.rsync/<module> goes. Returns false
/// with a usage message in *err (exit 3).
bool resolve_targets(const Options& o, const config::Document& cfg, const std::string& cwd,
                     std::vector<Target>* out, std::string* err);

/// The lock (and metrics file) name of a configured job.
std::string job_lock_name(const std::string& job);

/// The ad-hoc (getperf) form runs this many rounds unless -t says otherwise.
inline constexpr int kGetperfRounds = 9;
/// ... one every this long unless --interval says otherwise.
inline constexpr Millis kGetperfInterval{30000};

}  // namespace hakit::sitesync
