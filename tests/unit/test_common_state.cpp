// State: journal lines intact under concurrent appends from several processes, rotation,
// torn lines; the failover flag; role records; Prometheus textfiles written atomically.
#include <dirent.h>
#include <doctest/doctest.h>
#include <fcntl.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <map>
#include <sstream>

#include "common/state.hpp"
#include "helper/support.hpp"

using namespace hakit;
using hakit::test::TempDir;
using hakit::test::contains;

namespace {


std::vector<std::string> lines_of(const std::string& path) {
  std::vector<std::string> out;
  std::istringstream in(hakit::test::slurp(path));
  std::string l;
  while (std::getline(in, l)) out.push_back(l);
  return out;
}

std::vector<std::string> entries(const std::string& dir) {
  std::vector<std::string> out;
  DIR* d = opendir(dir.c_str());
  while (dirent* e = d ? readdir(d) : nullptr)
    if (e->d_name[0] != '.') out.push_back(e->d_name);
  if (d) closedir(d);
  std::sort(out.begin(), out.end());
  return out;
}

}  // namespace

TEST_CASE("journal: appends from several processes never interleave") {
  TempDir dir;
  std::string path = dir / "state/journal.jsonl";
  const int kProcs = 4, kEach = 150;
  std::vector<pid_t> pids;
  for (int p = 0; p < kProcs; ++p) {
    pid_t pid = fork();
    if (pid == 0) {
      execl(HAKIT_TEST_HELPER, "test_helper", "journal", path.c_str(),
            std::to_string(kEach).c_str(), ("w" + std::to_string(p)).c_str(),
            static_cast<char*>(nullptr));
      _exit(127);
    }
    pids.push_back(pid);
  }
  for (pid_t pid : pids) {
    int status = 0;
    waitpid(pid, &status, 0);
    CHECK(WIFEXITED(status));
    CHECK(WEXITSTATUS(status) == 0);
  }
  auto lines = lines_of(path);
  CHECK(lines.size() == static_cast<size_t>(kProcs * kEach));
  std::map<std::string, int> next;  // per writer, entries arrive in order and complete
  for (const auto& l : lines) {
    Json j = Json::parse(l, nullptr, false);
    REQUIRE_FALSE(j.is_discarded());
    std::string tag = j.value("tag", "");
    CHECK(j.value("i", -1) == next[tag]);
    next[tag] = j.value("i", -1) + 1;
    CHECK(j.value("pad", "") == std::string(200, 'x'));
    CHECK(j.contains("time"));
    CHECK(j.contains("host"));
    CHECK(j.contains("pid"));
  }
  CHECK(next.size() == static_cast<size_t>(kProcs));
  for (const auto& [tag, n] : next) CHECK(n == kEach);
}

TEST_CASE("journal: size rotation keeps `keep` old files, tail reads across them") {
  TempDir dir;
  Journal j(dir / "j.jsonl", 1000, 2);
  std::string err;
  for (int i = 0; i < 60; ++i) REQUIRE(j.append({{"n", i}, {"pad", std::string(50, 'p')}}, &err));
  CHECK(entries(dir.path()) ==
        std::vector<std::string>{"j.jsonl", "j.jsonl.1", "j.jsonl.2", "j.jsonl.lock"});
  struct stat st {};
  REQUIRE(stat((dir / "j.jsonl.1").c_str(), &st) == 0);
  CHECK(st.st_size >= 1000);
  CHECK(st.st_size < 1200);
  size_t kept = lines_of(dir / "j.jsonl").size() + lines_of(dir / "j.jsonl.1").size() +
                lines_of(dir / "j.jsonl.2").size();
  auto all = j.tail(1000);
  REQUIRE(all.size() == kept);  // everything that was kept, across the three files
  for (size_t i = 0; i < kept; ++i) CHECK(all[i]["n"] == static_cast<int>(60 - kept + i));
  auto last = j.tail(5);
  REQUIRE(last.size() == 5);
  for (int i = 0; i < 5; ++i) CHECK(last[i]["n"] == 55 + i);  // newest last
  CHECK(j.tail(0).empty());
  // Caller-supplied time/host/pid are kept.
  REQUIRE(j.append({{"time", "T"}, {"host", "H"}, {"pid", 1}}, &err));
  auto one = j.tail(1);
  REQUIRE(one.size() == 1);
  CHECK(one[0]["time"] == "T");
  CHECK(one[0]["host"] == "H");
}

TEST_CASE("journal: a torn last line does not swallow the next entry") {
  TempDir dir;
  std::string path = dir.write("j.jsonl", "{\"n\":1}\n{\"n\":2,\"torn", 0640);
  Journal j(path);
  std::string err;
  REQUIRE(j.append({{"n", 3}}, &err));
  auto lines = lines_of(path);
  REQUIRE(lines.size() == 3);
  CHECK(lines[1] == "{\"n\":2,\"torn");
  auto all = j.tail(10);
  REQUIRE(all.size() == 2);
  CHECK(all[0]["n"] == 1);
  CHECK(all[1]["n"] == 3);
}

TEST_CASE("journal: a full disk leaves no torn line (ENOSPC on a tiny tmpfs)") {
  TempDir dir;
  const std::string mnt = dir / "fs";
  REQUIRE(mkdir(mnt.c_str(), 0700) == 0);
  // Needs root (the unit tests run as root in CI): a real filesystem that fills up.
  REQUIRE_MESSAGE(mount("tmpfs", mnt.c_str(), "tmpfs", 0, "size=64k") == 0,
                  (std::string("mount tmpfs: ") + std::strerror(errno)));
  struct Unmount {
    std::string path;
    ~Unmount() { umount2(path.c_str(), MNT_DETACH); }
  } unmount{mnt};
  const std::string path = mnt + "/journal.jsonl";
  Journal j(path);
  std::string err;
  REQUIRE(j.append({{"n", 1}}, &err));
  // Fill the filesystem, then free one page: the next entry fits only in part.
  const std::string filler = mnt + "/filler";
  int fd = open(filler.c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
  REQUIRE(fd >= 0);
  const std::string block(4096, 'f');
  while (write(fd, block.data(), block.size()) > 0) {
  }
  off_t size = lseek(fd, 0, SEEK_END);
  REQUIRE(size > 8192);
  REQUIRE(ftruncate(fd, size - 4096) == 0);
  close(fd);
  CHECK_FALSE(j.append({{"n", 2}, {"detail", std::string(16384, 'x')}}, &err));
  CHECK(contains(err, "No space left"));
  auto whole_lines = [&] {
    auto text = hakit::test::slurp(path);
    CHECK((text.empty() || text.back() == '\n'));
    auto lines = lines_of(path);
    for (const auto& l : lines) CHECK_FALSE(Json::parse(l, nullptr, false).is_discarded());
    return lines.size();
  };
  CHECK(whole_lines() == 1);
  // Space again: the next entry lands whole, right after the first.
  REQUIRE(unlink(filler.c_str()) == 0);
  REQUIRE(j.append({{"n", 3}}, &err));
  CHECK(whole_lines() == 2);
  auto all = j.tail(10);
  REQUIRE(all.size() == 2);
  CHECK(all[1]["n"] == 3);
}

TEST_CASE("journal: strings that are not UTF-8 are still one valid line") {
  TempDir dir;
  Journal j(dir / "j.jsonl");
  std::string err;
  REQUIRE(j.append({{"msg", std::string("bad \xff\xfe bytes\nand a newline")}}, &err));
  auto lines = lines_of(dir / "j.jsonl");
  REQUIRE(lines.size() == 1);
  CHECK_FALSE(Json::parse(lines[0], nullptr, false).is_discarded());
}

TEST_CASE("journal: an unwritable place is an error, not a crash") {
  TempDir dir;
  dir.write("file", "x");
  Journal j(dir / "file/journal.jsonl");
  std::string err;
  CHECK_FALSE(j.append({{"a", 1}}, &err));
  CHECK_FALSE(err.empty());
}

TEST_CASE("failover flag: set, read, clear; unreadable or corrupt reads as set") {
  TempDir dir;
  std::string err;
  CHECK_FALSE(read_failover_flag(dir.path()).set);
  FailoverFlag f;
  f.set_by = "notify_master";
  f.reason = "promoted VI_1";
  f.instance = "VI_1";
  REQUIRE(set_failover_flag(dir.path(), f, &err));
  auto r = read_failover_flag(dir.path());
  CHECK(r.set);
  CHECK(r.set_by == "notify_master");
  CHECK(r.reason == "promoted VI_1");
  CHECK(r.instance == "VI_1");
  CHECK(r.host == hostname());
  CHECK(r.time.size() == 24);
  REQUIRE(clear_failover_flag(dir.path(), &err));
  CHECK_FALSE(read_failover_flag(dir.path()).set);
  CHECK(clear_failover_flag(dir.path(), &err));  // clearing twice is fine

  dir.write("failover.flag", "garbage{", 0644);
  r = read_failover_flag(dir.path());
  CHECK(r.set);
  CHECK(contains(r.reason, "treated as set"));
  unlink((dir / "failover.flag").c_str());
  mkdir((dir / "failover.flag").c_str(), 0755);
  CHECK(read_failover_flag(dir.path()).set);
  rmdir((dir / "failover.flag").c_str());

  dir.write("failover.flag", "{}", 0600);
  chmod(dir.path().c_str(), 0755);
  int rc = hakit::test::run_as_uid(65534, [&] {
    auto x = read_failover_flag(dir.path());
    return x.set && contains(x.reason, "cannot be read") ? 0 : 1;
  });
  CHECK(rc == 0);
}

TEST_CASE("role record: round trip, and instance names cannot escape the state dir") {
  TempDir dir;
  std::string err;
  CHECK_FALSE(read_role(dir.path(), "VI_1"));
  REQUIRE(write_role(dir.path(), "VI_1", {"master", "", "MASTER"}, &err));
  auto r = read_role(dir.path(), "VI_1");
  REQUIRE(r);
  CHECK(r->role == "master");
  CHECK(r->event == "MASTER");
  CHECK_FALSE(r->time.empty());
  CHECK_FALSE(write_role(dir.path(), "../escape", {"master", "", ""}, &err));
  CHECK(contains(err, "not a usable instance name"));
  CHECK_FALSE(write_role(dir.path(), "", {"master", "", ""}, &err));
  CHECK_FALSE(read_role(dir.path(), "../VI_1"));
}

TEST_CASE("metrics: exposition text, grouped by name, escaped, written atomically") {
  TempDir dir;
  std::string path = dir / "metrics/sitesync.prom";
  std::vector<Metric> m{
      {"hakit_sync_bytes", "Bytes copied", "counter", {{"job", "site1"}}, 1234},
      {"hakit_sync_ok", "1 when the last run \\ succeeded\nyes", "gauge", {}, 1},
      {"hakit_sync_bytes", "Bytes copied", "counter", {{"job", "a\"b\\c\nd"}}, 5},
      {"hakit_lag_seconds", "lag", "gauge", {}, std::numeric_limits<double>::quiet_NaN()},
      {"hakit_inf", "inf", "gauge", {}, std::numeric_limits<double>::infinity()},
  };
  std::string err;
  REQUIRE(write_metrics(path, m, &err));
  CHECK(hakit::test::slurp(path) ==
        "# HELP hakit_sync_bytes Bytes copied\n"
        "# TYPE hakit_sync_bytes counter\n"
        "hakit_sync_bytes{job=\"site1\"} 1234\n"
        "hakit_sync_bytes{job=\"a\\\"b\\\\c\\nd\"} 5\n"
        "# HELP hakit_sync_ok 1 when the last run \\\\ succeeded\\nyes\n"
        "# TYPE hakit_sync_ok gauge\n"
        "hakit_sync_ok 1\n"
        "# HELP hakit_lag_seconds lag\n"
        "# TYPE hakit_lag_seconds gauge\n"
        "hakit_lag_seconds NaN\n"
        "# HELP hakit_inf inf\n"
        "# TYPE hakit_inf gauge\n"
        "hakit_inf +Inf\n");
  struct stat st {};
  REQUIRE(stat(path.c_str(), &st) == 0);
  CHECK((st.st_mode & 0777) == 0644);
  CHECK(entries(dir / "metrics") == std::vector<std::string>{"sitesync.prom"});  // no temp left

  CHECK_FALSE(write_metrics(path, {{"bad-name", "", "gauge", {}, 1}}, &err));
  CHECK(contains(err, "not a valid Prometheus metric name"));
  CHECK_FALSE(write_metrics(path, {{"ok", "", "gauge", {{"bad label", "x"}}, 1}}, &err));
  CHECK(contains(err, "label name"));
  // A refused write leaves the previous file whole.
  CHECK(contains(hakit::test::slurp(path), "hakit_inf +Inf"));
}

TEST_CASE("write_file_atomic: content, mode, replaces whole, refuses a missing parent chain") {
  TempDir dir;
  std::string err;
  std::string p = dir / "a/b/file";
  REQUIRE(write_file_atomic(p, "one\n", 0600, &err));
  REQUIRE(write_file_atomic(p, "two\n", 0640, &err));
  CHECK(hakit::test::slurp(p) == "two\n");
  struct stat st {};
  REQUIRE(stat(p.c_str(), &st) == 0);
  CHECK((st.st_mode & 0777) == 0640);
  CHECK(entries(dir / "a/b") == std::vector<std::string>{"file"});
  dir.write("blocker", "x");
  CHECK_FALSE(write_file_atomic(dir / "blocker/f", "x", 0600, &err));
}

TEST_CASE("time and host helpers") {
  std::string t = now_rfc3339();
  REQUIRE(t.size() == 24);
  CHECK(t[4] == '-');
  CHECK(t[10] == 'T');
  CHECK(t[19] == '.');
  CHECK(t.back() == 'Z');
  CHECK_FALSE(hostname().empty());
}

TEST_CASE("dump_json: bytes that are not UTF-8 become U+FFFD instead of an exception") {
  // A latin1 server message ("Zugriff verweigert für"), truncated inside a UTF-8 sequence.
  Json j{{"reason", std::string("f\xfcr \xe2\x82")}};
  CHECK_THROWS(j.dump());
  CHECK(dump_json(j) == "{\"reason\":\"f\xef\xbf\xbdr \xef\xbf\xbd\"}");
}
