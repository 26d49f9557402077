#include "hakitd/guard.hpp"

#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <utility>
#include <vector>

#include "common/state.hpp"

namespace hakit::hakitd {

namespace {

[[noreturn]] void guard_main(int fd) {
  prctl(PR_SET_NAME, kGuardName, 0, 0, 0);
  // systemd's SIGTERM (KillMode=mixed sends it to hakitd only, but an operator's kill of the
  // group must not stop the watchman before hakitd is gone) and the terminal's signals.
  for (int sig : {SIGINT, SIGTERM, SIGHUP, SIGQUIT}) signal(sig, SIG_IGN);
  sigset_t none;
  sigemptyset(&none);
  sigprocmask(SIG_SETMASK, &none, nullptr);
  std::vector<std::pair<std::string, std::string>> files;
  std::string buf;
  char chunk[4096];
  for (;;) {
    ssize_t n = read(fd, chunk, sizeof chunk);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;  // EOF: hakitd is gone, however it went
    buf.append(chunk, static_cast<size_t>(n));
    size_t nl;
    while ((nl = buf.find('\n')) != std::string::npos) {
      std::string rec = buf.substr(0, nl);
      buf.erase(0, nl + 1);
      auto tab = rec.find('\t');
      if (tab != std::string::npos) files.emplace_back(rec.substr(0, tab), rec.substr(tab + 1));
    }
  }
  for (const auto& [path, value] : files) {
    std::string err;
    write_file_atomic(path, value + "\n", 0644, &err, Durability::kAtomicOnly);
  }
  _exit(0);
}

}  // namespace

ExitGuard::~ExitGuard() {
  if (fd_ >= 0) close(fd_);
}

bool ExitGuard::start(std::string* err) {
  int p[2];
  if (pipe2(p, O_CLOEXEC) != 0) {
    *err = std::string("pipe: ") + std::strerror(errno);
    return false;
  }
  pid_t g = fork();
  if (g < 0) {
    *err = std::string("fork: ") + std::strerror(errno);
    close(p[0]);
    close(p[1]);
    return false;
  }
  if (g == 0) {
    // Only the read end stays: no FIFO, lock or socket of hakitd's is held by the watchman.
    if (p[0] > 3) close_range(3, static_cast<unsigned>(p[0]) - 1, 0);
    close_range(static_cast<unsigned>(p[0]) + 1, ~0U, 0);
    guard_main(p[0]);
  }
  close(p[0]);
  fd_ = p[1];
  pid_ = g;
  return true;
}

void ExitGuard::add(const std::string& path, const std::string& failed_value) {
  if (fd_ < 0 || path.find_first_of("\t\n") != std::string::npos) return;
  const std::string rec = path + "\t" + failed_value + "\n";
  // Short records into a pipe nobody else writes: one write each (PIPE_BUF atomicity).
  ssize_t n;
  do n = write(fd_, rec.data(), rec.size());
  while (n < 0 && errno == EINTR);
}

}  // namespace hakit::hakitd
