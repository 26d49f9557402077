#include "common/config_mysql.hpp"

namespace hakit::config {

namespace {

const std::set<std::string> kStates{"ok", "warning", "critical", "unknown"};

void require_absolute(MapReader& e, const std::string& key, const std::string& value) {
  if (!value.empty() && value.front() != '/') e.error(key, "must be an absolute path");
}

}  // namespace

void parse_mysql_profile(MapReader& e, MysqlProfile* out) {
  out->host_given = out->host_given || e.has("host");
  out->port_given = out->port_given || e.has("port");
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
  out->tls = e.boolean("tls", out->tls);
  out->tls_ca = e.string("tls_ca", out->tls_ca);
  out->tls_capath = e.string("tls_capath", out->tls_capath);
  out->tls_cert = e.string("tls_cert", out->tls_cert);
  out->tls_key = e.string("tls_key", out->tls_key);
  out->tls_verify_server_cert = e.boolean("tls_verify_server_cert", out->tls_verify_server_cert);
  for (const char* k : {"socket", "password_file", "defaults_file", "tls_ca", "tls_capath",
                        "tls_cert", "tls_key"})
    if (e.has(k)) require_absolute(e, k, e.string(k, ""));
  if (!out->tls_key.empty() && out->tls_cert.empty())
    e.error("tls_key", "tls_key needs tls_cert");
  if (!out->password_file.empty() && !out->defaults_file.empty())
    e.error("password_file", "use either password_file or defaults_file, not both");
  if (e.has("password"))
    e.error("password", "passwords are not accepted inline; use password_file or defaults_file");
  e.finish();
}

void parse_mysql_check(MapReader& e, MysqlCheckConfig* out) {
  out->mysql = e.string("mysql", out->mysql);
  out->mode = e.choice("mode", out->mode, {"replica", "master", "galera", "freshness"});
  out->role = e.choice("role", out->role, {"auto", "replica", "master"});
  if (auto t = e.duration("timeout", Millis(1), Millis(3'600'000))) out->timeout = t;
  if (auto lag = e.map("lag")) {
    if (auto w = lag->duration("warning", Millis(0), Millis(365LL * 86'400'000)))
      out->lag_warning = w;
    if (auto c = lag->duration("critical", Millis(0), Millis(365LL * 86'400'000)))
      out->lag_critical = c;
    if (out->lag_warning && out->lag_critical && *out->lag_warning > *out->lag_critical)
      lag->error("warning", "lag warning is above lag critical");
    lag->finish();
  }
  out->null_lag = e.choice("null_lag", out->null_lag, kStates);
  out->io_thread_down = e.choice("io_thread_down", out->io_thread_down, kStates);
  out->connection = e.string("connection", out->connection);
  if (auto hb = e.map("heartbeat")) {
    out->heartbeat_table = hb->string("table", out->heartbeat_table);
    out->heartbeat_column = hb->string("column", out->heartbeat_column);
    if (auto id = hb->integer("server_id", 0, 4294967295LL)) out->heartbeat_server_id = *id;
    out->heartbeat_utc = hb->boolean("utc", out->heartbeat_utc);
    if (out->heartbeat_table.empty()) hb->error("table", "missing (e.g. percona.heartbeat)");
    hb->finish();
  }
  out->min_cluster_size =
      static_cast<int>(e.integer("min_cluster_size", out->min_cluster_size, 1, 1000));
  out->allow_donor = e.boolean("allow_donor", out->allow_donor);
  out->query = e.string("query", out->query);
  out->max_age = e.duration("max_age", out->max_age, Millis(1), Millis(365LL * 86'400'000));
  out->future_tolerance =
      e.duration("future_tolerance", out->future_tolerance, Millis(0), Millis(86'400'000));
  out->maintenance_file = e.string("maintenance_file", out->maintenance_file);
  require_absolute(e, "maintenance_file", out->maintenance_file);
  out->warning_fails = e.boolean("warning_fails", out->warning_fails);
  if (out->mode == "freshness" && out->query.empty())
    e.error("query", "mode freshness needs a query returning a timestamp");
  e.finish();
}

}  // namespace hakit::config
