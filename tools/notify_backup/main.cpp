// notify_backup: keepalived's notify_backup / notify_fault / notify_stop hook. Demotes this node:
// the instance's ordered demote actions, serialized per instance and journaled (tools/notify/).
#include "common/cli.hpp"

#include <CLI/CLI.hpp>
#include "common/log.hpp"
#include "notify/notify.hpp"
#include "sections.hpp"

namespace {

constexpr const char* kExamples = R"(  notify_backup --instance VI_1
      demote this node for VI_1 (keepalived: notify_backup "/usr/libexec/hakit/notify_backup --instance VI_1")
  notify_backup --instance VI_1 --state FAULT
      the same for notify_fault (and --state STOP for notify_stop)
  notify_backup INSTANCE VI_1 BACKUP 90
      keepalived's generic notify form; the STATE decides
  notify_backup --clear-failover-flag --reason "old master re-attached as replica"
      let log copying (sitesync) resume after a failover
  notify_backup --instance VI_1 --clear-fence --reason "re-attached to the new master"
      let a node fenced by its peer (or marked with errant transactions) take the VIP again
Exit: 0 done or nothing to do (stale/superseded event), 1 an action failed, 2 refused,
3 bad arguments or config (nothing changed).
)";

}  // namespace

int main(int argc, char** argv) {
  hakit::cli::CommonOptions common;
  hakit::notify::Options opt;
  opt.tool = "notify_backup";
  opt.default_state = "BACKUP";
  auto app = hakit::cli::make_app(opt.tool, "Demote this node for a keepalived VRRP instance",
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
