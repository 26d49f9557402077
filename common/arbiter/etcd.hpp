#pragma once
// The few etcd v3 calls the arbiter needs, over etcd's JSON gateway (grpc-gateway, /v3/...)
// with the libcurl hakit already links: no gRPC stack, no new client library. Checked against
// etcd 3.4 (Debian 12's etcd-server): 64-bit numbers travel as JSON strings, keys and values
// as base64, an error is {"error", "code"}. Behind an interface so the lease logic is tested
// with a fake.
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/arbiter/config.hpp"
#include "common/arbiter/record.hpp"
#include "common/secrets.hpp"
#include "common/state.hpp"

namespace hakit::arbiter {

/// Standard base64 with padding (what the gateway expects for bytes fields).
std::string base64_encode(std::string_view in);
/// Decodes standard base64 (padding optional); false on a character outside the alphabet.
bool base64_decode(std::string_view in, std::string* out);

/// One key as etcd holds it.
struct KeyValue {
  std::string key;
  std::string value;
  std::int64_t lease = 0;  ///< 0: no lease
  std::int64_t create_revision = 0;
  std::int64_t mod_revision = 0;
};

/// The JSON gateway's encoding, pure so unit tests reach it.
namespace codec {
/// An int64 field as etcd sends it (record.hpp).
using arbiter::int64_field;
/// The error of an answer ({"error": ..., "code": N}), "" when it is not one.
std::string error_of(const Json& j);
/// A KeyValue from one entry of "kvs".
KeyValue key_value(const Json& kv);
/// The txn that creates `key` = `value` with `lease` only when the key does not exist, and
/// reads the key otherwise.
Json create_txn(const std::string& key, const std::string& value, std::int64_t lease);
/// The txn that puts `key` = `value` with `lease` only while the key still holds `value` at
/// `mod_revision` (re-attaching our own key to a new lease), and reads it otherwise.
Json replace_txn(const std::string& key, const std::string& value, std::int64_t mod_revision,
                 std::int64_t lease);
/// The txn that deletes `key` only while it holds `value`.
Json delete_if_txn(const std::string& key, const std::string& value);
/// A txn answer: whether it succeeded, and the key read by the failure branch (if any).
bool parse_txn(const Json& j, bool* succeeded, std::optional<KeyValue>* current, std::string* err);
}  // namespace codec

/// The etcd operations of the arbiter. Every call is bounded by the arbiter's timeout.
class Etcd {
 public:
  virtual ~Etcd() = default;
  /// Grants a lease of `ttl_s` seconds: its id and the TTL etcd granted (it may raise it).
  virtual bool grant(std::int64_t ttl_s, std::int64_t* id, std::int64_t* granted_s, std::string* err) = 0;
  /// Renews a lease: *ttl_s is the TTL it now has, 0 when the lease no longer exists.
  virtual bool keepalive(std::int64_t id, std::int64_t* ttl_s, std::string* err) = 0;
  /// Revokes a lease (its keys go with it). A lease already gone counts as revoked.
  virtual bool revoke(std::int64_t id, std::string* err) = 0;
  /// TTL left of a lease in whole seconds, rounded down as etcd does (-1 when it does not
  /// exist), and the TTL it was granted with (0 when unknown).
  virtual bool time_to_live(std::int64_t id, std::int64_t* ttl_s, std::int64_t* granted_s,
                            std::string* err) = 0;
  /// Reads one key (*kv empty when it does not exist).
  virtual bool get(const std::string& key, std::optional<KeyValue>* kv, std::string* err) = 0;
  /// Runs a txn built by codec::*_txn.
  virtual bool txn(const Json& body, bool* succeeded, std::optional<KeyValue>* current,
                   std::string* err) = 0;
};

/// Result of probing one endpoint (preflight, status).
struct MemberProbe {
  std::string endpoint;
  bool reachable = false;
  std::string version;  ///< etcd server version
  bool leader_known = false;
  std::string error;
};

/// The real client: libcurl to the JSON gateway, endpoints tried in turn within the timeout.
class HttpEtcd : public Etcd {
 public:
  explicit HttpEtcd(const config::Arbiter& arbiter);
  bool grant(std::int64_t ttl_s, std::int64_t* id, std::int64_t* granted_s, std::string* err) override;
  bool keepalive(std::int64_t id, std::int64_t* ttl_s, std::string* err) override;
  bool revoke(std::int64_t id, std::string* err) override;
  bool time_to_live(std::int64_t id, std::int64_t* ttl_s, std::int64_t* granted_s,
                    std::string* err) override;
  bool get(const std::string& key, std::optional<KeyValue>* kv, std::string* err) override;
  bool txn(const Json& body, bool* succeeded, std::optional<KeyValue>* current,
           std::string* err) override;

  /// Probes every endpoint on its own (maintenance/status), each bounded by the timeout.
  std::vector<MemberProbe> probe_members();
  /// The endpoint that answered last ("" before any answer): the next call starts there.
  const std::string& preferred() const { return preferred_; }
  void set_preferred(const std::string& endpoint) { preferred_ = endpoint; }

  /// POSTs `body` to `path` (endpoints in turn); the parsed answer or false + *err.
  bool call(const std::string& path, const Json& body, Json* answer, std::string* err);

 private:
  bool post(const std::string& endpoint, const std::string& path, const std::string& body,
            Millis timeout, Json* answer, std::string* err, bool* transport_failure);
  bool authenticate(const std::string& endpoint, Millis timeout, std::string* err);
  config::Arbiter arbiter_;
  std::string preferred_;
  std::string token_;  ///< etcd auth token (when user is set)
};

}  // namespace hakit::arbiter
