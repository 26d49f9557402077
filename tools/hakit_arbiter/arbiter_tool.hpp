#pragma once
// hakit-arbiter: the etcd lease of each instance from this node's side. `keep` is the renewer
// keepalived runs every second (vrrp_script); `status` and `preflight` are for operators.
#include <string>

#include "common/arbiter/keep.hpp"
#include "common/config.hpp"
#include "common/result.hpp"
#include "notify/ports.hpp"

namespace hakit::arbiter_tool {

/// What the command line asked for.
struct Options {
  std::string command;   ///< keep, status, preflight
  std::string instance;  ///< --instance
  std::string mysql;     ///< --mysql: the profile of the guarded server (default: the instance's)
};

/// One keep run for an instance: lock the record, tick, persist, journal. The whole renewer
/// in-process (hakitd calls this too). Never throws.
CheckResult keep(const config::Document& doc, const std::string& instance, const std::string& mysql,
                 notify::Services& svc);

/// Who holds each instance's lease, TTL left, members reachable (one Nagios line).
CheckResult status(const config::Document& doc, const std::string& instance, notify::Services& svc);

/// Every member reachable, credentials, a write under the prefix; prints one line per item.
/// Exit code 0 when all pass, 1 otherwise.
int preflight(const config::Document& doc, const std::string& instance, notify::Services& svc);

/// The whole tool after parsing; returns the exit code.
int run(const Options& opt, const config::Document& doc);

}  // namespace hakit::arbiter_tool
