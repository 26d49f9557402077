#pragma once
// What an operator (and notify_master --preflight) wants to know before trusting an arbiter:
// every member answers, credentials work, and this node can write under the prefix.
#include <string>
#include <vector>

#include "common/arbiter/etcd.hpp"
#include "common/exit_codes.hpp"

namespace hakit::arbiter {

/// One line of a preflight.
struct PreflightItem {
  bool ok = false;
  std::string what;    ///< "member http://192.0.2.11:2379", "write /hakit/preflight/n1"
  std::string detail;  ///< version, or what is wrong and what to do
};

/// Probes every member, then grants a short lease and writes and deletes a key under the
/// prefix. Needs a quorum for the write.
std::vector<PreflightItem> preflight(const config::Arbiter& arbiter, HttpEtcd& etcd);

/// How many members answered and whether that is a quorum of the configured endpoints.
struct Quorum {
  int reachable = 0;
  int total = 0;
  bool majority() const { return reachable * 2 > total; }
};
Quorum quorum(const std::vector<MemberProbe>& probes);

}  // namespace hakit::arbiter
