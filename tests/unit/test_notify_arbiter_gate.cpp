// The arbiter gate of notify_master / notify_backup with a fake etcd and a fake server: no
// promote action runs without the lease, the lease is kept while writable and handed back
// once the database is read-only.
#include <doctest/doctest.h>

#include <unistd.h>

#include <algorithm>
#include <thread>

#include "common/arbiter/lease.hpp"
#include "helper/config_doc.hpp"
#include "helper/fake_etcd.hpp"
#include "helper/support.hpp"
#include "notify/notify.hpp"

using namespace hakit;
using namespace hakit::notify;
using hakit::test::EtcdProxy;
using hakit::test::FakeClock;
using hakit::test::FakeEtcd;

namespace {

class Server : public Db {
 public:
  bool read_only = true;
  std::vector<std::string> statements;
  bool query(const std::string& sql, std::vector<mysql::Row>* rows, std::string*) override {
    rows->clear();
    if (sql.find("read_only") != std::string::npos)
      rows->push_back({{"ro", read_only ? "1" : "0"}});
    else if (sql.rfind("SELECT", 0) == 0)
      rows->push_back({{"v", ""}});
    return true;  // SHOW SLAVE STATUS: no rows (not a replica)
  }
  bool exec(const std::string& sql, std::string*) override {
    statements.push_back(sql);
    if (sql == "SET GLOBAL read_only=OFF") read_only = false;
    if (sql == "SET GLOBAL read_only=ON") read_only = true;
    return true;
  }
  bool is_mariadb() const override { return true; }
  std::string quote(const std::string& s) const override { return "'" + s + "'"; }
};

class Connector : public DbConnector {
 public:
  Server server;
  std::unique_ptr<Db> open(const config::MysqlProfile&, Millis, std::string*) override {
    return std::make_unique<Proxy>(server);
  }

 private:
  struct Proxy : Db {
    explicit Proxy(Server& s) : s(s) {}
    Server& s;
    bool query(const std::string& q, std::vector<mysql::Row>* r, std::string* e) override {
      return s.query(q, r, e);
    }
    bool exec(const std::string& q, std::string* e) override { return s.exec(q, e); }
    bool is_mariadb() const override { return true; }
    std::string quote(const std::string& x) const override { return s.quote(x); }
  };
};

struct Gate {
  test::TempDir dir;
  FakeClock clock;
  FakeEtcd etcd{clock};
  Connector db;
  Services svc;
  config::NotifyConfig cfg;
  config::Arbiter arbiter;

  Gate() {
    svc.db = &db;
    svc.clock = &clock;
    svc.sleep = [this](Millis d) { clock.sleep(d); };
    svc.etcd = [this](const config::Arbiter&) -> std::unique_ptr<arbiter::Etcd> {
      return std::make_unique<EtcdProxy>(etcd);
    };
    const std::string text = "state_dir: " + dir.path() + "/state\nrun_dir: " + dir.path() +
                             "/run\nmysql:\n  local: {port: 3306}\narbiters:\n  lab: {endpoints: "
                             "[http://127.0.0.1:2379], node: n1, ttl: 6s, acquire_timeout: 3s}\n"
                             "instances:\n  VI_1:\n    arbiter: lab\n    promote: [{mysql_promote: "
                             "local}]\n    demote: [{mysql_demote: local}]\n";
    config::Document doc;
    std::string problems;
    REQUIRE_MESSAGE(test::make_doc(text, &doc, &problems), problems);
    config::Diagnostics diag("hakit.yaml");
    REQUIRE_MESSAGE(config::load_notify_config(doc, "VI_1", &cfg, &diag), diag.render());
    arbiter = cfg.arbiters.at("lab");
  }
  /// The other node (n2) holds the instance's lease.
  void n2_takes_the_lease() {
    config::Arbiter other = arbiter;
    other.node = "n2";
    arbiter::LeaseKeeper n2(other, "VI_1", etcd, clock, {});
    std::string holder, err;
    REQUIRE(n2.acquire(Millis(0), &holder, &err) == arbiter::LeaseKeeper::Acquired::kYes);
  }
  /// notify's record of the instance's last transition (what check_mysql_slave's guard reads).
  Json last_transition() {
    Json st = Json::parse(test::slurp(instance_state_path(cfg, "VI_1")), nullptr, false);
    return st.is_object() ? st.value("last_transition", Json::object()) : Json::object();
  }
  Outcome fire(const std::string& state) {
    Event ev;
    ev.instance = "VI_1";
    ev.state = state;
    return handle_event(ev, cfg, "/etc/hakit/hakit.yaml", svc);
  }
};

}  // namespace

TEST_CASE("arbiter gate: no promote action runs while another node holds the lease") {
  Gate g;
  g.n2_takes_the_lease();
  const std::int64_t t0 = g.clock.now;  // n2's 6 s lease outlives n1's 3 s wait
  Outcome out = g.fire("MASTER");
  CHECK(out.code == ExitCode::kRefused);
  CHECK(out.decision == "refused");
  CHECK(g.clock.now - t0 >= 3000);  // waited acquire_timeout, then gave up
  CHECK(out.journal["arbiter"]["lease"] == "refused");
  CHECK(out.journal["arbiter"]["holder"] == "n2");
  CHECK(out.message.find("held by n2") != std::string::npos);
  CHECK(g.db.server.statements.empty());  // mysql_promote never ran
  CHECK(g.db.server.read_only);
  CHECK(g.etcd.holder("/hakit/VI_1") == "n2");
  // Recorded where the guard looks: this node holds the VIP (keepalived made it MASTER) while
  // its promotion was refused, so its guard is CRITICAL and keepalived takes the VIP away.
  CHECK(g.last_transition()["state"] == "MASTER");
  CHECK(g.last_transition()["outcome"] == "refused");
}

TEST_CASE("arbiter gate: promoted with the lease, handed back after the demotion") {
  Gate g;
  Outcome out = g.fire("MASTER");
  REQUIRE_MESSAGE(out.code == ExitCode::kSuccess, out.message);
  CHECK_FALSE(g.db.server.read_only);
  CHECK(out.journal["arbiter"]["lease"] == "held");
  CHECK(g.etcd.holder("/hakit/VI_1") == "n1");
  std::string err;
  auto rec = arbiter::read_record(g.cfg.run_dir, "VI_1", &err);
  CHECK(rec.holds());
  CHECK(rec.phase == arbiter::Phase::kHolding);

  out = g.fire("BACKUP");
  REQUIRE_MESSAGE(out.code == ExitCode::kSuccess, out.message);
  CHECK(g.db.server.read_only);
  CHECK(out.journal["arbiter"]["lease"] == "released");
  CHECK(g.etcd.holder("/hakit/VI_1").empty());
  CHECK_FALSE(arbiter::read_record(g.cfg.run_dir, "VI_1", &err).holds());
}

TEST_CASE("arbiter gate: a lease lost during the catch-up stops the promotion before read_only=OFF") {
  Gate g;
  // The lease vanishes between the acquire and mysql_promote's last step (an operator deleted
  // the key, or the node was cut off long enough): the hook refuses, the server stays read-only.
  bool dropped = false;
  g.svc.etcd = [&](const config::Arbiter&) -> std::unique_ptr<arbiter::Etcd> {
    struct Dropping : EtcdProxy {
      Dropping(FakeEtcd& e, bool* d) : EtcdProxy(e), e(e), dropped(d) {}
      FakeEtcd& e;
      bool* dropped;
      bool keepalive(std::int64_t id, std::int64_t* t, std::string* err) override {
        if (!*dropped) {
          *dropped = true;
          e.keys.clear();  // the key is gone, the lease still alive
        }
        return EtcdProxy::keepalive(id, t, err);
      }
    };
    return std::make_unique<Dropping>(g.etcd, &dropped);
  };
  Outcome out = g.fire("MASTER");
  CHECK(out.code == ExitCode::kRefused);
  CHECK(dropped);
  CHECK(g.db.server.read_only);
  CHECK(std::find(g.db.server.statements.begin(), g.db.server.statements.end(),
                  "SET GLOBAL read_only=OFF") == g.db.server.statements.end());
  CHECK(out.message.find("before read_only=OFF") != std::string::npos);
  CHECK(out.journal["arbiter"]["lease"].get<std::string>().find("released") == 0);
}

namespace {

/// The VIP is here, and other hosts answer ARP for it as `others` says.
class TwoHolders : public AddressProbe {
 public:
  std::vector<std::string> others;
  int probes = 0;
  bool once = false;  ///< the others answer the first look only (an old master letting go)
  /// When set, only looks from this thread (the gate's) find the others; the promotion's own
  /// probe runs on another thread.
  std::optional<std::thread::id> only_thread;
  bool is_local(const std::string&, const std::string&, std::string*) override { return true; }
  std::optional<std::vector<std::string>> other_holders(const std::string&, const std::string&,
                                                        Millis, std::string*) override {
    if (only_thread && std::this_thread::get_id() != *only_thread) return std::vector<std::string>{};
    ++probes;
    auto seen = others;
    if (once) others.clear();
    return seen;
  }
};

Outcome fire_with_vip(Gate& g, TwoHolders& probe) {
  g.cfg.instances.at("VI_1").vip = config::Vip{"192.0.2.100", "eth0"};
  g.svc.addresses = &probe;
  return g.fire("MASTER");
}

}  // namespace

TEST_CASE("arbiter gate: a lease holder that still holds the VIP ends the wait at once") {
  Gate g;
  g.n2_takes_the_lease();
  TwoHolders probe;
  probe.others = {"02:00:00:00:00:02"};
  const std::int64_t t0 = g.clock.now;
  Outcome out = fire_with_vip(g, probe);
  CHECK(out.code == ExitCode::kRefused);
  // Two looks a poll (renew_interval, 1 s) apart, not acquire_timeout's 3 s.
  CHECK(g.clock.now - t0 < 2000);
  CHECK(probe.probes == 2);
  CHECK(out.message.find("still holds the VIP") != std::string::npos);
  CHECK(out.message.find("02:00:00:00:00:02") != std::string::npos);
  CHECK(out.journal["arbiter"]["vip_also_held_by"][0] == "02:00:00:00:00:02");
  // Alerted (and journaled on its own) as two VIP holders.
  REQUIRE(out.journal.contains("alerts"));
  CHECK(out.journal["alerts"][0]["kind"] == "two-vip-holders");
  CHECK(out.journal["alerts"][0]["text"].get<std::string>().find("--clear-fence") !=
        std::string::npos);
  // Marked as fenced by n2 (unlogged), so the guard keeps this node out while n2 is the
  // writable master; nothing else ran: the database stays read-only.
  CHECK(out.journal["arbiter"]["mark"] == "written");
  const auto& sql = g.db.server.statements;
  auto insert = std::find_if(sql.begin(), sql.end(), [](const std::string& q) {
    return q.rfind("INSERT INTO hakit.fence", 0) == 0;
  });
  REQUIRE(insert != sql.end());
  CHECK(insert->find("'n2'") != std::string::npos);
  CHECK(insert->find("superseded: n2 holds the arbiter lease") != std::string::npos);
  CHECK(std::find(sql.begin(), sql.end(), "SET SESSION sql_log_bin=0") < insert);
  CHECK(std::find(sql.begin(), sql.end(), "SET GLOBAL read_only=OFF") == sql.end());
  CHECK(g.db.server.read_only);
  CHECK(g.etcd.holder("/hakit/VI_1") == "n2");
  CHECK(g.last_transition()["outcome"] == "refused");
}

TEST_CASE("arbiter gate: a VIP answered once (a failover's old master letting go) is waited out") {
  Gate g;
  g.n2_takes_the_lease();
  // The first look finds the old master's VIP; it is gone by the second (and never after).
  TwoHolders probe;
  probe.once = true;
  probe.others = {"02:00:00:00:00:02"};
  const std::int64_t t0 = g.clock.now;
  Outcome out = fire_with_vip(g, probe);
  CHECK(out.code == ExitCode::kRefused);
  CHECK(g.clock.now - t0 >= 3000);  // the whole acquire_timeout
  CHECK(out.message.find("did not end within") != std::string::npos);
}

TEST_CASE("arbiter gate: a holder that stopped renewing is waited out even while it answers ARP") {
  Gate g;
  g.n2_takes_the_lease();
  // n2 was cut off from everything 4 s ago: it renews no more, and keepalived made this node
  // MASTER while n2 still answers ARP for the VIP (it drops it once it self-fences). Giving
  // up would leave no writable node; the lease ends within acquire_timeout.
  g.clock.now += 4000;
  // n2 answers while the gate waits (this thread); once it self-fenced and this node promoted,
  // the promotion's own probe (another thread, which must not touch the fake etcd) finds
  // nobody else.
  TwoHolders probe;
  probe.only_thread = std::this_thread::get_id();
  probe.others = {"02:00:00:00:00:02"};
  Outcome out = fire_with_vip(g, probe);
  REQUIRE_MESSAGE(out.code == ExitCode::kSuccess, out.message);
  CHECK(out.journal["arbiter"]["lease"] == "held");
  CHECK_FALSE(out.journal["arbiter"].contains("vip_also_held_by"));
  CHECK_FALSE(g.db.server.read_only);
  CHECK(g.etcd.holder("/hakit/VI_1") == "n1");
  CHECK(g.last_transition()["outcome"] == "ok");
}

TEST_CASE("arbiter gate: a newer event ends the wait for the lease; nothing ran, nothing refused") {
  Gate g;
  g.n2_takes_the_lease();
  // While this MASTER event waits for n2's lease, keepalived makes the node FAULT (its guard)
  // or BACKUP (a heal): that event takes the next ticket and waits for the instance lock.
  g.svc.etcd = [&g](const config::Arbiter&) -> std::unique_ptr<arbiter::Etcd> {
    struct Ticketing : EtcdProxy {
      Ticketing(FakeEtcd& e, Gate& g) : EtcdProxy(e), g(g) {}
      Gate& g;
      int gets = 0;
      bool get(const std::string& k, std::optional<arbiter::KeyValue>* kv, std::string* err) override {
        std::string e;
        if (++gets == 2) take_ticket(ticket_path(g.cfg, "VI_1"), &e);
        return EtcdProxy::get(k, kv, err);
      }
    };
    return std::make_unique<Ticketing>(g.etcd, g);
  };
  const std::int64_t t0 = g.clock.now;
  Outcome out = g.fire("MASTER");
  CHECK(out.code == ExitCode::kSuccess);
  CHECK(out.decision == "superseded");
  CHECK(g.clock.now - t0 < 3000);  // not acquire_timeout
  CHECK(out.journal["arbiter"]["lease"] == "not acquired: a newer event arrived");
  CHECK(out.message.find("a newer event") != std::string::npos);
  CHECK(g.db.server.statements.empty());
  CHECK(g.db.server.read_only);
  // Not a refusal for the guard: the newer event may be a MASTER one that promotes.
  CHECK(g.last_transition()["outcome"] == "running");
  CHECK(g.last_transition()["pid"] == static_cast<int>(getpid()));
  CHECK(g.etcd.holder("/hakit/VI_1") == "n2");
}
