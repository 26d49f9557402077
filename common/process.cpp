#include "common/process.hpp"

#include <fcntl.h>
#include <fmt/format.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

extern char** environ;

namespace hakit {

namespace {

using Clock = std::chrono::steady_clock;

struct Pipe {
  int fd[2] = {-1, -1};
  bool open() { return pipe2(fd, O_CLOEXEC) == 0; }
  void close_end(int i) {
    if (fd[i] >= 0) ::close(fd[i]);
    fd[i] = -1;
  }
  ~Pipe() {
    close_end(0);
    close_end(1);
  }
};

std::vector<std::string> build_env(const std::vector<std::string>& extra) {
  std::vector<std::string> env;
  for (char** e = environ; e && *e; ++e) {
    std::string s(*e);
    std::string name = s.substr(0, s.find('='));
    bool replaced = false;
    for (const auto& x : extra)
      if (x.substr(0, x.find('=')) == name) replaced = true;
    if (!replaced) env.push_back(s);
  }
  env.insert(env.end(), extra.begin(), extra.end());
  return env;
}

void append_bounded(std::string* buf, bool* truncated, const char* data, size_t n, size_t limit) {
  size_t room = buf->size() < limit ? limit - buf->size() : 0;
  if (n > room) *truncated = true;
  buf->append(data, std::min(n, room));
}

}  // namespace

std::string ProcessResult::describe() const {
  if (!started) return "not started: " + spawn_error;
  std::string s;
  if (signal != 0) {
    s = fmt::format("killed by {}", sigabbrev_np(signal) ? fmt::format("SIG{}", sigabbrev_np(signal))
                                                          : std::to_string(signal));
  } else {
    s = fmt::format("exit {}", exit_code);
  }
  if (timed_out) s = "timed out after " + format_duration(elapsed) + " (" + s + ")";
  return s;
}

std::string format_argv(const std::vector<std::string>& argv) {
  std::string out;
  for (const auto& a : argv) {
    if (!out.empty()) out += ' ';
    bool plain = !a.empty() && a.find_first_not_of("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUV"
                                                   "WXYZ0123456789_-./:=@,+%") == std::string::npos;
    if (plain) {
      out += a;
    } else {
      out += '\'';
      for (char c : a) out += (c == '\'') ? std::string("'\\''") : std::string(1, c);
      out += '\'';
    }
  }
  return out;
}

ProcessResult run_process(const ProcessSpec& spec) {
  ProcessResult r;
  auto start = Clock::now();
  if (spec.argv.empty()) {
    r.spawn_error = "empty command";
    return r;
  }
  Pipe in, out, err;
  if (!in.open() || !out.open() || !err.open()) {
    r.spawn_error = fmt::format("pipe: {}", std::strerror(errno));
    return r;
  }
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_adddup2(&fa, in.fd[0], STDIN_FILENO);
  if (spec.capture) {
    posix_spawn_file_actions_adddup2(&fa, out.fd[1], STDOUT_FILENO);
    posix_spawn_file_actions_adddup2(&fa, err.fd[1], STDERR_FILENO);
  }
  if (!spec.cwd.empty()) posix_spawn_file_actions_addchdir_np(&fa, spec.cwd.c_str());

  posix_spawnattr_t attr;
  posix_spawnattr_init(&attr);
  // Own process group: the timeout kills grandchildren too. Default signal dispositions and
  // an empty mask, whatever keepalived or cron left us with.
  sigset_t all, none;
  sigfillset(&all);
  sigemptyset(&none);
  posix_spawnattr_setsigdefault(&attr, &all);
  posix_spawnattr_setsigmask(&attr, &none);
  posix_spawnattr_setpgroup(&attr, 0);
  posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGDEF |
                                      POSIX_SPAWN_SETSIGMASK);

  std::vector<char*> argv;
  for (const auto& a : spec.argv) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  std::vector<std::string> env_s = build_env(spec.env_extra);
  std::vector<char*> envp;
  for (auto& e : env_s) envp.push_back(e.data());
  envp.push_back(nullptr);

  pid_t pid = -1;
  int rc = posix_spawnp(&pid, argv[0], &fa, &attr, argv.data(), envp.data());
  posix_spawn_file_actions_destroy(&fa);
  posix_spawnattr_destroy(&attr);
  if (rc != 0) {
    r.spawn_error = fmt::format("{}: {}", spec.argv[0], std::strerror(rc));
    r.elapsed = std::chrono::duration_cast<Millis>(Clock::now() - start);
    return r;
  }
  r.started = true;
  in.close_end(0);
  out.close_end(1);
  err.close_end(1);

  // stdin: small payloads only (passwords are never passed this way by hakit itself).
  if (!spec.stdin_data.empty()) {
    signal(SIGPIPE, SIG_IGN);
    fcntl(in.fd[1], F_SETFL, O_NONBLOCK);
    (void)!write(in.fd[1], spec.stdin_data.data(), spec.stdin_data.size());
  }
  in.close_end(1);

  auto deadline = start + spec.timeout;
  bool term_sent = false;
  Clock::time_point kill_at{};
  int status = 0;
  bool reaped = false;
  Clock::time_point reaped_at{};
  char buf[8192];
  while (true) {
    pollfd fds[2];
    int nfds = 0;
    if (out.fd[0] >= 0) fds[nfds++] = {out.fd[0], POLLIN, 0};
    if (err.fd[0] >= 0) fds[nfds++] = {err.fd[0], POLLIN, 0};
    auto now = Clock::now();
    if (!reaped) {
      pid_t w = waitpid(pid, &status, WNOHANG);
      if (w == pid) {
        reaped = true;
        reaped_at = now;
      }
    }
    // Done when the child is gone and its pipes are drained. A grandchild that keeps the
    // pipes open (a daemon started without closing them) gets a short drain, not our timeout.
    if (reaped && (nfds == 0 || term_sent || now - reaped_at > Millis(200))) break;
    if (!term_sent && now >= deadline) {
      r.timed_out = true;
      kill(-pid, SIGTERM);
      term_sent = true;
      kill_at = now + spec.kill_grace;
    } else if (term_sent && now >= kill_at) {
      kill(-pid, SIGKILL);
      kill_at = now + Millis(1000000000);
    }
    auto next = term_sent ? kill_at : deadline;
    int wait_ms = static_cast<int>(
        std::clamp<long long>(std::chrono::duration_cast<Millis>(next - now).count(), 0, 10));
    if (nfds == 0) {
      if (reaped) break;
      ::poll(nullptr, 0, wait_ms);
      continue;
    }
    int n = ::poll(fds, nfds, wait_ms);
    if (n < 0 && errno != EINTR) break;
    for (int i = 0; i < nfds; ++i) {
      if (!(fds[i].revents & (POLLIN | POLLHUP | POLLERR))) continue;
      ssize_t got = read(fds[i].fd, buf, sizeof buf);
      bool is_out = fds[i].fd == out.fd[0];
      if (got > 0) {
        if (is_out)
          append_bounded(&r.out, &r.out_truncated, buf, got, spec.capture_limit);
        else
          append_bounded(&r.err, &r.err_truncated, buf, got, spec.capture_limit);
      } else if (got == 0 || (got < 0 && errno != EINTR && errno != EAGAIN)) {
        (is_out ? out : err).close_end(0);
      }
    }
  }
  // The leader is gone; anything left in its group (a daemonizing grandchild) goes too when
  // we timed out. On a normal exit the group is left alone: "systemctl start" style
  // commands may leave legitimate children behind.
  if (r.timed_out) kill(-pid, SIGKILL);
  if (!reaped) waitpid(pid, &status, 0);
  if (WIFEXITED(status)) r.exit_code = WEXITSTATUS(status);
  if (WIFSIGNALED(status)) r.signal = WTERMSIG(status);
  r.elapsed = std::chrono::duration_cast<Millis>(Clock::now() - start);
  return r;
}

}  // namespace hakit
