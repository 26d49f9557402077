// sitesync: the argv of each rsync pass, the parsing of rsync's output, the guards and the
// round schedule.
#include <doctest/doctest.h>

#include <algorithm>

#include "sitesync/guards.hpp"
#include "sitesync/rsync.hpp"

using namespace hakit;
using namespace hakit::sitesync;

namespace {

bool has(const std::vector<std::string>& argv, const std::string& a) {
  return std::find(argv.begin(), argv.end(), a) != argv.end();
}

bool has_prefix(const std::vector<std::string>& argv, const std::string& p) {
  return std::any_of(argv.begin(), argv.end(), [&](const std::string& a) { return a.rfind(p, 0) == 0; });
}

config::SyncJob job() {
  config::SyncJob j;
  j.sources = {"rsync://192.0.2.41/archive_site1"};
  j.dest = "/srv/site1";
  return j;
}

class FakeHost : public HostView {
 public:
  std::string role;
  bool flag = false;
  bool vip_here = false;
  std::string recorded_role(const std::string&) override { return role; }
  bool failover_flag(std::string* why) override {
    if (flag) *why = "failover flag set at 2026-11-22T03:00:00Z by notify_master";
    return flag;
  }
  bool has_address(const std::string&) override { return vip_here; }
};

}  // namespace

TEST_CASE("sitesync argv: copy pass mirrors contents, counts deletions without deleting") {
  auto j = job();
  PassOptions o;
  o.log_file = "/tmp/l";
  o.probe_deletes = true;
  auto a = build_rsync_argv(j, Pass::kCopy, o);
  CHECK(a.front() == "rsync");
  CHECK(has(a, "--archive"));
  CHECK(has(a, "--delete"));
  CHECK(has(a, "--max-delete=0"));
  CHECK(has(a, "--log-file=/tmp/l"));
  CHECK(has(a, "--log-file-format=%i %l %n"));
  CHECK(has(a, "--timeout=120"));
  CHECK(has(a, "--contimeout=15"));
  CHECK_FALSE(has(a, "--delay-updates"));  // the default: files appear one by one, complete
  j.delay_updates = true;
  a = build_rsync_argv(j, Pass::kCopy, o);
  CHECK(has(a, "--partial-dir=.rsync-partial"));
  CHECK(has(a, "--delay-updates"));
  // rsync's own ".NAME.XXXXXX" beside NAME: no --temp-dir (a cross-directory rename per file).
  CHECK_FALSE(has_prefix(a, "--temp-dir"));
  CHECK_FALSE(has(a, "--stats"));
  CHECK(has(a, "--exclude=/.rsync-partial/"));
  CHECK_FALSE(has(a, "--dry-run"));
  CHECK_FALSE(has_prefix(a, "--info=progress2"));
  CHECK(a[a.size() - 2] == "rsync://192.0.2.41/archive_site1/");
  CHECK(a.back() == "/srv/site1/");

  // On a terminal: progress, no deletion at all in the copy pass.
  o.probe_deletes = false;
  o.progress = true;
  auto t = build_rsync_argv(j, Pass::kCopy, o);
  CHECK(has(t, "--info=progress2"));
  CHECK_FALSE(has_prefix(t, "--delete"));
  CHECK_FALSE(has_prefix(t, "--max-delete"));

  // --disable-delete: never a delete option, whatever the pass.
  j.delete_extraneous = false;
  o.probe_deletes = true;
  CHECK_FALSE(has_prefix(build_rsync_argv(j, Pass::kCopy, o), "--delete"));
  CHECK_FALSE(has_prefix(build_rsync_argv(j, Pass::kEstimate, {}), "--delete"));
}

TEST_CASE("sitesync argv: probe, delete, estimate, filters, ssh, bandwidth, extra args") {
  auto j = job();
  j.max_delete = 100;
  j.exclude = {"analysis", "storage"};
  j.grep = {"arc_"};
  j.bwlimit = 10 * 1024 * 1024;
  j.extra_args = {"--checksum"};
  j.rsync = "/usr/local/bin/rsync";
  auto p = build_rsync_argv(j, Pass::kProbe, {});
  CHECK(p.front() == "/usr/local/bin/rsync");
  CHECK(has(p, "--dry-run"));
  CHECK(has(p, "--delete"));
  CHECK(has(p, "--stats"));
  CHECK(has(p, "--no-human-readable"));
  auto d = build_rsync_argv(j, Pass::kDelete, {"/tmp/l", false, false});
  CHECK(has(d, "--delete-delay"));
  CHECK(has(d, "--max-delete=100"));
  CHECK_FALSE(has(d, "--dry-run"));
  CHECK(has(d, "--bwlimit=10240"));
  CHECK(has(d, "--exclude=analysis"));
  CHECK(has(d, "--exclude=storage"));
  // grep: directories, then names with a keyword, then nothing else; excludes come first.
  auto inc = std::find(d.begin(), d.end(), "--include=*/");
  REQUIRE(inc != d.end());
  CHECK(std::find(d.begin(), d.end(), "--exclude=storage") < inc);
  CHECK(*(inc + 1) == "--include=**arc_**");
  CHECK(*(inc + 2) == "--exclude=*");
  CHECK(has(d, "--prune-empty-dirs"));
  CHECK(std::find(d.begin(), d.end(), "--exclude=/.rsync-partial/") < inc);
  j.delay_updates = false;
  auto nd = build_rsync_argv(j, Pass::kDelete, {});
  CHECK_FALSE(has(nd, "--delay-updates"));
  CHECK_FALSE(has_prefix(nd, "--partial-dir"));
  CHECK_FALSE(has_prefix(nd, "--temp-dir"));
  CHECK(has(nd, "--exclude=/.rsync-partial/"));
  // No consumer of the per-file list: --stats gives the counts, no log file.
  PassOptions counts;
  counts.stats = true;
  auto st = build_rsync_argv(j, Pass::kCopy, counts);
  CHECK(has(st, "--stats"));
  CHECK_FALSE(has_prefix(st, "--log-file"));
  CHECK(has(build_rsync_argv(j, Pass::kDelete, counts), "--stats"));
  CHECK(has(d, "--checksum"));
  auto e = build_rsync_argv(j, Pass::kEstimate, {});
  CHECK(has(e, "--dry-run"));
  CHECK(has(e, "--stats"));
  CHECK_FALSE(has_prefix(e, "--log-file"));
  CHECK_FALSE(has_prefix(e, "--temp-dir"));  // it must exist; a dry run creates nothing

  config::SyncJob s;
  s.sources = {"nagios@192.0.2.11:/var/log/nagios", "/local/extra"};
  s.dest = "/srv/logs/";
  s.contimeout = Millis(5000);
  auto a = build_rsync_argv(s, Pass::kCopy, {});
  CHECK(has(a, "--rsh=ssh -o BatchMode=yes -o ConnectTimeout=5"));
  CHECK_FALSE(has_prefix(a, "--contimeout"));  // rsync refuses it without a daemon source
  CHECK(a.back() == "/srv/logs/");
  CHECK(a[a.size() - 3] == "nagios@192.0.2.11:/var/log/nagios/");
}

TEST_CASE("sitesync parses rsync --stats, plain, with separators and log prefixes") {
  const char* plain = R"(
Number of files: 10,001 (reg: 10,000, dir: 1)
Number of created files: 3 (reg: 3)
Number of deleted files: 4 (reg: 3, dir: 1)
Number of regular files transferred: 3
Total file size: 1,073,741,824 bytes
Total transferred file size: 12,345 bytes
Literal data: 0 bytes
Total bytes sent: 209
Total bytes received: 87
)";
  auto s = parse_stats(plain);
  CHECK(s.found);
  CHECK(s.entries == 10001);
  CHECK(s.regular == 10000);
  CHECK(s.created == 3);
  CHECK(s.deleted == 4);
  CHECK(s.transferred == 3);
  CHECK(s.total_size == 1073741824u);
  CHECK(s.transferred_size == 12345);
  CHECK(s.bytes_sent == 209);
  CHECK(s.bytes_received == 87);
  auto l = parse_stats("2026/11/22 03:12:08 [10846] Number of files: 7 (reg: 5, dir: 2)\n");
  CHECK(l.entries == 7);
  CHECK(l.regular == 5);
  CHECK_FALSE(parse_stats("rsync error: something\n").found);
}

TEST_CASE("sitesync parses the client log: new, updated, deleted, odd names, errors") {
  const char* log = "2026/11/22 03:14:04 [29171] building file list\n"
                    "2026/11/22 03:14:04 [29171] >f+++++++++ 2 arc_001.zip\n"
                    "2026/11/22 03:14:04 [29171] >f+++++++++ 8 we ird\\#012name with\\#040space\n"
                    "2026/11/22 03:14:04 [29171] cd+++++++++ 4096 sub/\n"
                    "2026/11/22 03:14:04 [29171] >f.st...... 7 sub/f3\n"
                    "2026/11/22 03:14:04 [29171] .f..t...... 7 sub/touched\n"
                    "2026/11/22 03:14:04 [29171] *deleting   0 od/q\n"
                    "2026/11/22 03:14:04 [29171] *deleting   0 od/\n"
                    "2026/11/22 03:14:04 [29171] sent 459 bytes  received 171 bytes  total size 20\n"
                    "2026/11/22 03:14:04 [29171] rsync error: some files vanished (code 24)\n";
  auto c = parse_log_file(log);
  CHECK(c.files == 3);
  CHECK(c.bytes == 17);
  CHECK(c.new_files == std::vector<std::string>{"arc_001.zip", "we ird\\#012name with space"});
  CHECK(c.changed_files.size() == 3);
  CHECK(c.changed_files[2] == "sub/f3");
  CHECK(c.deleted == std::vector<std::string>{"od/q", "od/"});
  REQUIRE(c.errors.size() == 1);
  // --out-format lines (dry run) have no prefix.
  auto d = parse_log_file(">f+++++++++ 5 a\n*deleting   0 b\nNumber of files: 2\n");
  CHECK(d.files == 1);
  CHECK(d.deleted.size() == 1);
  CHECK(describe_rsync_exit(10).find("socket") != std::string::npos);
  CHECK(describe_rsync_exit(24).find("vanished") != std::string::npos);
}

TEST_CASE("sitesync deletion guard: empty source, max_delete, shrunken source") {
  auto j = job();
  RsyncStats s;
  s.found = true;
  s.entries = 101;
  s.regular = 100;
  s.deleted = 0;
  CHECK(check_deletions(s, j).allowed);
  s.deleted = 10;
  CHECK(check_deletions(s, j).allowed);
  j.max_delete = 9;
  auto v = check_deletions(s, j);
  CHECK_FALSE(v.allowed);
  CHECK(v.reason.find("more than max_delete 9") != std::string::npos);
  j.max_delete = 10;
  CHECK(check_deletions(s, j).allowed);
  j.max_delete.reset();

  // The source holds 1 directory and no files: refused whatever the limits say.
  RsyncStats empty;
  empty.found = true;
  empty.entries = 2;
  empty.regular = 0;
  empty.deleted = 500;
  j.min_source_fraction = 0;
  auto e = check_deletions(empty, j);
  CHECK_FALSE(e.allowed);
  CHECK(e.reason.find("source lists no files") != std::string::npos);

  // Half-mounted: 100 entries left where the destination holds 100 + 300.
  j.min_source_fraction = 0.5;
  s.deleted = 300;
  auto h = check_deletions(s, j);
  CHECK_FALSE(h.allowed);
  CHECK(h.reason.find("min_source_fraction") != std::string::npos);
  j.min_source_fraction = 0.2;
  CHECK(check_deletions(s, j).allowed);
}

TEST_CASE("sitesync gates: failover flag first, then the recorded role, then the VIP") {
  FakeHost host;
  auto j = job();
  CHECK(gate_skip_reason(j, host).empty());
  host.flag = true;
  CHECK(gate_skip_reason(j, host).find("failover flag set") != std::string::npos);
  j.skip_on_failover_flag = false;
  CHECK(gate_skip_reason(j, host).empty());
  host.flag = false;

  j.when = "backup";
  j.instance = "VI_1";
  j.instance_vip = config::Vip{"192.0.2.100", "eth0"};  // read with the job (read_sync_job)
  host.role = "backup";
  CHECK(gate_skip_reason(j, host).empty());
  host.role = "master";
  auto why = gate_skip_reason(j, host);
  CHECK(why.find("when: backup, but instance VI_1 is master") != std::string::npos);
  host.role = "fault";
  CHECK_FALSE(gate_skip_reason(j, host).empty());

  // No role recorded yet: the VIP decides.
  host.role = "";
  host.vip_here = false;
  CHECK(gate_skip_reason(j, host).empty());
  host.vip_here = true;
  CHECK(gate_skip_reason(j, host).find("vip 192.0.2.100 is here") != std::string::npos);
  j.when = "master";
  CHECK(gate_skip_reason(j, host).empty());
  // Nothing to decide with: skip, never guess.
  j.instance = "VI_2";
  j.instance_vip.reset();
  CHECK(gate_skip_reason(j, host).find("no role is recorded") != std::string::npos);
}

TEST_CASE("sitesync round schedule: one round per interval, late rounds are skipped") {
  using namespace std::chrono;
  auto t0 = steady_clock::now();
  auto s0 = round_slot(0, t0, Millis(30000), t0 + Millis(5));
  CHECK_FALSE(s0.late);
  auto s1 = round_slot(1, t0, Millis(30000), t0 + Millis(2000));
  CHECK_FALSE(s1.late);
  CHECK(s1.at == t0 + Millis(30000));
  // Round 2 ran until 33 s: within the 3 s grace of slot 1 it still starts.
  CHECK_FALSE(round_slot(1, t0, Millis(30000), t0 + Millis(32900)).late);
  CHECK(round_slot(1, t0, Millis(30000), t0 + Millis(33100)).late);
  // Back to back when the interval is 0.
  CHECK_FALSE(round_slot(5, t0, Millis(0), t0 + Millis(99999)).late);
}
