// The getperf step of a round (getperf's Sync.pm: unzip, aggrigate, purge): the archives
// rsync brought in this round are extracted, the site's aggregation gets the extracted
// files, and --purge applies the retention.
#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <ctime>
#include <filesystem>

#include "sitesync/getperf.hpp"
#include "sitesync/sitesync.hpp"

namespace hakit::sitesync {

namespace {

// Keeps each aggregation command line well under ARG_MAX (a first copy extracts thousands).
constexpr std::size_t kArgvBytes = 128 * 1024;

std::string tail_line(const std::string& text) {
  auto end = text.find_last_not_of("\n ");
  if (end == std::string::npos) return "";
  auto start = text.rfind('\n', end);
  start = start == std::string::npos ? 0 : start + 1;
  return text.substr(start, end - start + 1);
}

}  // namespace

SiteStep Syncer::site_step(const Target& t, const std::vector<std::string>& changed,
                           std::string* why, ExitCode* code) {
  SiteStep s;
  const std::string analysis = t.job.site_home + "/analysis";
  ExtractLimits limits;
  limits.max_entry_size = t.job.extract_max_size;
  limits.max_total_size = std::max(limits.max_total_size, limits.max_entry_size);
  for (const auto& name : changed) {
    // getperf takes the archives at the top of the module (`^arc_.*\.zip$` in rsync's list).
    if (name.find('/') != std::string::npos) continue;
    auto arc = parse_archive_name(name);
    if (!arc) continue;
    std::string zip = t.job.dest + "/" + name;
    std::error_code ec;
    if (!std::filesystem::is_regular_file(zip, ec)) continue;  // not in place (failed pass)
    std::vector<std::string> files;
    std::string err;
    if (!extract_archive(zip, analysis + "/" + arc->agent, limits, &files, &err)) {
      spdlog::error("{}: {}", t.name, err);
      ++s.archives_refused;
      *code = ExitCode::kFailed;
      *why = (why->empty() ? "" : *why + "; ") + err;
      continue;
    }
    ++s.archives;
    spdlog::debug("{}: extracted {} ({} files) into {}/{}", t.name, name, files.size(), analysis,
                  arc->agent);
    for (auto& f : files) s.files.push_back(analysis + "/" + arc->agent + "/" + f);
  }
  if (s.archives)
    spdlog::info("{}: extracted {} archive{} ({} files) into {}", t.name, s.archives,
                 s.archives == 1 ? "" : "s", s.files.size(), analysis);
  if (!s.files.empty() && !termination_signal()) {
    std::string err;
    if (!aggregate(t, s.files, &s, &err)) {
      *code = ExitCode::kFailed;
      *why = (why->empty() ? "" : *why + "; ") + err;
    }
  }
  if (t.job.purge && !termination_signal()) {
    std::string err;
    ExitCode pc = ExitCode::kSuccess;
    if (!purge(t, &s, &err, &pc)) {
      *code = static_cast<int>(pc) > static_cast<int>(*code) ? pc : *code;
      *why = (why->empty() ? "" : *why + "; ") + err;
    }
  }
  return s;
}

bool Syncer::aggregate(const Target& t, const std::vector<std::string>& files, SiteStep* s,
                       std::string* why) {
  std::vector<std::string> base = t.job.aggregate;
  if (base.empty() && !t.job.getperf_home.empty()) base = {t.job.getperf_home + "/script/sumup"};
  if (base.empty()) {
    spdlog::debug("{}: no aggregation command (aggregate, or GETPERF_HOME)", t.name);
    return true;
  }
  std::size_t next = 0;
  while (next < files.size()) {
    ProcessSpec spec;
    spec.argv = base;
    std::size_t bytes = 0;
    while (next < files.size() && (bytes == 0 || bytes + files[next].size() < kArgvBytes)) {
      bytes += files[next].size() + 1;
      spec.argv.push_back(files[next++]);
    }
    spec.cwd = t.job.site_home;
    spec.timeout = t.job.aggregate_timeout;
    spec.die_with_parent = true;
    // getperf's sumup finds its site from SITEHOME (its wrapper asks git from the cwd).
    spec.env_extra = {"SITEHOME=" + t.job.site_home, "HAKIT_SYNC_JOB=" + t.name,
                      "HAKIT_SYNC_DEST=" + t.job.dest};
    spdlog::debug("{}: aggregation: {} ({} files)", t.name, format_argv(base),
                  spec.argv.size() - base.size());
    ProcessResult p = runner_.run(spec);
    ++s->aggregate_runs;
    std::string out = tail_line(p.out);
    std::string err = tail_line(p.err);
    if (!out.empty()) spdlog::info("{}: aggregation output: {}", t.name, out);
    if (!p.ok()) {
      s->aggregate_result =
          fmt::format("{} {}{}", format_argv(base), p.describe(), err.empty() ? "" : ": " + err);
      *why = "aggregation " + s->aggregate_result;
      return false;
    }
    if (!err.empty()) spdlog::info("{}: aggregation stderr: {}", t.name, err);
    spdlog::info("{}: aggregation of {} files done in {}", t.name, spec.argv.size() - base.size(),
                 format_duration(p.elapsed));
  }
  s->aggregate_result = "ok";
  return true;
}

bool Syncer::purge(const Target& t, SiteStep* s, std::string* why, ExitCode* code) {
  std::time_t now = std::time(nullptr);
  const std::pair<const char*, Millis> trees[] = {{"analysis", t.job.purge_analysis},
                                                  {"summary", t.job.purge_summary}};
  for (const auto& [tree, keep] : trees) {
    std::string root = t.job.site_home + "/" + tree;
    std::error_code ec;
    if (!std::filesystem::is_directory(root, ec)) continue;
    PurgeCutoff cut = purge_cutoff(now, keep.count() / 1000);
    PurgePlan plan = plan_purge(root, cut);
    if (plan.remove.empty()) continue;
    // Guarded like deletions: a clock far ahead, or collection stopped, must not wipe the
    // whole tree; a large purge stays within max_delete.
    if (plan.kept == 0 && !t.job.purge_may_empty) {
      *code = ExitCode::kRefused;
      *why = fmt::format(
          "purge of {} refused: it would remove all {} time directories (older than "
          "{}/{}; collection stopped, or the clock is wrong?); purge_may_empty: "
          "true or --purge-may-empty allows it",
          root, plan.remove.size(), cut.date, cut.time);
      return false;
    }
    if (t.job.max_delete && plan.remove.size() > *t.job.max_delete) {
      *code = ExitCode::kRefused;
      *why = fmt::format(
          "purge of {} refused: {} directories, more than max_delete {} (raise "
          "max_delete or --max-delete)",
          root, plan.remove.size(), *t.job.max_delete);
      return false;
    }
    std::string err;
    bool ok = apply_purge(plan, &err);
    s->purged += plan.remove.size();
    spdlog::info("{}: purge {} [< {}/{}], count={}", t.name, root, cut.date, cut.time,
                 plan.remove.size());
    if (!ok) {
      *code = ExitCode::kFailed;
      *why = "purge: " + err;
      return false;
    }
  }
  return true;
}

}  // namespace hakit::sitesync
