#include "common/config.hpp"

#include <fcntl.h>
#include <fmt/format.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "common/secrets.hpp"

namespace hakit::config {

namespace {

const std::set<std::string> kCoreKeys{"log", "state_dir", "run_dir", "metrics_dir",
                                      "maintenance_file"};

void parse_log(MapReader& r, LogConfig* out) {
  out->level = r.choice("level", out->level,
                        {"trace", "debug", "info", "warning", "error", "critical", "off"});
  out->syslog = r.boolean("syslog", out->syslog);
  out->file = r.string("file", out->file);
  out->format = r.choice("format", out->format, {"text", "json"});
  r.finish();
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

// The shared settings. Paths are read strictly (a relative state_dir is an error for every
// tool); log: problems are only warnings: logging is never a reason to fail a check.
void parse_core(const YAML::Node& root, Core* out, Diagnostics* strict, Diagnostics* lenient) {
  if (!root.IsDefined() || root.IsNull()) return;
  if (!root.IsMap()) {
    strict->error(root, "", "the top level must be a mapping of sections (log:, checks:, ...)");
    return;
  }
  MapReader top(root, "", *strict);
  if (YAML::Node log = root["log"]; log.IsDefined() && !log.IsNull()) {
    MapReader r(log, "log", *lenient);
    LogConfig parsed;
    if (r.valid()) parse_log(r, &parsed);
    out->log = parsed;
  }
  out->state_dir = top.string("state_dir", out->state_dir);
  out->run_dir = top.string("run_dir", out->run_dir);
  out->metrics_dir = top.string("metrics_dir", out->metrics_dir);
  out->maintenance_file = top.string("maintenance_file", out->maintenance_file);
  top.require_absolute("state_dir", out->state_dir);
  top.require_absolute("run_dir", out->run_dir);
  top.require_absolute("metrics_dir", out->metrics_dir);
  top.require_absolute("maintenance_file", out->maintenance_file);
}

}  // namespace

void check_top_level(const Document& doc, const std::vector<Section>& sections, Diagnostics* diag) {
  std::set<std::string> known = kCoreKeys;
  for (const auto& s : sections) known.insert(s.key);
  const YAML::Node& root = doc.root;
  if (!root.IsMap()) return;
  for (auto it = root.begin(); it != root.end(); ++it) {
    const std::string key = it->first.IsScalar() ? it->first.Scalar() : "?";
    if (known.count(key)) continue;
    std::string hint = closest(key, known);
    diag->error(it->first, key,
                hint.empty() ? "unknown key (not a section of hakit.yaml)"
                             : fmt::format("unknown key (did you mean '{}'?)", hint));
  }
}

void check_entry_section(const Document& doc, const std::string& section, Diagnostics& diag) {
  if (!doc.root.IsMap()) return;
  const YAML::Node& root = doc.root;
  YAML::Node s = root[section];
  if (!s.IsDefined() || s.IsNull()) return;
  if (!s.IsMap()) {
    diag.error(s, section, "must be a mapping of named entries");
    return;
  }
  for (auto it = s.begin(); it != s.end(); ++it) {
    if (!it->first.IsScalar() || it->first.Scalar().empty()) {
      diag.error(it->first, section, "an entry needs a plain, non-empty name");
    } else if (!it->second.IsMap()) {
      diag.error(it->second, section + "." + it->first.Scalar(), "must be a mapping");
    }
  }
}

YAML::Node Document::entry(const std::string& section, const std::string& name) const {
  if (!root.IsMap()) return YAML::Node(YAML::NodeType::Undefined);
  const YAML::Node& cr = root;
  // A missing key gives a "zombie" node whose type queries throw: IsDefined() first.
  YAML::Node s = cr[section];
  if (!s.IsDefined() || !s.IsMap()) return YAML::Node(YAML::NodeType::Undefined);
  const YAML::Node& cs = s;
  YAML::Node e = cs[name];
  return e.IsDefined() ? e : YAML::Node(YAML::NodeType::Undefined);
}

std::vector<std::string> Document::entry_names(const std::string& section) const {
  std::vector<std::string> names;
  if (!root.IsMap()) return names;
  const YAML::Node& cr = root;
  YAML::Node s = cr[section];
  if (!s.IsDefined() || !s.IsMap()) return names;
  for (auto it = s.begin(); it != s.end(); ++it)
    if (it->first.IsScalar() && !it->first.Scalar().empty()) names.push_back(it->first.Scalar());
  return names;
}

bool entry_type_is(const Document& doc, const std::string& section, const std::string& name,
                   const std::string& type, const std::string& owner, Diagnostics* diag) {
  const YAML::Node n = doc.entry(section, name);
  if (!n.IsDefined() || !n.IsMap()) return true;
  const YAML::Node t = n["type"];
  if (!t.IsDefined() || !t.IsScalar() || t.Scalar() == type) return true;
  diag->error(t, section + "." + name + ".type",
              fmt::format("'{}' is a {} entry, not {}: {} reads it", name, t.Scalar(), type, owner));
  return false;
}

void parse_vip(MapReader& v, Vip* out) {
  out->address = v.string("address", "");
  out->interface = v.string("interface", "");
  if (out->address.empty()) v.error("address", "missing");
  v.finish();
}

std::optional<Vip> read_instance_vip(const Document& doc, const std::string& instance,
                                     Diagnostics* diag) {
  YAML::Node inst = doc.entry("instances", instance);
  if (!inst.IsDefined() || !inst.IsMap()) return std::nullopt;
  const YAML::Node& ci = inst;
  YAML::Node v = ci["vip"];
  if (!v.IsDefined() || v.IsNull()) return std::nullopt;
  Vip vip;
  size_t before = diag->items().size();
  MapReader r(v, "instances." + instance + ".vip", *diag);
  if (r.valid()) parse_vip(r, &vip);
  if (diag->items().size() != before) return std::nullopt;
  return vip;
}

std::string missing_entry(const Document& doc, const std::string& what, const std::string& name,
                          const std::vector<std::string>& known) {
  std::string list;
  for (const auto& k : known) list += (list.empty() ? "" : ", ") + k;
  std::set<std::string> candidates(known.begin(), known.end());
  std::string hint = closest(name, candidates);
  return fmt::format("no {} '{}' in {}{}{}", what, name, doc.where(),
                     hint.empty() ? "" : fmt::format(" (did you mean '{}'?)", hint),
                     list.empty() ? "" : " (defined: " + list + ")");
}

bool parse_document(const std::string& text, Document* doc, Diagnostics* diag) {
  doc->root = parse_yaml(text, *diag);
  if (!diag->ok()) return false;
  Diagnostics lenient(diag->file());
  try {
    parse_core(doc->root, doc, diag, &lenient);
  } catch (const std::exception& e) {
    diag->error_at(0, 0, "", fmt::format("cannot read the config: {}", e.what()));
  }
  for (const auto& d : lenient.items()) doc->warnings.push_back(d);
  return diag->ok();
}

bool validate_all(const Document& doc, const std::vector<Section>& sections, Diagnostics* diag) {
  // The shared settings again, this time with log: strict (their paths were already
  // checked strictly by parse_document, which refuses the file when they are wrong).
  Core core;
  Diagnostics already_reported(diag->file());
  parse_core(doc.root, &core, &already_reported, diag);
  check_top_level(doc, sections, diag);
  for (const auto& s : sections) {
    if (!s.validate) continue;
    // Section parsers are written by several people; whatever one of them throws on an odd
    // input becomes a diagnostic, never a crash.
    try {
      s.validate(doc, *diag);
    } catch (const std::exception& e) {
      diag->error(doc.root[s.key], s.key, fmt::format("cannot read this section: {}", e.what()));
    }
  }
  return diag->ok();
}

bool load_document(const std::string& path, Document* out, Diagnostics* diag) {
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
    diag->error_at(
        0, 0, "",
        fmt::format("file grew beyond {} bytes while being read; refused", kMaxConfigBytes));
    return false;
  }
  if (auto nul = text.find('\0'); nul != std::string::npos) {
    int line = 1 + static_cast<int>(std::count(text.begin(), text.begin() + nul, '\n'));
    size_t line_start = text.rfind('\n', nul);
    int column = static_cast<int>(nul - (line_start == std::string::npos ? 0 : line_start + 1)) + 1;
    diag->error_at(line, column, "", "file contains NUL bytes; it is not a YAML text file");
    return false;
  }
  parse_document(text, out, diag);
  // Permissions are checked on the descriptor that was read, and reported together with
  // any content problem so one --check-config run lists everything.
  bool holds_secrets = out->root.IsDefined() && has_inline_secret(out->root);
  if (!check_opened_file(fd, path, holds_secrets,
                         holds_secrets ? "config file (it holds a secret inline)" : "config file",
                         &err))
    diag->error_at(0, 0, "", err);
  return diag->ok();
}

}  // namespace hakit::config
