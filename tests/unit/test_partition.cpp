// Partition safety: errant GTID ranges, and the guard's verdicts (mode guard of
// check_mysql_slave) over what the two servers and the VIP say.
#include <arpa/inet.h>
#include <doctest/doctest.h>

#include <cstring>

#include "check_mysql_slave/check_mysql_slave.hpp"
#include "common/arp_probe.hpp"
#include "common/mysql/fence.hpp"

using namespace hakit;
using hakit::check_mysql::GuardFacts;

namespace {

mysql::Promotion promoted(std::int64_t epoch_us, const std::string& at) {
  mysql::Promotion p;
  p.epoch_us = epoch_us;
  p.at = at;
  p.host = "n";
  return p;
}

CheckResult guard(const GuardFacts& f) { return check_mysql::evaluate_guard({}, f); }

/// A writable master whose peer answers as `peer_writable`.
GuardFacts master(bool peer_writable) {
  GuardFacts f;
  f.read_only = false;
  f.peer_configured = f.peer_reachable = true;
  f.peer_name = "peer";
  f.peer_read_only = !peer_writable;
  f.peer_replicating = !peer_writable;
  return f;
}

}  // namespace

TEST_CASE("errant GTIDs: a loser's history that the winner lacks, per domain and server") {
  // The winner (n2) replicated n1 up to 0-101-100, was promoted and wrote 0-102-101..150; n1
  // meanwhile wrote 0-101-101..120 behind a partition: those 20 are errant.
  CHECK(mysql::errant_maria("0-101-120", "0-101-100,0-102-150") ==
        std::vector<std::string>{"0-101-101..120"});
  // A prefix of the winner's history is no errant at all (the VRRP-only partition: the
  // fenced master's writes all reached the winner).
  CHECK(mysql::errant_maria("0-101-100", "0-101-100,0-102-150").empty());
  CHECK(mysql::errant_maria("0-101-90,0-102-3", "0-101-100,0-102-150").empty());
  // One transaction, and a server the winner never saw.
  CHECK(mysql::errant_maria("0-101-101", "0-101-100") == std::vector<std::string>{"0-101-101"});
  CHECK(mysql::errant_maria("1-103-7", "0-101-100") == std::vector<std::string>{"1-103-1..7"});
  // Several domains; spaces and newlines as the server prints long lists; junk skipped.
  CHECK(mysql::errant_maria("0-101-5,\n 1-101-9", "0-101-5, 1-101-3") ==
        std::vector<std::string>{"1-101-4..9"});
  CHECK(mysql::errant_maria("", "0-101-5").empty());
  CHECK(mysql::parse_maria_gtids("x,0-1-2,3-4,5-6-7-8").size() == 1);
}

TEST_CASE("guard: a node fenced by a master that is still writable stays out of the VIP") {
  GuardFacts f = master(true);
  f.read_only = true;
  f.replicating = f.replica_running = true;
  f.source = "192.0.2.12:3306";
  f.mark = mysql::FenceMark{1, "2026-11-25 17:40:01.000000", "n2", "", "0-101-57", "fenced", ""};
  auto r = guard(f);
  CHECK(r.state == State::kCritical);
  CHECK(r.summary.find("fenced by n2 at 2026-11-25 17:40:01") != std::string::npos);
  CHECK(r.summary.find("0-101-57") != std::string::npos);
  CHECK(r.summary.find("--clear-fence") != std::string::npos);
  // The fencer gone (dead or read-only): the mark no longer keeps this node out, it is the
  // standby that must take over.
  f.peer_reachable = false;
  f.peer_error = "connection refused";
  r = guard(f);
  CHECK(r.state == State::kOk);
  CHECK(r.summary.find("fence mark from n2") != std::string::npos);
  CHECK(r.summary.find("unreachable") != std::string::npos);
}

TEST_CASE("guard: errant transactions keep a node out whatever the peer says") {
  GuardFacts f;
  f.mark = mysql::FenceMark{2, "2026-11-25 18:00:00.000000", "n1", "", "0-101-120", "errant",
                            "0-101-101..120"};
  auto r = guard(f);
  CHECK(r.state == State::kCritical);
  CHECK(r.summary.find("errant transactions 0-101-101..120") != std::string::npos);
}

TEST_CASE("guard: split brain, the older promotion gives up and the newer one keeps the writes") {
  GuardFacts f = master(true);
  f.promotion = promoted(1000, "2026-11-25 17:00:00");
  f.peer_promotion = promoted(2000, "2026-11-25 17:10:00");
  CHECK(check_mysql::is_split_brain(f));
  auto r = guard(f);
  CHECK(r.state == State::kCritical);
  CHECK(r.summary.find("SPLIT BRAIN") != std::string::npos);
  CHECK(r.summary.find("superseded") != std::string::npos);
  // The newer side: a WARNING (exit 0 by default), it keeps the VIP.
  std::swap(f.promotion, f.peer_promotion);
  r = guard(f);
  CHECK(r.state == State::kWarning);
  CHECK(r.summary.find("must step down") != std::string::npos);
  // A master that never was promoted (the original one) is older than any promotion.
  f.promotion.reset();
  CHECK(guard(f).state == State::kCritical);
}

TEST_CASE("guard: the ordinary states") {
  GuardFacts f = master(false);
  CHECK_FALSE(check_mysql::is_split_brain(f));
  auto r = guard(f);
  CHECK(r.state == State::kOk);
  CHECK(r.summary == "writable master, peer is a replica");
  // A replica with its threads running.
  f = GuardFacts{};
  f.replicating = f.replica_running = true;
  f.source = "192.0.2.11:3306";
  CHECK(guard(f).state == State::kOk);
  // ... holding the VIP because keepalived made it MASTER: fine while the promotion runs,
  // CRITICAL once notify recorded that the promotion was refused.
  f.vip_here = true;
  CHECK(guard(f).state == State::kOk);
  f.promotion_failed = "was refused at 2026-11-25T17:00:00Z";
  r = guard(f);
  CHECK(r.state == State::kCritical);
  CHECK(r.summary.find("holds the VIP but its promotion was refused") != std::string::npos);
  // Demoted and not re-attached: a WARNING for the operator, no failover.
  f = GuardFacts{};
  r = guard(f);
  CHECK(r.state == State::kWarning);
  CHECK(r.summary.find("not re-attached") != std::string::npos);
}

TEST_CASE("guard: which promotion records of notify count as refused or failed") {
  auto st = [](const std::string& state, const std::string& outcome) {
    return Json{{"last_transition",
                 {{"time", "2026-11-26T12:38:53Z"}, {"state", state}, {"outcome", outcome}}}};
  };
  CHECK(check_mysql::promotion_failed_of(st("MASTER", "refused")) ==
        "was refused at 2026-11-26T12:38:53Z");
  CHECK(check_mysql::promotion_failed_of(st("MASTER", "failed")) ==
        "FAILED at 2026-11-26T12:38:53Z");
  // A promotion still waiting for its lease (or running its actions) is no failure: an older
  // refusal it replaced must not make the guard take the VIP away from under it.
  CHECK(check_mysql::promotion_failed_of(st("MASTER", "running")).empty());
  // ... unless the notify that wrote "running" is gone (SIGKILL, the OOM killer half-way):
  // the node may hold the VIP read-only with nothing left to promote it.
  Json running = st("MASTER", "running");
  running["last_transition"]["pid"] = 4242;
  auto gone = [](int) { return false; };
  auto there = [](int pid) { return pid == 4242; };
  CHECK(check_mysql::promotion_failed_of(running, gone) ==
        "was interrupted at 2026-11-26T12:38:53Z (notify pid 4242 is gone)");
  CHECK(check_mysql::promotion_failed_of(running, there).empty());
  running["last_transition"]["pid"] = "4242";  // not what notify writes: no verdict
  CHECK(check_mysql::promotion_failed_of(running, gone).empty());
  CHECK(check_mysql::promotion_failed_of(st("MASTER", "ok")).empty());
  CHECK(check_mysql::promotion_failed_of(st("BACKUP", "failed")).empty());
  CHECK(check_mysql::promotion_failed_of(Json()).empty());  // no state file, or not JSON
  CHECK(check_mysql::promotion_failed_of(Json{{"last_transition", "x"}}).empty());
}

TEST_CASE("guard: two VIP holders: the read-only one gives the VIP up, the master keeps it") {
  // A standby that keepalived made MASTER (VRRP dropped) while the master still holds the VIP:
  // its promotion waits or was refused, it is read-only and replicating.
  GuardFacts f;
  f.replicating = f.replica_running = true;
  f.source = "192.0.2.11:3306";
  f.vip_here = true;
  f.vip_elsewhere = {"02:00:00:00:00:01"};
  // Seen on one run only (a failover's old master letting go): no verdict yet, but said.
  auto r = guard(f);
  CHECK(r.state == State::kOk);
  CHECK(r.summary.find("TWO VIP HOLDERS") != std::string::npos);
  CHECK(r.summary.find("seen once") != std::string::npos);
  f.vip_elsewhere_persists = true;
  r = guard(f);
  CHECK(r.state == State::kCritical);
  CHECK(r.summary.find("TWO VIP HOLDERS: the VIP is also answered by 02:00:00:00:00:01") == 0);
  CHECK(r.summary.find("read-only and gives the VIP up") != std::string::npos);
  // The writable master keeps the VIP: a WARNING (exit 0), the other node must go.
  GuardFacts m = master(false);
  m.vip_here = true;
  m.vip_elsewhere = {"02:00:00:00:00:02"};
  m.vip_elsewhere_persists = true;
  r = guard(m);
  CHECK(r.state == State::kWarning);
  CHECK(r.summary.find("writable master and keeps it") != std::string::npos);
  // A verdict that is CRITICAL already (fenced by the peer) stays so, and says both.
  GuardFacts fenced = master(true);
  fenced.read_only = true;
  fenced.mark = mysql::FenceMark{1, "2026-11-25 17:40:01.000000", "n2", "", "0-101-57", "fenced", ""};
  fenced.vip_here = true;
  fenced.vip_elsewhere = {"02:00:00:00:00:02"};
  fenced.vip_elsewhere_persists = true;
  r = guard(fenced);
  CHECK(r.state == State::kCritical);
  CHECK(r.summary.find("fenced by n2") == 0);
  CHECK(r.summary.find("; TWO VIP HOLDERS") != std::string::npos);
  // Not here: other answers are the normal state of a standby and are not asked for.
  f.vip_here = false;
  CHECK(guard(f).state == State::kOk);
}

TEST_CASE("ARP probe: the frame asks for the VIP from 0.0.0.0; only other hosts' answers count") {
  const unsigned char own[6] = {0x02, 0, 0, 0, 0, 0x11};
  const unsigned char other[6] = {0x02, 0, 0, 0, 0, 0x12};
  in_addr vip{};
  REQUIRE(inet_pton(AF_INET, "192.0.2.100", &vip) == 1);
  auto f = arp_probe_frame(own, vip.s_addr);
  REQUIRE(f.size() == 28);
  CHECK(f[7] == 1);                                       // a request
  CHECK(std::memcmp(&f[8], own, 6) == 0);                 // from our MAC
  CHECK((f[14] | f[15] | f[16] | f[17]) == 0);            // sender 0.0.0.0: a probe
  CHECK(std::memcmp(&f[24], &vip.s_addr, 4) == 0);        // who has the VIP
  // Our own probe looped back, and requests for the VIP, are nobody's answer.
  CHECK_FALSE(arp_holder_of(f.data(), f.size(), vip.s_addr, own));
  // Another host's reply from the VIP names that host.
  auto reply = f;
  reply[7] = 2;
  std::memcpy(&reply[8], other, 6);
  std::memcpy(&reply[14], &vip.s_addr, 4);
  std::memcpy(&reply[18], own, 6);
  auto who = arp_holder_of(reply.data(), reply.size(), vip.s_addr, own);
  REQUIRE(who);
  CHECK(*who == "02:00:00:00:00:12");
  // ... and so does its gratuitous ARP (a request from the VIP).
  reply[7] = 1;
  CHECK(arp_holder_of(reply.data(), reply.size(), vip.s_addr, own));
  // A reply from another address, a short frame, or not Ethernet/IPv4: no.
  auto elsewhere = reply;
  elsewhere[17] ^= 1;
  CHECK_FALSE(arp_holder_of(elsewhere.data(), elsewhere.size(), vip.s_addr, own));
  CHECK_FALSE(arp_holder_of(reply.data(), 27, vip.s_addr, own));
  auto token_ring = reply;
  token_ring[1] = 6;
  CHECK_FALSE(arp_holder_of(token_ring.data(), token_ring.size(), vip.s_addr, own));
  // Not an IPv4 address, or a name: a clear error, not a probe.
  std::string err;
  CHECK_FALSE(other_holders("2001:db8::1", "", Millis(10), &err));
  CHECK(err.find("not an IPv4 address") != std::string::npos);
}
