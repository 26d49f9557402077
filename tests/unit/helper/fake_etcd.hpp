#pragma once
// A fake etcd for the arbiter's unit tests: an in-memory model whose leases expire at
// grant/keepalive time + TTL on a fake clock (a request is processed the instant it is sent),
// keys attached to leases, and txn compares as etcd evaluates them.
#include <doctest/doctest.h>

#include <map>
#include <memory>
#include <string>

#include "common/arbiter/etcd.hpp"
#include "common/arbiter/lease.hpp"

namespace hakit::test {

using arbiter::base64_decode;
using arbiter::KeyValue;

class FakeClock : public arbiter::Clock {
 public:
  std::int64_t now = 1'000'000;
  std::int64_t now_ms() override { return now; }
  void sleep(Millis d) override { now += d.count(); }
};

// etcd as the arbiter sees it: leases that expire at grant/keepalive time + TTL (the fake
// processes a request the instant it is sent), keys attached to leases, txn compares.
class FakeEtcd : public arbiter::Etcd {
 public:
  explicit FakeEtcd(FakeClock& c) : clock_(c) {}
  bool down = false;
  int calls = 0;
  std::map<std::int64_t, std::int64_t> leases;  // id -> expiry (ms)
  std::map<std::string, KeyValue> keys;
  std::int64_t revision = 1, next_id = 100;

  void expire() {
    for (auto it = leases.begin(); it != leases.end();) {
      if (it->second <= clock_.now) {
        drop_keys(it->first);
        it = leases.erase(it);
      } else {
        ++it;
      }
    }
  }
  void drop_keys(std::int64_t id) {
    for (auto k = keys.begin(); k != keys.end();) k = k->second.lease == id ? keys.erase(k) : std::next(k);
  }
  bool up(std::string* err) {
    ++calls;
    expire();
    if (down) *err = "no etcd endpoint answered within 500 ms";
    return !down;
  }
  bool grant(std::int64_t ttl_s, std::int64_t* id, std::int64_t* granted, std::string* err) override {
    if (!up(err)) return false;
    *id = next_id++;
    *granted = ttl_s;
    leases[*id] = clock_.now + ttl_s * 1000;
    ttls[*id] = ttl_s;
    return true;
  }
  bool keepalive(std::int64_t id, std::int64_t* ttl_s, std::string* err) override {
    if (!up(err)) return false;
    if (!leases.count(id)) {
      *ttl_s = 0;
      return true;
    }
    leases[id] = clock_.now + ttls[id] * 1000;
    *ttl_s = ttls[id];
    return true;
  }
  bool revoke(std::int64_t id, std::string* err) override {
    if (!up(err)) return false;
    drop_keys(id);
    leases.erase(id);
    return true;
  }
  bool time_to_live(std::int64_t id, std::int64_t* ttl_s, std::int64_t* granted, std::string* err) override {
    if (!up(err)) return false;
    *ttl_s = leases.count(id) ? (leases[id] - clock_.now) / 1000 : -1;  // rounded down, as etcd
    *granted = leases.count(id) ? ttls[id] : 0;
    return true;
  }
  bool get(const std::string& key, std::optional<KeyValue>* kv, std::string* err) override {
    if (!up(err)) return false;
    kv->reset();
    if (keys.count(key)) *kv = keys[key];
    return true;
  }
  bool txn(const Json& body, bool* ok, std::optional<KeyValue>* current, std::string* err) override {
    if (!up(err)) return false;
    *ok = true;
    for (const auto& c : body["compare"]) {
      std::string key;
      base64_decode(c["key"].get<std::string>(), &key);
      const KeyValue* kv = keys.count(key) ? &keys[key] : nullptr;
      const std::string target = c["target"];
      if (target == "CREATE") {
        *ok = *ok && (kv ? kv->create_revision : 0) == std::stoll(c["create_revision"].get<std::string>());
      } else if (target == "VALUE") {
        std::string v;
        base64_decode(c["value"].get<std::string>(), &v);
        *ok = *ok && kv && kv->value == v;
      } else if (target == "MOD") {
        *ok = *ok && kv && kv->mod_revision == std::stoll(c["mod_revision"].get<std::string>());
      } else {
        FAIL("unexpected compare target " << target);
      }
    }
    current->reset();
    for (const auto& op : body[*ok ? "success" : "failure"]) {
      if (op.contains("request_put")) {
        const Json& p = op["request_put"];
        KeyValue kv;
        base64_decode(p["key"].get<std::string>(), &kv.key);
        base64_decode(p["value"].get<std::string>(), &kv.value);
        kv.lease = std::stoll(p["lease"].get<std::string>());
        REQUIRE(leases.count(kv.lease));
        kv.mod_revision = ++revision;
        kv.create_revision = keys.count(kv.key) ? keys[kv.key].create_revision : kv.mod_revision;
        keys[kv.key] = kv;
      } else if (op.contains("request_delete_range")) {
        std::string key;
        base64_decode(op["request_delete_range"]["key"].get<std::string>(), &key);
        keys.erase(key);
      } else if (op.contains("request_range")) {
        std::string key;
        base64_decode(op["request_range"]["key"].get<std::string>(), &key);
        if (keys.count(key)) *current = keys[key];
      }
    }
    return true;
  }
  std::string holder(const std::string& key) {
    expire();
    return keys.count(key) ? keys[key].value : "";
  }

 private:
  FakeClock& clock_;
  std::map<std::int64_t, std::int64_t> ttls;
};

/// Hands the engine (which owns its client) a client that talks to a shared FakeEtcd.
class EtcdProxy : public arbiter::Etcd {
 public:
  explicit EtcdProxy(arbiter::Etcd& e) : e_(e) {}
  bool grant(std::int64_t t, std::int64_t* id, std::int64_t* g, std::string* err) override {
    return e_.grant(t, id, g, err);
  }
  bool keepalive(std::int64_t id, std::int64_t* t, std::string* err) override {
    return e_.keepalive(id, t, err);
  }
  bool revoke(std::int64_t id, std::string* err) override { return e_.revoke(id, err); }
  bool time_to_live(std::int64_t id, std::int64_t* t, std::int64_t* g, std::string* err) override {
    return e_.time_to_live(id, t, g, err);
  }
  bool get(const std::string& k, std::optional<KeyValue>* kv, std::string* err) override {
    return e_.get(k, kv, err);
  }
  bool txn(const Json& b, bool* ok, std::optional<KeyValue>* c, std::string* err) override {
    return e_.txn(b, ok, c, err);
  }

 private:
  arbiter::Etcd& e_;
};

}  // namespace hakit::test
