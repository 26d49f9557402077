#pragma once
// check_http_200: one HTTP(S) request, judged by status, body and time, as a Nagios line.
// keepalived's vrrp_script runs it every second or two, so start-up cost matters (see
// docs/benchmarks.md) and a hung server must cost the timeout and nothing more.
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/cli.hpp"
#include "check_http_200/config.hpp"
#include "common/http/http.hpp"
#include "common/result.hpp"

namespace hakit::check_http {

/// What the command line asked for. `check` holds the effective settings: the config entry
/// (with --check NAME) overlaid with every option given on the command line.
struct Options {
  config::HttpCheckConfig check;
  std::string check_name;                       ///< --check NAME
  std::optional<std::string> maintenance_file;  ///< --maintenance-file ("" disables)
};

/// The tool's parser, writing into *opts and *common.
std::unique_ptr<CLI::App> make_parser(Options* opts, cli::CommonOptions* common);

/// Builds the effective options: with --check NAME, the config entry overlaid with the command
/// line (`args`, re-parsed over it); the maintenance file from the command line or the config.
/// False with *err (an UNKNOWN) on an unknown check, a missing URL or bad values.
bool resolve_options(const config::Document& doc, const std::vector<std::string>& args, Options* opts,
                     std::string* err);

/// Turns the settings into a request (reads the basic-auth secret file). False with *err.
bool build_request(const config::HttpCheckConfig& c, http::Request* req, std::string* err);

/// Judges a response: status set, body string/regex (inverted), response time, certificate
/// expiry. `now` is Unix time (for the certificate). Pure, so unit tests feed it responses.
CheckResult evaluate(const config::HttpCheckConfig& c, const http::Response& r, std::int64_t now);


/// The whole check: maintenance file, request, evaluation.
CheckResult run(const Options& opts, int verbosity);

/// The service name printed first on the line ("HTTP").
inline constexpr const char* kService = "HTTP";

}  // namespace hakit::check_http
