// check_http_200: the HTTP health check keepalived's vrrp_script, operators and Nagios run.
#include <CLI/CLI.hpp>
#include <cstdio>
#include <string>
#include <vector>

#include "check_http_200/check_http_200.hpp"
#include "common/exit_codes.hpp"
#include "common/log.hpp"
#include "sections.hpp"

using namespace hakit;

int main(int argc, char** argv) {
  cli::CommonOptions common;
  check_http::Options opts;
  auto app = check_http::make_parser(&opts, &common);
  common.service = check_http::kService;
  if (auto code = cli::parse(*app, argc, argv, common.service)) return *code;
  log::init("check_http_200", common.verbosity);

  config::Document doc;
  // Ad-hoc checks (a URL on the command line) need no config; --check NAME does, and reads
  // only its own entry.
  if (auto code = cli::load_config(common, sections::all(), &doc, !opts.check_name.empty()))
    return *code;
  if (doc.loaded()) log::configure(doc.log, common.verbosity);

  std::string err;
  if (!check_http::resolve_options(doc, std::vector<std::string>(argv + 1, argv + argc), &opts,
                                   &err))
    return cli::unknown(common, err);
  CheckResult result = check_http::run(opts, common.verbosity);
  std::puts(result.render(check_http::kService).c_str());
  return check_exit_code(result.state, opts.check.warning_fails);
}
