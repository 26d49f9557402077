#pragma once
// sync: jobs, owned by sitesync. Every key has the default an operator of the getperf setup
// expects; docs/sitesync.md lists them.
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "common/config.hpp"
#include "common/units.hpp"
#include "common/yaml_reader.hpp"

namespace hakit::config {

/// One named rsync pull job.
struct SyncJob {
  std::vector<std::string> sources;  ///< rsync://host/module[/path], [user@]host:path or /local
  std::string dest;                  ///< local directory (absolute) the sources are mirrored into
  bool delete_extraneous = true;     ///< mirror: delete what the sources no longer hold
  std::optional<std::uint64_t> max_delete;  ///< refuse a round that would delete more
  /// Refuse to delete when the source holds fewer than this fraction of the destination's
  /// entries (a half-mounted source); 0 disables. An empty source is always refused.
  double min_source_fraction = 0.5;
  std::string when = "any";          ///< any | master | backup: the role this node must have
  std::string instance;              ///< keepalived instance whose role `when` reads
  std::optional<Vip> instance_vip;   ///< that instance's vip (read with the job), for a fresh node
  bool skip_on_failover_flag = true; ///< skip while the failover flag is set
  std::vector<std::string> after;    ///< argv of the after-command (aggregation)
  Millis after_timeout{600000};      ///< hard limit of the after-command
  std::string after_if = "always";   ///< always | changed: run it only when files changed
  int rounds = 1;                    ///< rounds per run (the getperf form defaults to 9)
  Millis interval{30000};            ///< one round every interval
  Millis timeout{3600000};           ///< hard limit of one rsync run (whole process group)
  Millis io_timeout{120000};         ///< rsync --timeout: no data for this long aborts
  Millis contimeout{15000};          ///< rsync --contimeout (rsync:// sources only)
  std::vector<std::string> exclude;  ///< rsync --exclude patterns
  std::vector<std::string> grep;     ///< keep only names containing one of these keywords
  std::optional<std::uint64_t> bwlimit;  ///< bytes per second (rsync --bwlimit)
  std::string partial_dir = ".rsync-partial";  ///< delayed files, run marker, our logs; never sent or deleted
  /// rename files into place only at the end of a pass (rsync --delay-updates). Off by
  /// default: each file still appears complete (rsync's own .NAME.XXXXXX temp file, renamed
  /// in place), as with getperf's sitesync, at 1.0x raw rsync instead of ~1.3x.
  bool delay_updates = false;
  std::string rsync = "rsync";       ///< the rsync binary
  std::string rsh;                   ///< ssh command for host:path sources ("" = ssh, batch mode)
  std::vector<std::string> extra_args;  ///< appended to rsync's argv as written
  bool follow_dest_symlink = false;  ///< allow a dest that is a symlink (mirrored through it)
  /// getperf site home: the `arc_*.zip` archives each round brings are extracted into
  /// site_home/analysis/<agent>/ ("" = no extraction; the ad-hoc form uses the current dir).
  std::string site_home;
  std::uint64_t extract_max_size = 1ULL << 30;  ///< refuse an archive entry bigger than this
  std::vector<std::string> aggregate;  ///< argv the extracted files are appended to
  std::string getperf_home;            ///< aggregate defaults to GETPERF_HOME/script/sumup
  Millis aggregate_timeout{600000};    ///< hard limit of one aggregation command
  bool purge = false;                  ///< getperf --purge: retention of analysis/ and summary/
  Millis purge_analysis{3600000};      ///< keep this much of analysis/ (getperf: 1 hour)
  Millis purge_summary{3600000};       ///< keep this much of summary/ (getperf: 1 hour)
  bool purge_may_empty = false;        ///< allow a purge that leaves no time directory at all
  int line = 0;                      ///< where the job is defined, for messages
};

/// A bandwidth: a size per second ("10MB/s", "512k", "1G/s"; powers of 1024 as rsync uses).
std::optional<std::uint64_t> parse_rate(std::string text, std::string* err);

/// Reads one `sync:` entry; every problem goes to the reader's diagnostics.
void parse_sync_job(MapReader& entry, SyncJob* out);

/// Reads `sync.NAME` and, for a role gate, the vip of the instance it names. False with the
/// problems in `diag`.
bool read_sync_job(const Document& doc, const std::string& name, SyncJob* out, Diagnostics* diag);

/// Registry validator: every job strictly, and the instances role gates name must exist.
void validate_sync(const Document& doc, Diagnostics& diag);

}  // namespace hakit::config
