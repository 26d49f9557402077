#pragma once
// hakit-status: one operator view of this node's hakit state. It only reads: the role records
// and the failover flag the notify tools write, the journal, and the local interfaces (VIP).
#include <ctime>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "common/config.hpp"
#include "common/result.hpp"
#include "common/state.hpp"

namespace hakit::status {

/// What the operator asked for.
struct Options {
  std::size_t entries = 10;  ///< -n: last N journal entries
  std::string instance;      ///< --instance: only this instance ("" = all)
  bool json = false;         ///< --json
  bool write_metrics = false;  ///< --write-metrics: refresh the status textfile too
  bool check = false;          ///< --check: one Nagios line and exit 0/1/2/3
};

/// Answers "is this address on a local interface?"; tests pass a fake.
using AddressProbe = std::function<bool(const std::string& address)>;

/// The real probe: getifaddrs(3), IPv4 and IPv6, a "/prefix" suffix ignored.
bool local_address_present(const std::string& address);

/// One VRRP instance as this node sees it.
struct InstanceStatus {
  std::string name;
  std::string role;        ///< from the role record; "" when none was ever written
  std::string role_time;   ///< RFC 3339
  std::string role_event;  ///< the event that set the role
  std::string vip;         ///< "" when the instance has no vip in the config
  std::string vip_interface;
  std::optional<bool> vip_present;  ///< empty when there is no vip to look for
  /// The guard check's last verdict for the instance (check_mysql_slave mode guard writes
  /// state_dir/guard.NAME.json): {"last": {time, state, summary}, "split_brain", "since"}.
  std::optional<Json> guard;
  /// The arbiter lease as this node's renewer last recorded it (run_dir/arbiter.NAME.json),
  /// when the instance names an arbiter: {arbiter, key, phase, holds, lease_id, ttl_ms,
  /// self_fence_in_ms, endpoint, self_fenced, error}. Read locally: hakit-status never waits on etcd
  /// (`hakit-arbiter status` asks it).
  std::optional<Json> arbiter;
};

/// The newest sitesync run of one job found in the journal.
struct SyncStatus {
  std::string job;
  bool configured = false;     ///< named in the config's sync: section
  bool adhoc = false;          ///< a getperf-form run (keyed "module (dest)")
  std::optional<Json> last;    ///< the newest run's journal entry
  std::string last_success;    ///< time of the newest successful run, "" when none seen
};

/// Everything hakit-status shows.
struct Report {
  std::string host;
  std::string time;  ///< when the report was made (RFC 3339)
  std::string state_dir;
  std::vector<InstanceStatus> instances;
  FailoverFlag flag;
  std::vector<Json> journal;     ///< the last N entries (after the --instance filter), newest last
  std::vector<SyncStatus> syncs;
  std::vector<std::string> warnings;  ///< inconsistencies an operator should look at
  /// Per instance and host, the newest transition that ran its actions or was refused (skips
  /// such as stale or superseded events left out), from the scanned journal entries.
  std::map<std::string, std::map<std::string, Json>> last_transitions;
  /// hakitd's status file (state_dir/hakitd.json: its probes and FIFO), when hakitd runs here.
  std::optional<Json> daemon;
  bool daemon_running = false;  ///< its pid is alive
};

/// How many journal entries are scanned for the last run of each sync job.
inline constexpr std::size_t kSyncScanEntries = 20000;

/// Builds the report from the state dir and the local interfaces.
Report collect(const config::Document& cfg, const Options& opts, const AddressProbe& probe);

/// --check: the report judged as a Nagios plugin. CRITICAL when an instance's last promotion
/// failed or was refused, or split brain is suspected (this node holds the instance's VIP or
/// role while another host set the failover flag for it or also took it over, or its last
/// promotion could not fence a reachable peer); WARNING when the failover flag is set, a
/// role and its VIP disagree, or a master of an arbitrated instance holds no lease or has not
/// renewed it past its self-fence time; else OK.
CheckResult check_report(const Report& report);

/// The service name of the --check line.
inline constexpr const char* kCheckService = "HAKIT-STATUS";

/// The report as one JSON document (stable keys; fields missing from the journal are omitted).
Json to_json(const Report& report);

/// The report as aligned tables for a terminal. `now` (Unix seconds) renders ages ("4m ago").
std::string render_table(const Report& report, std::time_t now);

/// "sync", "notify" or "other": what kind of journal entry this is, from whichever fields exist.
std::string entry_kind(const Json& entry);

/// A one-line human summary of a journal entry, robust to missing fields.
std::string describe_entry(const Json& entry);

/// True when a sitesync run entry reports success (ok, success, warning such as rsync 24).
bool sync_succeeded(const Json& entry);

/// Seconds since the epoch for an RFC 3339 UTC time ("2026-11-22T03:04:05.123Z"); empty if
/// it does not parse.
std::optional<std::time_t> parse_time(const std::string& rfc3339);

/// "42s ago", "5m ago", "3h ago", "2d ago".
std::string age(std::time_t then, std::time_t now);

/// Writes the status metrics (role, VIP presence, failover flag as seen by hakit-status) to
/// metrics_path()/hakit_status.prom.
bool write_status_metrics(const config::Core& cfg, const Report& report, std::string* err);

}  // namespace hakit::status
