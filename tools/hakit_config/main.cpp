// hakit-config: validates the whole hakit.yaml (every tool's section, strictly) and lists
// which tool owns which section. Each tool's own --check-config does the same check.
#include <CLI/CLI.hpp>
#include <cstdio>

#include "common/cli.hpp"
#include "common/log.hpp"
#include "hakit_config/man.hpp"
#include "sections.hpp"

using namespace hakit;

int main(int argc, char** argv) {
  cli::CommonOptions common;
  auto app = cli::make_app(
      "hakit-config",
      "Validate hakit.yaml as a whole (every section of every tool) or list its sections. "
      "At run time each tool reads only its own entries, so a typo elsewhere never fails a "
      "check; this is where the whole file must be right (run it after every edit, before "
      "copying the file to the other nodes).",
      "  hakit-config check                        the default file; exit 0 OK, 3 problems\n"
      "  hakit-config check --config ./hakit.yaml  a file being edited\n"
      "  hakit-config sections                     which tool owns which section\n"
      "  hakit-config keys                         every key, its type and default\n"
      "  hakit-config man > hakit.yaml.5           the hakit.yaml(5) man page\n",
      &common);
  std::string command = "check";
  app->add_option("command", command, "check (default), sections, keys or man")
      ->check(CLI::IsMember({"check", "sections", "keys", "man"}));
  if (auto code = cli::parse(*app, argc, argv)) return *code;
  log::init("hakit-config", common.verbosity);
  if (command == "sections") {
    std::printf("%-14s %-62s %s\n", "SECTION", "OWNER", "WHAT");
    std::printf("%-14s %-62s %s\n", "(top level)", "every tool",
                "log, state_dir, run_dir, metrics_dir, maintenance_file");
    for (const auto& s : sections::all())
      std::printf("%-14s %-62s %s\n", s.key.c_str(), s.owner.c_str(), s.summary.c_str());
    return 0;
  }
  if (command == "keys") {
    for (const auto& k : hakit_config::schema())
      std::printf("%-58s %s%s\n", k.path.c_str(), k.type.c_str(),
                  k.default_value.empty() ? "" : ("; default " + k.default_value).c_str());
    return 0;
  }
  if (command == "man") {
    std::fputs(hakit_config::render_man(hakit_config::schema(), HAKIT_VERSION).c_str(), stdout);
    return 0;
  }
  common.check_config = true;
  config::Document doc;
  return cli::load_config(common, sections::all(), &doc, true).value_or(0);
}
