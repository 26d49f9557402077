#include "common/cli.hpp"

#include <fmt/format.h>
#include <sys/stat.h>

#include <cstdio>
#include <cstdlib>

#include "common/exit_codes.hpp"

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
                "Validate the config file, print every problem, and exit");
  app->footer("Examples:\n" + examples);
  app->get_formatter()->column_width(34);
  return app;
}

std::optional<int> parse(CLI::App& app, int argc, const char* const* argv) {
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

std::optional<int> load_config(const CommonOptions& common, config::Config* cfg, bool required) {
  struct stat st {};
  bool exists = stat(common.config_path.c_str(), &st) == 0;
  if (!exists && !required && !common.config_given && !common.check_config) return std::nullopt;
  config::Diagnostics diag(common.config_path);
  if (!config::load_config(common.config_path, cfg, &diag)) {
    std::fputs(diag.render().c_str(), stderr);
    std::fprintf(stderr, "%s: config %s is not valid (%zu problem%s)\n", common.tool.c_str(),
                 common.config_path.c_str(), diag.items().size(),
                 diag.items().size() == 1 ? "" : "s");
    return kUsageExit;
  }
  if (common.check_config) {
    std::printf("config OK: %s\n", common.config_path.c_str());
    return 0;
  }
  return std::nullopt;
}

}  // namespace hakit::cli
