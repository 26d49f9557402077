#include "common/process.hpp"

#include <fcntl.h>
#include <fmt/format.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <linux/close_range.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <csignal>
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

volatile std::sig_atomic_t g_termination_signal = 0;

void record_termination(int sig) {
  if (g_termination_signal == 0) g_termination_signal = sig;
}

// The child side of spawn_forked: only async-signal-safe calls between fork and exec.
[[noreturn]] void exec_child(const ProcessSpec& spec, char** argv, char** envp, pid_t parent,
                             int in_fd, int out_fd, int err_fd, int report_fd) {
  auto fail = [report_fd](int e) {
    (void)!write(report_fd, &e, sizeof e);
    _exit(127);
  };
  if (spec.own_process_group) setpgid(0, 0);
  // SIGKILL when sitesync dies, whatever kills it; if it already died, do not start at all.
  if (spec.die_with_parent && (prctl(PR_SET_PDEATHSIG, SIGKILL) != 0 || getppid() != parent))
    _exit(127);
  for (int sig = 1; sig < NSIG; ++sig)
    if (sig != SIGKILL && sig != SIGSTOP) signal(sig, SIG_DFL);
  sigset_t none;
  sigemptyset(&none);
  sigprocmask(SIG_SETMASK, &none, nullptr);
  if (dup2(in_fd, STDIN_FILENO) < 0) fail(errno);
  if (spec.capture && (dup2(out_fd, STDOUT_FILENO) < 0 || dup2(err_fd, STDERR_FILENO) < 0))
    fail(errno);
  // Everything else is closed at exec (O_CLOEXEC or closed here), except what the caller
  // passes on under its own number.
  for (int fd : spec.inherit_fds) {
    int flags = fcntl(fd, F_GETFD);
    if (flags < 0 || fcntl(fd, F_SETFD, flags & ~FD_CLOEXEC) < 0) fail(errno);
  }
  // Everything else gets close-on-exec, range by range around the kept fds (ascending).
  unsigned from = 3;
  while (true) {
    int next = -1;
    for (int fd : spec.inherit_fds)
      if (fd >= static_cast<int>(from) && (next < 0 || fd < next)) next = fd;
    unsigned to = next < 0 ? ~0U : static_cast<unsigned>(next);
    if (to > from) close_range(from, to - 1, CLOSE_RANGE_CLOEXEC);
    if (next < 0) break;
    from = to + 1;
  }
  if (!spec.cwd.empty() && chdir(spec.cwd.c_str()) != 0) fail(errno);
  execvpe(argv[0], argv, envp);
  fail(errno);
  _exit(127);
}

// fork + exec for what posix_spawn cannot do (PR_SET_PDEATHSIG, fds kept across exec).
// Returns the exec error (0 = started).
int spawn_forked(const ProcessSpec& spec, char** argv, char** envp, int in_fd, int out_fd,
                 int err_fd, pid_t* pid) {
  int report[2];
  if (pipe2(report, O_CLOEXEC) != 0) return errno;
  pid_t parent = getpid();
  pid_t child = fork();
  if (child < 0) {
    int e = errno;
    close(report[0]);
    close(report[1]);
    return e;
  }
  if (child == 0) exec_child(spec, argv, envp, parent, in_fd, out_fd, err_fd, report[1]);
  close(report[1]);
  // Closed by a successful exec; an errno when exec failed.
  int e = 0;
  ssize_t n;
  do {
    n = read(report[0], &e, sizeof e);
  } while (n < 0 && errno == EINTR);
  close(report[0]);
  if (spec.own_process_group) setpgid(child, child);  // no race with our first kill(-pid)
  if (n == static_cast<ssize_t>(sizeof e)) {
    waitpid(child, nullptr, 0);
    return e;
  }
  *pid = child;
  return 0;
}

// A guardian for a child that must not outlive us: a forked copy of ours that holds no fd
// but the read end of a pipe only we can write. When we die by any means (SIGKILL
// included) the pipe reads EOF and the guardian SIGKILLs `target` (a process group when
// negative). PR_SET_PDEATHSIG alone reaches only the child, not what it forked (rsync's
// receiver). Returns the guardian's pid and the fd that releases it (-1 when none).
pid_t start_guardian(pid_t target, int* release_fd) {
  *release_fd = -1;
  int p[2];
  if (pipe2(p, O_CLOEXEC) != 0) return -1;
  pid_t g = fork();
  if (g < 0) {
    close(p[0]);
    close(p[1]);
    return -1;
  }
  if (g == 0) {
    // Everything but the read end goes: above all the job lock, which must be released as
    // soon as the transfer is gone, not held by its watchman.
    if (p[0] > 3) close_range(3, static_cast<unsigned>(p[0]) - 1, 0);
    close_range(static_cast<unsigned>(p[0]) + 1, ~0U, 0);
    // The terminal's Ctrl-C or a group SIGTERM is for the transfer; the guardian waits on.
    // Its own group: a SIGKILL of our whole group (notify's timeout) must not take it along.
    for (int sig : {SIGINT, SIGTERM, SIGHUP, SIGQUIT}) signal(sig, SIG_IGN);
    setpgid(0, 0);
    char c = 0;
    ssize_t n;
    do {
      n = read(p[0], &c, 1);
    } while (n < 0 && errno == EINTR);
    if (n <= 0) kill(target, SIGKILL);  // EOF: we died; a byte: the child is done
    _exit(0);
  }
  close(p[0]);
  *release_fd = p[1];
  return g;
}

void append_bounded(std::string* buf, bool* truncated, const char* data, size_t n, size_t limit) {
  size_t room = buf->size() < limit ? limit - buf->size() : 0;
  if (n > room) *truncated = true;
  buf->append(data, std::min(n, room));
}

}  // namespace

void forward_termination_signals() {
  struct sigaction sa {};
  sa.sa_handler = record_termination;
  sigemptyset(&sa.sa_mask);
  sa.sa_flags = 0;  // no SA_RESTART: sleeps and waits wake up to look at the flag
  for (int sig : {SIGINT, SIGTERM, SIGHUP}) sigaction(sig, &sa, nullptr);
}

int termination_signal() { return g_termination_signal; }

bool process_exists(int pid) { return pid > 0 && (kill(pid, 0) == 0 || errno == EPERM); }

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
  auto finish = [&](std::string why) {
    r.spawn_error = std::move(why);
    r.elapsed = std::chrono::duration_cast<Millis>(Clock::now() - start);
    return r;
  };
  if (spec.argv.empty() || spec.argv[0].empty()) return finish("empty command");
  if (int sig = termination_signal())
    return finish(fmt::format("not started: SIG{} received", sigabbrev_np(sig)));
  // posix_spawn reports a bad cwd as if the program were missing; say which it was.
  if (!spec.cwd.empty()) {
    struct stat st {};
    if (stat(spec.cwd.c_str(), &st) != 0) return finish(fmt::format("cwd {}: {}", spec.cwd, std::strerror(errno)));
    if (!S_ISDIR(st.st_mode)) return finish(fmt::format("cwd {}: not a directory", spec.cwd));
  }
  Pipe in, out, err;
  if (!in.open() || !out.open() || !err.open())
    return finish(fmt::format("pipe: {}", std::strerror(errno)));
  // A child that exits without reading its stdin must not kill us with SIGPIPE. The child
  // itself gets default dispositions back (SETSIGDEF below).
  static const bool sigpipe_ignored = [] {
    signal(SIGPIPE, SIG_IGN);
    return true;
  }();
  (void)sigpipe_ignored;

  std::vector<char*> argv;
  for (const auto& a : spec.argv) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  std::vector<std::string> env_s = build_env(spec.env_extra);
  std::vector<char*> envp;
  for (auto& e : env_s) envp.push_back(e.data());
  envp.push_back(nullptr);

  pid_t pid = -1;
  int rc = 0;
  pid_t guardian = -1;
  int guardian_fd = -1;
  if (spec.die_with_parent || !spec.inherit_fds.empty()) {
    rc = spawn_forked(spec, argv.data(), envp.data(), in.fd[0], out.fd[1], err.fd[1], &pid);
    // The child's group, when it has one, or ours when we lead it (a terminal's job: only
    // our own tree is in it); never a group we merely belong to (a parent script's).
    if (rc == 0 && spec.die_with_parent && (spec.own_process_group || getpgrp() == getpid()))
      guardian = start_guardian(spec.own_process_group ? -pid : -getpgrp(), &guardian_fd);
  } else {
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, in.fd[0], STDIN_FILENO);
    if (spec.capture) {
      posix_spawn_file_actions_adddup2(&fa, out.fd[1], STDOUT_FILENO);
      posix_spawn_file_actions_adddup2(&fa, err.fd[1], STDERR_FILENO);
    }
    // Nothing of ours leaks into the child: log files, syslog sockets, a library's fds that
    // lack O_CLOEXEC. A daemon started by an action must not hold our lock or log open.
    posix_spawn_file_actions_addclosefrom_np(&fa, 3);
    if (!spec.cwd.empty()) posix_spawn_file_actions_addchdir_np(&fa, spec.cwd.c_str());

    posix_spawnattr_t attr;
    posix_spawnattr_init(&attr);
    // Own process group: the timeout kills grandchildren too. Default signal dispositions
    // and an empty mask, whatever keepalived or cron left us with.
    sigset_t all, none;
    sigfillset(&all);
    sigemptyset(&none);
    posix_spawnattr_setsigdefault(&attr, &all);
    posix_spawnattr_setsigmask(&attr, &none);
    short flags = POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK;
    if (spec.own_process_group) {
      posix_spawnattr_setpgroup(&attr, 0);
      flags |= POSIX_SPAWN_SETPGROUP;
    }
    posix_spawnattr_setflags(&attr, flags);
    rc = posix_spawnp(&pid, argv[0], &fa, &attr, argv.data(), envp.data());
    posix_spawn_file_actions_destroy(&fa);
    posix_spawnattr_destroy(&attr);
  }
  if (rc != 0) return finish(fmt::format("{}: {}", spec.argv[0], std::strerror(rc)));
  r.started = true;
  in.close_end(0);
  out.close_end(1);
  err.close_end(1);
  if (spec.stdin_data.empty()) {
    in.close_end(1);
  } else {
    fcntl(in.fd[1], F_SETFL, O_NONBLOCK);
  }

  // A grandchild that keeps our pipes open after the leader exited (a daemon that did not
  // close them) gets this long to finish writing, not our whole timeout.
  constexpr Millis kDrain{200};
  auto deadline = start + spec.timeout;
  bool term_sent = false, kill_sent = false;
  Clock::time_point kill_at{};
  // The whole group when the child leads one; the child alone when it shares ours.
  auto signal_child = [&](int sig) { kill(spec.own_process_group ? -pid : pid, sig); };
  int status = 0;
  bool reaped = false;
  Clock::time_point reaped_at{};
  size_t in_off = 0;
  char buf[8192];
  while (true) {
    auto now = Clock::now();
    if (!reaped && waitpid(pid, &status, WNOHANG) == pid) {
      reaped = true;
      reaped_at = now;
    }
    if (!term_sent && now >= deadline && !(reaped && out.fd[0] < 0 && err.fd[0] < 0)) {
      r.timed_out = true;
      signal_child(SIGTERM);
      term_sent = true;
      kill_at = now + spec.kill_grace;
    }
    if (int sig = termination_signal(); sig != 0 && r.forwarded_signal == 0 && !reaped) {
      // Ctrl-C, a cron kill or a notify timeout: pass it on and wait, so that nothing we
      // started outlives us. The child gets its own grace to clean up, then SIGKILL.
      r.forwarded_signal = sig;
      signal_child(sig);
      if (!term_sent) {
        term_sent = true;
        kill_at = now + spec.kill_grace;
      }
    }
    if (term_sent && !kill_sent && now >= kill_at) {
      signal_child(SIGKILL);
      kill_sent = true;
    }
    bool pipes_open = out.fd[0] >= 0 || err.fd[0] >= 0;
    if (reaped) {
      if (!pipes_open || kill_sent) break;
      if (!term_sent && now - reaped_at > kDrain) break;
    }
    if (reaped && in.fd[1] >= 0) in.close_end(1);

    pollfd fds[3];
    int nfds = 0;
    if (out.fd[0] >= 0) fds[nfds++] = {out.fd[0], POLLIN, 0};
    if (err.fd[0] >= 0) fds[nfds++] = {err.fd[0], POLLIN, 0};
    if (in.fd[1] >= 0) fds[nfds++] = {in.fd[1], POLLOUT, 0};
    // Short ticks: waitpid is polled, and the deadline must be met to the millisecond.
    auto next = term_sent ? kill_at : deadline;
    int wait_ms = static_cast<int>(
        std::clamp<long long>(std::chrono::duration_cast<Millis>(next - now).count() + 1, 0, 10));
    int n = ::poll(nfds ? fds : nullptr, nfds, wait_ms);
    if (n <= 0) continue;
    for (int i = 0; i < nfds; ++i) {
      if (fds[i].revents == 0) continue;
      if (fds[i].fd == in.fd[1]) {
        ssize_t put = write(in.fd[1], spec.stdin_data.data() + in_off, spec.stdin_data.size() - in_off);
        if (put > 0) in_off += static_cast<size_t>(put);
        if ((put < 0 && errno != EAGAIN && errno != EINTR) || in_off == spec.stdin_data.size() ||
            (fds[i].revents & (POLLERR | POLLHUP)))
          in.close_end(1);
        continue;
      }
      ssize_t got = read(fds[i].fd, buf, sizeof buf);
      bool is_out = fds[i].fd == out.fd[0];
      if (got > 0) {
        if (is_out)
          append_bounded(&r.out, &r.out_truncated, buf, got, spec.capture_limit);
        else
          append_bounded(&r.err, &r.err_truncated, buf, got, spec.capture_limit);
      } else if (got == 0 || (errno != EINTR && errno != EAGAIN)) {
        (is_out ? out : err).close_end(0);
      }
    }
  }
  if ((r.timed_out || r.forwarded_signal) && !kill_sent && spec.own_process_group) {
    // The leader went at SIGTERM; the rest of its group gets the same grace, then SIGKILL.
    while (Clock::now() < kill_at && kill(-pid, 0) == 0) ::poll(nullptr, 0, 10);
    kill(-pid, SIGKILL);
  }
  while (!reaped) reaped = waitpid(pid, &status, 0) == pid || errno != EINTR;
  if (guardian > 0) {
    // Done: release the guardian without a kill.
    (void)!write(guardian_fd, "x", 1);
    close(guardian_fd);
    while (waitpid(guardian, nullptr, 0) < 0 && errno == EINTR) {
    }
  }
  if (WIFEXITED(status)) r.exit_code = WEXITSTATUS(status);
  if (WIFSIGNALED(status)) r.signal = WTERMSIG(status);
  r.elapsed = std::chrono::duration_cast<Millis>(Clock::now() - start);
  return r;
}

}  // namespace hakit
