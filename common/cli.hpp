#pragma once
// CLI11 helpers so every tool shares option names and meanings, as monitoring-plugins do:
// --config, -H/--host, -P/--port, -t/--timeout, -w/-c, -v, --version, --help, --check-config.
#include <CLI/CLI.hpp>

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
};

/// Creates a tool's parser with the common options. `examples` is shown under "Examples:".
std::unique_ptr<CLI::App> make_app(const std::string& tool, const std::string& description,
                                   const std::string& examples, CommonOptions* common);

/// Parses argv. Returns nothing when the tool should go on; otherwise the exit code for
/// --help/--version (0) or a usage error (3, UNKNOWN, with one usage line on stderr).
std::optional<int> parse(CLI::App& app, int argc, const char* const* argv);
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

/// Loads the config the options name. A missing default file is fine when !required (ad-hoc
/// checks from the command line need no config); a named file must exist. With
/// --check-config, prints the verdict. Returns an exit code when the tool must stop now.
std::optional<int> load_config(const CommonOptions& common, config::Config* cfg, bool required);

}  // namespace hakit::cli
