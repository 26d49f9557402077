// sitesync: cron's rsync pull of collected data, guarded, then the after-command.
#include <CLI/CLI.hpp>
#include <unistd.h>

#include <cstdio>
#include <filesystem>

#include "common/exit_codes.hpp"
#include "common/log.hpp"
#include "sections.hpp"
#include "sitesync/sitesync.hpp"

using namespace hakit;

int main(int argc, char** argv) {
  sitesync::Options opts;
  auto app = sitesync::make_cli(&opts);
  if (auto code = cli::parse(*app, argc, argv)) return *code;
  log::init("sitesync", opts.common.verbosity);

  config::Document cfg;
  // The getperf form runs from a site home with no hakit.yaml; JOB and --all need one.
  // A site user cannot read root's 0600 default config: the ad-hoc form runs without it.
  bool required = sitesync::config_required(opts);
  if (auto code = cli::load_config(opts.common, sections::all(), &cfg, required)) return *code;
  if (cfg.loaded()) log::configure(cfg.log, opts.common.verbosity);

  std::error_code ec;
  std::string cwd = std::filesystem::current_path(ec).string();
  std::vector<sitesync::Target> targets;
  std::string err;
  if (!sitesync::resolve_targets(opts, cfg, cwd, &targets, &err)) {
    std::fprintf(stderr, "sitesync: %s\n", err.c_str());
    return static_cast<int>(ExitCode::kUsage);
  }
  sitesync::RunMode mode;
  mode.dry_run = opts.dry_run;
  mode.estimate = opts.estimate;
  mode.bandwidth = opts.bandwidth;
  mode.progress = !opts.no_progress && (opts.progress || isatty(STDOUT_FILENO));
  mode.stderr_summary = !isatty(STDERR_FILENO) && opts.common.verbosity == 0;
  mode.verbosity = opts.common.verbosity;
  // Ctrl-C, cron's or a notify timeout's SIGTERM, SIGHUP: passed to rsync, waited for.
  forward_termination_signals();
  SystemProcessRunner runner;
  sitesync::SystemHostView host(cfg.state_dir);
  sitesync::SystemClock clock;
  sitesync::Syncer syncer(cfg, runner, host, clock, mode);
  return static_cast<int>(syncer.run_all(targets));
}
