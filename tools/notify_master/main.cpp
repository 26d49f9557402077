// notify_master: keepalived's notify_master hook. Promotes this node: the instance's ordered
// promote actions, serialized per instance and journaled (logic in tools/notify/).
#include "common/cli.hpp"

#include <CLI/CLI.hpp>
#include "common/log.hpp"
#include "notify/notify.hpp"
#include "sections.hpp"

namespace {

constexpr const char* kExamples = R"(  notify_master --instance VI_1
      promote this node for VI_1 (keepalived: notify_master "/usr/libexec/hakit/notify_master --instance VI_1")
  notify_master INSTANCE VI_1 MASTER 100
      keepalived's generic notify form (notify "/usr/libexec/hakit/notify_master"); the STATE decides
  notify_master --instance VI_1 --force
      promote by hand although the last promotion was within min_interval
  notify_master --instance VI_1 --preflight
      check that this node's database, the peer to fence and the alert channels are reachable
      and that the accounts grant what a promotion needs (prints the GRANT to run)
  notify_master --clear-failover-flag --reason "old master re-attached as replica"
      let log copying (sitesync) resume after a failover
Exit: 0 done or nothing to do (stale/superseded event), 1 an action failed, 2 refused
(catch-up timeout, anti-flap, arbiter lease not held), 3 bad arguments or config (nothing changed).
)";

}  // namespace

int main(int argc, char** argv) {
  hakit::cli::CommonOptions common;
  hakit::notify::Options opt;
  opt.tool = "notify_master";
  opt.default_state = "MASTER";
  auto app = hakit::cli::make_app(opt.tool, "Promote this node for a keepalived VRRP instance",
                                  kExamples, &common);
  hakit::notify::add_options(*app, &opt);
  if (auto rc = hakit::cli::parse(*app, argc, argv)) return *rc;
  hakit::log::init(opt.tool, common.verbosity);
  hakit::config::Document doc;
  if (auto rc = hakit::cli::load_config(common, hakit::sections::all(), &doc, true)) return *rc;
  hakit::log::configure(doc.log, common.verbosity);
  opt.argv.assign(argv, argv + argc);
  opt.config_path = common.config_path;
  return hakit::notify::run(opt, doc);
}
