#pragma once
// Everything sitesync knows about the rsync binary: the argv of each pass, and the parsing of
// its --stats output and of its client-side --log-file (the itemized list of changes).
#include <cstdint>
#include <string>
#include <vector>

#include "sitesync/config.hpp"

namespace hakit::sitesync {

/// What a source string names.
enum class SourceKind { kDaemon, kSsh, kLocal };

/// rsync://host/module[/path] or host::module → daemon; [user@]host:path → ssh; else local.
SourceKind source_kind(const std::string& source);

/// The name a source gets under ./.rsync/ when no DEST is given: the module for a daemon
/// source, the last path component otherwise ("" when there is none).
std::string default_dest_name(const std::string& source);

/// The source with a trailing '/': sitesync always mirrors a source's contents into dest.
std::string contents_of(const std::string& source);

/// The passes of one round.
enum class Pass {
  kCopy,      ///< transfer; with probe_deletes, --delete --max-delete=0 counts without deleting
  kProbe,     ///< dry run with --delete and --stats: how many entries a mirror would delete
  kDelete,    ///< the mirror with deletions, after the guards agreed
  kDryRun,    ///< the operator's --dry-run: itemized list and stats, nothing changed
  kEstimate,  ///< --estimate: stats only
};

/// Per-call switches of build_rsync_argv.
struct PassOptions {
  std::string log_file;        ///< client --log-file ("" = none): the per-file list
  bool progress = false;       ///< --info=progress2 (a terminal is watching)
  bool probe_deletes = false;  ///< kCopy: add --delete --max-delete=0 (exit 25 = deletions due)
  bool stats = false;          ///< kCopy/kDelete: --stats on stdout, the counts without the list
};

/// The argv of one rsync pass for a job (argv[0] is job.rsync). Never run through a shell.
std::vector<std::string> build_rsync_argv(const config::SyncJob& job, Pass pass,
                                          const PassOptions& opt);

/// rsync exit codes sitesync treats specially.
inline constexpr int kRsyncVanished = 24;   ///< some source files vanished: a warning
inline constexpr int kRsyncMaxDelete = 25;  ///< --max-delete stopped deletions

/// "exit 10: error in socket I/O" style meaning of an rsync exit code.
std::string describe_rsync_exit(int code);

/// The figures of rsync --stats (0 when absent).
struct RsyncStats {
  bool found = false;            ///< at least "Number of files" was seen
  std::uint64_t entries = 0;     ///< "Number of files" (files, dirs, links; with the root dir)
  std::uint64_t regular = 0;     ///< its "reg:" part
  std::uint64_t created = 0;     ///< "Number of created files"
  std::uint64_t deleted = 0;     ///< "Number of deleted files"
  std::uint64_t transferred = 0; ///< "Number of regular files transferred"
  std::uint64_t total_size = 0;  ///< "Total file size"
  std::uint64_t transferred_size = 0;  ///< "Total transferred file size"
  std::uint64_t bytes_sent = 0, bytes_received = 0;
};

/// Parses --stats text (plain or with thousands separators; log-file prefixes are fine).
RsyncStats parse_stats(const std::string& text);

/// The changes of one pass, read from the client --log-file (format "%i %l %n").
struct ChangeList {
  std::vector<std::string> new_files;      ///< regular files that did not exist before
  std::vector<std::string> changed_files;  ///< new and updated regular files
  std::vector<std::string> deleted;        ///< entries deleted (files and directories)
  std::uint64_t files = 0;                 ///< regular files transferred
  std::uint64_t bytes = 0;                 ///< their total size
  std::vector<std::string> errors;         ///< "rsync: ..." / "rsync error: ..." lines
};

/// The --log-file-format sitesync asks for.
inline constexpr const char* kLogFormat = "%i %l %n";

/// Parses a client --log-file written with kLogFormat.
ChangeList parse_log_file(const std::string& text);

/// rsync's "\#ooo" escapes decoded (a newline stays escaped: the lists are line-based).
std::string unescape_name(const std::string& name);

}  // namespace hakit::sitesync
