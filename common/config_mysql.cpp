#include "common/config_mysql.hpp"

namespace hakit::config {

void parse_mysql_profile(MapReader& e, MysqlProfile* out) {
  out->host = e.string("host", out->host);
  out->port = static_cast<int>(e.integer("port", out->port, 1, 65535));
  out->socket = e.string("socket", out->socket);
  out->user = e.string("user", out->user);
  out->password_file = e.string("password_file", out->password_file);
  out->defaults_file = e.string("defaults_file", out->defaults_file);
  out->defaults_group = e.string("defaults_group", out->defaults_group);
  out->connect_timeout = e.duration("connect_timeout", out->connect_timeout, Millis(1), Millis(600'000));
  out->read_timeout = e.duration("read_timeout", out->read_timeout, Millis(1), Millis(3'600'000));
  out->write_timeout = e.duration("write_timeout", out->write_timeout, Millis(1), Millis(3'600'000));
  if (e.has("password"))
    e.error("password", "passwords are not accepted inline; use password_file or defaults_file");
  e.finish();
}

void parse_mysql_check(MapReader& e, MysqlCheckConfig* out) {
  out->mysql = e.string("mysql", out->mysql);
  out->mode = e.choice("mode", out->mode, {"replica", "master", "galera", "freshness"});
  e.finish();
}

}  // namespace hakit::config
