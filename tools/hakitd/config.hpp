#pragma once
// daemon:, owned by hakitd: which checks the resident daemon runs in-process, how often, with
// what hysteresis, where each one's keepalived track_file is, and the notify FIFO it reads.
#include <optional>
#include <string>
#include <vector>

#include "common/config.hpp"
#include "common/units.hpp"
#include "common/yaml_reader.hpp"

namespace hakit::config {

/// Shortest probe period accepted: below it the probes cost more than they tell.
inline constexpr Millis kMinDaemonPeriod{50};

/// When a check is failed and when it is healthy again.
struct Hysteresis {
  int fall = 2;                      ///< failed after this many failures in a row ...
  std::optional<Millis> fall_after;  ///< ... or after failing (or a probe hanging) this long
  int rise = 3;                      ///< healthy again after this many successes in a row
};

/// One check hakitd runs: a `checks:` entry by name, its period, hysteresis and track_file.
struct DaemonCheck {
  std::string name;    ///< the checks: entry
  std::string type;    ///< http or mysql (the entry's type)
  Millis period{200};  ///< one probe every period (never two at once)
  Hysteresis hysteresis;
  std::string track_file;  ///< keepalived's track_file: 0 healthy, `fail_value` failed
  int fail_value = 1;      ///< written when failed (keepalived: value x weight; weight 0: FAULT)
  int line = 0;            ///< where it is configured, for messages
};

/// The daemon: section.
struct DaemonConfig {
  Millis period{200};     ///< default probe period
  Hysteresis hysteresis;  ///< default hysteresis
  std::string track_dir;  ///< default directory of the track files ("" = run_dir/track)
  std::vector<DaemonCheck> checks;
  std::string notify_fifo;             ///< keepalived's vrrp_notify_fifo ("" = no FIFO is read)
  std::vector<std::string> instances;  ///< instances whose FIFO events run (empty = every one)
  Millis status_interval{1000};        ///< how often metrics and the status file are written
  bool present = false;                ///< the section is in the file
};

/// Parses the daemon: mapping; `run_dir` fills the default track_dir. Problems go to the
/// reader's diagnostics. Check names and types are resolved by read_daemon_config().
void parse_daemon(MapReader& r, const std::string& run_dir, DaemonConfig* out);

/// Reads daemon: and checks that every check it names exists in checks: with a type hakitd
/// runs, and every instance in instances:. False with the problems in `diag`.
bool read_daemon_config(const Document& doc, DaemonConfig* out, Diagnostics* diag);

/// Registry validator.
void validate_daemon(const Document& doc, Diagnostics& diag);

}  // namespace hakit::config
