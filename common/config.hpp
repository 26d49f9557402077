#pragma once
// The one hakit.yaml, read in two layers, as keepalived reads its keywords: common/ reads the
// file (size, permissions, YAML syntax) and the settings every tool shares (log:, the
// directories, the maintenance file); each tool owns the sections it uses
// (tools/NAME/config.*) and parses only the entries it needs. One file is copied to every
// node, so a typo in another tool's section must never fail a check: it is at most a
// warning there. A registry of every section (tools/sections.*) lets --check-config and
// `hakit-config check` validate the whole file strictly.
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "common/units.hpp"
#include "common/yaml_reader.hpp"

namespace hakit::config {

/// log: {level, syslog, file, format}
struct LogConfig {
  std::string level = "info";  ///< trace, debug, info, warning, error, critical, off
  bool syslog = true;
  std::string file;             ///< empty: no file
  std::string format = "text";  ///< text or json
};

/// The settings every tool shares: log: and the top-level paths.
struct Core {
  LogConfig log;
  std::string state_dir = "/var/lib/hakit";  ///< journal, failover flag, roles
  std::string run_dir = "/run/hakit";        ///< locks
  std::string metrics_dir;                   ///< Prometheus textfiles; "" = state_dir/metrics
  std::string maintenance_file = "/etc/hakit/maintenance";  ///< forces every check CRITICAL

  std::string metrics_path() const {
    return metrics_dir.empty() ? state_dir + "/metrics" : metrics_dir;
  }
  /// The journal every tool appends to and hakit-status reads.
  std::string journal_path() const { return state_dir + "/journal.jsonl"; }
};

/// A loaded hakit.yaml: where it came from, its YAML tree and the shared settings. Sections
/// stay unparsed until the tool that owns them asks for the entries it needs.
struct Document : Core {
  std::string path;  ///< "" when no config was loaded (ad-hoc use from the command line)
  YAML::Node root;   ///< the whole tree; undefined when nothing was loaded
  /// Problems outside what this tool reads strictly (log:, unknown top-level keys): the tool
  /// logs them as warnings and goes on.
  std::vector<Diagnostic> warnings;

  bool loaded() const { return !path.empty(); }
  /// "the config" or the path, for messages.
  std::string where() const { return path.empty() ? "the config" : path; }
  /// root[section][name] when both exist, else an undefined node.
  YAML::Node entry(const std::string& section, const std::string& name) const;
  /// The entry names of a mapping section ("checks", "instances"), in file order.
  std::vector<std::string> entry_names(const std::string& section) const;
};

/// The address keepalived moves, read from `instances.NAME.vip` (notify, sitesync's role
/// gate and hakit-status all need it).
struct Vip {
  std::string address;
  std::string interface;
};

/// Parses `vip: {address, interface}` of one instance entry.
void parse_vip(MapReader& vip, Vip* out);

/// Reads only `instances.NAME.vip` (problems go to `diag`); nothing when the instance or its
/// vip is absent. The rest of the instance belongs to notify and is not read here.
std::optional<Vip> read_instance_vip(const Document& doc, const std::string& instance,
                                     Diagnostics* diag);

/// One top-level section and the tool that owns it.
struct Section {
  std::string key;      ///< top-level key: "checks", "sync", ...
  std::string owner;    ///< the tool that reads it, for messages and the man page
  std::string summary;  ///< one line for `hakit-config sections` and the man page
  /// Validates the whole section strictly (every entry, references to other sections).
  void (*validate)(const Document& doc, Diagnostics& diag) = nullptr;
};

/// Largest config file accepted: a 50 MB file is a mistake, not a config.
inline constexpr std::uintmax_t kMaxConfigBytes = 4 * 1024 * 1024;

/// Reads `path` (limits, ownership and permissions, YAML syntax) and the shared settings.
/// A problem with the file or its YAML fills `diag` and returns false: no tool can read
/// anything then. Problems in log: or unknown top-level keys go to doc->warnings.
bool load_document(const std::string& path, Document* doc, Diagnostics* diag);

/// The same for text already read (tests, the fuzzer, load_document).
bool parse_document(const std::string& text, Document* doc, Diagnostics* diag);

/// Validates everything strictly that parse_document let pass: log:, top-level keys against
/// `sections` (with a did-you-mean), then every section's own validator. False with every
/// problem. (The shared paths were checked by parse_document already.)
bool validate_all(const Document& doc, const std::vector<Section>& sections, Diagnostics* diag);

/// Parses one named entry with `parse(MapReader&, T*)`; false when the entry is missing or
/// has problems (which go to `diag`, with the key path `section.name.key`).
template <class T, class Parse>
bool parse_entry(const Document& doc, const std::string& section, const std::string& name,
                 Parse parse, T* out, Diagnostics* diag) {
  YAML::Node n = doc.entry(section, name);
  if (!n.IsDefined()) return false;
  size_t before = diag->items().size();
  try {
    MapReader r(n, section + "." + name, *diag);
    if (r.valid()) parse(r, out);
  } catch (const std::exception& e) {
    // Whatever a parser throws on an odd input is a diagnostic, never a crashed check.
    diag->error(n, section + "." + name, std::string("cannot read this entry: ") + e.what());
  }
  return diag->items().size() == before;
}

/// For sections shared by several tools (checks:): false, with a diagnostic naming `owner`,
/// when the entry's `type` is there and is not `type`. The entry itself is not read.
bool entry_type_is(const Document& doc, const std::string& section, const std::string& name,
                   const std::string& type, const std::string& owner, Diagnostics* diag);

/// A section of named entries must be a mapping whose entries are mappings with plain,
/// non-empty names; anything else is reported (the registry validators call this first).
void check_entry_section(const Document& doc, const std::string& section, Diagnostics& diag);

/// Reports top-level keys that are neither shared settings nor one of `sections`, with a
/// did-you-mean ("unknown section 'sycn', did you mean 'sync'?").
void check_top_level(const Document& doc, const std::vector<Section>& sections, Diagnostics* diag);

/// "no http check 'x' in FILE (checks: a, b)": the message for a name that is not there.
std::string missing_entry(const Document& doc, const std::string& what, const std::string& name,
                          const std::vector<std::string>& known);

}  // namespace hakit::config
