#pragma once
// The outside world of the notify tools behind small interfaces, so unit tests use fakes:
// SQL servers, local addresses, mail/webhook delivery, processes, and sleeping.
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/arbiter/lease.hpp"
#include "notify/config.hpp"
#include "common/mysql/connection.hpp"
#include "common/process.hpp"
#include "common/units.hpp"

namespace hakit::notify {

/// SQL access to one server.
class Db {
 public:
  virtual ~Db() = default;
  /// Runs a statement that returns rows.
  virtual bool query(const std::string& sql, std::vector<mysql::Row>* rows, std::string* err) = 0;
  /// Runs a statement and discards any result.
  virtual bool exec(const std::string& sql, std::string* err) = 0;
  /// MariaDB (GTID as domain-server-seq, no super_read_only) rather than MySQL.
  virtual bool is_mariadb() const = 0;
  /// `s` as an SQL string literal, right under the session's sql_mode.
  virtual std::string quote(const std::string& s) const = 0;
};

/// Opens connections from profiles.
class DbConnector {
 public:
  virtual ~DbConnector() = default;
  /// Connects; `cap` bounds the connect/read/write timeouts of the profile.
  virtual std::unique_ptr<Db> open(const config::MysqlProfile& profile, Millis cap,
                                   std::string* err) = 0;
};

/// The real connector (hakit_mysql).
class MysqlConnector : public DbConnector {
 public:
  std::unique_ptr<Db> open(const config::MysqlProfile& profile, Millis cap,
                           std::string* err) override;
};

/// Is an address configured on this host?
class AddressProbe {
 public:
  virtual ~AddressProbe() = default;
  /// True when `address` is on `interface` (any interface when empty). False + *err on failure.
  virtual bool is_local(const std::string& address, const std::string& interface,
                        std::string* err) = 0;
  /// The MACs of other hosts that answer ARP for `address` within `wait` (two VIP holders);
  /// nullopt + *err when it cannot ask. The default asks nobody (no other holder).
  virtual std::optional<std::vector<std::string>> other_holders(const std::string& address,
                                                                const std::string& interface,
                                                                Millis wait, std::string* err) {
    (void)address, (void)interface, (void)wait, (void)err;
    return std::vector<std::string>{};
  }
};

/// The real probe: getifaddrs(3), no shell and no `ip` command.
class IfaddrsProbe : public AddressProbe {
 public:
  bool is_local(const std::string& address, const std::string& interface,
                std::string* err) override;
  /// An ARP probe (common/arp_probe.hpp).
  std::optional<std::vector<std::string>> other_holders(const std::string& address,
                                                        const std::string& interface, Millis wait,
                                                        std::string* err) override;
};

/// Delivers notifications.
class Messenger {
 public:
  virtual ~Messenger() = default;
  /// Sends one e-mail (plain text).
  virtual bool send_email(const config::EmailChannel& ch, const std::string& subject,
                          const std::string& body, Millis timeout, std::string* err) = 0;
  /// POSTs a JSON document.
  virtual bool post_json(const config::WebhookChannel& ch, const std::string& json,
                         Millis timeout, std::string* err) = 0;
};

/// The real one: libcurl for SMTP and HTTP.
class CurlMessenger : public Messenger {
 public:
  bool send_email(const config::EmailChannel& ch, const std::string& subject,
                  const std::string& body, Millis timeout, std::string* err) override;
  bool post_json(const config::WebhookChannel& ch, const std::string& json, Millis timeout,
                 std::string* err) override;
};

/// Everything the engine talks to. Tests fill it with fakes.
struct Services {
  ProcessRunner* runner = nullptr;
  DbConnector* db = nullptr;
  AddressProbe* addresses = nullptr;
  Messenger* messenger = nullptr;
  std::function<void(Millis)> sleep;  ///< pauses (backoff, catch-up polling)
  std::string self_dir;               ///< directory of our binary: sitesync lives beside it
  /// The arbiter's etcd client for an arbiters: entry (tests return a fake).
  std::function<std::unique_ptr<arbiter::Etcd>(const config::Arbiter&)> etcd;
  arbiter::Clock* clock = nullptr;    ///< the arbiter's monotonic clock (CLOCK_BOOTTIME)
};

/// The real services (process-wide singletons).
Services real_services();

}  // namespace hakit::notify
