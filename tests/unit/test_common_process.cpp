// run_process: argv without a shell, own process group, hard timeout that takes the whole
// group (grandchildren that ignore SIGTERM included), bounded capture, stdin, env, cwd.
#include <doctest/doctest.h>
#include <fcntl.h>
#include <signal.h>

#include <sstream>
#include <thread>

#include "common/process.hpp"
#include "helper/support.hpp"

using namespace hakit;
using hakit::test::TempDir;
using hakit::test::contains;

namespace {
pid_t read_pid(const std::string& path) {
  // The helper writes the file right after fork; give a loaded machine a moment.
  for (int i = 0; i < 200; ++i) {
    std::string s = hakit::test::slurp(path);
    if (!s.empty() && s.back() == '\n') return static_cast<pid_t>(std::atol(s.c_str()));
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return 0;
}
}  // namespace

TEST_CASE("process: stdout, stderr and exit status are captured") {
  ProcessSpec spec;
  spec.argv = {"printf", "%s|%s", "a b", "it's"};  // looked up in PATH, no shell
  auto r = run_process(spec);
  CHECK(r.ok());
  CHECK(r.out == "a b|it's");
  CHECK(r.describe() == "exit 0");

  spec.argv = {"ls", "/nonexistent-hakit"};
  r = run_process(spec);
  CHECK(r.started);
  CHECK(r.exit_code == 2);
  CHECK_FALSE(r.ok());
  CHECK(contains(r.err, "nonexistent-hakit"));
  CHECK(r.describe() == "exit 2");

  spec.argv = {"/bin/false"};
  CHECK(run_process(spec).exit_code == 1);
}

TEST_CASE("process: a death by signal is reported") {
  ProcessSpec spec;
  spec.argv = {hakit::test::helper_path(), "raise", std::to_string(SIGSEGV)};
  auto r = run_process(spec);
  CHECK(r.started);
  CHECK(r.signal == SIGSEGV);
  CHECK_FALSE(r.ok());
  CHECK(r.describe() == "killed by SIGSEGV");
}

TEST_CASE("process: commands that cannot start say why") {
  ProcessSpec spec;
  spec.argv = {"/nonexistent/hakit-tool"};
  auto r = run_process(spec);
  CHECK_FALSE(r.started);
  CHECK(contains(r.describe(), "not started: /nonexistent/hakit-tool: No such file"));
  spec.argv = {};
  CHECK(run_process(spec).spawn_error == "empty command");
  spec.argv = {"pwd"};
  spec.cwd = "/nonexistent-dir";
  r = run_process(spec);
  CHECK_FALSE(r.started);
  CHECK(contains(r.spawn_error, "cwd /nonexistent-dir"));
}

TEST_CASE("process: cwd, env and stdin reach the child") {
  TempDir dir;
  ProcessSpec spec;
  spec.argv = {"pwd"};
  spec.cwd = dir.path();
  CHECK(run_process(spec).out == dir.path() + "\n");

  setenv("HAKIT_UNIT_REPLACED", "old", 1);
  spec = {};
  spec.argv = {"env"};
  spec.env_extra = {"HAKIT_UNIT_X=1 2", "HAKIT_UNIT_REPLACED=new"};
  auto r = run_process(spec);
  CHECK(contains(r.out, "\nHAKIT_UNIT_X=1 2\n"));
  CHECK(contains(r.out, "HAKIT_UNIT_REPLACED=new\n"));
  CHECK_FALSE(contains(r.out, "HAKIT_UNIT_REPLACED=old"));
  unsetenv("HAKIT_UNIT_REPLACED");

  // More than a pipe buffer both ways: no deadlock, nothing lost.
  spec = {};
  spec.argv = {"cat"};
  spec.stdin_data.assign(1 << 20, 'x');
  for (size_t i = 0; i < spec.stdin_data.size(); i += 1000) spec.stdin_data[i] = '\n';
  spec.capture_limit = 2 << 20;
  r = run_process(spec);
  CHECK(r.ok());
  CHECK(r.out == spec.stdin_data);

  // A child that ignores its stdin does not hang or kill us (SIGPIPE).
  spec.argv = {"true"};
  CHECK(run_process(spec).ok());

  // Without stdin_data the child reads EOF at once.
  spec = {};
  spec.argv = {"cat"};
  spec.timeout = Millis(5000);
  r = run_process(spec);
  CHECK(r.ok());
  CHECK_FALSE(r.timed_out);
}

TEST_CASE("process: capture is bounded and says it was truncated") {
  ProcessSpec spec;
  spec.argv = {"head", "-c", "1000000", "/dev/zero"};
  spec.capture_limit = 1000;
  auto r = run_process(spec);
  CHECK(r.ok());  // the child was drained to its end, not blocked on a full pipe
  CHECK(r.out.size() == 1000);
  CHECK(r.out_truncated);
  CHECK_FALSE(r.err_truncated);
}

TEST_CASE("process: our file descriptors do not leak into the child") {
  int fd = open("/dev/null", O_RDONLY);  // deliberately without O_CLOEXEC
  REQUIRE(fd >= 0);
  REQUIRE(dup2(fd, 57) == 57);
  ProcessSpec spec;
  spec.argv = {"ls", "/proc/self/fd"};
  auto r = run_process(spec);
  close(57);
  close(fd);
  CHECK(r.ok());
  CHECK_FALSE(contains("\n" + r.out, "\n57\n"));
  CHECK(contains(r.out, "0\n1\n2\n"));
}

TEST_CASE("process: the timeout takes the whole group, also what ignores SIGTERM") {
  TempDir dir;
  std::string pidfile = dir / "grandchild.pid";
  ProcessSpec spec;
  spec.argv = {hakit::test::helper_path(), "stubborn", pidfile};
  spec.timeout = Millis(300);
  spec.kill_grace = Millis(300);
  auto r = run_process(spec);
  CHECK(r.started);
  CHECK(r.timed_out);
  CHECK(r.signal == SIGKILL);
  CHECK_FALSE(r.ok());
  CHECK(contains(r.describe(), "timed out after"));
  CHECK(contains(r.describe(), "killed by SIGKILL"));
  CHECK(r.elapsed >= Millis(600));
  // timeout + grace, with slack for a loaded two-core box
  CHECK(r.elapsed < Millis(600 + 1500));
  pid_t grandchild = read_pid(pidfile);
  REQUIRE(grandchild > 0);
  bool gone = false;
  for (int i = 0; i < 100 && !gone; ++i) {
    gone = hakit::test::process_gone(grandchild);
    if (!gone) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  CHECK(gone);
}

TEST_CASE("process: a polite child stops at SIGTERM without waiting for the grace") {
  ProcessSpec spec;
  spec.argv = {"sleep", "30"};
  spec.timeout = Millis(200);
  spec.kill_grace = Millis(5000);
  auto r = run_process(spec);
  CHECK(r.timed_out);
  CHECK(r.signal == SIGTERM);
  CHECK(r.elapsed < Millis(200 + 2000));
}

TEST_CASE("process: a grandchild holding the pipes after a normal exit costs a short drain") {
  TempDir dir;
  std::string pidfile = dir / "orphan.pid";
  ProcessSpec spec;
  spec.argv = {hakit::test::helper_path(), "orphan", pidfile};
  spec.timeout = Millis(20000);
  auto r = run_process(spec);
  pid_t orphan = read_pid(pidfile);
  CHECK(r.ok());
  CHECK(r.out == "hello");
  CHECK_FALSE(r.timed_out);
  CHECK(r.elapsed < Millis(5000));  // the drain (200 ms), not the 30 s the grandchild sleeps
  // A normal exit leaves legitimate children alone ("systemctl start" style).
  CHECK_FALSE(hakit::test::process_gone(orphan));
  if (orphan > 0) kill(orphan, SIGKILL);
}

TEST_CASE("process: argv rendering for logs quotes what a shell would split") {
  CHECK(format_argv({"rsync", "-a", "rsync://h/m", "/srv/x/"}) == "rsync -a rsync://h/m /srv/x/");
  CHECK(format_argv({"echo", "a b", "it's", ""}) == "echo 'a b' 'it'\\''s' ''");
}

TEST_CASE("process: kept fds, the caller's process group, a child that dies with us") {
  TempDir dir;
  int fd = open((dir / "lock").c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  REQUIRE(fd >= 0);
  ProcessSpec spec;
  // readlink sees the fd under its own number: it was kept across exec (lock held by it).
  spec.argv = {"readlink", "/proc/self/fd/" + std::to_string(fd)};
  spec.inherit_fds = {fd};
  spec.die_with_parent = true;
  auto r = run_process(spec);
  CHECK(r.ok());
  CHECK(r.out == dir / "lock\n");
  // Without inherit_fds the same fd is closed at exec.
  spec.inherit_fds.clear();
  r = run_process(spec);
  CHECK(r.started);
  CHECK(r.exit_code != 0);
  close(fd);

  // own_process_group=false: the child is in our group (a terminal's foreground group).
  // Field 5 of /proc/self/stat is the process group.
  auto pgrp_of_child = [](bool own) {
    ProcessSpec s;
    s.argv = {"cat", "/proc/self/stat"};
    s.own_process_group = own;
    s.die_with_parent = true;
    auto res = run_process(s);
    std::string rest = res.out.substr(res.out.rfind(')') + 2);
    std::istringstream in(rest);
    std::string state, ppid, pgrp;
    in >> state >> ppid >> pgrp;
    return std::atol(pgrp.c_str());
  };
  CHECK(pgrp_of_child(false) == getpgrp());
  CHECK(pgrp_of_child(true) != getpgrp());
  // A missing program is reported like posix_spawn's.
  spec.argv = {"/nonexistent-hakit-program"};
  r = run_process(spec);
  CHECK_FALSE(r.started);
  CHECK(contains(r.spawn_error, "No such file or directory"));
}

TEST_CASE("process: process_exists counts another user's process, not a gone one") {
  CHECK(process_exists(getpid()));
  CHECK_FALSE(process_exists(0));
  CHECK_FALSE(process_exists(-1));
  // A check run as nagios asking about a root process (notify, hakitd): kill(pid, 0) answers
  // EPERM, and the process exists.
  const pid_t root_pid = getpid();
  CHECK(hakit::test::run_as_uid(65534, [root_pid] { return process_exists(root_pid) ? 0 : 1; }) == 0);
  // A child that has exited and been reaped is gone.
  pid_t child = fork();
  if (child == 0) _exit(0);
  int status = 0;
  REQUIRE(waitpid(child, &status, 0) == child);
  CHECK_FALSE(process_exists(child));
}
