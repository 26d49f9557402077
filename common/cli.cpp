#include "common/cli.hpp"

#include <CLI/CLI.hpp>
#include <fmt/format.h>
#include <spdlog/spdlog.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>

#include "common/exit_codes.hpp"
#include "common/result.hpp"

namespace hakit::cli {

namespace {

constexpr int kUsageExit = static_cast<int>(ExitCode::kUsage);

std::string env_or_default() {
  const char* env = std::getenv("HAKIT_CONFIG");
  return (env && *env) ? env : HAKIT_DEFAULT_CONFIG;
}

}  // namespace

std::unique_ptr<CLI::App> make_app(const std::string& tool, const std::string& description,
                                   const std::string& examples, CommonOptions* common) {
  auto app = std::make_unique<CLI::App>(description, tool);
  common->tool = tool;
  const char* env = std::getenv("HAKIT_CONFIG");
  common->config_given = env && *env;
  common->config_path = env_or_default();
  app->set_version_flag("-V,--version", fmt::format("{} {}", tool, HAKIT_VERSION));
  app->add_option_function<std::string>(
         "--config",
         [common](const std::string& p) {
           common->config_path = p;
           common->config_given = true;
         },
         "Config file (default $HAKIT_CONFIG or " HAKIT_DEFAULT_CONFIG ")")
      ->type_name("FILE");
  app->add_flag("-v,--verbose", common->verbosity, "More log output (repeat for more)");
  app->add_flag("--check-config", common->check_config,
                "Validate the whole config file (every section), print every problem, and exit");
  app->add_flag("--no-config", common->no_config,
                "Read no config file (everything from the command line)");
  app->footer("Examples:\n" + examples);
  app->get_formatter()->column_width(34);
  return app;
}

std::optional<int> parse(CLI::App& app, int argc, const char* const* argv,
                         const std::string& service) {
  std::vector<std::string> args;
  for (int i = argc - 1; i > 0; --i) args.emplace_back(argv[i]);
  try {
    app.parse(std::move(args));
  } catch (const CLI::CallForHelp&) {
    std::fputs(app.help().c_str(), stdout);
    return 0;
  } catch (const CLI::CallForAllHelp&) {
    std::fputs(app.help("", CLI::AppFormatMode::All).c_str(), stdout);
    return 0;
  } catch (const CLI::CallForVersion&) {
    std::puts(app.version().c_str());
    return 0;
  } catch (const std::exception& e) {
    // CLI::ParseError, or whatever a tool's option callback threw. One line, and UNKNOWN:
    // keepalived and Nagios must see a bad argument as "unknown", never CLI11's own codes.
    std::string what = e.what();
    for (char& c : what)
      if (c == '\n' || c == '\r') c = ' ';
    while (!what.empty() && what.back() == ' ') what.pop_back();
    std::fprintf(stderr, "%s: %s (see %s --help)\n", app.get_name().c_str(), what.c_str(),
                 app.get_name().c_str());
    if (!service.empty())
      std::puts(CheckResult{State::kUnknown, what + " (see " + app.get_name() + " --help)", {}}
                    .render(service)
                    .c_str());
    return kUsageExit;
  }
  return std::nullopt;
}

std::optional<int> parse(CLI::App& app, std::vector<std::string> args) {
  std::vector<const char*> argv{app.get_name().c_str()};
  for (const auto& a : args) argv.push_back(a.c_str());
  return parse(app, static_cast<int>(argv.size()), argv.data());
}

CLI::Option* add_host(CLI::App& app, std::string* host, const std::string& help) {
  return app.add_option("-H,--host", *host, help)->type_name("HOST");
}

CLI::Option* add_port(CLI::App& app, int* port, const std::string& help) {
  return app.add_option("-P,--port", *port, help)->type_name("PORT")->check(CLI::Range(1, 65535));
}

CLI::Option* add_duration(CLI::App& app, const std::string& names, std::optional<Millis>* d,
                          const std::string& help) {
  return app
      .add_option_function<std::string>(
          names,
          [d, names](const std::string& text) {
            std::string err;
            auto v = parse_duration(text, &err);
            if (!v) throw CLI::ValidationError(names, err);
            *d = v;
          },
          help)
      ->type_name("DURATION");
}

CLI::Option* add_positive_duration(CLI::App& app, const std::string& names, Millis* out,
                                   const std::string& help) {
  return app
      .add_option_function<std::string>(
          names,
          [out, names](const std::string& text) {
            std::string err;
            auto v = parse_duration(text, &err);
            if (!v || v->count() == 0) throw CLI::ValidationError(names, v ? "must be > 0" : err);
            *out = *v;
          },
          help)
      ->type_name("DURATION");
}

CLI::Option* add_timeout(CLI::App& app, std::optional<Millis>* timeout, const std::string& help) {
  return add_duration(app, "-t,--timeout", timeout, help);
}

void add_thresholds(CLI::App& app, std::optional<double>* warning, std::optional<double>* critical,
                    const std::string& what) {
  app.add_option("-w,--warning", *warning, "WARNING when " + what + " exceeds this")
      ->type_name("NUM");
  app.add_option("-c,--critical", *critical, "CRITICAL when " + what + " exceeds this")
      ->type_name("NUM");
}

int unknown(const CommonOptions& common, const std::string& reason) {
  // One line: a multi-line reason (diagnostics) is folded for Nagios; stderr has it all.
  std::string line = reason.substr(0, reason.find('\n'));
  std::fprintf(stderr, "%s: %s\n", common.tool.c_str(), reason.c_str());
  if (!common.service.empty()) {
    // Through the check's own renderer: control characters escaped, length bounded.
    std::puts(CheckResult{State::kUnknown, line, {}}.render(common.service).c_str());
    std::fflush(stdout);
  }
  return kUsageExit;
}

std::optional<int> load_config(const CommonOptions& common,
                               const std::vector<config::Section>& sections,
                               config::Document* doc, bool required) {
  const std::string& path = common.config_path;
  if (common.no_config) {
    if (common.check_config) return unknown(common, "--check-config with --no-config: nothing to check");
    if (required) return unknown(common, "--no-config, but this needs a config (--check/--mysql/JOB)");
    return std::nullopt;
  }
  const bool optional = !required && !common.config_given && !common.check_config;
  if (optional) {
    // Ad-hoc use needs no config: a missing default file is fine, and so is one this user
    // cannot read (root's 0600 hakit.yaml when Nagios runs the check as nagios).
    if (access(path.c_str(), F_OK) != 0) return std::nullopt;
    if (access(path.c_str(), R_OK) != 0) {
      spdlog::debug("{} is not readable by this user; going on without it", path);
      return std::nullopt;
    }
  }
  config::Diagnostics diag(path);
  if (!config::load_document(path, doc, &diag)) {
    std::fputs(diag.render().c_str(), stderr);
    std::string first = diag.items().empty() ? "" : diag.items().front().render();
    if (access(path.c_str(), F_OK) == 0 && access(path.c_str(), R_OK) != 0)
      first += fmt::format(" (make it readable by this user, e.g. chgrp GROUP {0} && chmod 0640 "
                           "{0}, or run the check with --no-config and its options)",
                           path);
    return unknown(common, fmt::format("config {} is not valid ({} problem{}): {}", path,
                                       diag.items().size(), diag.items().size() == 1 ? "" : "s",
                                       first));
  }
  if (common.check_config) {
    config::Diagnostics all(path);
    if (!config::validate_all(*doc, sections, &all)) {
      std::fputs(all.render().c_str(), stderr);
      std::fprintf(stderr, "%s: config %s is not valid (%zu problem%s)\n", common.tool.c_str(),
                   path.c_str(), all.items().size(), all.items().size() == 1 ? "" : "s");
      return kUsageExit;
    }
    std::printf("config OK: %s\n", path.c_str());
    return 0;
  }
  // What this tool does not read strictly is only a warning here: --check-config is where
  // the whole file must be right.
  config::Diagnostics top(path);
  config::check_top_level(*doc, sections, &top);
  for (const auto& d : top.items()) doc->warnings.push_back(d);
  for (const auto& d : doc->warnings) {
    spdlog::warn("config: {}", d.render());
    // Without a terminal the log reaches syslog only; stderr still gets it (never stdout,
    // where a check prints its one line).
    if (!isatty(STDERR_FILENO))
      std::fprintf(stderr, "%s: warning: config: %s\n", common.tool.c_str(), d.render().c_str());
  }
  return std::nullopt;
}

}  // namespace hakit::cli
