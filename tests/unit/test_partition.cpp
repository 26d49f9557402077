// Partition safety: errant GTID ranges, and the guard's verdicts (mode guard of
// check_mysql_slave) over what the two servers and the VIP say.
#include <doctest/doctest.h>

#include "check_mysql_slave/check_mysql_slave.hpp"
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
