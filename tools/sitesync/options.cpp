#include "sitesync/options.hpp"

#include <CLI/CLI.hpp>
#include <algorithm>

#include <fmt/format.h>

#include <cmath>
#include <cstdlib>
#include <set>

#include "sitesync/rsync.hpp"

namespace hakit::sitesync {

namespace {

const char* kExamples =
    "  cd /srv/site1 && sitesync -t 1 rsync://192.0.2.41/archive_site1\n"
    "      one round into /srv/site1/.rsync/archive_site1 (getperf form, by hand)\n"
    "  */5 * * * * cd /srv/site1 && sitesync rsync://192.0.2.41/archive_site1\n"
    "      cron: 9 rounds, one every 30 s, quiet\n"
    "  sitesync site1                 run the sync: job 'site1' from hakit.yaml\n"
    "  sitesync --all                 run every sync: job in turn\n"
    "  sitesync --estimate --bandwidth 10MB/s rsync://192.0.2.41/archive_site1/storage /srv/site1/storage\n"
    "      how much a first copy moves, and how long it takes at 10 MB/s\n"
    "  sitesync -n -v site1           dry run: what would change, nothing is touched\n"
    "Exit codes: 0 done (or skipped by a gate, or already running), 1 a transfer or the\n"
    "after-command failed, 2 a guard refused (max_delete, empty or shrunken source), 3 usage.\n";

// Options whose value is parsed by us (durations, sizes) rather than by CLI11.
template <typename T, typename Parse>
CLI::Option* add_parsed(CLI::App& app, const std::string& names, std::optional<T>* out,
                        Parse parse, const std::string& help, const std::string& type) {
  return app
      .add_option_function<std::string>(
          names,
          [out, parse, names](const std::string& text) {
            std::string err;
            auto v = parse(text, &err);
            if (!v) throw CLI::ValidationError(names, err);
            *out = *v;
          },
          help)
      ->type_name(type);
}

bool looks_like_source(const std::string& a) {
  return source_kind(a) != SourceKind::kLocal || a.find('/') != std::string::npos ||
         a == "." || a == "..";
}

std::string sanitize(const std::string& s) {
  std::string out;
  for (char c : s) out += (std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '.') ? c : '_';
  while (!out.empty() && (out.front() == '_' || out.front() == '.')) out.erase(0, 1);
  return out.empty() ? "root" : out;
}

std::string absolute(const std::string& path, const std::string& cwd) {
  if (!path.empty() && path.front() == '/') return path;
  std::string p = path;
  if (p == ".") p.clear();
  if (p.rfind("./", 0) == 0) p = p.substr(2);
  return p.empty() ? cwd : cwd + "/" + p;
}

void apply(const Options& o, config::SyncJob* j) {
  if (o.times) j->rounds = *o.times;
  if (o.interval) j->interval = *o.interval;
  if (o.disable_delete) j->delete_extraneous = false;
  if (!o.grep.empty()) j->grep = o.grep;
  if (o.timeout) j->timeout = *o.timeout;
  if (o.io_timeout) j->io_timeout = *o.io_timeout;
  if (o.contimeout) j->contimeout = *o.contimeout;
  if (o.max_delete) j->max_delete = *o.max_delete;
  if (o.min_source_fraction) j->min_source_fraction = *o.min_source_fraction;
  j->exclude.insert(j->exclude.end(), o.exclude.begin(), o.exclude.end());
  if (o.bwlimit) j->bwlimit = *o.bwlimit;
  if (!o.after.empty()) j->after = o.after;
  if (o.after_timeout) j->after_timeout = *o.after_timeout;
  if (o.ignore_failover_flag) j->skip_on_failover_flag = false;
  if (o.no_delay_updates) j->delay_updates = false;
  if (o.delay_updates) j->delay_updates = true;
  if (o.follow_dest_symlink) j->follow_dest_symlink = true;
  if (o.site_home) j->site_home = *o.site_home;
  if (!o.aggregate.empty()) j->aggregate = o.aggregate;
  if (o.getperf_home) j->getperf_home = *o.getperf_home;
  if (o.aggregate_timeout) j->aggregate_timeout = *o.aggregate_timeout;
  if (o.purge) j->purge = true;
  if (o.purge_analysis) j->purge_analysis = *o.purge_analysis;
  if (o.purge_summary) j->purge_summary = *o.purge_summary;
  if (o.purge_may_empty) j->purge_may_empty = true;
  if (o.no_extract) {
    j->site_home.clear();
    j->purge = false;
  }
}

}  // namespace

std::unique_ptr<CLI::App> make_cli(Options* o) {
  auto app = cli::make_app(
      "sitesync",
      "Pulls collected data with rsync, mirrored and guarded, then runs the after-command.\n"
      "Forms: sitesync JOB... | sitesync --all | sitesync [options] SOURCE... [DEST]\n"
      "SOURCE: rsync://host/module[/path], [user@]host:path (ssh) or a local path. Without\n"
      "DEST each source goes to ./.rsync/<module> (getperf form: run it from the site home).",
      kExamples, &o->common);
  app->add_option("args", o->args, "JOB names, or SOURCE... [DEST]")->type_name("ARGS");
  app->add_flag("--all", o->all, "Run every sync: job of the config");
  app->add_option_function<int>(
         "-t,--times", [o](const int& n) { o->times = n; },
         "Rounds per run (getperf -t; default 9 ad hoc, the job's rounds otherwise). "
         "The timeout is --timeout")
      ->type_name("N")
      ->check(CLI::Range(1, 1000));
  add_parsed<Millis>(*app, "--interval", &o->interval,
                     [](const std::string& t, std::string* e) { return parse_duration(t, e); },
                     "One round every SEC (default 30; '500ms', '1m' work too)", "SEC");
  app->add_flag("--disable-delete", o->disable_delete,
                "Do not delete what the source no longer has (no mirror)");
  app->add_option("--grep", o->grep, "Keep only names containing one of these keywords")
      ->delimiter(',')
      ->allow_extra_args(false)
      ->type_name("K1,K2");
  app->add_flag("-n,--dry-run", o->dry_run, "Show what would change; change nothing");
  app->add_flag("--estimate", o->estimate,
                "Dry run: print the files and bytes to transfer and the time it takes");
  add_parsed<std::uint64_t>(*app, "--bandwidth", &o->bandwidth,
                            [](const std::string& t, std::string* e) {
                              return config::parse_rate(t, e);
                            },
                            "Link speed for --estimate (default: the job's bwlimit)", "RATE");
  add_parsed<Millis>(*app, "--timeout", &o->timeout,
                     [](const std::string& t, std::string* e) { return parse_duration(t, e); },
                     "Hard limit of one rsync run (default 1h)", "DURATION");
  add_parsed<Millis>(*app, "--io-timeout", &o->io_timeout,
                     [](const std::string& t, std::string* e) { return parse_duration(t, e); },
                     "rsync --timeout: abort when no data moves this long (default 2m)",
                     "DURATION");
  add_parsed<Millis>(*app, "--contimeout", &o->contimeout,
                     [](const std::string& t, std::string* e) { return parse_duration(t, e); },
                     "Connection timeout (default 15s)", "DURATION");
  app->add_option_function<std::uint64_t>(
         "--max-delete", [o](const std::uint64_t& n) { o->max_delete = n; },
         "Refuse a round that would delete more entries")
      ->type_name("N");
  app->add_option_function<double>(
         "--min-source-fraction",
         [o](const double& f) {
           // "nan" passes CLI11's range check and would switch the guard off.
           if (!std::isfinite(f))
             throw CLI::ValidationError("--min-source-fraction", "must be a number from 0 to 1");
           o->min_source_fraction = f;
         },
         "Refuse to delete when the source holds less than this fraction of dest (0.5)")
      ->type_name("F")
      ->check(CLI::Range(0.0, 1.0));
  app->add_option("--exclude", o->exclude, "rsync exclude pattern (repeatable)")
      ->allow_extra_args(false)
      ->type_name("PATTERN");
  add_parsed<std::uint64_t>(*app, "--bwlimit", &o->bwlimit,
                            [](const std::string& t, std::string* e) {
                              return config::parse_rate(t, e);
                            },
                            "Bandwidth limit ('10MB/s')", "RATE");
  app->add_option_function<std::string>(
         "--after", [o](const std::string& p) { o->after.insert(o->after.begin(), p); },
         "After-command program, run after each successful round")
      ->type_name("PROG");
  app->add_option_function<std::vector<std::string>>(
         "--after-arg",
         [o](const std::vector<std::string>& v) { o->after.insert(o->after.end(), v.begin(), v.end()); },
         "An argument of the after-command (repeatable)")
      ->type_name("ARG")
      ->allow_extra_args(false);
  add_parsed<Millis>(*app, "--after-timeout", &o->after_timeout,
                     [](const std::string& t, std::string* e) { return parse_duration(t, e); },
                     "Hard limit of the after-command (default 10m)", "DURATION");
  app->add_flag("--ignore-failover-flag", o->ignore_failover_flag,
                "Run even while the failover flag is set");
  app->add_flag("--delay-updates", o->delay_updates,
                "All files of a pass appear together at its end (rsync --delay-updates; costs "
                "rsync a second rename per file)");
  app->add_flag("--no-delay-updates", o->no_delay_updates,
                "Files appear one by one, each complete (the default; overrides "
                "delay_updates: true)");
  app->add_flag("--progress", o->progress, "Show rsync progress even when not on a terminal");
  app->add_flag("--no-progress", o->no_progress, "No progress, even on a terminal");
  app->add_flag("--follow-dest-symlink", o->follow_dest_symlink,
                "Allow a destination that is a symlink (refused by default)");
  app->add_option_function<std::string>(
         "--site-home", [o](const std::string& d) { o->site_home = d; },
         "getperf site home: arc_*.zip archives are extracted into DIR/analysis/<agent>/ "
         "(default for SOURCE forms: the current directory)")
      ->type_name("DIR");
  app->add_flag("--no-extract", o->no_extract,
                "Copy only: no archive extraction, aggregation or purge");
  app->add_option_function<std::string>(
         "--aggregate", [o](const std::string& p) { o->aggregate.insert(o->aggregate.begin(), p); },
         "Aggregation program; the extracted files are appended to its arguments")
      ->type_name("PROG");
  app->add_option_function<std::vector<std::string>>(
         "--aggregate-arg",
         [o](const std::vector<std::string>& v) {
           o->aggregate.insert(o->aggregate.end(), v.begin(), v.end());
         },
         "An argument of the aggregation program (repeatable)")
      ->type_name("ARG")
      ->allow_extra_args(false);
  app->add_option_function<std::string>(
         "--getperf-home", [o](const std::string& d) { o->getperf_home = d; },
         "Aggregate with DIR/script/sumup (default: $GETPERF_HOME when set)")
      ->type_name("DIR");
  add_parsed<Millis>(*app, "--aggregate-timeout", &o->aggregate_timeout,
                     [](const std::string& t, std::string* e) { return parse_duration(t, e); },
                     "Hard limit of one aggregation command (default 10m)", "DURATION");
  app->add_flag("--purge", o->purge,
                "getperf --purge: remove analysis/ and summary/ time directories older than "
                "the retention (1h by default)");
  add_parsed<Millis>(*app, "--purge-analysis", &o->purge_analysis,
                     [](const std::string& t, std::string* e) { return parse_duration(t, e); },
                     "Retention of analysis/ for --purge (default 1h)", "DURATION");
  add_parsed<Millis>(*app, "--purge-summary", &o->purge_summary,
                     [](const std::string& t, std::string* e) { return parse_duration(t, e); },
                     "Retention of summary/ for --purge (default 1h)", "DURATION");
  app->add_flag("--purge-may-empty", o->purge_may_empty,
                "Let --purge remove every time directory (refused by default)");
  return app;
}

std::string job_lock_name(const std::string& job) { return sanitize(job); }

bool config_required(const Options& o) {
  if (o.common.check_config) return false;
  return o.all || o.args.empty() || !looks_like_source(o.args.front());
}

bool resolve_targets(const Options& o, const config::Document& cfg, const std::string& cwd,
                     std::vector<Target>* out, std::string* err) {
  out->clear();
  // Only the jobs asked for are read (strictly): a problem elsewhere in the shared file is
  // not this run's.
  const std::vector<std::string> jobs = cfg.entry_names("sync");
  auto is_job = [&](const std::string& name) {
    return std::find(jobs.begin(), jobs.end(), name) != jobs.end();
  };
  auto read_job = [&](const std::string& name) {
    config::Diagnostics diag(cfg.where());
    config::SyncJob job;
    if (!config::read_sync_job(cfg, name, &job, &diag)) {
      *err = fmt::format("sync job {}: config is not valid:\n{}", name, diag.render());
      if (!err->empty() && err->back() == '\n') err->pop_back();
      return false;
    }
    out->push_back({name, sanitize(name), job, false});
    return true;
  };
  if (o.all) {
    if (!o.args.empty()) {
      *err = "--all takes no JOB or SOURCE arguments";
      return false;
    }
    if (jobs.empty()) {
      *err = fmt::format("--all: the config {} has no sync: jobs",
                         cfg.path.empty() ? "(none loaded)" : cfg.path);
      return false;
    }
    for (const auto& name : jobs)
      if (!read_job(name)) return false;
  } else if (o.args.empty()) {
    *err = "nothing to do: name a JOB, --all, or a SOURCE (see --help)";
    return false;
  } else if (is_job(o.args.front()) || !looks_like_source(o.args.front())) {
    for (const auto& a : o.args) {
      if (!is_job(a)) {
        *err = config::missing_entry(cfg, "sync: job named", a, jobs);
        return false;
      }
      if (!read_job(a)) return false;
    }
  } else {
    // Ad hoc: SOURCE... [DEST]. The last argument is DEST when it is a local path and there
    // is more than one argument.
    std::vector<std::string> sources = o.args;
    std::string dest;
    if (sources.size() > 1 && source_kind(sources.back()) == SourceKind::kLocal) {
      dest = sources.back();
      sources.pop_back();
    }
    for (const auto& s : sources) {
      if (!looks_like_source(s) || is_job(s)) {
        *err = fmt::format("'{}' mixes a job name with sources; give jobs or sources", s);
        return false;
      }
      if (s.front() == '-') {
        *err = fmt::format("'{}' is not a source", s);
        return false;
      }
    }
    config::SyncJob base;
    // getperf's sitesync runs from the site home and extracts into its analysis/.
    base.site_home = cwd;
    base.rounds = kGetperfRounds;
    base.interval = kGetperfInterval;
    if (!dest.empty()) {
      base.sources = sources;
      for (auto& s : base.sources)
        if (source_kind(s) == SourceKind::kLocal) s = absolute(s, cwd);
      base.dest = absolute(dest, cwd);
      std::string name = default_dest_name(sources.front());
      out->push_back({name.empty() ? "adhoc" : name, "dest." + sanitize(base.dest), base, true});
    } else {
      for (const auto& s : sources) {
        std::string name = default_dest_name(s);
        if (source_kind(s) == SourceKind::kLocal) {
          *err = fmt::format("the local source '{}' needs a DEST", s);
          return false;
        }
        if (name.empty()) {
          *err = fmt::format("cannot name a destination for '{}'; give a DEST", s);
          return false;
        }
        config::SyncJob j = base;
        j.sources = {s};
        j.dest = cwd + "/.rsync/" + name;
        out->push_back({name, "dest." + sanitize(j.dest), j, true});
      }
    }
  }
  for (auto& t : *out) {
    apply(o, &t.job);
    if (!t.job.site_home.empty()) t.job.site_home = absolute(t.job.site_home, cwd);
    if (t.job.getperf_home.empty() && !t.job.site_home.empty())
      if (const char* home = std::getenv("GETPERF_HOME"); home && *home) t.job.getperf_home = home;
    if (t.job.purge && t.job.site_home.empty()) {
      *err = fmt::format("{}: --purge needs a getperf site home (site_home, or --site-home)", t.name);
      return false;
    }
  }
  return true;
}

}  // namespace hakit::sitesync
