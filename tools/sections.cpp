#include "sections.hpp"

#include <fmt/format.h>

#include "check_http_200/config.hpp"
#include "check_mysql_slave/config.hpp"
#include "common/arbiter/config.hpp"
#include "common/mysql_profile.hpp"
#include "hakitd/config.hpp"
#include "notify/config.hpp"
#include "sitesync/config.hpp"

namespace hakit::sections {

namespace {

void validate_mysql_profiles(const config::Document& doc, config::Diagnostics& diag) {
  config::check_entry_section(doc, "mysql", diag);
  for (const auto& name : doc.entry_names("mysql")) {
    config::MysqlProfile p;
    config::parse_entry(doc, "mysql", name, config::parse_mysql_profile, &p, &diag);
  }
}

// checks: is shared by two tools; each entry's `type` says whose it is.
void validate_checks(const config::Document& doc, config::Diagnostics& diag) {
  config::check_entry_section(doc, "checks", diag);
  for (const auto& name : doc.entry_names("checks")) {
    const YAML::Node entry = doc.entry("checks", name);
    if (!entry.IsDefined() || !entry.IsMap()) continue;
    const YAML::Node type = entry["type"];
    const std::string path = "checks." + name;
    if (!type.IsDefined()) {
      diag.error(entry, path + ".type", "missing (http or mysql)");
    } else if (!type.IsScalar() || (type.Scalar() != "http" && type.Scalar() != "mysql")) {
      std::string word = type.IsScalar() ? type.Scalar() : "?";
      std::string hint = config::closest(word, {"http", "mysql"});
      diag.error(type, path + ".type",
                 fmt::format("'{}' is not a check type (http or mysql){}", word,
                             hint.empty() ? "" : fmt::format(", did you mean '{}'?", hint)));
    } else if (type.Scalar() == "http") {
      config::HttpCheckConfig c;
      config::read_http_check(doc, name, &c, &diag);
    } else {
      config::MysqlCheckConfig c;
      if (config::read_mysql_check(doc, name, &c, &diag) &&
          !doc.entry("mysql", c.mysql).IsDefined()) {
        const YAML::Node at = entry["mysql"];
        diag.error(at.IsDefined() ? at : entry, path + ".mysql",
                   fmt::format("no mysql profile named '{}'", c.mysql));
      }
    }
  }
}

}  // namespace

const std::vector<config::Section>& all() {
  static const std::vector<config::Section> kSections{
      {"mysql", "check_mysql_slave, notify_master, notify_backup, hakitd",
       "MySQL/MariaDB connection profiles by name", validate_mysql_profiles},
      {"checks", "check_http_200 (type: http), check_mysql_slave (type: mysql), hakitd",
       "health checks by name (--check NAME)", validate_checks},
      {"instances", "notify_master, notify_backup",
       "keepalived VRRP instances: vip, ordered promote and demote actions",
       config::validate_instances},
      {"notifications", "notify_master, notify_backup", "e-mail and webhook channels by name",
       config::validate_notifications},
      {"sync", "sitesync", "rsync pull jobs by name", config::validate_sync},
      {"daemon", "hakitd",
       "the resident daemon: checks run in-process with hysteresis into keepalived track "
       "files, and keepalived's notify FIFO",
       config::validate_daemon},
      {"arbiters", "notify_master, notify_backup, hakit-arbiter",
       "etcd clusters that grant the writable master of an instance its lease by name",
       config::validate_arbiters},
  };
  return kSections;
}

}  // namespace hakit::sections
