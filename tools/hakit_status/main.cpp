// hakit-status: this node's roles, VIPs, failover flag, sync jobs and journal, for operators.
#include <CLI/CLI.hpp>
#include <unistd.h>

#include <cstdio>
#include <ctime>

#include "common/cli.hpp"
#include "common/exit_codes.hpp"
#include "common/log.hpp"
#include "hakit_status/status.hpp"
#include "sections.hpp"

using namespace hakit;

int main(int argc, char** argv) {
  cli::CommonOptions common;
  status::Options opts;
  auto app = cli::make_app(
      "hakit-status",
      "Operator view of this node's hakit state. Shows per instance the recorded role, whether "
      "the VIP is here, the guard check's last verdict and, with an arbiter, the lease as this "
      "node's renewer recorded it (etcd is not asked); the failover flag, the last run of each "
      "sync job and the last journal entries. Reads only (--write-metrics aside).",
      "  hakit-status                      tables for a terminal\n"
      "  hakit-status -n 50 --instance VI_1\n"
      "  hakit-status --json | jq .failover_flag\n"
      "  hakit-status --write-metrics      also refresh hakit_status.prom (cron)\n"
      "  hakit-status --check              one Nagios line, exit 0/1/2/3 (NRPE, Icinga)\n",
      &common);
  app->add_option("-n,--entries", opts.entries, "Journal entries to show (default 10)")
      ->type_name("N");
  app->add_option("--instance", opts.instance, "Only this VRRP instance")->type_name("NAME");
  app->add_flag("--json", opts.json, "One JSON document instead of tables");
  app->add_flag("--check", opts.check,
                "Nagios plugin: one line, CRITICAL on a failed promotion, suspected split brain, "
                "a CRITICAL guard or two VIP holders, WARNING on the failover flag, a role/VIP "
                "mismatch or a master without its arbiter lease");
  app->add_flag("--write-metrics", opts.write_metrics,
                "Also write METRICS_DIR/hakit_status.prom (node_exporter textfile)");
  if (auto code = cli::parse(*app, argc, argv)) return *code;
  log::init("hakit-status", common.verbosity);

  config::Document cfg;
  if (auto code = cli::load_config(common, sections::all(), &cfg, false)) return *code;
  if (!opts.instance.empty() && !cfg.entry("instances", opts.instance).IsDefined()) {
    std::fprintf(stderr, "hakit-status: no instance named '%s' in %s\n", opts.instance.c_str(),
                 common.config_path.c_str());
    return static_cast<int>(ExitCode::kUsage);
  }
  auto report = status::collect(cfg, opts, status::local_address_present);
  if (opts.check) {
    CheckResult res = status::check_report(report);
    std::puts(res.render(status::kCheckService).c_str());
    return static_cast<int>(res.state);
  }
  if (opts.json) {
    std::puts(status::to_json(report).dump(2, ' ', false, Json::error_handler_t::replace).c_str());
  } else {
    std::fputs(status::render_table(report, std::time(nullptr)).c_str(), stdout);
  }
  std::string err;
  if (opts.write_metrics && !status::write_status_metrics(cfg, report, &err)) {
    std::fprintf(stderr, "hakit-status: %s\n", err.c_str());
    return static_cast<int>(ExitCode::kFailed);
  }
  return static_cast<int>(ExitCode::kSuccess);
}
