// The etcd arbiter: base64 and the JSON gateway codec, the lease logic (LeaseKeeper) and the
// renewer tick against a fake etcd (an in-memory model with leases that expire on a fake
// clock), and the arbiters: config section.
#include <doctest/doctest.h>

#include <map>

#include "common/arbiter/etcd.hpp"
#include "common/arbiter/keep.hpp"
#include "common/arbiter/lease.hpp"
#include "helper/config_doc.hpp"
#include "helper/fake_etcd.hpp"
#include "helper/support.hpp"

using namespace hakit;
using namespace hakit::arbiter;
using hakit::test::FakeClock;
using hakit::test::FakeEtcd;

namespace {

class FakeDb : public LocalDb {
 public:
  bool ro = false;
  bool reachable = true;
  int fences = 0;
  bool read_only(bool* on, std::string* err) override {
    if (!reachable) *err = "connection refused";
    *on = ro;
    return reachable;
  }
  bool fence(std::string* err) override {
    if (!reachable) {
      *err = "connection refused";
      return false;
    }
    ++fences;
    ro = true;
    return true;
  }
};

config::Arbiter arbiter_for(const std::string& node) {
  config::Arbiter a;
  a.name = "lab";
  a.endpoints = {"http://127.0.0.1:2379"};
  a.ttl = Millis(6000);
  a.node = node;
  a.timeout = Millis(500);
  a.renew_interval = Millis(1000);
  return a;
}

const std::string kKey = "/hakit/VI_1";

/// n1 and n2 on one fake etcd, n1 holding the lease.
struct N1Holds {
  FakeClock clock;
  FakeEtcd etcd{clock};
  LeaseKeeper a{arbiter_for("n1"), "VI_1", etcd, clock, {}};
  LeaseKeeper b{arbiter_for("n2"), "VI_1", etcd, clock, {}};
  std::string holder, err;
  N1Holds() { REQUIRE(a.acquire(Millis(0), &holder, &err) == LeaseKeeper::Acquired::kYes); }
};

}  // namespace

TEST_CASE("arbiter: base64 round trips and rejects foreign characters") {
  CHECK(base64_encode("") == "");
  CHECK(base64_encode("f") == "Zg==");
  CHECK(base64_encode("fo") == "Zm8=");
  CHECK(base64_encode("foo") == "Zm9v");
  CHECK(base64_encode("/hakit/VI_1") == "L2hha2l0L1ZJXzE=");
  std::string bin("\x00\xff\x10\x80 x", 6), out;
  REQUIRE(base64_decode(base64_encode(bin), &out));
  CHECK(out == bin);
  CHECK(base64_decode("bjE=", &out));
  CHECK(out == "n1");
  CHECK(base64_decode("bjE", &out));  // padding optional
  CHECK(out == "n1");
  CHECK_FALSE(base64_decode("b!E=", &out));
  CHECK_FALSE(base64_decode("b", &out));
}

TEST_CASE("arbiter: the gateway codec reads etcd 3.4 answers") {
  // Captured from etcd 3.4.23 (Debian 12).
  Json failed = Json::parse(R"({"header":{"cluster_id":"148","member_id":"102","revision":"2","raft_term":"2"},
    "responses":[{"response_range":{"header":{"revision":"2"},"kvs":[{"key":"L2hha2l0L1ZJXzE=",
    "create_revision":"2","mod_revision":"2","version":"1","value":"bjE=","lease":"7587899152855741447"}],
    "count":"1"}}]})");
  bool ok = true;
  std::optional<KeyValue> kv;
  std::string err;
  REQUIRE(codec::parse_txn(failed, &ok, &kv, &err));
  CHECK_FALSE(ok);  // proto3 JSON leaves "succeeded": false out
  REQUIRE(kv);
  CHECK(kv->key == kKey);
  CHECK(kv->value == "n1");
  CHECK(kv->lease == 7587899152855741447LL);
  CHECK(kv->mod_revision == 2);
  Json won = Json::parse(R"({"header":{"revision":"2"},"succeeded":true,"responses":[{"response_put":{"header":{"revision":"2"}}}]})");
  REQUIRE(codec::parse_txn(won, &ok, &kv, &err));
  CHECK(ok);
  CHECK_FALSE(kv);
  Json error = Json::parse(R"({"error":"etcdserver: requested lease not found","message":"x","code":5})");
  CHECK_FALSE(codec::parse_txn(error, &ok, &kv, &err));
  CHECK(err == "etcdserver: requested lease not found (code 5)");
  CHECK(codec::int64_field(Json::parse(R"({"TTL":"6"})"), "TTL") == 6);
  CHECK(codec::int64_field(Json::parse(R"({"TTL":6})"), "TTL") == 6);
  CHECK(codec::int64_field(Json::parse(R"({"ID":"x"})"), "ID") == 0);
  CHECK(codec::int64_field(Json::parse(R"({})"), "TTL") == 0);
  // The create txn compares the key's create_revision with 0 and attaches the lease.
  Json t = codec::create_txn(kKey, "n1", 42);
  CHECK(t["compare"][0]["target"] == "CREATE");
  CHECK(t["compare"][0]["create_revision"] == "0");
  CHECK(t["success"][0]["request_put"]["lease"] == "42");
  CHECK(t["success"][0]["request_put"]["value"] == "bjE=");
}

TEST_CASE("arbiter: one node acquires, the other waits and never steals") {
  FakeClock clock;
  FakeEtcd etcd(clock);
  LeaseKeeper a(arbiter_for("n1"), "VI_1", etcd, clock, {});
  LeaseKeeper b(arbiter_for("n2"), "VI_1", etcd, clock, {});
  std::string holder, err;
  const std::int64_t t0 = clock.now;
  REQUIRE(a.acquire(Millis(0), &holder, &err) == LeaseKeeper::Acquired::kYes);
  CHECK(etcd.holder(kKey) == "n1");
  CHECK(a.record().last_send_ms == t0);
  CHECK(a.record().ttl_ms == 6000);

  // n1 keeps renewing every second: n2 waits its 3 s and gives up; the key stays n1's.
  for (int i = 0; i < 3; ++i) {
    clock.now += 1000;
    REQUIRE(a.renew(&holder, &err) == LeaseKeeper::Renewed::kYes);
  }
  const std::int64_t before = clock.now;
  CHECK(b.acquire(Millis(3000), &holder, &err) == LeaseKeeper::Acquired::kHeldByOther);
  CHECK(holder == "n1");
  CHECK(clock.now - before >= 3000);
  CHECK(etcd.holder(kKey) == "n1");
  CHECK_FALSE(b.record().holds());

  // n1 stops renewing (dead): n2 gets the lease only once n1's has expired.
  const std::int64_t floor = a.record().expiry_floor_ms();
  REQUIRE(b.acquire(Millis(20000), &holder, &err) == LeaseKeeper::Acquired::kYes);
  CHECK(clock.now >= floor);
  CHECK(etcd.holder(kKey) == "n2");
  // n1 comes back: its renewal finds the lease gone.
  CHECK(a.renew(&holder, &err) == LeaseKeeper::Renewed::kLost);
  CHECK(a.acquire(Millis(0), &holder, &err) == LeaseKeeper::Acquired::kHeldByOther);
  CHECK(holder == "n2");
}

TEST_CASE("arbiter: give_up is asked only while the holder keeps renewing its lease") {
  N1Holds p;
  auto& [clock, etcd, a, b, holder, err] = p;
  int asked = 0;
  auto vip_also_there = [&] {
    ++asked;
    return true;
  };
  // Renewed 2.5 s ago (a renewer that skipped a tick or two): 3 s of the 6 left, alive.
  clock.now += 2500;
  CHECK(b.acquire(Millis(3000), &holder, &err, vip_also_there) == LeaseKeeper::Acquired::kGaveUp);
  CHECK(asked == 1);
  CHECK(b.holder_ttl_left() == 3);
  // Not renewed for 3.5 s (cut off from etcd: it self-fences at 4.5 s, the lease ends at 6 s):
  // its ARP answers are no reason to give up; the wait ends with the lease.
  clock.now += 1000;
  asked = 0;
  const std::int64_t t = clock.now;
  CHECK(b.acquire(Millis(12000), &holder, &err, vip_also_there) == LeaseKeeper::Acquired::kYes);
  CHECK(asked == 0);
  CHECK(clock.now - t >= 2500);
  CHECK(etcd.holder(kKey) == "n2");
  // A key on no lease never ends by itself: give_up alone decides.
  CHECK(b.holder_renewing(0));
}

TEST_CASE("arbiter: holder_renewing reads the granted TTL, and an unknown TTL leaves it to give_up") {
  FakeClock clock;
  FakeEtcd etcd(clock);
  config::Arbiter slow = arbiter_for("n1");
  slow.ttl = Millis(20000);  // n1's own config: a 20 s lease; n2 is configured with 6 s
  LeaseKeeper a(slow, "VI_1", etcd, clock, {});
  LeaseKeeper b(arbiter_for("n2"), "VI_1", etcd, clock, {});
  std::string holder, err;
  REQUIRE(a.acquire(Millis(0), &holder, &err) == LeaseKeeper::Acquired::kYes);
  const std::int64_t lease = a.record().lease_id;
  // 3.5 s since n1's last renewal: 16 s left of 20. Judged by n2's own ttl (6 s) it would look
  // fresh; by the 20 s it was granted it is 4 s old: not renewing (window 3 s).
  clock.now += 3500;
  CHECK_FALSE(b.holder_renewing(lease));
  CHECK(b.holder_ttl_left() == 16);
  clock.now -= 1000;  // 2.5 s: within the window
  CHECK(b.holder_renewing(lease));
  // etcd does not answer the TTL question: as before the check, give_up alone decides.
  etcd.down = true;
  CHECK(b.holder_renewing(lease));
}

TEST_CASE("arbiter: stop ends the wait for another node's lease, never a won one") {
  N1Holds p;
  auto& [clock, etcd, a, b, holder, err] = p;
  int looks = 0;
  auto second_look = [&] { return ++looks == 2; };
  const std::int64_t t = clock.now;
  CHECK(b.acquire(Millis(12000), &holder, &err, {}, second_look) == LeaseKeeper::Acquired::kStopped);
  CHECK(looks == 2);
  CHECK(clock.now - t == 1000);  // one renew_interval between the two looks
  CHECK(etcd.holder(kKey) == "n1");
  // A free key is taken at the first look: stop is not even asked.
  REQUIRE(a.release(&err));
  looks = 0;
  CHECK(b.acquire(Millis(12000), &holder, &err, {}, [&] { return ++looks > 0; }) ==
        LeaseKeeper::Acquired::kYes);
  CHECK(looks == 0);
}

TEST_CASE("arbiter: a release lets the other node in at once") {
  N1Holds p;
  auto& [clock, etcd, a, b, holder, err] = p;
  CHECK(b.release(&err));  // n2 holds nothing: it must not delete n1's key
  CHECK(etcd.holder(kKey) == "n1");
  REQUIRE(a.release(&err));
  CHECK_FALSE(a.record().holds());
  const std::int64_t t = clock.now;
  REQUIRE(b.acquire(Millis(10000), &holder, &err) == LeaseKeeper::Acquired::kYes);
  CHECK(clock.now == t);
}

TEST_CASE("arbiter: a release etcd does not answer keeps the lease id for the next try") {
  FakeClock clock;
  FakeEtcd etcd(clock);
  LeaseKeeper a(arbiter_for("n1"), "VI_1", etcd, clock, {});
  std::string holder, err;
  REQUIRE(a.acquire(Millis(0), &holder, &err) == LeaseKeeper::Acquired::kYes);
  etcd.down = true;
  CHECK_FALSE(a.release(&err));
  CHECK(a.record().holds());
  CHECK(a.record().phase == Phase::kNone);
  etcd.down = false;
  CHECK(a.release(&err));
  CHECK_FALSE(a.record().holds());
  CHECK(etcd.holder(kKey).empty());
}

TEST_CASE("arbiter: a node that lost its record re-attaches its own key, never another's") {
  FakeClock clock;
  FakeEtcd etcd(clock);
  LeaseKeeper a(arbiter_for("n1"), "VI_1", etcd, clock, {});
  std::string holder, err;
  REQUIRE(a.acquire(Millis(0), &holder, &err) == LeaseKeeper::Acquired::kYes);
  const std::int64_t old_lease = a.record().lease_id;
  // Same node, fresh record (run_dir wiped): compare-and-swap on value + mod_revision.
  LeaseKeeper again(arbiter_for("n1"), "VI_1", etcd, clock, {});
  REQUIRE(again.acquire(Millis(0), &holder, &err) == LeaseKeeper::Acquired::kYes);
  CHECK(again.record().lease_id != old_lease);
  CHECK(etcd.keys[kKey].lease == again.record().lease_id);
  CHECK_FALSE(etcd.leases.count(old_lease));  // the orphan was revoked
}

TEST_CASE("arbiter: the fence deadline comes before etcd can expire the lease") {
  FakeClock clock;
  FakeEtcd etcd(clock);
  const auto cfg = arbiter_for("n1");
  LeaseKeeper a(cfg, "VI_1", etcd, clock, {});
  std::string holder, err;
  REQUIRE(a.acquire(Millis(0), &holder, &err) == LeaseKeeper::Acquired::kYes);
  clock.now += 1000;
  const std::int64_t sent = clock.now;
  REQUIRE(a.renew(&holder, &err) == LeaseKeeper::Renewed::kYes);
  CHECK(a.record().last_send_ms == sent);
  CHECK(cfg.fence_margin() == Millis(1500));
  CHECK(a.ms_to_fence() == 6000 - 1500);
  clock.now = sent + 6000 - 1500 - 1;
  CHECK_FALSE(a.must_fence());
  clock.now = sent + 6000 - 1500;
  CHECK(a.must_fence());
  CHECK(etcd.leases.count(a.record().lease_id));  // still alive at etcd
  CHECK(etcd.leases[a.record().lease_id] >= clock.now + cfg.fence_margin().count());
  // A failed renewal does not move the deadline.
  etcd.down = true;
  clock.now = sent + 2000;
  CHECK(a.renew(&holder, &err) == LeaseKeeper::Renewed::kFailed);
  CHECK(a.record().last_send_ms == sent);
}

TEST_CASE("arbiter: the renewer fences a writable master before its lease can expire") {
  FakeClock clock;
  FakeEtcd etcd(clock);
  FakeDb db;
  const auto cfg = arbiter_for("n1");
  LeaseKeeper k(cfg, "VI_1", etcd, clock, {});
  // Writable without a lease: takes it.
  TickResult t = keep_tick(k, db, cfg, false);
  CHECK(t.state == State::kOk);
  CHECK(t.summary.find("acquired") != std::string::npos);
  CHECK(t.journal["event"] == "acquired");
  CHECK(k.record().phase == Phase::kHolding);
  clock.now += 1000;
  t = keep_tick(k, db, cfg, false);
  CHECK(t.state == State::kOk);
  CHECK(t.journal.is_null());
  const std::int64_t floor = k.record().expiry_floor_ms();

  // etcd unreachable from here on: WARNING (exit 0) until the deadline, then the fence.
  etcd.down = true;
  std::int64_t fenced_at = 0;
  for (int i = 0; i < 10 && !fenced_at; ++i) {
    clock.now += 1000;
    t = keep_tick(k, db, cfg, false);
    if (t.state == State::kCritical) {
      fenced_at = clock.now;
    } else {
      CHECK(t.state == State::kWarning);
      CHECK_FALSE(db.ro);
    }
  }
  REQUIRE(fenced_at);
  CHECK(fenced_at < floor);
  CHECK(db.ro);
  CHECK(t.fenced);
  CHECK(t.journal["kind"] == "self-fence");
  CHECK(t.journal["read_only"] == true);
  CHECK(k.record().self_fenced);
  // Read-only afterwards, but no VIP candidate while etcd does not answer: CRITICAL (FAULT),
  // so a master cut off from everything cannot become MASTER again inside the partition and
  // win the VIP back with its priority at the heal.
  for (int i = 0; i < 5; ++i) {
    clock.now += 1000;
    t = keep_tick(k, db, cfg, false);
    CHECK(t.state == State::kCritical);
    CHECK(t.summary.find("not a candidate for the VIP") != std::string::npos);
    CHECK(k.record().holds());
    CHECK(k.record().self_fenced);
  }
  // The record says so across runs (keep is one process per tick).
  CHECK(LeaseRecord::from_json(k.record().to_json()).self_fenced);
  // etcd answers again: the lease goes back, the node is a candidate again (journaled).
  etcd.down = false;
  t = keep_tick(k, db, cfg, false);
  CHECK(t.state == State::kOk);
  CHECK(t.summary.find("lease released") != std::string::npos);
  CHECK(t.journal["event"] == "answers-again");
  CHECK_FALSE(k.record().holds());
  CHECK_FALSE(k.record().self_fenced);
  clock.now += 1000;
  t = keep_tick(k, db, cfg, false);
  CHECK(t.state == State::kOk);
  CHECK(t.summary == "read-only, holds no lease (standby)");
}

TEST_CASE("arbiter: acquiring the lease ends a self-fence") {
  FakeClock clock;
  FakeEtcd etcd(clock);
  FakeDb db;
  const auto cfg = arbiter_for("n1");
  LeaseRecord rec;
  rec.self_fenced = true;
  LeaseKeeper k(cfg, "VI_1", etcd, clock, rec);
  std::string holder, err;
  REQUIRE(k.acquire(Millis(0), &holder, &err) == LeaseKeeper::Acquired::kYes);
  CHECK_FALSE(k.record().self_fenced);
}

TEST_CASE("arbiter: a writable node whose key another node holds fences at once") {
  FakeClock clock;
  FakeEtcd etcd(clock);
  FakeDb db;
  LeaseKeeper other(arbiter_for("n2"), "VI_1", etcd, clock, {});
  std::string holder, err;
  REQUIRE(other.acquire(Millis(0), &holder, &err) == LeaseKeeper::Acquired::kYes);
  const auto cfg = arbiter_for("n1");
  LeaseKeeper k(cfg, "VI_1", etcd, clock, {});
  TickResult t = keep_tick(k, db, cfg, false);
  CHECK(t.state == State::kCritical);
  CHECK(db.ro);
  CHECK(t.journal["holder"] == "n2");
  CHECK(etcd.holder(kKey) == "n2");
}

TEST_CASE("arbiter: a writable node with no lease and no etcd fences itself") {
  FakeClock clock;
  FakeEtcd etcd(clock);
  FakeDb db;
  etcd.down = true;
  const auto cfg = arbiter_for("n1");
  LeaseKeeper k(cfg, "VI_1", etcd, clock, {});
  TickResult t = keep_tick(k, db, cfg, false);
  CHECK(t.state == State::kCritical);
  CHECK(db.ro);
}

TEST_CASE("arbiter: read-only nodes: standby, promotion in progress, unreachable server") {
  FakeClock clock;
  FakeEtcd etcd(clock);
  FakeDb db;
  db.ro = true;
  const auto cfg = arbiter_for("n1");
  LeaseKeeper k(cfg, "VI_1", etcd, clock, {});
  TickResult t = keep_tick(k, db, cfg, false);
  CHECK(t.state == State::kOk);
  CHECK(t.summary.find("standby") != std::string::npos);
  CHECK(etcd.holder(kKey).empty());  // a read-only node never takes the lease by itself

  // notify_master acquired it and is still running (catch-up): renewed although read-only.
  std::string holder, err;
  REQUIRE(k.acquire(Millis(0), &holder, &err) == LeaseKeeper::Acquired::kYes);
  k.record().phase = Phase::kPromoting;
  for (int i = 0; i < 10; ++i) {
    clock.now += 1000;
    t = keep_tick(k, db, cfg, true);
    CHECK(t.summary.find("promotion in progress") != std::string::npos);
  }
  CHECK(etcd.holder(kKey) == "n1");
  // The promoter died half-way: the read-only node hands the lease back.
  t = keep_tick(k, db, cfg, false);
  CHECK(t.summary.find("released") != std::string::npos);
  CHECK(etcd.holder(kKey).empty());

  db.reachable = false;
  t = keep_tick(k, db, cfg, false);
  CHECK(t.state == State::kUnknown);
  CHECK(db.fences == 0);
}

TEST_CASE("arbiter: the lease record survives a round trip and not a reboot") {
  test::TempDir dir;
  LeaseRecord r;
  r.instance = "VI_1";
  r.key = kKey;
  r.node = "n1";
  r.lease_id = 7587899152855741447LL;
  r.ttl_ms = 6000;
  r.last_send_ms = 123456;
  r.phase = Phase::kPromoting;
  r.promoter_pid = 42;
  std::string err;
  REQUIRE(write_record(dir.path(), r, &err));
  LeaseRecord back = read_record(dir.path(), "VI_1", &err);
  CHECK(err.empty());
  CHECK(back.lease_id == r.lease_id);
  CHECK(back.last_send_ms == 123456);
  CHECK(back.phase == Phase::kPromoting);
  CHECK(back.promoter_pid == 42);
  // Another boot's send times mean nothing: the record reads as holding nothing.
  Json j = back.to_json();
  j["boot_id"] = "00000000-0000-0000-0000-000000000000";
  REQUIRE(write_file_atomic(record_path(dir.path(), "VI_1"), j.dump(), 0644, &err));
  CHECK_FALSE(read_record(dir.path(), "VI_1", &err).holds());
  REQUIRE(write_file_atomic(record_path(dir.path(), "VI_1"), "{not json", 0644, &err));
  err.clear();
  CHECK_FALSE(read_record(dir.path(), "VI_1", &err).holds());
  CHECK(err.find("corrupt") != std::string::npos);
}

TEST_CASE("arbiter: config section and the instance's reference") {
  const std::string base = R"(
arbiters:
  lab:
    type: etcd
    endpoints: [http://192.0.2.11:2379, http://192.0.2.12:2379, https://192.0.2.13:2379]
    ttl: 6s
    node: n1
instances:
  VI_1:
    arbiter: lab
)";
  config::Document doc;
  std::string problems;
  CHECK_MESSAGE(test::make_doc(base, &doc, &problems), problems);
  config::Arbiter a;
  config::Diagnostics diag("hakit.yaml");
  REQUIRE(config::load_arbiter(doc, "lab", &a, &diag));
  CHECK(a.endpoints.size() == 3);
  CHECK(a.key("VI_1") == "/hakit/VI_1");
  CHECK(a.fence_margin() == Millis(1500));
  CHECK(a.acquire_wait() == Millis(12000));

  auto bad = [&](const std::string& text, const std::string& expect) {
    config::Document d;
    std::string p;
    CHECK_FALSE(test::make_doc(text, &d, &p));
    CHECK_MESSAGE(p.find(expect) != std::string::npos, p);
  };
  bad("arbiters:\n  lab: {endpoints: [192.0.2.11:2379]}\n", "is not an http:// or https:// URL");
  bad("arbiters:\n  lab: {endpoints: ['http://192.0.2.11:2379/v3']}\n", "no path");
  bad("arbiters:\n  lab: {ttl: 6s}\n", "arbiters.lab.endpoints: missing");
  bad("arbiters:\n  lab: {endpoints: [http://a:2379], ttl: 6500ms}\n", "whole seconds");
  bad("arbiters:\n  lab: {endpoints: [http://a:2379], ttl: 2s}\n", "must exceed margin + renew_interval");
  bad("arbiters:\n  lab: {endpoints: [http://a:2379], timeout: 1s}\n", "shorter than renew_interval");
  bad("arbiters:\n  lab: {endpoints: [http://a:2379], margin: 1s}\n", "at least renew_interval + timeout");
  bad("arbiters:\n  lab: {endpoints: [http://a:2379], user: root}\n", "user and password_file go together");
  bad("arbiters:\n  lab: {endpoints: [http://a:2379], type: zookeeper}\n", "arbiters.lab.type");
  bad("arbiters:\n  lab: {endpoints: [http://a:2379]}\ninstances:\n  VI_1: {arbiter: labb}\n",
      "did you mean 'lab'");
}
