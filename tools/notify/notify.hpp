#pragma once
// notify_master / notify_backup: one keepalived role change, serialized per instance, checked
// against reality, carried out as the instance's ordered action list, and journaled.
#include "common/cli_fwd.hpp"

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include "notify/config.hpp"
#include "common/exit_codes.hpp"
#include "common/state.hpp"
#include "notify/ports.hpp"

namespace hakit::notify {

/// What the command line asked for.
struct Options {
  std::string tool;                 ///< notify_master or notify_backup
  std::string default_state;        ///< MASTER or BACKUP: the binary's own direction
  std::string instance;             ///< --instance
  std::string state;                ///< --state (notify_backup: BACKUP, FAULT, STOP)
  std::vector<std::string> generic; ///< keepalived's appended TYPE NAME STATE [PRIORITY]
  bool force = false;               ///< --force: promote within min_interval
  bool clear_flag = false;          ///< --clear-failover-flag
  bool preflight = false;           ///< --preflight: check reachability and grants, change nothing
  bool clear_fence = false;         ///< --clear-fence: the instance's database may take the VIP
  std::string reason;               ///< --reason (for --clear-failover-flag)
  std::vector<std::string> argv;    ///< our whole command line, for the journal
  std::string config_path;
};

/// Adds the notify options to a tool's parser.
void add_options(CLI::App& app, Options* opt);

/// One role change, as keepalived announced it.
struct Event {
  std::string instance;
  std::string type = "INSTANCE";  ///< INSTANCE or GROUP
  std::string state;              ///< MASTER, BACKUP, FAULT, STOP
  int priority = -1;              ///< -1: not given
  bool force = false;
  std::vector<std::string> args;
  /// Arrival order, taken when the event arrived (hakitd takes it on reading the FIFO, so a
  /// queued event is superseded exactly as a script's would be); 0: handle_event takes it.
  std::uint64_t ticket = 0;
  /// When the event arrived (latencies are measured from here); epoch: the process start.
  std::chrono::steady_clock::time_point received{};
  bool promotion() const { return state == "MASTER"; }
  /// The role record's name: master, backup, fault, stop.
  std::string role() const;
};

/// Builds the event from the options: both invocation forms, checked against the config.
/// False + *err (usage error: exit 3, nothing changed) for an unknown instance or bad args.
bool make_event(const Options& opt, const config::NotifyConfig& cfg, Event* ev, std::string* err);

/// The result of one run.
struct Outcome {
  ExitCode code = ExitCode::kSuccess;
  std::string decision;  ///< ran, superseded, stale, refused, lock-timeout
  std::string message;   ///< one line for the operator: what happened and the node's state
  Json journal;          ///< the entry that was journaled
};

/// Serializes, checks, runs the actions, journals. Never throws.
Outcome handle_event(const Event& ev, const config::NotifyConfig& cfg, const std::string& config_path,
                     Services& svc);

/// Clears the failover flag (operator command), journaled with the reason.
Outcome clear_flag(const config::NotifyConfig& cfg, const std::string& reason, const std::string& tool);

/// Clears the fence marks of the instance's database (operator command, after re-attaching
/// the node or rebuilding it), journaled with the reason.
Outcome clear_fence(const config::NotifyConfig& cfg, const std::string& instance,
                    const std::string& reason, const std::string& tool, Services& svc);

/// Whole tool after parsing: clear-flag or handle one event (reading only that instance and
/// what its actions name from `doc`); returns the exit code.
int run(const Options& opt, const config::Document& doc);

/// Paths under run_dir / state_dir.
std::string lock_path(const config::NotifyConfig& cfg, const std::string& instance);
std::string ticket_path(const config::NotifyConfig& cfg, const std::string& instance);
std::string instance_state_path(const config::NotifyConfig& cfg, const std::string& instance);

/// Takes the next ticket for an instance (arrival order); 0 + *err on failure.
std::uint64_t take_ticket(const std::string& path, std::string* err);
/// The newest ticket handed out so far.
std::uint64_t newest_ticket(const std::string& path);

/// Replaces {name} placeholders from `vars`; unknown names are left as they are.
std::string expand(const std::string& text, const std::map<std::string, std::string>& vars);

}  // namespace hakit::notify
