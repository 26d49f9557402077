#include "common/arbiter/preflight.hpp"

#include <fmt/format.h>

namespace hakit::arbiter {

Quorum quorum(const std::vector<MemberProbe>& probes) {
  Quorum q;
  q.total = static_cast<int>(probes.size());
  for (const auto& p : probes) q.reachable += p.reachable ? 1 : 0;
  return q;
}

std::vector<PreflightItem> preflight(const config::Arbiter& a, HttpEtcd& etcd) {
  std::vector<PreflightItem> out;
  for (const auto& p : etcd.probe_members()) {
    PreflightItem i{p.reachable && p.leader_known, "member " + p.endpoint, ""};
    if (!p.reachable)
      i.detail = p.error;
    else
      i.detail = fmt::format("etcd {}{}", p.version, p.leader_known ? ", has a leader" : ", NO LEADER");
    out.push_back(std::move(i));
  }
  const std::string key = a.prefix + "preflight/" + a.node_id();
  PreflightItem w{false, "write " + key, ""};
  std::int64_t id = 0, granted = 0;
  std::string err;
  if (!etcd.grant(a.ttl.count() / 1000, &id, &granted, &err)) {
    w.detail = "lease grant failed: " + err;
  } else {
    bool succeeded = false;
    std::optional<KeyValue> current;
    // Our own key: create it, or replace it when a previous preflight left it.
    Json body = codec::create_txn(key, a.node_id(), id);
    if (!etcd.txn(body, &succeeded, &current, &err)) {
      w.detail = "txn failed: " + err + " (does the user have readwrite on the prefix?)";
    } else if (!succeeded && current) {
      w.ok = etcd.txn(codec::replace_txn(key, a.node_id(), current->mod_revision, id), &succeeded,
                      &current, &err) && succeeded;
      w.detail = w.ok ? fmt::format("granted ttl {} s", granted) : "could not replace " + key + ": " + err;
    } else {
      w.ok = succeeded;
      w.detail = fmt::format("granted ttl {} s", granted);
    }
    std::string e;
    etcd.revoke(id, &e);  // deletes the key with it
  }
  out.push_back(std::move(w));
  return out;
}

}  // namespace hakit::arbiter
