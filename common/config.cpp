#include "common/config.hpp"

#include <fcntl.h>
#include <fmt/format.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "common/secrets.hpp"
#include "common/state.hpp"

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
      if (is_secret_key(k) && it->second.IsScalar() && !it->second.Scalar().empty()) return true;
      if (has_inline_secret(it->second)) return true;
    }
  } else if (n.IsSequence()) {
    for (const auto& c : n)
      if (has_inline_secret(c)) return true;
  }
  return false;
}

void parse_sections(const YAML::Node& root, Config* out, Diagnostics* diag) {
  MapReader top(root, "", *diag);
  if (!top.valid()) return;

  if (auto r = top.map("log")) parse_log(*r, &out->log);
  out->state_dir = top.string("state_dir", out->state_dir);
  out->run_dir = top.string("run_dir", out->run_dir);
  out->metrics_dir = top.string("metrics_dir", out->metrics_dir);
  out->maintenance_file = top.string("maintenance_file", out->maintenance_file);
  require_absolute(top, "state_dir", out->state_dir);
  require_absolute(top, "run_dir", out->run_dir);
  require_absolute(top, "metrics_dir", out->metrics_dir);
  require_absolute(top, "maintenance_file", out->maintenance_file);

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
    if (std::string why; !valid_instance_name(name, &why)) top.error("instances", why);
    parse_instance(e, &out->instances[name]);
  });
  top.each_entry("sync", [&](const std::string& name, MapReader& e) {
    parse_sync_job(e, &out->sync[name]);
  });
  top.finish();

  // Names that refer to other sections must exist.
  const YAML::Node& croot = root;
  for (const auto& [name, check] : out->mysql_checks)
    if (!out->mysql.count(check.mysql))
      diag->error(croot["checks"][name]["mysql"], "checks." + name + ".mysql",
                  fmt::format("no mysql profile named '{}'", check.mysql));
  check_notify_references(*out, croot, diag);
}

// Section parsers are written by several people; whatever one of them throws on an odd input
// becomes a diagnostic, never a crash of the check keepalived runs.
bool parse_tree(const YAML::Node& root, Config* out, Diagnostics* diag) {
  try {
    parse_sections(root, out, diag);
  } catch (const std::exception& e) {
    diag->error_at(0, 0, "", fmt::format("cannot read the config: {}", e.what()));
  }
  return diag->ok();
}

}  // namespace

bool parse_config(const std::string& text, Config* out, Diagnostics* diag) {
  YAML::Node root = parse_yaml(text, *diag);
  if (!diag->ok()) return false;
  return parse_tree(root, out, diag);
}

bool load_config(const std::string& path, Config* out, Diagnostics* diag) {
  out->path = path;
  std::string err;
  if (!check_symlinks(path, "config file", &err)) {
    diag->error_at(0, 0, "", err);
    return false;
  }
  // O_NONBLOCK: a FIFO in place of the config must not hang a check.
  int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
  if (fd < 0) {
    int e = errno;
    diag->error_at(0, 0, "",
                   fmt::format("cannot open the config: {}{}", std::strerror(e),
                               e == EACCES ? " (run as root, or fix the file's permissions)" : ""));
    return false;
  }
  struct Closer {
    int fd;
    ~Closer() { close(fd); }
  } closer{fd};
  struct stat st {};
  if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    diag->error_at(0, 0, "", "not a regular file");
    return false;
  }
  // Refused before reading a byte: a 50 MB "config" is a mistake, and checks run every second.
  if (static_cast<std::uintmax_t>(st.st_size) > kMaxConfigBytes) {
    diag->error_at(0, 0, "",
                   fmt::format("file is {} bytes; a config larger than {} bytes is refused",
                               st.st_size, kMaxConfigBytes));
    return false;
  }
  std::string text;
  char buf[65536];
  while (text.size() <= kMaxConfigBytes) {
    ssize_t n = read(fd, buf, sizeof buf);
    if (n == 0) break;
    if (n < 0) {
      if (errno == EINTR) continue;
      diag->error_at(0, 0, "", fmt::format("cannot read the config: {}", std::strerror(errno)));
      return false;
    }
    text.append(buf, static_cast<size_t>(n));
  }
  if (text.size() > kMaxConfigBytes) {
    diag->error_at(0, 0, "", fmt::format("file grew beyond {} bytes while being read; refused",
                                         kMaxConfigBytes));
    return false;
  }
  if (auto nul = text.find('\0'); nul != std::string::npos) {
    int line = 1 + static_cast<int>(std::count(text.begin(), text.begin() + nul, '\n'));
    size_t line_start = text.rfind('\n', nul);
    int column = static_cast<int>(nul - (line_start == std::string::npos ? 0 : line_start + 1)) + 1;
    diag->error_at(line, column, "", "file contains NUL bytes; it is not a YAML text file");
    return false;
  }
  YAML::Node root = parse_yaml(text, *diag);
  if (diag->ok()) parse_tree(root, out, diag);
  // Permissions are checked on the descriptor that was read, and reported together with
  // any content problem so one --check-config run lists everything.
  bool holds_secrets = root.IsDefined() && has_inline_secret(root);
  if (!check_opened_file(fd, path, holds_secrets,
                         holds_secrets ? "config file (it holds a secret inline)" : "config file",
                         &err))
    diag->error_at(0, 0, "", err);
  return diag->ok();
}

}  // namespace hakit::config
