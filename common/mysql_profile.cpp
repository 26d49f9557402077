#include "common/mysql_profile.hpp"

#include <cctype>

#include "common/secrets.hpp"

namespace hakit::config {

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
  out->database = e.string("database", out->database);
  out->connect_timeout =
      e.duration("connect_timeout", out->connect_timeout, Millis(1), Millis(600'000));
  out->read_timeout = e.duration("read_timeout", out->read_timeout, Millis(1), Millis(3'600'000));
  out->write_timeout =
      e.duration("write_timeout", out->write_timeout, Millis(1), Millis(3'600'000));
  out->tls = e.boolean("tls", out->tls);
  out->tls_ca = e.string("tls_ca", out->tls_ca);
  out->tls_capath = e.string("tls_capath", out->tls_capath);
  out->tls_cert = e.string("tls_cert", out->tls_cert);
  out->tls_key = e.string("tls_key", out->tls_key);
  out->tls_verify_server_cert = e.boolean("tls_verify_server_cert", out->tls_verify_server_cert);
  for (const char* k :
       {"socket", "password_file", "defaults_file", "tls_ca", "tls_capath", "tls_cert", "tls_key"})
    if (e.has(k)) e.require_absolute(k, e.string(k, ""));
  if (!out->tls_key.empty() && out->tls_cert.empty()) e.error("tls_key", "tls_key needs tls_cert");
  if (!out->password_file.empty() && !out->defaults_file.empty())
    e.error("password_file", "use either password_file or defaults_file, not both");
  if (e.has("password"))
    e.error("password", "passwords are not accepted inline; use password_file or defaults_file");
  e.finish();
  // A missing or world-readable secret fails every connection; say so at load time.
  std::string err;
  for (const auto& [key, path] :
       {std::pair{"password_file", out->password_file},
        std::pair{"defaults_file", out->defaults_file}, std::pair{"tls_key", out->tls_key}})
    if (!path.empty() && path.front() == '/' && !check_secret_file(path, &err)) e.error(key, err);
}

}  // namespace hakit::config

namespace hakit::mysql {

bool is_identifier_path(const std::string& name) {
  if (name.empty() || name.size() > 192) return false;
  bool part_empty = true;
  for (char c : name) {
    if (c == '.') {
      if (part_empty) return false;
      part_empty = true;
      continue;
    }
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '$')) return false;
    part_empty = false;
  }
  return !part_empty;
}

}  // namespace hakit::mysql
