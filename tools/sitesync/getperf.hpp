#pragma once
// The getperf part of a round (getperf's lib/Getperf/Sync.pm): the archives rsync brought,
// `arc_<agent>__<category>_<YYYYMMDD>_<HHMM>.zip`, are extracted in-process (libzip) into
// SITE_HOME/analysis/<agent>/ with getperf's time-directory normalisation; the extracted
// files go to the site's aggregation command; --purge removes time directories older than
// the retention (getperf's Purge.pm). See docs/sitesync.md, "coming from getperf".
#include <sys/types.h>

#include <cstdint>
#include <ctime>
#include <optional>
#include <string>
#include <vector>

namespace hakit::sitesync {

/// The parts of an archive name `arc_<agent>__<category>_<date>_<time>.zip`.
struct ArchiveName {
  std::string agent, category, date, time;
};

/// Parses a file name (no directory) like getperf's `arc_(.+?)__(.+?)_(\d+?)_(\d+?)\.zip`;
/// nothing for other names and for agents that are not a plain directory name.
std::optional<ArchiveName> parse_archive_name(const std::string& file_name);

/// getperf's time-directory normalisation of a path inside an agent directory:
/// `CAT/20150619/1416/f` → `CAT/20150619/141600/f`, `CAT/20150619_1457/f` →
/// `CAT/20150619/145700/f`; other paths are returned unchanged.
std::string normalise_time_dirs(const std::string& path);

/// What an archive may hold before it is refused as hostile.
struct ExtractLimits {
  std::uint64_t max_entry_size = 1ULL << 30;  ///< bytes of one extracted file
  std::uint64_t max_total_size = 4ULL << 30;  ///< bytes of one archive, extracted
  std::uint64_t max_entries = 100000;         ///< entries of one archive
  double max_ratio = 200;                     ///< size / compressed size (a zip bomb)
  std::uint64_t ratio_min_size = 1ULL << 20;  ///< the ratio is judged above this size
};

/// Extracts one archive into `agent_dir` (created when missing) as getperf's `unzip -o`
/// would, with names normalised. Every entry is checked before anything is written (no
/// absolute or `..` paths, no links or devices, no duplicates, sizes and ratio within
/// `limits`); files are written into a hidden directory beside the targets, then renamed
/// into place: a killed run leaves no half-written file under a real name, and nothing is
/// written outside `agent_dir` (symlinks in the tree are not followed). On success *files
/// gets the extracted regular files relative to agent_dir (dot files last-component
/// excluded, as getperf does not aggregate them).
bool extract_archive(const std::string& zip_path, const std::string& agent_dir,
                     const ExtractLimits& limits, std::vector<std::string>* files,
                     std::string* err);

/// Removes hidden extraction directories a killed run left in the agents' directories.
void remove_stale_extractions(const std::string& analysis_dir);

/// The hidden directory prefix extraction writes into.
inline constexpr const char* kExtractPrefix = ".sitesync-extract.";

/// getperf's purge cut-off: `now - retention` as `YYYYMMDD` and `HHMMSS` in local time.
struct PurgeCutoff {
  std::string date, time;
};

/// The cut-off for a retention (in seconds) at `now`.
PurgeCutoff purge_cutoff(std::time_t now, std::int64_t retention_seconds);

/// Which time directories of `root/<agent>/<category>/<YYYYMMDD>[/<HHMMSS>]` are older than
/// the cut-off (whole date directories before the cut-off date, time directories of the
/// cut-off date before its time), as getperf's Purge.pm; `kept` counts the others.
struct PurgePlan {
  std::vector<std::string> remove;  ///< absolute paths, date or time directories
  std::uint64_t kept = 0;           ///< time directories (or date directories) that stay
};

/// Walks the tree (symlinks are never followed; only 8-digit date and 6-digit time names).
PurgePlan plan_purge(const std::string& root, const PurgeCutoff& cutoff);

/// Removes what the plan lists; *err gets the first failure.
bool apply_purge(const PurgePlan& plan, std::string* err);

}  // namespace hakit::sitesync
