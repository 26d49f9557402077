#include "hakitd/probe.hpp"

#include <spdlog/spdlog.h>

#include "check_http_200/check_http_200.hpp"
#include "check_mysql_slave/check_mysql_slave.hpp"
#include "common/exit_codes.hpp"
#include "common/mysql/connection.hpp"

namespace hakit::hakitd {

namespace {

class HttpProbe : public Probe {
 public:
  explicit HttpProbe(check_http::Options opts) : opts_(std::move(opts)) {}
  // check_http::run builds a fresh request (and libcurl a fresh connection) every time.
  CheckResult run() override { return check_http::run(opts_, 0); }
  bool passed(const CheckResult& r) const override {
    return check_exit_code(r.state, opts_.check.warning_fails) == 0;
  }
  Millis timeout() const override { return opts_.check.timeout; }

 private:
  check_http::Options opts_;
};

class MysqlProbe : public Probe {
 public:
  explicit MysqlProbe(check_mysql::Options opts) : opts_(std::move(opts)) {}
  CheckResult run() override {
    const auto start = mysql::Clock::now();
    if (auto m = maintenance_result(opts_.maintenance_file.value_or(""))) return *m;
    const auto deadline = start + timeout();
    if (conn_) {
      conn_->set_deadline(deadline);
    } else {
      mysql::Error e;
      conn_ = mysql::Connection::open(opts_.profile, deadline, &e);
      if (!conn_) return check_mysql::connect_failed(opts_.profile, e, opts_.check);
    }
    CheckResult res = check_mysql::check_options(*conn_, opts_, deadline);
    // Any failed probe may have left the session broken or half-read: the next one opens a
    // new connection rather than judging the server through a dead socket.
    if (res.state != State::kOk) conn_.reset();
    double took = std::chrono::duration<double>(mysql::Clock::now() - start).count();
    res.perfdata.push_back({"time", took, "s", {}, {}, 0.0, {}});
    return res;
  }
  bool passed(const CheckResult& r) const override {
    return check_exit_code(r.state, opts_.check.warning_fails) == 0;
  }
  Millis timeout() const override {
    return opts_.check.timeout.value_or(check_mysql::kDefaultTimeout);
  }

 private:
  check_mysql::Options opts_;
  std::unique_ptr<mysql::Connection> conn_;
};

}  // namespace

std::unique_ptr<Probe> make_probe(const config::Document& doc, const config::DaemonCheck& check,
                                  std::string* err) {
  if (check.type == "http") {
    check_http::Options opts;
    opts.check_name = check.name;
    if (!check_http::resolve_options(doc, {}, &opts, err)) return nullptr;
    return std::make_unique<HttpProbe>(std::move(opts));
  }
  if (check.type == "mysql") {
    mysql::library_init();
    check_mysql::Options opts;
    opts.check_name = check.name;
    if (!check_mysql::resolve_options(doc, {}, &opts, err)) return nullptr;
    return std::make_unique<MysqlProbe>(std::move(opts));
  }
  *err = "checks." + check.name + ": type '" + check.type + "' is not one hakitd runs";
  return nullptr;
}

}  // namespace hakit::hakitd
