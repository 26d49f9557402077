// check_mysql_slave: role-aware MySQL/MariaDB health for keepalived, operators and Nagios.
#include <CLI/CLI.hpp>
#include <cstdio>
#include <string>
#include <vector>

#include "check_mysql_slave/check_mysql_slave.hpp"
#include "common/exit_codes.hpp"
#include "common/log.hpp"
#include "sections.hpp"

using namespace hakit;

int main(int argc, char** argv) {
  cli::CommonOptions common;
  check_mysql::Options opts;
  auto app = check_mysql::make_parser(&opts, &common);
  common.service = check_mysql::kService;
  if (auto code = cli::parse(*app, argc, argv, common.service)) return *code;
  log::init("check_mysql_slave", common.verbosity);

  config::Document doc;
  // Ad-hoc checks (host/socket on the command line) need no config; --check/--mysql do, and
  // read only their own entries.
  bool needs_config = !opts.check_name.empty() || !opts.profile_name.empty();
  if (auto code = cli::load_config(common, sections::all(), &doc, needs_config)) return *code;
  if (doc.loaded()) log::configure(doc.log, common.verbosity);

  std::string err;
  if (!check_mysql::resolve_options(doc, std::vector<std::string>(argv + 1, argv + argc), &opts,
                                    &err))
    return cli::unknown(common, err);
  CheckResult result = check_mysql::run(opts);
  std::puts(result.render(check_mysql::kService).c_str());
  return check_exit_code(result.state, opts.check.warning_fails);
}
