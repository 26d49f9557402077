#pragma once
// Running commands: argv vectors through posix_spawn, never a shell. Each child gets its own
// process group and a hard timeout; on expiry the whole group gets SIGTERM, then SIGKILL.
#include <chrono>
#include <cstddef>
#include <string>
#include <vector>

#include "common/units.hpp"

namespace hakit {

/// What to run.
struct ProcessSpec {
  std::vector<std::string> argv;        ///< argv[0] is looked up in PATH when it has no '/'
  std::vector<std::string> env_extra;   ///< "NAME=value" added to (or replacing in) our environment
  std::string cwd;                      ///< "" = ours
  Millis timeout{30000};                ///< hard limit for the whole group
  Millis kill_grace{2000};              ///< SIGTERM → SIGKILL delay
  std::size_t capture_limit = 64 * 1024;  ///< bytes kept of each of stdout and stderr
  std::string stdin_data;               ///< written to the child's stdin, then closed
  bool capture = true;                  ///< false: child inherits our stdout/stderr
  /// false: the child stays in our process group (a terminal's foreground group, where rsync
  /// shows progress); the timeout then signals the child alone.
  bool own_process_group = true;
  /// The child is SIGKILLed when we die, even by SIGKILL (PR_SET_PDEATHSIG).
  bool die_with_parent = false;
  /// Our fds the child keeps open under the same numbers (a lock held until it is gone too).
  std::vector<int> inherit_fds;
};

/// What happened.
struct ProcessResult {
  bool started = false;
  std::string spawn_error;  ///< why it did not start
  int exit_code = -1;       ///< valid when exited normally
  int signal = 0;           ///< the signal that ended it, if any
  bool timed_out = false;
  int forwarded_signal = 0;  ///< SIGINT/SIGTERM/SIGHUP we received and passed on to the child
  std::string out, err;
  bool out_truncated = false, err_truncated = false;
  Millis elapsed{0};

  bool ok() const { return started && !timed_out && signal == 0 && exit_code == 0; }
  /// "exit 0", "exit 3", "killed by SIGKILL after timeout 2.000 s", "not started: ..."
  std::string describe() const;
};

/// From now on SIGINT, SIGTERM and SIGHUP do not end this process: they are recorded, passed
/// to the child run_process is waiting for (which is then waited for), and no new child starts.
void forward_termination_signals();

/// The termination signal received since forward_termination_signals() (0 = none).
int termination_signal();

/// True while a process `pid` exists (zombies included). kill(pid, 0) answering EPERM counts:
/// the process exists and belongs to another user (a check run as nagios about a root notify
/// or hakitd).
bool process_exists(int pid);

/// Runs a command to completion (or timeout). Never throws.
ProcessResult run_process(const ProcessSpec& spec);

/// Interface so tool logic can be tested with a fake.
class ProcessRunner {
 public:
  virtual ~ProcessRunner() = default;
  virtual ProcessResult run(const ProcessSpec& spec) = 0;
};

/// The real one.
class SystemProcessRunner : public ProcessRunner {
 public:
  ProcessResult run(const ProcessSpec& spec) override { return run_process(spec); }
};

/// Shell-like rendering of an argv for logs (quoted where needed). Never executed.
std::string format_argv(const std::vector<std::string>& argv);

}  // namespace hakit
