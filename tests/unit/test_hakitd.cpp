// hakitd's pure parts with a fake clock and temp dirs: the probe schedule, hysteresis, the
// FIFO line parser and splitter, the track file writer, per-instance ordering of events,
// and the daemon: section.
#include <doctest/doctest.h>
#include <fcntl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <mutex>
#include <thread>

#include "hakitd/config.hpp"
#include "hakitd/daemon.hpp"
#include "hakitd/dispatch.hpp"
#include "hakitd/fifo.hpp"
#include "hakitd/health.hpp"
#include "hakitd/sd_notify.hpp"
#include "hakitd/track_file.hpp"
#include "helper/config_doc.hpp"
#include "helper/support.hpp"

using namespace hakit;
using namespace hakit::hakitd;
using std::chrono::milliseconds;

namespace {

const Clock::time_point kT0{};

Clock::time_point at(int ms) {
  return kT0 + milliseconds(ms);
}

}  // namespace

TEST_CASE("hakitd schedule: the next tick is on the period's grid, missed ticks are skipped") {
  CHECK(next_due(at(0), at(10), Millis(200)) == at(200));
  CHECK(next_due(at(200), at(200), Millis(200)) == at(400));
  // A probe that took 450 ms from the 200 ms tick: the 400 and 600 ticks are gone, not run
  // back to back.
  CHECK(next_due(at(200), at(650), Millis(200)) == at(800));
  CHECK(next_due(at(200), at(800), Millis(200)) == at(1000));
}

TEST_CASE("hakitd hysteresis: starts failed, healthy after rise successes, failed after fall") {
  Health h(config::Hysteresis{2, std::nullopt, 3});
  CHECK_FALSE(h.healthy());
  CHECK_FALSE(h.observe(true, at(0), at(1)));
  CHECK_FALSE(h.observe(true, at(200), at(201)));
  CHECK(h.observe(true, at(400), at(401)));
  CHECK(h.healthy());
  CHECK(h.reason() == "3 successes in a row");
  // One failure between successes is not a failover.
  CHECK_FALSE(h.observe(false, at(600), at(601)));
  CHECK_FALSE(h.observe(true, at(800), at(801)));
  CHECK_FALSE(h.observe(false, at(1000), at(1001)));
  CHECK(h.healthy());
  CHECK(h.observe(false, at(1200), at(1201)));
  CHECK_FALSE(h.healthy());
  CHECK(h.reason() == "2 failures in a row");
  // Recovery needs rise successes in a row again.
  CHECK_FALSE(h.observe(true, at(1400), at(1401)));
  CHECK_FALSE(h.observe(false, at(1600), at(1601)));
  CHECK_FALSE(h.observe(true, at(1800), at(1801)));
  CHECK_FALSE(h.observe(true, at(2000), at(2001)));
  CHECK(h.observe(true, at(2200), at(2201)));
  CHECK(h.healthy());
}

TEST_CASE("hakitd hysteresis: fall_after fails a check that has been failing that long") {
  Health h(config::Hysteresis{5, Millis(500), 1});
  CHECK(h.observe(true, at(0), at(1)));
  CHECK_FALSE(h.observe(false, at(100), at(110)));
  CHECK_FALSE(h.observe(false, at(300), at(310)));
  CHECK(h.observe(false, at(600), at(610)));  // failing since 100, now 610: > 500 ms
  CHECK(h.reason() == "failing for 500 ms");
}

TEST_CASE("hakitd hysteresis: a hanging probe fails the check after fall_after, not its timeout") {
  Health h(config::Hysteresis{3, Millis(400), 1});
  CHECK(h.observe(true, at(0), at(5)));
  CHECK_FALSE(h.in_flight(at(200), at(500)));  // hanging 300 ms
  CHECK(h.in_flight(at(200), at(600)));        // hanging 400 ms
  CHECK_FALSE(h.healthy());
  CHECK(h.reason().find("probe still running") != std::string::npos);
  // Without fall_after only the probe's own result (at its timeout) counts.
  Health counts(config::Hysteresis{1, std::nullopt, 1});
  CHECK(counts.observe(true, at(0), at(5)));
  CHECK_FALSE(counts.in_flight(at(0), at(100000)));
  CHECK(counts.healthy());
}

TEST_CASE("hakitd hysteresis: a slow success (0.3 s stall) is a success") {
  Health h(config::Hysteresis{2, Millis(1000), 2});
  h.observe(true, at(0), at(5));
  h.observe(true, at(200), at(205));
  REQUIRE(h.healthy());
  for (int t = 400; t < 5000; t += 500) {
    CHECK_FALSE(h.in_flight(at(t), at(t + 300)));
    CHECK_FALSE(h.observe(true, at(t), at(t + 300)));
  }
  CHECK(h.healthy());
}

TEST_CASE("hakitd FIFO: keepalived's lines parse") {
  std::string err;
  auto ev = parse_fifo_line("INSTANCE \"VI_1\" MASTER 100", &err);
  REQUIRE(ev);
  CHECK(ev->type == "INSTANCE");
  CHECK(ev->name == "VI_1");
  CHECK(ev->state == "MASTER");
  CHECK(ev->priority == 100);
  CHECK(ev->role_change());
  ev = parse_fifo_line("GROUP \"G 1\" BACKUP 0", &err);
  REQUIRE(ev);
  CHECK(ev->name == "G 1");
  CHECK(ev->state == "BACKUP");
  ev = parse_fifo_line("INSTANCE \"VI_1\" STOP 0", &err);
  REQUIRE(ev);
  CHECK(ev->role_change());
  ev = parse_fifo_line("INSTANCE \"VI_1\" MASTER_RX_LOWER_PRI 100", &err);
  REQUIRE(ev);
  CHECK_FALSE(ev->role_change());
  ev = parse_fifo_line("INSTANCE \"VI_1\" FAULT", &err);
  REQUIRE(ev);
  CHECK(ev->priority == -1);
}

TEST_CASE("hakitd FIFO: garbage lines are refused with a reason") {
  for (const char* line :
       {"", "garbage", "INSTANCE VI_1 MASTER 100", "VS \"x\" UP", "INSTANCE \"\" MASTER 1",
        "INSTANCE \"VI_1 MASTER 100", "INSTANCE \"VI_1\"", "INSTANCE \"VI_1\" master 100",
        "INSTANCE \"VI_1\" MASTER 100x", "INSTANCE \"VI_1\" MASTER 300",
        "INSTANCE \"VI_1\" MASTER -1", "INSTANCE \"V\x01\" MASTER 1",
        "INSTANCE \"VI_1\"MASTER 100"}) {
    std::string err;
    CAPTURE(line);
    CHECK_FALSE(parse_fifo_line(line, &err));
    CHECK_FALSE(err.empty());
  }
}

TEST_CASE("hakitd FIFO: lines split across reads, overlong lines dropped whole") {
  LineSplitter s;
  CHECK(s.feed("INSTANCE \"VI_1\" MA", 18).empty());
  auto lines = s.feed("STER 100\nINSTANCE \"VI_1\" BACKUP 90\nINST", 39);
  REQUIRE(lines.size() == 2);
  CHECK(lines[0] == "INSTANCE \"VI_1\" MASTER 100");
  CHECK(lines[1] == "INSTANCE \"VI_1\" BACKUP 90");
  s.reset();
  std::string big(LineSplitter::kMaxLine + 10, 'x');
  big += "\nok\n";
  lines = s.feed(big.data(), big.size());
  REQUIRE(lines.size() == 1);
  CHECK(lines[0] == "ok");
  CHECK(s.dropped() == 1);
}

TEST_CASE("hakitd FIFO: the reader drains everything, reopens after the writer left") {
  test::TempDir dir;
  FifoReader reader(dir / "notify.fifo");
  std::vector<std::string> got;
  std::string err;
  auto collect = [&](const std::string& l) { got.push_back(l); };
  REQUIRE(reader.poll_once(0, collect, &err));  // creates and opens it
  struct stat st {};
  REQUIRE(stat((dir / "notify.fifo").c_str(), &st) == 0);
  CHECK(S_ISFIFO(st.st_mode));
  CHECK((st.st_mode & 0777) == 0600);
  for (int round = 0; round < 2; ++round) {
    int w = open((dir / "notify.fifo").c_str(), O_WRONLY | O_NONBLOCK);
    REQUIRE(w >= 0);
    std::string burst;
    for (int i = 0; i < 500; ++i)
      burst += "INSTANCE \"VI_1\" BACKUP " + std::to_string(i % 256) + "\n";
    REQUIRE(write(w, burst.data(), burst.size()) == static_cast<ssize_t>(burst.size()));
    close(w);
    for (int i = 0; i < 10 && got.size() < 500u * (round + 1); ++i)
      REQUIRE(reader.poll_once(100, collect, &err));
    CHECK(got.size() == 500u * (round + 1));
  }
  CHECK(reader.opens() >= 2);
  // The FIFO replaced by another (keepalived recreated it): the reader follows the path.
  std::filesystem::remove(dir / "notify.fifo");
  REQUIRE(mkfifo((dir / "notify.fifo").c_str(), 0600) == 0);
  REQUIRE(reader.poll_once(0, collect, &err));
  int w = open((dir / "notify.fifo").c_str(), O_WRONLY | O_NONBLOCK);
  REQUIRE(w >= 0);
  REQUIRE(write(w, "INSTANCE \"VI_2\" FAULT 0\n", 24) == 24);
  close(w);
  REQUIRE(reader.poll_once(100, collect, &err));
  CHECK(got.back() == "INSTANCE \"VI_2\" FAULT 0");
}

TEST_CASE("hakitd track file: atomic, 0644, rewritten when replaced, forced failed on exit") {
  test::TempDir dir;
  const std::string path = dir / "track/site";
  TrackFile t(path, 1);
  std::string err;
  REQUIRE(t.set(false, &err));
  CHECK(test::slurp(path) == "1\n");
  struct stat st {};
  REQUIRE(stat(path.c_str(), &st) == 0);
  CHECK((st.st_mode & 0777) == 0644);
  const ino_t first = st.st_ino;
  REQUIRE(t.set(true, &err));
  CHECK(test::slurp(path) == "0\n");
  REQUIRE(stat(path.c_str(), &st) == 0);
  CHECK(st.st_ino != first);  // a new file renamed over: keepalived never reads half of one
  // No temp files are left beside it.
  int entries = 0;
  for (const auto& e : std::filesystem::directory_iterator(dir / "track")) {
    (void)e;
    ++entries;
  }
  CHECK(entries == 1);
  // Unchanged state: not written again (same inode).
  const ino_t second = st.st_ino;
  REQUIRE(t.set(true, &err));
  REQUIRE(stat(path.c_str(), &st) == 0);
  CHECK(st.st_ino == second);
  // keepalived's `init_file 1 overwrite` at its start, or an operator's rm: written again.
  std::filesystem::remove(path);
  REQUIRE(t.set(true, &err));
  CHECK(test::slurp(path) == "0\n");
  usleep(20000);
  dir.write("track/site", "1\n", 0644);
  REQUIRE(t.set(true, &err));
  CHECK(test::slurp(path) == "0\n");
  REQUIRE(t.force_failed(&err));
  CHECK(test::slurp(path) == "1\n");
  TrackFile weighted(dir / "track/w", 50);
  REQUIRE(weighted.set(false, &err));
  CHECK(test::slurp(dir / "track/w") == "50\n");
}

TEST_CASE("hakitd dispatcher: events of one instance run in order, instances apart") {
  std::mutex mu;
  std::vector<std::string> order;
  std::atomic<bool> release{false};
  Dispatcher d([&](const notify::Event& ev) {
    if (ev.instance == "VI_1" && ev.state == "MASTER")
      while (!release) std::this_thread::sleep_for(milliseconds(1));
    std::lock_guard<std::mutex> lock(mu);
    order.push_back(ev.instance + " " + ev.state);
  });
  auto ev = [](const std::string& i, const std::string& s) {
    notify::Event e;
    e.instance = i;
    e.state = s;
    return e;
  };
  d.submit(ev("VI_1", "MASTER"));
  d.submit(ev("VI_1", "BACKUP"));
  d.submit(ev("VI_1", "FAULT"));
  d.submit(ev("VI_2", "MASTER"));
  // VI_2 is not held up by VI_1's running event.
  for (int i = 0; i < 2000; ++i) {
    {
      std::lock_guard<std::mutex> lock(mu);
      if (!order.empty()) break;
    }
    std::this_thread::sleep_for(milliseconds(1));
  }
  {
    std::lock_guard<std::mutex> lock(mu);
    REQUIRE(order.size() == 1);
    CHECK(order[0] == "VI_2 MASTER");
  }
  CHECK(d.pending() == 3);
  release = true;
  d.shutdown();  // runs what is queued
  REQUIRE(order.size() == 4);
  CHECK(order[1] == "VI_1 MASTER");
  CHECK(order[2] == "VI_1 BACKUP");
  CHECK(order[3] == "VI_1 FAULT");
}

TEST_CASE("hakitd config: defaults, per-check overrides and the track files") {
  config::Document doc;
  std::string problems;
  REQUIRE(test::make_doc(R"(
run_dir: /run/hk
checks:
  site: {type: http, url: "http://127.0.0.1/"}
  replica: {type: mysql, mysql: local}
mysql: {local: {host: 127.0.0.1}}
instances: {VI_1: {promote: [], demote: []}}
daemon:
  period: 100ms
  fall: 3
  fall_after: 400ms
  checks:
    site: {}
    replica: {period: 500ms, rise: 5, fall_after: 0, track_file: /run/keepalived/db, fail_value: 60}
  notify_fifo: /run/hk/keepalived.fifo
  instances: [VI_1]
)",
                         &doc, &problems));
  config::DaemonConfig dc;
  config::Diagnostics diag("hakit.yaml");
  REQUIRE(config::read_daemon_config(doc, &dc, &diag));
  REQUIRE(dc.checks.size() == 2);
  CHECK(dc.checks[0].name == "site");
  CHECK(dc.checks[0].type == "http");
  CHECK(dc.checks[0].period == Millis(100));
  CHECK(dc.checks[0].hysteresis.fall == 3);
  CHECK(dc.checks[0].hysteresis.rise == 3);
  CHECK(dc.checks[0].hysteresis.fall_after == Millis(400));
  CHECK(dc.checks[0].track_file == "/run/hk/track/site");
  CHECK(dc.checks[0].fail_value == 1);
  CHECK(dc.checks[1].type == "mysql");
  CHECK(dc.checks[1].period == Millis(500));
  CHECK(dc.checks[1].hysteresis.rise == 5);
  CHECK_FALSE(dc.checks[1].hysteresis.fall_after);
  CHECK(dc.checks[1].track_file == "/run/keepalived/db");
  CHECK(dc.checks[1].fail_value == 60);
  CHECK(dc.notify_fifo == "/run/hk/keepalived.fifo");
  CHECK(dc.instances == std::vector<std::string>{"VI_1"});

  REQUIRE(
      test::make_doc("checks: {site: {type: http, url: \"http://h/\"}}\n"
                     "daemon: {checks: [site]}\n",
                     &doc, &problems));
  dc = {};
  REQUIRE(config::read_daemon_config(doc, &dc, &diag));
  CHECK(dc.period == Millis(200));
  CHECK(dc.checks.at(0).track_file == "/run/hakit/track/site");
}

TEST_CASE("hakitd config: every mistake is named with its line and key") {
  config::Document doc;
  std::string problems;
  CHECK_FALSE(test::make_doc(R"(checks:
  site: {type: http, url: "http://127.0.0.1/"}
instances: {VI_1: {promote: [], demote: []}}
daemon:
  period: 10ms
  falll: 2
  checks:
    site: {track_file: relative}
    sitee: {}
  notify_fifo: fifo
  instances: [VI_9]
)",
                             &doc, &problems));
  CAPTURE(problems);
  CHECK(problems.find("hakit.yaml:5:11: daemon.period:") != std::string::npos);
  CHECK(problems.find("daemon.falll: unknown key (did you mean 'fall'?)") != std::string::npos);
  CHECK(problems.find("daemon.checks.site.track_file: must be an absolute path") !=
        std::string::npos);
  CHECK(problems.find("hakit.yaml:9:") != std::string::npos);
  CHECK(problems.find("no check 'sitee'") != std::string::npos);
  CHECK(problems.find("daemon.notify_fifo: must be an absolute path") != std::string::npos);
  CHECK(problems.find("no instance 'VI_9'") != std::string::npos);

  CHECK_FALSE(test::make_doc("daemon: {period: 1s}\n", &doc, &problems));
  CHECK(problems.find("nothing to do") != std::string::npos);
  CHECK_FALSE(test::make_doc(R"(checks:
  a: {type: http, url: "http://h/"}
  b: {type: http, url: "http://h/"}
daemon: {checks: {a: {track_file: /run/x}, b: {track_file: /run/x}}}
)",
                             &doc, &problems));
  CHECK(problems.find("already another check's track_file") != std::string::npos);
}

TEST_CASE("hakitd sd_notify: one datagram to $NOTIFY_SOCKET; the watchdog interval") {
  test::TempDir dir;
  const std::string path = dir / "notify.sock";
  int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  REQUIRE(fd >= 0);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::snprintf(addr.sun_path, sizeof addr.sun_path, "%s", path.c_str());
  REQUIRE(bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
  setenv("NOTIFY_SOCKET", path.c_str(), 1);
  CHECK(sd_notify("READY=1\nSTATUS=running"));
  char buf[256] = {};
  ssize_t n = recv(fd, buf, sizeof buf - 1, MSG_DONTWAIT);
  CHECK(std::string(buf, n > 0 ? static_cast<size_t>(n) : 0) == "READY=1\nSTATUS=running");
  close(fd);
  unsetenv("NOTIFY_SOCKET");
  CHECK(sd_notify("WATCHDOG=1"));  // no systemd: nothing to do, not an error

  setenv("WATCHDOG_USEC", "2000000", 1);
  unsetenv("WATCHDOG_PID");
  CHECK(watchdog_interval() == Millis(2000));
  setenv("WATCHDOG_PID", "1", 1);  // another process's watchdog
  CHECK_FALSE(watchdog_interval());
  setenv("WATCHDOG_PID", std::to_string(getpid()).c_str(), 1);
  CHECK(watchdog_interval() == Millis(2000));
  unsetenv("WATCHDOG_USEC");
  unsetenv("WATCHDOG_PID");
  CHECK_FALSE(watchdog_interval());
}
