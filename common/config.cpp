#include "common/config.hpp"

#include <fmt/format.h>
#include <sys/stat.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

#include "common/secrets.hpp"

namespace hakit::config {

namespace {

void parse_log(MapReader& r, LogConfig* out) {
  out->level = r.choice("level", out->level,
                        {"trace", "debug", "info", "warning", "error", "critical", "off"});
  out->syslog = r.boolean("syslog", out->syslog);
  out->file = r.string("file", out->file);
  out->format = r.choice("format", out->format, {"text", "json"});
  r.finish();
}

void require_absolute(MapReader& r, const std::string& key, const std::string& value) {
  if (!value.empty() && value.front() != '/') r.error(key, "must be an absolute path");
}

// A key that holds a secret inline makes the whole file a secret file.
bool has_inline_secret(const YAML::Node& n) {
  if (n.IsMap()) {
    for (auto it = n.begin(); it != n.end(); ++it) {
      const std::string k = it->first.IsScalar() ? it->first.Scalar() : "";
      if ((k == "password" || k == "token" || k == "secret") && it->second.IsScalar()) return true;
      if (has_inline_secret(it->second)) return true;
    }
  } else if (n.IsSequence()) {
    for (const auto& c : n)
      if (has_inline_secret(c)) return true;
  }
  return false;
}

}  // namespace

bool parse_config(const std::string& text, Config* out, Diagnostics* diag) {
  YAML::Node root = parse_yaml(text, *diag);
  if (!diag->ok()) return false;
  MapReader top(root, "", *diag);
  if (!top.valid()) return false;

  if (auto r = top.map("log")) parse_log(*r, &out->log);
  out->state_dir = top.string("state_dir", out->state_dir);
  out->run_dir = top.string("run_dir", out->run_dir);
  out->metrics_dir = top.string("metrics_dir", out->metrics_dir);
  out->maintenance_file = top.string("maintenance_file", out->maintenance_file);
  require_absolute(top, "state_dir", out->state_dir);
  require_absolute(top, "run_dir", out->run_dir);
  require_absolute(top, "metrics_dir", out->metrics_dir);

  top.each_entry("mysql", [&](const std::string& name, MapReader& e) {
    parse_mysql_profile(e, &out->mysql[name]);
  });
  top.each_entry("checks", [&](const std::string& name, MapReader& e) {
    auto type = e.choice("type", {"http", "mysql"});
    if (!type) {
      if (!e.has("type")) e.error("type", "missing (http or mysql)");
      return;
    }
    if (*type == "http") {
      parse_http_check(e, &out->http_checks[name]);
    } else {
      parse_mysql_check(e, &out->mysql_checks[name]);
    }
  });
  top.each_entry("notifications", [&](const std::string& name, MapReader& e) {
    parse_notification(e, &out->notifications[name]);
  });
  top.each_entry("instances", [&](const std::string& name, MapReader& e) {
    parse_instance(e, &out->instances[name]);
  });
  top.each_entry("sync", [&](const std::string& name, MapReader& e) {
    parse_sync_job(e, &out->sync[name]);
  });
  top.finish();

  // Names that refer to other sections must exist.
  for (const auto& [name, check] : out->mysql_checks)
    if (!out->mysql.count(check.mysql))
      diag->error(root["checks"][name]["mysql"], "checks." + name + ".mysql",
                  fmt::format("no mysql profile named '{}'", check.mysql));
  return diag->ok();
}

bool load_config(const std::string& path, Config* out, Diagnostics* diag) {
  out->path = path;
  struct stat st {};
  if (stat(path.c_str(), &st) != 0) {
    diag->error_at(0, 0, "", fmt::format("cannot read config: {}", std::strerror(errno)));
    return false;
  }
  if (!S_ISREG(st.st_mode)) {
    diag->error_at(0, 0, "", "not a regular file");
    return false;
  }
  if (static_cast<std::uintmax_t>(st.st_size) > kMaxConfigBytes) {
    diag->error_at(0, 0, "",
                   fmt::format("file is {} bytes; a config larger than {} bytes is refused",
                               st.st_size, kMaxConfigBytes));
    return false;
  }
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    diag->error_at(0, 0, "", fmt::format("cannot read config: {}", std::strerror(errno)));
    return false;
  }
  std::ostringstream buf;
  buf << in.rdbuf();
  const std::string text = buf.str();
  if (text.find('\0') != std::string::npos) {
    diag->error_at(0, 0, "", "file contains NUL bytes; it is not a YAML text file");
    return false;
  }
  if (!parse_config(text, out, diag)) return false;

  std::string err;
  if (!check_config_file(path, has_inline_secret(YAML::Load(text)), &err)) {
    diag->error_at(0, 0, "", err);
    return false;
  }
  return true;
}

}  // namespace hakit::config
