// check_mysql_slave: role-aware MySQL/MariaDB health for keepalived, operators and Nagios.
#include <cstdio>
#include <string>
#include <vector>

#include "check_mysql_slave/check_mysql_slave.hpp"
#include "common/exit_codes.hpp"
#include "common/log.hpp"

using namespace hakit;

int main(int argc, char** argv) {
  cli::CommonOptions common;
  check_mysql::Options opts;
  auto app = check_mysql::make_parser(&opts, &common);
  if (auto code = cli::parse(*app, argc, argv)) return *code;
  log::init("check_mysql_slave", common.verbosity);

  config::Config cfg;
  // Ad-hoc checks (host/socket on the command line) need no config; --check/--mysql do.
  bool needs_config = !opts.check_name.empty() || !opts.profile_name.empty();
  if (auto code = cli::load_config(common, &cfg, needs_config)) return *code;
  if (!cfg.path.empty()) log::configure(cfg.log, common.verbosity);

  std::string err;
  if (!check_mysql::resolve_options(cfg, std::vector<std::string>(argv + 1, argv + argc), &opts,
                                    &err)) {
    std::puts(CheckResult{State::kUnknown, err, {}}.render(check_mysql::kService).c_str());
    return static_cast<int>(State::kUnknown);
  }
  CheckResult result = check_mysql::run(opts);
  std::puts(result.render(check_mysql::kService).c_str());
  return check_exit_code(result.state, opts.check.warning_fails);
}
