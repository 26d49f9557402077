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

/// The target as check_http / check_curl name it: -H virtual host, -I address, -p port,
/// -u URI, -S TLS. Turned into a URL (or laid over one) by apply_plugin_target().
struct PluginTarget {
  std::string vhost;    ///< -H/--hostname: Host, TLS name and URL name; "name:port" sets the port
  std::string address;  ///< -I/--IP-address: connect here (the name stays -H's)
  std::string uri;      ///< -u/--url: path and query (default /)
  int port = 0;         ///< -p/--port: connect port (the URL's when the URL is built here)
  bool ssl = false;     ///< -S/--ssl, -C: https
  bool follow = false;  ///< -f follow|sticky|stickyport|curl: follow up to max_redirs
  int max_redirs = 15;  ///< --max-redirs (check_http's default)
  bool continue_after_certificate = false;  ///< with -C, judge the answer as well
  bool certificate_days_given = false;      ///< -C was given
};

/// What the command line asked for. `check` holds the effective settings: the config entry
/// (with --check NAME) overlaid with every option given on the command line.
struct Options {
  config::HttpCheckConfig check;
  std::string check_name;                       ///< --check NAME
  std::optional<std::string> maintenance_file;  ///< --maintenance-file ("" disables)
  PluginTarget target;                          ///< monitoring-plugins spellings of the target
};

/// Registers the check_http / check_curl spellings that hakit's own options do not already
/// cover (-H -I -u -S -C -R -a ...): accepted with their meaning, or refused with the reason.
void add_plugin_options(CLI::App& app, Options* opts);

/// Lays the check_http target over the settings: builds the URL from -H/-I/-p/-u/-S when none
/// is given, else points the given URL at -H (name) and -I/-p (where to connect). False + *err.
bool apply_plugin_target(const PluginTarget& t, config::HttpCheckConfig* c, std::string* err);

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
