// hakit-arbiter: the etcd lease that lets only one node be the writable master (logic in
// arbiter_tool.cpp and common/arbiter/; docs/arbiter.md).
#include "common/cli.hpp"

#include <CLI/CLI.hpp>
#include "common/log.hpp"
#include "hakit_arbiter/arbiter_tool.hpp"
#include "sections.hpp"

namespace {

constexpr const char* kExamples = R"(  hakit-arbiter keep --instance VI_1
      the renewer: keepalived runs it every second (vrrp_script, interval 1, fall 1);
      a writable node renews its lease and sets itself read-only before the lease can
      expire; exit 2 (CRITICAL) after a self-fence
  hakit-arbiter status
      who holds each instance's lease, TTL left, etcd members reachable (Nagios line)
  hakit-arbiter preflight
      every member reachable, credentials valid, a key written under the prefix
Exit: keep 0 OK or WARNING (renewal failing, deadline not reached), 2 CRITICAL (self-fenced),
3 UNKNOWN; status 0/1/2/3 as a Nagios plugin; preflight 0 all passed, 1 not.
)";

}  // namespace

int main(int argc, char** argv) {
  hakit::cli::CommonOptions common;
  hakit::arbiter_tool::Options opt;
  auto app = hakit::cli::make_app("hakit-arbiter",
                                  "The etcd arbiter lease of keepalived instances: renew, inspect, check",
                                  kExamples, &common);
  app->add_option("command", opt.command, "keep, status or preflight")
      ->check(CLI::IsMember({"keep", "status", "preflight"}));
  app->add_option("-i,--instance", opt.instance, "VRRP instance from instances: (keep needs it)")
      ->type_name("NAME");
  app->add_option("--mysql", opt.mysql, "keep: profile of the guarded server (default: the "
                                        "instance's mysql_promote profile)")
      ->type_name("PROFILE");
  if (auto rc = hakit::cli::parse(*app, argc, argv)) return *rc;
  hakit::log::init("hakit-arbiter", common.verbosity);
  hakit::config::Document doc;
  if (auto rc = hakit::cli::load_config(common, hakit::sections::all(), &doc, true)) return *rc;
  hakit::log::configure(doc.log, common.verbosity);
  if (opt.command.empty() || (opt.command == "keep" && opt.instance.empty())) {
    std::fputs("hakit-arbiter: give a command (keep --instance NAME, status, preflight)\n", stderr);
    return static_cast<int>(hakit::ExitCode::kUsage);
  }
  return hakit::arbiter_tool::run(opt, doc);
}
