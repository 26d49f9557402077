// check_http_200: the HTTP health check keepalived's vrrp_script, operators and Nagios run.
#include <cstdio>
#include <string>
#include <vector>

#include "check_http_200/check_http_200.hpp"
#include "common/exit_codes.hpp"
#include "common/log.hpp"

using namespace hakit;

int main(int argc, char** argv) {
  cli::CommonOptions common;
  check_http::Options opts;
  auto app = check_http::make_parser(&opts, &common);
  if (auto code = cli::parse(*app, argc, argv)) return *code;
  log::init("check_http_200", common.verbosity);

  config::Config cfg;
  // Ad-hoc checks (a URL on the command line) need no config; --check NAME does.
  if (auto code = cli::load_config(common, &cfg, !opts.check_name.empty())) return *code;
  if (!cfg.path.empty()) log::configure(cfg.log, common.verbosity);

  std::string err;
  if (!check_http::resolve_options(cfg, std::vector<std::string>(argv + 1, argv + argc), &opts,
                                   &err)) {
    std::puts(CheckResult{State::kUnknown, err, {}}.render(check_http::kService).c_str());
    return static_cast<int>(State::kUnknown);
  }
  CheckResult result = check_http::run(opts, common.verbosity);
  std::puts(result.render(check_http::kService).c_str());
  return check_exit_code(result.state, opts.check.warning_fails);
}
