#include "sitesync/sitesync.hpp"

#include <fmt/format.h>
#include <spdlog/spdlog.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <optional>
#include <set>
#include <sstream>
#include <thread>
#include <unordered_set>

#include "common/lock.hpp"
#include "common/state.hpp"
#include "sitesync/getperf.hpp"
#include "sitesync/joblock.hpp"

namespace hakit::sitesync {

namespace {

using SteadyClock = std::chrono::steady_clock;

// A temp file that removes itself; rsync's client log and the after-command's lists. They
// live in the job's partial dir: a SIGKILLed run's leftovers ("NAME.XXXXXX") are removed by
// the next run with the rsync temp files.
class TempFile {
 public:
  TempFile(const std::string& dir, const std::string& stem) {
    std::string pattern = fmt::format("{}/.sitesync-{}.XXXXXX", dir, stem);
    std::vector<char> buf(pattern.begin(), pattern.end());
    buf.push_back('\0');
    int fd = mkstemp(buf.data());
    if (fd >= 0) {
      close(fd);
      path_ = buf.data();
    }
  }
  ~TempFile() { remove(); }
  void remove() {
    if (!path_.empty()) unlink(path_.c_str());
    path_.clear();
  }
  TempFile(const TempFile&) = delete;
  TempFile& operator=(const TempFile&) = delete;
  const std::string& path() const { return path_; }
  std::string read() const {
    std::ifstream in(path_, std::ios::binary);
    std::ostringstream s;
    s << in.rdbuf();
    return s.str();
  }
  bool write(const std::vector<std::string>& lines) const {
    std::ofstream out(path_, std::ios::binary | std::ios::trunc);
    for (const auto& l : lines) out << l << '\n';
    return static_cast<bool>(out);
  }

 private:
  std::string path_;
};

std::string last_line(const std::string& text) {
  auto end = text.find_last_not_of("\n ");
  if (end == std::string::npos) return "";
  auto start = text.rfind('\n', end);
  return text.substr(start == std::string::npos ? 0 : start + 1,
                     end - (start == std::string::npos ? 0 : start + 1) + 1);
}

std::string first_error(const ProcessResult& p, const ChangeList& c) {
  // rsync's own explanation is better than an exit code; it is on stderr or in the log.
  std::istringstream in(p.err);
  std::string line;
  while (std::getline(in, line))
    if (line.rfind("rsync: ", 0) == 0 || line.rfind("@ERROR", 0) == 0) return line;
  for (const auto& e : c.errors)
    if (e.rfind("rsync: ", 0) == 0) return e;
  if (!c.errors.empty()) return c.errors.front();
  return last_line(p.err.substr(0, p.err.find('\n')));
}

// Why a captured dry-run pass failed ("" when it did not; vanished files are fine there).
std::string dry_pass_failure(const ProcessResult& p) {
  if (p.ok()) return "";
  if (!p.started || p.timed_out || p.signal != 0) return p.describe();
  if (p.exit_code == kRsyncVanished) return "";
  return describe_rsync_exit(p.exit_code) + ": " + first_error(p, {});
}

// Appends the names of `from` that `to` does not hold yet, keeping their order. A hash set,
// not a scan: a first copy lists every file of the site.
void append_unique(std::vector<std::string>* to, const std::vector<std::string>& from) {
  if (from.empty()) return;
  if (to->empty()) {
    std::unordered_set<std::string_view> seen;
    for (const auto& f : from)
      if (seen.insert(f).second) to->push_back(f);
    return;
  }
  std::unordered_set<std::string> seen(to->begin(), to->end());
  for (const auto& f : from)
    if (seen.insert(f).second) to->push_back(f);
}

// rsync's mkstemp names: "[.]NAME.XXXXXX" (six letters or digits; the leading '.' when the
// temp file sits beside NAME, i.e. without --temp-dir).
bool is_temp_name(const std::string& name, bool dotted) {
  if (name.size() < (dotted ? 9u : 8u) || (dotted && name[0] != '.') || name[name.size() - 7] != '.')
    return false;
  return std::all_of(name.end() - 6, name.end(),
                     [](char c) { return std::isalnum(static_cast<unsigned char>(c)) != 0; });
}

// Present while a run of the job writes into dest: a run that finds it knows the one before
// was killed and sweeps the temp files it left.
constexpr const char* kRunMarker = ".sitesync-running";

ExitCode worse(ExitCode a, ExitCode b) { return static_cast<int>(a) >= static_cast<int>(b) ? a : b; }

std::string plural(std::uint64_t n, const char* one, const char* many) {
  return fmt::format("{} {}", n, n == 1 ? one : many);
}

}  // namespace

SteadyClock::time_point SystemClock::now() { return SteadyClock::now(); }

void SystemClock::sleep_until(SteadyClock::time_point t) {
  // In slices: a termination signal ends the wait between rounds at once.
  while (!termination_signal() && SteadyClock::now() < t)
    std::this_thread::sleep_until(std::min(t, SteadyClock::now() + Millis(100)));
}

std::string human_bytes(std::uint64_t bytes) {
  const char* units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
  double v = static_cast<double>(bytes);
  int u = 0;
  while (v >= 1024 && u < 4) {
    v /= 1024;
    ++u;
  }
  return u == 0 ? fmt::format("{} B", bytes) : fmt::format("{:.2f} {}", v, units[u]);
}

std::string Syncer::lock_path(const Target& t, std::string* err) const {
  auto dir = private_lock_dir(cfg_.run_dir, geteuid(), err);
  return dir ? *dir + "/" + t.lock_name + ".lock" : "";
}

ProcessSpec Syncer::rsync_spec(const Target& t, std::vector<std::string> argv) const {
  ProcessSpec spec;
  spec.argv = std::move(argv);
  spec.timeout = t.job.timeout;
  // Ctrl-C, SIGTERM and SIGHUP reach rsync through us; a SIGKILL of ours takes it along,
  // and it holds the job lock until it is gone.
  spec.die_with_parent = true;
  spec.inherit_fds = lock_fds_;
  // rsync shows progress only in the terminal's foreground process group: ours.
  spec.own_process_group = !mode_.progress;
  spdlog::debug("{}: {}", t.name, format_argv(spec.argv));
  return spec;
}

std::string Syncer::dry_pass(const Target& t, Pass pass, ProcessResult* p) {
  ProcessSpec spec = rsync_spec(t, build_rsync_argv(t.job, pass, {}));
  spec.own_process_group = true;  // captured: nothing to show on the terminal
  if (pass == Pass::kDryRun) spec.capture_limit = 64 * 1024 * 1024;
  *p = runner_.run(spec);
  return dry_pass_failure(*p);
}

RoundResult Syncer::rsync_pass(const Target& t, Pass pass, bool* max_delete_hit) {
  RoundResult r;
  PassOptions opt;
  opt.progress = mode_.progress;
  opt.probe_deletes = pass == Pass::kCopy && !mode_.progress;
  // The per-file list costs rsync a log line per file and us the parsing: asked for only
  // when something reads it (extraction, aggregation, the after-command) or when rsync's
  // stdout is the terminal's (no --stats to capture). Otherwise --stats gives the counts.
  const bool want_list = mode_.progress || !t.job.site_home.empty() || !t.job.after.empty();
  std::optional<TempFile> log;
  if (want_list) {
    // Beside the run marker, in the partial dir (created by run()).
    log.emplace(t.job.dest + "/" + t.job.partial_dir, "log");
    if (log->path().empty()) {
      r.code = ExitCode::kFailed;
      r.message = fmt::format("cannot create rsync's log file in {}/{}: {}", t.job.dest,
                              t.job.partial_dir, std::strerror(errno));
      return r;
    }
    opt.log_file = log->path();
  } else {
    opt.stats = true;
  }
  ProcessSpec spec = rsync_spec(t, build_rsync_argv(t.job, pass, opt));
  spec.capture = !mode_.progress;
  ProcessResult p = runner_.run(spec);
  ChangeList c;
  if (log) {
    c = parse_log_file(log->read());
    log->remove();
    r.files = c.files;
    r.bytes = c.bytes;
    r.deleted = c.deleted.size();
    r.new_files = c.new_files;
    r.changed_files = c.changed_files;
  } else {
    RsyncStats s = parse_stats(p.out);
    r.files = s.transferred;
    r.bytes = s.transferred_size;
    r.deleted = s.deleted;
  }
  if (!p.started) {
    r.code = ExitCode::kFailed;
    r.message = "cannot run rsync: " + p.spawn_error;
  } else if (p.forwarded_signal) {
    r.code = ExitCode::kFailed;
    r.interrupted = true;
    r.message = fmt::format("interrupted by SIG{}; rsync {}", sigabbrev_np(p.forwarded_signal),
                            p.describe());
  } else if (p.timed_out || p.signal != 0) {
    r.code = ExitCode::kFailed;
    r.message = fmt::format("rsync {} (timeout {})", p.describe(), format_duration(t.job.timeout));
  } else if (p.exit_code == 0) {
  } else if (p.exit_code == kRsyncVanished) {
    r.warning = true;
    r.message = "some source files vanished during the transfer (rsync exit 24)";
  } else if (p.exit_code == kRsyncMaxDelete) {
    *max_delete_hit = true;
  } else {
    r.code = ExitCode::kFailed;
    std::string why = first_error(p, c);
    r.message = describe_rsync_exit(p.exit_code) + (why.empty() ? "" : ": " + why);
  }
  return r;
}

RoundResult Syncer::delete_passes(const Target& t) {
  RoundResult r;
  // The probe: what would a mirror delete, and how much does the source hold?
  ProcessResult p;
  if (std::string why = dry_pass(t, Pass::kProbe, &p); !why.empty()) {
    r.code = ExitCode::kFailed;
    r.message = "deletion probe: " + why;
    return r;
  }
  RsyncStats stats = parse_stats(p.out);
  if (stats.deleted == 0) return r;
  DeleteVerdict v = check_deletions(stats, t.job);
  if (!v.allowed) {
    r.code = ExitCode::kRefused;
    r.message = v.reason;
    return r;
  }
  bool hit = false;
  r = rsync_pass(t, Pass::kDelete, &hit);
  if (hit) {
    // The source changed between the probe and the mirror; rsync's own limit held.
    r.code = ExitCode::kRefused;
    r.message = fmt::format("rsync stopped deletions at max_delete {} (the source changed "
                            "since the probe)",
                            t.job.max_delete ? std::to_string(*t.job.max_delete) : "?");
  }
  return r;
}

bool Syncer::after_command(const Target& t, int k, const RoundResult& r, std::string* why) {
  std::string dir = t.job.dest + "/" + t.job.partial_dir;
  std::string mkdir_err;
  make_dirs(dir, 0755, &mkdir_err);
  // Declared first, destroyed last: the lists go before the (then empty) partial dir.
  struct RemoveEmptyDir {
    std::string path;
    ~RemoveEmptyDir() { rmdir(path.c_str()); }
  } partial{dir};
  TempFile new_list(dir, "new"), changed_list(dir, "changed");
  if (new_list.path().empty() || changed_list.path().empty() || !new_list.write(pending_new_) ||
      !changed_list.write(pending_changed_)) {
    *why = "cannot write the lists of new files for the after-command";
    return false;
  }
  ProcessSpec spec;
  spec.argv = t.job.after;
  spec.cwd = t.job.dest;
  spec.timeout = t.job.after_timeout;
  spec.capture = !mode_.progress;
  spec.die_with_parent = true;
  spec.env_extra = {
      "HAKIT_SYNC_JOB=" + t.name,
      "HAKIT_SYNC_DEST=" + t.job.dest,
      fmt::format("HAKIT_SYNC_ROUND={}", k + 1),
      "HAKIT_SYNC_NEW_FILES=" + new_list.path(),
      "HAKIT_SYNC_CHANGED_FILES=" + changed_list.path(),
      fmt::format("HAKIT_SYNC_NEW_COUNT={}", pending_new_.size()),
      fmt::format("HAKIT_SYNC_CHANGED_COUNT={}", pending_changed_.size()),
      fmt::format("HAKIT_SYNC_DELETED_COUNT={}", r.deleted),
  };
  spdlog::debug("{}: after-command: {}", t.name, format_argv(spec.argv));
  ProcessResult p = runner_.run(spec);
  if (!p.out.empty()) spdlog::debug("{}: after-command output: {}", t.name, last_line(p.out));
  if (p.ok()) {
    spdlog::info("{}: after-command done in {} ({} new, {} changed)", t.name,
                 format_duration(p.elapsed), pending_new_.size(), pending_changed_.size());
    return true;
  }
  std::string err = last_line(p.err);
  *why = fmt::format("after-command {} {}{}", format_argv(t.job.after), p.describe(),
                     err.empty() ? "" : ": " + err);
  return false;
}

RoundResult Syncer::round(const Target& t, int k) {
  const bool del = t.job.delete_extraneous;
  // Under cron the copy pass also counts pending deletions (exit 25) at no extra cost. On a
  // terminal rsync's stderr is the operator's, so a separate probe decides instead.
  bool deletions_due = false;
  RoundResult r = rsync_pass(t, Pass::kCopy, &deletions_due);
  if (r.code == ExitCode::kSuccess && del && (mode_.progress || deletions_due)) {
    RoundResult d = delete_passes(t);
    r.files += d.files;
    r.bytes += d.bytes;
    r.deleted += d.deleted;
    append_unique(&r.new_files, d.new_files);
    append_unique(&r.changed_files, d.changed_files);
    r.warning |= d.warning;
    r.interrupted |= d.interrupted;
    if (d.code != ExitCode::kSuccess) {
      r.code = d.code;
      r.message = d.message;
    }
  }
  // getperf's part: what arrived in this round is extracted, aggregated, purged.
  if (r.code != ExitCode::kFailed && !t.job.site_home.empty() && !termination_signal()) {
    std::string why;
    ExitCode code = ExitCode::kSuccess;
    r.site = site_step(t, r.changed_files, &why, &code);
    if (code != ExitCode::kSuccess) {
      r.code = worse(r.code, code);
      r.message = r.message.empty() ? why : r.message + "; " + why;
    }
  }
  // Files that arrived wait for an after-command that succeeds, even across failed rounds.
  append_unique(&pending_new_, r.new_files);
  append_unique(&pending_changed_, r.changed_files);
  if (r.code == ExitCode::kFailed || t.job.after.empty()) return r;
  if (t.job.after_if == "changed" && pending_changed_.empty() && r.deleted == 0) return r;
  // A refused round still copied its new files: aggregation gets them.
  std::string why;
  if (after_command(t, k, r, &why)) {
    pending_new_.clear();
    pending_changed_.clear();
  } else {
    if (r.code == ExitCode::kSuccess) r.code = ExitCode::kFailed;
    r.message = r.message.empty() ? why : r.message + "; " + why;
  }
  return r;
}

TargetResult Syncer::estimate(const Target& t) {
  TargetResult res;
  res.name = t.name;
  res.outcome = "estimate";
  ProcessResult p;
  if (std::string why = dry_pass(t, Pass::kEstimate, &p); !why.empty()) {
    res.code = ExitCode::kFailed;
    res.outcome = "failed";
    res.message = why;
    spdlog::error("{}: estimate failed: {}", t.name, res.message);
    return res;
  }
  RsyncStats s = parse_stats(p.out);
  res.files = s.transferred;
  res.bytes = s.transferred_size;
  res.deleted = s.deleted;
  std::printf("%s: %llu files to transfer, %llu bytes (%s); source %llu entries, %llu bytes; "
              "%llu to delete\n",
              t.name.c_str(), static_cast<unsigned long long>(s.transferred),
              static_cast<unsigned long long>(s.transferred_size),
              human_bytes(s.transferred_size).c_str(), static_cast<unsigned long long>(s.entries),
              static_cast<unsigned long long>(s.total_size),
              static_cast<unsigned long long>(s.deleted));
  auto bw = mode_.bandwidth ? mode_.bandwidth : t.job.bwlimit;
  if (bw) {
    auto ms = static_cast<long long>(static_cast<double>(s.transferred_size) * 1000.0 /
                                     static_cast<double>(*bw));
    std::printf("%s: at %s/s: %s\n", t.name.c_str(), human_bytes(*bw).c_str(),
                format_duration(Millis(ms)).c_str());
  } else {
    std::printf("%s: give --bandwidth RATE (or bwlimit) for the time it takes\n", t.name.c_str());
  }
  DeleteVerdict v = t.job.delete_extraneous ? check_deletions(s, t.job) : DeleteVerdict{};
  if (!v.allowed) std::printf("%s: deletions would be refused: %s\n", t.name.c_str(), v.reason.c_str());
  std::fflush(stdout);
  return res;
}

TargetResult Syncer::dry_run(const Target& t) {
  TargetResult res;
  res.name = t.name;
  res.outcome = "dry-run";
  ProcessResult p;
  if (std::string why = dry_pass(t, Pass::kDryRun, &p); !why.empty()) {
    res.code = ExitCode::kFailed;
    res.outcome = "failed";
    res.message = why;
    spdlog::error("{}: dry run failed: {}", t.name, res.message);
    return res;
  }
  ChangeList c = parse_log_file(p.out);
  RsyncStats s = parse_stats(p.out);
  if (mode_.verbosity > 0) {
    for (const auto& f : c.changed_files)
      std::printf("  %s %s\n", std::find(c.new_files.begin(), c.new_files.end(), f) != c.new_files.end()
                                   ? "new   " : "update", f.c_str());
    for (const auto& f : c.deleted) std::printf("  delete %s\n", f.c_str());
  }
  std::printf("%s: dry run: would transfer %s (%s), delete %s\n", t.name.c_str(),
              plural(c.files, "file", "files").c_str(), human_bytes(c.bytes).c_str(),
              plural(c.deleted.size(), "entry", "entries").c_str());
  DeleteVerdict v = t.job.delete_extraneous ? check_deletions(s, t.job) : DeleteVerdict{};
  if (!v.allowed) {
    std::printf("%s: deletions would be refused: %s\n", t.name.c_str(), v.reason.c_str());
    res.code = ExitCode::kRefused;
    res.message = v.reason;
  }
  std::fflush(stdout);
  res.files = c.files;
  res.bytes = c.bytes;
  res.deleted = c.deleted.size();
  return res;
}

void Syncer::remove_stale_temp_files(const Target& t, bool killed_before) {
  // We hold the job lock, so no rsync of this job is writing now; at worst a delayed copy
  // is dropped and sent again.
  std::error_code ec;
  const std::string partial = t.job.dest + "/" + t.job.partial_dir;
  // The partial dir: our log and lists (".sitesync-log.XXXXXX"), and the temp files of
  // versions that used --temp-dir ("NAME.XXXXXX").
  for (std::filesystem::directory_iterator it(partial, ec), end; !ec && it != end;
       it.increment(ec)) {
    if (is_temp_name(it->path().filename().string(), false) && it->is_regular_file(ec)) {
      spdlog::info("{}: removing {} left by a killed run", t.name, it->path().string());
      std::filesystem::remove(it->path(), ec);
    }
  }
  // rsync's own ".NAME.XXXXXX" beside NAME: only a killed run leaves them (rsync removes its
  // temp file on SIGINT/SIGTERM), so the tree is walked only after one.
  if (!killed_before) return;
  std::size_t removed = 0;
  auto opts = std::filesystem::directory_options::skip_permission_denied;
  std::filesystem::recursive_directory_iterator it(t.job.dest, opts, ec), end;
  for (; !ec && it != end; it.increment(ec)) {
    if (is_temp_name(it->path().filename().string(), true) &&
        std::filesystem::is_regular_file(it->symlink_status(ec))) {
      spdlog::debug("{}: removing {} left by a killed transfer", t.name, it->path().string());
      std::error_code rm;
      removed += std::filesystem::remove(it->path(), rm) ? 1 : 0;
    }
  }
  if (removed)
    spdlog::info("{}: removed {} left by a killed transfer", t.name,
                 plural(removed, "temp file", "temp files"));
}

TargetResult Syncer::run(const Target& t) {
  TargetResult res;
  res.name = t.name;
  std::string why = gate_skip_reason(t.job, host_);
  if (!why.empty()) {
    spdlog::info("{}: skipped: {}", t.name, why);
    res.outcome = "skipped";
    res.message = why;
    return res;
  }
  if (mode_.estimate) return estimate(t);
  if (mode_.dry_run) return dry_run(t);

  std::string err;
  auto fail = [&](ExitCode code, std::string message) {
    res.code = code;
    res.outcome = code == ExitCode::kRefused ? "refused" : "failed";
    res.message = std::move(message);
    report(t, res);
    return res;
  };
  // A destination that is a symlink would be mirrored (with --delete) wherever it points.
  struct stat st {};
  if (lstat(t.job.dest.c_str(), &st) == 0 && S_ISLNK(st.st_mode) && !t.job.follow_dest_symlink) {
    std::error_code ec;
    auto target = std::filesystem::read_symlink(t.job.dest, ec);
    return fail(ExitCode::kRefused,
                fmt::format("the destination {} is a symlink (to {}); refusing to mirror through "
                            "it (follow_dest_symlink: true or --follow-dest-symlink allows it)",
                            t.job.dest, target.string()));
  }
  if (!make_dirs(t.job.dest, 0755, &err)) return fail(ExitCode::kFailed, err);
  pid_t holder = 0;
  std::string lock_file = lock_path(t, &err);
  if (lock_file.empty()) return fail(ExitCode::kFailed, err);
  auto lock = JobLock::try_acquire(lock_file, t.job.dest, t.job.follow_dest_symlink, &holder, &err);
  if (!lock) {
    if (!err.empty()) return fail(ExitCode::kFailed, err);
    // cron must not pile up runs: the one running is doing the work.
    if (holder)
      spdlog::info("{}: already running (pid {}); this run exits", t.name, holder);
    else
      spdlog::info("{}: another run (of another user?) is writing to {}; this run exits", t.name,
                   t.job.dest);
    res.outcome = "busy";
    return res;
  }
  lock_fds_ = lock->fds();
  // The next run after a killed one: leftovers of its extraction go first.
  if (!t.job.site_home.empty()) remove_stale_extractions(t.job.site_home + "/analysis");
  const std::string partial = t.job.dest + "/" + t.job.partial_dir;
  const std::string marker = partial + "/" + kRunMarker;
  remove_stale_temp_files(t, access(marker.c_str(), F_OK) == 0);
  if (!make_dirs(partial, 0755, &err)) return fail(ExitCode::kFailed, err);
  if (int fd = open(marker.c_str(), O_WRONLY | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0644); fd >= 0)
    close(fd);
  else
    return fail(ExitCode::kFailed,
                fmt::format("cannot create {}: {}", marker, std::strerror(errno)));
  pending_new_.clear();
  pending_changed_.clear();
  auto start = clock_.now();
  bool interrupted = false;
  const int n = t.job.rounds;
  for (int k = 0; k < n; ++k) {
    RoundSlot slot = round_slot(k, start, t.job.interval, clock_.now());
    if (slot.late) {
      auto late = std::chrono::duration_cast<Millis>(clock_.now() - slot.at);
      spdlog::warn("{}: round {}/{} skipped: it would start {} late (the previous round ran long)",
                   t.name, k + 1, n, format_duration(late));
      ++res.rounds_skipped;
      continue;
    }
    clock_.sleep_until(slot.at);
    if (int sig = termination_signal()) {
      res.code = worse(res.code, ExitCode::kFailed);
      res.message = fmt::format("interrupted by SIG{}", sigabbrev_np(sig));
      break;
    }
    auto round_start = clock_.now();
    RoundResult r = round(t, k);
    interrupted |= r.interrupted;
    ++res.rounds_run;
    res.files += r.files;
    res.bytes += r.bytes;
    res.deleted += r.deleted;
    res.archives += r.site.archives;
    res.archives_refused += r.site.archives_refused;
    res.extracted += r.site.files.size();
    res.purged += r.site.purged;
    res.aggregate_runs += r.site.aggregate_runs;
    if (!r.site.aggregate_result.empty()) res.aggregate_result = r.site.aggregate_result;
    auto took = std::chrono::duration_cast<Millis>(clock_.now() - round_start);
    if (r.code != ExitCode::kSuccess) {
      ++res.rounds_failed;
      res.code = worse(res.code, r.code);
      res.message = r.message;
      spdlog::error("{}: round {}/{} {}: {}", t.name, k + 1, n,
                    r.code == ExitCode::kRefused ? "refused" : "failed", r.message);
      if (r.code == ExitCode::kRefused || r.interrupted || termination_signal()) {
        // Every later round would meet the same source: stop here and let an operator look.
        break;
      }
    } else {
      if (r.warning) {
        spdlog::warn("{}: round {}/{}: {}", t.name, k + 1, n, r.message);
        if (res.outcome.empty()) res.outcome = "warning";
      }
      spdlog::log(n > 1 ? spdlog::level::debug : spdlog::level::info,
                  "{}: round {}/{}: {}, {}, {} deleted in {}", t.name, k + 1, n,
                  plural(r.files, "file", "files"), human_bytes(r.bytes), r.deleted,
                  format_duration(took));
    }
  }
  lock_fds_.clear();
  // A clean end: no sweep next time, and no empty partial dir left in the mirror.
  unlink(marker.c_str());
  rmdir(partial.c_str());
  res.elapsed = std::chrono::duration_cast<Millis>(clock_.now() - start);
  if (res.code == ExitCode::kFailed)
    res.outcome = interrupted || termination_signal() ? "interrupted" : "failed";
  if (res.code == ExitCode::kRefused) res.outcome = "refused";
  if (res.outcome.empty()) res.outcome = "ok";
  report(t, res);
  return res;
}

void Syncer::report(const Target& t, const TargetResult& r) {
  std::string summary = fmt::format(
      "{}: {}: {} round{} run ({} skipped, {} failed), {}, {}, {} deleted into {} in {}", t.name,
      r.outcome, r.rounds_run, r.rounds_run == 1 ? "" : "s", r.rounds_skipped, r.rounds_failed,
      plural(r.files, "file", "files"), human_bytes(r.bytes), r.deleted, t.job.dest,
      format_duration(r.elapsed));
  if (!t.job.site_home.empty() && (r.archives || r.archives_refused || r.aggregate_runs))
    summary += fmt::format("; {} extracted ({}) into {}/analysis{}; aggregation: {}",
                           plural(r.archives, "archive", "archives"),
                           plural(r.extracted, "file", "files"), t.job.site_home,
                           r.archives_refused ? fmt::format(", {} refused", r.archives_refused) : "",
                           r.aggregate_result.empty() ? "none" : r.aggregate_result);
  if (r.purged) summary += fmt::format("; purged {} time directories", r.purged);
  if (r.code == ExitCode::kSuccess) {
    spdlog::info("{}", summary);
  } else {
    spdlog::error("{}: {}", summary, r.message);
    // Under cron nothing else reaches a person: cron mails this one line.
    if (mode_.stderr_summary) std::fprintf(stderr, "sitesync: %s: %s\n", summary.c_str(), r.message.c_str());
  }
  // Ad-hoc runs without a config usually cannot write /var/lib/hakit: that is not news.
  auto level = cfg_.path.empty() ? spdlog::level::debug : spdlog::level::warn;
  Json entry{{"tool", "sitesync"},
             {"event", "sync"},
             {"job", t.name},
             {"dest", t.job.dest},
             {"sources", t.job.sources},
             {"result", r.outcome},
             {"exit", static_cast<int>(r.code)},
             {"rounds", t.job.rounds},
             {"rounds_run", r.rounds_run},
             {"rounds_skipped", r.rounds_skipped},
             {"rounds_failed", r.rounds_failed},
             {"files", r.files},
             {"bytes", r.bytes},
             {"deleted", r.deleted},
             {"seconds", seconds(r.elapsed)}};
  if (t.adhoc) entry["adhoc"] = true;
  if (!t.job.site_home.empty()) {
    entry["site_home"] = t.job.site_home;
    entry["archives"] = r.archives;
    entry["archives_refused"] = r.archives_refused;
    entry["extracted"] = r.extracted;
    entry["aggregate_runs"] = r.aggregate_runs;
    if (!r.aggregate_result.empty()) entry["aggregate"] = r.aggregate_result;
    if (t.job.purge) entry["purged"] = r.purged;
  }
  if (!r.message.empty()) entry["message"] = r.message;
  std::string err;
  if (!Journal(cfg_.journal_path()).append(entry, &err))
    spdlog::log(level, "{}: journal: {}", t.name, err);

  // Ad-hoc runs of one module into different destinations are different series.
  std::vector<std::pair<std::string, std::string>> job{{"job", t.name}};
  if (t.adhoc) job.emplace_back("dest", t.job.dest);
  auto with_state = [&](const char* state) {
    auto l = job;
    l.emplace_back("state", state);
    return l;
  };
  auto now_s = static_cast<double>(
      std::chrono::duration_cast<std::chrono::seconds>(
          std::chrono::system_clock::now().time_since_epoch()).count());
  std::vector<Metric> m{
      {"hakit_sitesync_last_run_timestamp_seconds", "When the last run of the job ended",
       "gauge", job, now_s},
      {"hakit_sitesync_exit_code", "Exit code of the last run (0 ok, 1 failed, 2 refused)",
       "gauge", job, static_cast<double>(r.code)},
      {"hakit_sitesync_rounds", "Rounds of the last run", "gauge",
       with_state("run"), static_cast<double>(r.rounds_run)},
      {"hakit_sitesync_rounds", "Rounds of the last run", "gauge",
       with_state("skipped"), static_cast<double>(r.rounds_skipped)},
      {"hakit_sitesync_rounds", "Rounds of the last run", "gauge",
       with_state("failed"), static_cast<double>(r.rounds_failed)},
      {"hakit_sitesync_files_transferred", "Regular files transferred by the last run", "gauge",
       job, static_cast<double>(r.files)},
      {"hakit_sitesync_bytes_transferred", "Size of the files transferred by the last run",
       "gauge", job, static_cast<double>(r.bytes)},
      {"hakit_sitesync_entries_deleted", "Entries deleted by the last run", "gauge", job,
       static_cast<double>(r.deleted)},
      {"hakit_sitesync_duration_seconds", "Duration of the last run", "gauge", job,
       seconds(r.elapsed)},
  };
  if (!t.job.site_home.empty()) {
    m.push_back({"hakit_sitesync_archives_extracted", "getperf archives extracted by the last run",
                 "gauge", job, static_cast<double>(r.archives)});
    m.push_back({"hakit_sitesync_archives_refused",
                 "getperf archives refused (hostile or unreadable) by the last run", "gauge", job,
                 static_cast<double>(r.archives_refused)});
    m.push_back({"hakit_sitesync_files_extracted", "Files extracted by the last run", "gauge",
                 job, static_cast<double>(r.extracted)});
    m.push_back({"hakit_sitesync_aggregate_ok",
                 "1 when the last run's aggregation succeeded (or had nothing to do)", "gauge",
                 job, r.aggregate_result.empty() || r.aggregate_result == "ok" ? 1.0 : 0.0});
  }
  if (!write_metrics(cfg_.metrics_path() + "/sitesync." + t.lock_name + ".prom", m, &err))
    spdlog::log(level, "{}: metrics: {}", t.name, err);
}

void Syncer::remove_stale_metrics() const {
  if (cfg_.path.empty()) return;
  std::set<std::string> known;
  for (const auto& name : cfg_.entry_names("sync")) known.insert("sitesync." + job_lock_name(name) + ".prom");
  std::error_code ec;
  for (std::filesystem::directory_iterator it(cfg_.metrics_path(), ec), end; !ec && it != end;
       it.increment(ec)) {
    std::string f = it->path().filename().string();
    // Ad-hoc runs ("sitesync.dest.*") are not in the config; their files stay.
    if (f.rfind("sitesync.", 0) != 0 || f.rfind("sitesync.dest.", 0) == 0 ||
        f.size() < 14 || f.compare(f.size() - 5, 5, ".prom") != 0 || known.count(f))
      continue;
    std::error_code rm;
    if (std::filesystem::remove(it->path(), rm))
      spdlog::info("removed {}: its job is no longer in {}", it->path().string(), cfg_.path);
  }
}

ExitCode Syncer::run_all(const std::vector<Target>& targets) {
  remove_stale_metrics();
  ExitCode code = ExitCode::kSuccess;
  for (const auto& t : targets) code = worse(code, run(t).code);
  return code;
}

}  // namespace hakit::sitesync
