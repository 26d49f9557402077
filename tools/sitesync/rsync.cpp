#include "sitesync/rsync.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <sstream>

namespace hakit::sitesync {

namespace {

bool starts_with(const std::string& s, const std::string& p) { return s.rfind(p, 0) == 0; }

std::string seconds_arg(Millis d) {
  // rsync takes whole seconds; round up so "1500ms" never becomes a shorter limit.
  return std::to_string(std::max<long long>(1, (d.count() + 999) / 1000));
}

// "1,234,567" or "1.234.567" (rsync's thousands separators follow the locale) → 1234567.
std::uint64_t number_at(const std::string& text, std::size_t pos) {
  std::uint64_t v = 0;
  while (pos < text.size() && text[pos] == ' ') ++pos;
  for (; pos < text.size(); ++pos) {
    char c = text[pos];
    if (c >= '0' && c <= '9') {
      v = v * 10 + static_cast<std::uint64_t>(c - '0');
    } else if ((c == ',' || c == '.') && pos + 1 < text.size() && text[pos + 1] >= '0' &&
               text[pos + 1] <= '9') {
      continue;
    } else {
      break;
    }
  }
  return v;
}

// The value after "label" on its line, and the "reg: N" inside the parentheses after it.
bool find_figure(const std::string& line, const std::string& label, std::uint64_t* v,
                 std::uint64_t* reg = nullptr) {
  auto p = line.find(label);
  if (p == std::string::npos) return false;
  *v = number_at(line, p + label.size());
  if (reg) {
    auto r = line.find("reg: ", p);
    *reg = r == std::string::npos ? 0 : number_at(line, r + 5);
  }
  return true;
}

// A log-file line without its "YYYY/MM/DD HH:MM:SS [pid] " prefix.
std::string strip_log_prefix(const std::string& line) {
  if (line.size() > 22 && line[4] == '/' && line[7] == '/' && line[10] == ' ') {
    auto p = line.find("] ");
    if (p != std::string::npos) return line.substr(p + 2);
  }
  return line;
}

// An itemize string: "YXcstpoguax" (11 characters) whose update type is one of <>ch.*
bool is_itemize(const std::string& t) {
  return t.size() == 11 && std::string("<>ch.*").find(t[0]) != std::string::npos &&
         std::string("fdLDS").find(t[1]) != std::string::npos;
}

}  // namespace

SourceKind source_kind(const std::string& s) {
  if (starts_with(s, "rsync://") || s.find("::") != std::string::npos) return SourceKind::kDaemon;
  auto colon = s.find(':');
  auto slash = s.find('/');
  if (colon != std::string::npos && colon > 0 && (slash == std::string::npos || colon < slash))
    return SourceKind::kSsh;
  return SourceKind::kLocal;
}

std::string default_dest_name(const std::string& source) {
  std::string path;
  switch (source_kind(source)) {
    case SourceKind::kDaemon:
      if (starts_with(source, "rsync://")) {
        auto rest = source.substr(8);
        auto slash = rest.find('/');
        path = slash == std::string::npos ? "" : rest.substr(slash + 1);
      } else {
        path = source.substr(source.find("::") + 2);
      }
      // The module is the first component of the path.
      path = path.substr(0, path.find('/'));
      return path;
    case SourceKind::kSsh:
      path = source.substr(source.find(':') + 1);
      break;
    case SourceKind::kLocal:
      path = source;
      break;
  }
  while (!path.empty() && path.back() == '/') path.pop_back();
  auto slash = path.rfind('/');
  path = slash == std::string::npos ? path : path.substr(slash + 1);
  return path == "." || path == ".." ? "" : path;
}

std::string contents_of(const std::string& source) {
  if (!source.empty() && source.back() == '/') return source;
  // "host::module" and "rsync://host/module" name the module's contents either way.
  return source + "/";
}

std::vector<std::string> build_rsync_argv(const config::SyncJob& job, Pass pass,
                                          const PassOptions& opt) {
  std::vector<std::string> a{job.rsync.empty() ? "rsync" : job.rsync, "--archive"};
  const bool dry = pass == Pass::kProbe || pass == Pass::kDryRun || pass == Pass::kEstimate;
  if (dry) a.push_back("--dry-run");
  // Plain numbers are what parse_stats reads; a terminal gets human-readable progress.
  if (!opt.progress || dry) a.push_back("--no-human-readable");
  switch (pass) {
    case Pass::kCopy:
      if (opt.probe_deletes && job.delete_extraneous) {
        // Counts what a mirror would delete (exit 25) without deleting anything.
        a.push_back("--delete");
        a.push_back("--max-delete=0");
      }
      break;
    case Pass::kProbe:
      a.push_back("--delete");
      a.push_back("--stats");
      break;
    case Pass::kDelete:
      a.push_back("--delete-delay");
      if (job.max_delete) a.push_back(fmt::format("--max-delete={}", *job.max_delete));
      break;
    case Pass::kDryRun:
      if (job.delete_extraneous) a.push_back("--delete");
      a.push_back("--stats");
      a.push_back(std::string("--out-format=") + kLogFormat);
      break;
    case Pass::kEstimate:
      if (job.delete_extraneous) a.push_back("--delete");
      a.push_back("--stats");
      break;
  }
  if (opt.stats && (pass == Pass::kCopy || pass == Pass::kDelete)) a.push_back("--stats");
  if (opt.progress && !dry) a.push_back("--info=progress2");
  if (!opt.log_file.empty()) {
    a.push_back("--log-file=" + opt.log_file);
    a.push_back(std::string("--log-file-format=") + kLogFormat);
  }
  if (job.io_timeout.count() > 0) a.push_back("--timeout=" + seconds_arg(job.io_timeout));
  bool daemon = false, ssh = false;
  for (const auto& s : job.sources) {
    daemon |= source_kind(s) == SourceKind::kDaemon;
    ssh |= source_kind(s) == SourceKind::kSsh;
  }
  if (daemon && job.contimeout.count() > 0)
    a.push_back("--contimeout=" + seconds_arg(job.contimeout));
  if (ssh) {
    // rsync splits this string itself; no shell is involved. BatchMode: never prompt.
    a.push_back("--rsh=" + (job.rsh.empty()
                                ? "ssh -o BatchMode=yes -o ConnectTimeout=" +
                                      seconds_arg(job.contimeout.count() ? job.contimeout
                                                                         : Millis(15000))
                                : job.rsh));
  }
  if (job.bwlimit) a.push_back(fmt::format("--bwlimit={}", std::max<std::uint64_t>(1, *job.bwlimit / 1024)));
  if (!job.partial_dir.empty()) {
    // Never sent, never deleted (an exclude protects it from --delete).
    a.push_back("--exclude=/" + job.partial_dir + "/");
    // With --delay-updates, finished files wait in PARTIAL_DIR of their directory and move
    // into place together at the end. Costs rsync a lookup per file even on a no-op.
    if (job.delay_updates) {
      a.push_back("--partial-dir=" + job.partial_dir);
      a.push_back("--delay-updates");
    }
  }
  // rsync's own temp files (".NAME.XXXXXX" beside NAME, renamed over it when complete) keep
  // half-written data away from the real names. No --temp-dir: a rename across directories
  // and rsync's checks of the temp dir cost ~2x the syscalls of a small-file copy. A SIGKILL
  // leaves the dot-files behind; the next run sweeps them (Syncer::remove_stale_temp_files).
  for (const auto& e : job.exclude) a.push_back("--exclude=" + e);
  if (!job.grep.empty()) {
    // Keep directories (to reach the files), names containing a keyword anywhere in their
    // path ("**" matches across '/'), nothing else; empty directories are pruned.
    a.push_back("--include=*/");
    for (const auto& k : job.grep) a.push_back("--include=**" + k + "**");
    a.push_back("--exclude=*");
    a.push_back("--prune-empty-dirs");
  }
  a.insert(a.end(), job.extra_args.begin(), job.extra_args.end());
  for (const auto& s : job.sources) a.push_back(contents_of(s));
  std::string dest = job.dest;
  if (dest.empty() || dest.back() != '/') dest += '/';
  a.push_back(dest);
  return a;
}

std::string describe_rsync_exit(int code) {
  const char* what = nullptr;
  switch (code) {
    case 0: what = "success"; break;
    case 1: what = "syntax or usage error"; break;
    case 2: what = "protocol incompatibility"; break;
    case 3: what = "errors selecting input/output files, dirs"; break;
    case 5: what = "error starting client-server protocol (unknown module?)"; break;
    case 10: what = "error in socket I/O (source unreachable?)"; break;
    case 11: what = "error in file I/O"; break;
    case 12: what = "error in rsync protocol data stream"; break;
    case 20: what = "received SIGUSR1 or SIGINT"; break;
    case 23: what = "partial transfer due to error"; break;
    case 24: what = "partial transfer due to vanished source files"; break;
    case 25: what = "the --max-delete limit stopped deletions"; break;
    case 30: what = "timeout in data send/receive"; break;
    case 35: what = "timeout waiting for daemon connection"; break;
    default: what = "rsync error"; break;
  }
  return fmt::format("rsync exit {}: {}", code, what);
}

RsyncStats parse_stats(const std::string& text) {
  RsyncStats s;
  std::istringstream in(text);
  std::string raw;
  while (std::getline(in, raw)) {
    std::string line = strip_log_prefix(raw);
    if (find_figure(line, "Number of files: ", &s.entries, &s.regular)) {
      s.found = true;
    } else if (find_figure(line, "Number of created files: ", &s.created)) {
    } else if (find_figure(line, "Number of deleted files: ", &s.deleted)) {
    } else if (find_figure(line, "Number of regular files transferred: ", &s.transferred)) {
    } else if (find_figure(line, "Total transferred file size: ", &s.transferred_size)) {
    } else if (find_figure(line, "Total file size: ", &s.total_size)) {
    } else if (find_figure(line, "Total bytes sent: ", &s.bytes_sent)) {
    } else if (find_figure(line, "Total bytes received: ", &s.bytes_received)) {
    }
  }
  return s;
}

std::string unescape_name(const std::string& name) {
  std::string out;
  for (std::size_t i = 0; i < name.size(); ++i) {
    if (name[i] == '\\' && i + 4 < name.size() + 0 && name[i + 1] == '#' &&
        std::isdigit(static_cast<unsigned char>(name[i + 2])) &&
        std::isdigit(static_cast<unsigned char>(name[i + 3])) &&
        std::isdigit(static_cast<unsigned char>(name[i + 4]))) {
      int c = (name[i + 2] - '0') * 64 + (name[i + 3] - '0') * 8 + (name[i + 4] - '0');
      if (c != '\n' && c > 0 && c < 256) {
        out += static_cast<char>(c);
        i += 4;
        continue;
      }
    }
    out += name[i];
  }
  return out;
}

ChangeList parse_log_file(const std::string& text) {
  ChangeList c;
  std::istringstream in(text);
  std::string raw;
  while (std::getline(in, raw)) {
    std::string line = strip_log_prefix(raw);
    if (starts_with(line, "rsync: ") || starts_with(line, "rsync error: ")) {
      c.errors.push_back(line);
      continue;
    }
    // "ITEMS LENGTH NAME": the name may contain spaces, so split off two fields only.
    auto sp = line.find(' ');
    if (sp == std::string::npos) continue;
    std::string item = line.substr(0, sp);
    auto len_start = line.find_first_not_of(' ', sp);
    if (len_start == std::string::npos) continue;
    auto len_end = line.find(' ', len_start);
    if (len_end == std::string::npos) continue;
    std::string name = unescape_name(line.substr(len_end + 1));
    if (item == "*deleting") {
      c.deleted.push_back(name);
      continue;
    }
    if (!is_itemize(item) || item[0] == '*') continue;
    // Only files that arrived ('>' received); '.', 'c', 'h' are attribute-only or links.
    if (item[1] != 'f' || item[0] != '>') continue;
    std::uint64_t len = number_at(line, len_start);
    ++c.files;
    c.bytes += len;
    c.changed_files.push_back(name);
    if (item.find_first_not_of('+', 2) == std::string::npos) c.new_files.push_back(name);
  }
  return c;
}

}  // namespace hakit::sitesync
