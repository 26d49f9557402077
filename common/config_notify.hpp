#pragma once
// instances: (notify_master / notify_backup) and notifications:.
#include <optional>
#include <string>
#include <vector>

#include "common/units.hpp"
#include "common/yaml_reader.hpp"

namespace hakit::config {

/// One ordered action of a promote or demote list.
struct Action {
  std::string kind;  ///< mysql_promote, mysql_demote, run, service, flag, notify, sync
  YAML::Node spec;   ///< the action's own settings, parsed by the notify tools
  Millis timeout{30000};
  int retries = 0;
  std::string on_failure = "abort";  ///< abort | continue
  int line = 0;
};

struct Vip {
  std::string address;
  std::string interface;
};

/// A keepalived VRRP instance hakit manages (`instances: {VI_1: {...}}`).
struct Instance {
  std::optional<Vip> vip;
  std::vector<Action> promote;
  std::vector<Action> demote;
  Millis min_interval{0};
  // Owned by notify_*: lock timeout, etc.
};

/// A notification channel (`notifications: {ops: {email: ..., webhook: ...}}`).
struct Notification {
  // Owned by notify_*: email {smtp, from, to, ...}, webhook {url, ...}
};

void parse_instance(MapReader& entry, Instance* out);
void parse_notification(MapReader& entry, Notification* out);

}  // namespace hakit::config
