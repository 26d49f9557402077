// Named flock locks: contention between two real processes, "held by pid N", timeouts,
// release when the holder dies.
#include <doctest/doctest.h>
#include <signal.h>
#include <sys/wait.h>

#include <chrono>

#include "common/lock.hpp"
#include "helper/support.hpp"

using namespace hakit;
using hakit::test::TempDir;
using hakit::test::contains;

namespace {


// Starts `test_helper lock PATH HOLD_MS` and waits until it says it holds the lock.
pid_t start_holder(const std::string& path, int hold_ms) {
  int p[2];
  REQUIRE(pipe(p) == 0);
  pid_t pid = fork();
  if (pid == 0) {
    dup2(p[1], STDOUT_FILENO);
    close(p[0]);
    execl(HAKIT_TEST_HELPER, "test_helper", "lock", path.c_str(), std::to_string(hold_ms).c_str(),
          static_cast<char*>(nullptr));
    _exit(127);
  }
  close(p[1]);
  char buf[16] = {};
  ssize_t n = read(p[0], buf, sizeof buf - 1);
  close(p[0]);
  REQUIRE(n > 0);
  REQUIRE(std::string(buf).rfind("locked", 0) == 0);
  return pid;
}

int wait_exit(pid_t pid) {
  int status = 0;
  waitpid(pid, &status, 0);
  return status;
}

}  // namespace

TEST_CASE("lock: a second process is told who holds it") {
  TempDir dir;
  std::string path = dir / "run/sitesync.site1.lock";  // parent dirs are created
  pid_t holder = start_holder(path, 1500);

  pid_t seen = -1;
  std::string err;
  auto lock = FileLock::try_acquire(path, &seen, &err);
  CHECK_FALSE(lock);
  CHECK(err.empty());  // busy is not an error
  CHECK(seen == holder);
  CHECK(lock_holder(path) == holder);

  auto t0 = std::chrono::steady_clock::now();
  lock = FileLock::acquire(path, Millis(200), &err);
  CHECK_FALSE(lock);
  CHECK(contains(err, "held by pid " + std::to_string(holder)));
  CHECK(std::chrono::steady_clock::now() - t0 >= Millis(200));

  // Waiting long enough gets it once the holder lets go.
  lock = FileLock::acquire(path, Millis(20000), &err);
  REQUIRE(lock);
  CHECK(lock_holder(path) == getpid());
  CHECK(WIFEXITED(wait_exit(holder)));
}

TEST_CASE("lock: a killed holder releases it at once") {
  TempDir dir;
  std::string path = dir / "x.lock";
  pid_t holder = start_holder(path, 60000);
  pid_t seen = 0;
  std::string err;
  CHECK_FALSE(FileLock::try_acquire(path, &seen, &err));
  kill(holder, SIGKILL);
  wait_exit(holder);
  auto lock = FileLock::try_acquire(path, &seen, &err);
  CHECK(lock);  // the stale pid in the file does not matter: the kernel dropped the flock
}

TEST_CASE("lock: held in this process, released by destruction and move") {
  TempDir dir;
  std::string path = dir / "y.lock";
  pid_t seen = 0;
  std::string err;
  {
    auto a = FileLock::try_acquire(path, &seen, &err);
    REQUIRE(a);
    CHECK_FALSE(FileLock::try_acquire(path, &seen, &err));
    CHECK(seen == getpid());
    FileLock moved = std::move(*a);
    CHECK(moved.path() == path);
    CHECK_FALSE(FileLock::try_acquire(path, &seen, &err));
  }
  CHECK(FileLock::try_acquire(path, &seen, &err));
}

TEST_CASE("lock: a symlink in place of the lock file is refused") {
  TempDir dir;
  std::string victim = dir.write("victim", "keep me\n", 0644);
  std::string path = dir / "evil.lock";
  REQUIRE(symlink(victim.c_str(), path.c_str()) == 0);
  pid_t seen = 0;
  std::string err;
  CHECK_FALSE(FileLock::try_acquire(path, &seen, &err));
  CHECK(contains(err, "cannot open lock"));
  CHECK(hakit::test::slurp(victim) == "keep me\n");  // not truncated
  CHECK_FALSE(FileLock::acquire(path, Millis(100), &err));
  CHECK(contains(err, "cannot open lock"));
}

TEST_CASE("lock: make_dirs and lock_holder edge cases") {
  TempDir dir;
  std::string err;
  CHECK(make_dirs(dir / "a/b/c", 0755, &err));
  CHECK(make_dirs(dir / "a/b/c", 0755, &err));  // existing is fine
  dir.write("file", "x");
  CHECK_FALSE(make_dirs(dir / "file/sub", 0755, &err));
  CHECK(contains(err, "file"));
  CHECK(lock_holder(dir / "missing") == 0);
  dir.write("junk", "not a pid");
  CHECK(lock_holder(dir / "junk") == 0);
}
