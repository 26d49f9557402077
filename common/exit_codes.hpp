#pragma once
// The one set of exit codes for every hakit tool. Only main() exits.

namespace hakit {

/// Nagios plugin states; checks exit with these values.
enum class State : int { kOk = 0, kWarning = 1, kCritical = 2, kUnknown = 3 };

/// Exit codes of the non-check tools (notify_*, sitesync, hakit-status).
/// kUsage equals State::kUnknown so a bad argument or config means the same everywhere.
enum class ExitCode : int {
  kSuccess = 0,  ///< did what was asked, or had nothing to do (a skipped stale event, a busy job)
  kFailed = 1,   ///< an action or transfer failed; the message says what state is left
  kRefused = 2,  ///< a guard refused (catch-up timeout, max_delete, empty source, anti-flap)
  kUsage = 3,    ///< bad arguments or bad config; nothing was changed
};

/// "OK", "WARNING", "CRITICAL", "UNKNOWN".
const char* state_name(State s);

/// The worse of two states, as monitoring-plugins' max_state(): CRITICAL > WARNING > UNKNOWN > OK.
State worst(State a, State b);

/// Exit code a check returns: WARNING maps to 0 unless `warning_fails` (keepalived counts any
/// non-zero exit as a failure, and a WARNING must not move the VIP unless asked).
int check_exit_code(State s, bool warning_fails);

}  // namespace hakit
