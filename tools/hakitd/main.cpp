// hakitd: keepalived's resident companion. Runs the daemon: section's checks in-process into
// keepalived track files and keepalived's notify FIFO events through notify's engine (logic
// in tools/hakitd/daemon.cpp).
#include <CLI/CLI.hpp>
#include <cstdio>

#include "common/cli.hpp"
#include "common/exit_codes.hpp"
#include "common/log.hpp"
#include "hakitd/daemon.hpp"
#include "sections.hpp"

namespace {

constexpr const char* kExamples = R"(  hakitd --config /etc/hakit/hakit.yaml
      run in the foreground (systemd: hakitd.service, Type=notify with a watchdog)
  hakitd --check-config
      validate the whole hakit.yaml and exit
  systemctl reload hakitd
      SIGHUP: read the config again (a check that stays keeps its state)
Signals: SIGTERM/SIGINT write the failed value to every track file (keepalived gives the
VIP up), finish the keepalived events already read, and exit 0. SIGHUP reloads.
Exit: 0 stopped by a signal, 3 bad arguments or config.
)";

}  // namespace

int main(int argc, char** argv) {
  hakit::cli::CommonOptions common;
  auto app = hakit::cli::make_app(
      "hakitd",
      "Resident keepalived companion: in-process checks into track files, the notify FIFO "
      "into the promote/demote engine",
      kExamples, &common);
  if (auto rc = hakit::cli::parse(*app, argc, argv)) return *rc;
  hakit::log::init("hakitd", common.verbosity);
  hakit::config::Document doc;
  if (auto rc = hakit::cli::load_config(common, hakit::sections::all(), &doc, true)) return *rc;
  hakit::log::configure(doc.log, common.verbosity);

  // Before any thread starts: every thread inherits the mask, only the main loop takes them.
  hakit::hakitd::Daemon::block_signals();
  hakit::hakitd::Daemon daemon(common.config_path);
  std::string err;
  if (!daemon.load(&err)) {
    std::fprintf(stderr, "hakitd: %s\n", err.c_str());
    return static_cast<int>(hakit::ExitCode::kUsage);
  }
  return daemon.run();
}
