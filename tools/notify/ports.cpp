#include "notify/ports.hpp"

#include "common/arp_probe.hpp"
#include "common/netaddr.hpp"

#include <arpa/inet.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <netinet/in.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <thread>

namespace hakit::notify {

namespace {

class MysqlDb : public Db {
 public:
  explicit MysqlDb(std::unique_ptr<mysql::Connection> c) : c_(std::move(c)) {}
  bool query(const std::string& sql, std::vector<mysql::Row>* rows, std::string* err) override {
    mysql::Error e;
    if (c_->query(sql, rows, &e)) return true;
    *err = e.describe();
    return false;
  }
  bool exec(const std::string& sql, std::string* err) override {
    mysql::Error e;
    if (c_->exec(sql, &e)) return true;
    *err = e.describe();
    return false;
  }
  bool is_mariadb() const override { return c_->is_mariadb(); }
  std::string quote(const std::string& s) const override { return c_->quote(s); }

 private:
  std::unique_ptr<mysql::Connection> c_;
};

}  // namespace

std::unique_ptr<Db> MysqlConnector::open(const config::MysqlProfile& profile, Millis cap,
                                         std::string* err) {
  config::MysqlProfile p = profile;
  cap = std::max(cap, Millis(1000));
  p.connect_timeout = std::min(p.connect_timeout, cap);
  p.read_timeout = std::min(p.read_timeout, cap);
  p.write_timeout = std::min(p.write_timeout, cap);
  mysql::Error e;
  auto c = mysql::Connection::open(p, &e);
  if (!c) {
    *err = e.describe();
    return nullptr;
  }
  return std::make_unique<MysqlDb>(std::move(c));
}

bool IfaddrsProbe::is_local(const std::string& address, const std::string& interface,
                            std::string* err) {
  auto local = address_is_local(address, interface, err);
  if (!local) *err = "vip: " + *err;
  return local.value_or(false);
}

std::optional<std::vector<std::string>> IfaddrsProbe::other_holders(const std::string& address,
                                                                    const std::string& interface,
                                                                    Millis wait, std::string* err) {
  return hakit::other_holders(address, interface, wait, err);
}

Services real_services() {
  static SystemProcessRunner runner;
  static MysqlConnector db;
  static IfaddrsProbe addresses;
  static CurlMessenger messenger;
  Services s;
  s.runner = &runner;
  s.db = &db;
  s.addresses = &addresses;
  s.messenger = &messenger;
  s.sleep = [](Millis d) { std::this_thread::sleep_for(d); };
  static arbiter::BootClock clock;
  s.clock = &clock;
  s.etcd = [](const config::Arbiter& a) -> std::unique_ptr<arbiter::Etcd> {
    return std::make_unique<arbiter::HttpEtcd>(a);
  };
  char buf[4096] = {};
  ssize_t n = readlink("/proc/self/exe", buf, sizeof buf - 1);
  std::string exe = n > 0 ? std::string(buf, static_cast<size_t>(n)) : "";
  auto slash = exe.rfind('/');
  s.self_dir = slash == std::string::npos ? "." : exe.substr(0, slash);
  return s;
}

}  // namespace hakit::notify
