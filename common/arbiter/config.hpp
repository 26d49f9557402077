#pragma once
// arbiters: named etcd clusters that arbitrate which node may be the writable master of an
// instance (docs/arbiter.md). Pure parsing in its own small library, so every tool's
// --check-config validates it without linking libcurl; the client lives in hakit_arbiter.
#include <string>
#include <vector>

#include "common/config.hpp"
#include "common/units.hpp"
#include "common/yaml_reader.hpp"

namespace hakit::config {

/// One `arbiters:` entry (only `type: etcd` exists).
struct Arbiter {
  std::string name;                    ///< the entry's name
  std::string type = "etcd";
  std::vector<std::string> endpoints;  ///< http(s)://HOST:PORT of the etcd members, tried in turn
  Millis ttl{6000};                    ///< lease TTL (whole seconds, etcd counts in seconds)
  std::string prefix = "/hakit/";      ///< key = prefix + instance name
  std::string node;                    ///< this node's id in the lease key; "" = hostname
  Millis timeout{500};                 ///< every etcd request, whole (connect included)
  Millis renew_interval{1000};         ///< how often `hakit-arbiter keep` runs (vrrp_script interval)
  Millis margin{0};                    ///< fence this long before the lease can expire; 0 = renew_interval + timeout
  Millis acquire_timeout{0};           ///< a promotion waits this long for another holder's lease; 0 = 2 x ttl
  std::string ca_file;                 ///< TLS: CA bundle for https endpoints
  std::string cert_file;               ///< TLS client certificate
  std::string key_file;                ///< TLS client key (secret file)
  std::string user;                    ///< etcd auth user ("" = no auth)
  std::string password_file;           ///< its password (secret file)

  /// margin, with the default filled in.
  Millis fence_margin() const { return margin.count() > 0 ? margin : renew_interval + timeout; }
  /// acquire_timeout, with the default filled in.
  Millis acquire_wait() const { return acquire_timeout.count() > 0 ? acquire_timeout : 2 * ttl; }
  /// The node id written into lease keys.
  std::string node_id() const;
  /// The lease key of an instance: prefix + instance.
  std::string key(const std::string& instance) const { return prefix + instance; }
};

/// Reads one `arbiters:` entry; every problem goes to the reader's diagnostics.
void parse_arbiter(MapReader& entry, Arbiter* out);

/// Reads `arbiters.NAME` strictly; false (problems in `diag`) when missing or wrong.
bool load_arbiter(const Document& doc, const std::string& name, Arbiter* out, Diagnostics* diag);

/// Registry validator: every arbiter, strictly.
void validate_arbiters(const Document& doc, Diagnostics& diag);

}  // namespace hakit::config
