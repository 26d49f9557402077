#pragma once
// CLI11 helpers so every tool shares option names and meanings, as monitoring-plugins do:
// --config, -H/--host, -P/--port, -t/--timeout, -w/-c, -v, --version, --help, --check-config.
#include "common/cli_fwd.hpp"

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/config.hpp"
#include "common/units.hpp"

namespace hakit::cli {

/// Options every tool has.
struct CommonOptions {
  std::string tool;
  std::string config_path;    ///< --config, else $HAKIT_CONFIG, else /etc/hakit/hakit.yaml
  bool config_given = false;  ///< --config or $HAKIT_CONFIG was set
  int verbosity = 0;          ///< -v count
  bool check_config = false;  ///< --check-config: validate and exit
  bool no_config = false;     ///< --no-config: read no file (ad-hoc checks)
  /// A check's service name ("HTTP"): usage and config errors then also print the Nagios
  /// line "HTTP UNKNOWN - reason" on stdout. "" for the other tools.
  std::string service;
};

/// Creates a tool's parser with the common options. `examples` is shown under "Examples:".
std::unique_ptr<CLI::App> make_app(const std::string& tool, const std::string& description,
                                   const std::string& examples, CommonOptions* common);

/// Parses argv. Returns nothing when the tool should go on; otherwise the exit code for
/// --help/--version (0) or a usage error (3, UNKNOWN, with one usage line on stderr, and
/// for a check — `service` not empty — the line "SERVICE UNKNOWN - reason" on stdout).
std::optional<int> parse(CLI::App& app, int argc, const char* const* argv,
                         const std::string& service = "");
/// The same for an argv vector (unit tests feed these, no process is spawned).
std::optional<int> parse(CLI::App& app, std::vector<std::string> args);

/// -H/--host
CLI::Option* add_host(CLI::App& app, std::string* host, const std::string& help);
/// -P/--port
CLI::Option* add_port(CLI::App& app, int* port, const std::string& help);
/// -t/--timeout: a duration ("1500ms", "2s"; a bare number is seconds).
CLI::Option* add_timeout(CLI::App& app, std::optional<Millis>* timeout, const std::string& help);
/// Any duration option.
CLI::Option* add_duration(CLI::App& app, const std::string& names, std::optional<Millis>* d,
                          const std::string& help);
/// A duration option with a value always set (a check's settings are not optional); 0 is refused.
CLI::Option* add_positive_duration(CLI::App& app, const std::string& names, Millis* out,
                                   const std::string& help);
/// -w/--warning and -c/--critical as plain numbers (threshold meaning is the tool's).
void add_thresholds(CLI::App& app, std::optional<double>* warning, std::optional<double>* critical,
                    const std::string& what);

/// Prints a check's one Nagios line for an UNKNOWN ("HTTP UNKNOWN - reason") on stdout when
/// `service` is set; the reason goes to stderr as well. Returns the UNKNOWN exit code.
int unknown(const CommonOptions& common, const std::string& reason);

/// Loads the file the options name: its YAML and the shared settings only; each tool then
/// reads its own entries. A missing or unreadable default file is fine when !required
/// (ad-hoc checks need no config); a named or required file must load. Warnings (log:,
/// unknown sections) are logged. With --check-config, validates every section of
/// `sections` and prints the verdict. Returns an exit code when the tool must stop now.
std::optional<int> load_config(const CommonOptions& common,
                               const std::vector<config::Section>& sections,
                               config::Document* doc, bool required);

}  // namespace hakit::cli
