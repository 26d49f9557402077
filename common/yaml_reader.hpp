#pragma once
// Typed, position-aware reading of YAML mappings. Each section parser asks a MapReader for
// the keys it knows; finish() then reports every key nobody asked for, with the closest
// known key as a suggestion. All errors are collected, never thrown, so one run of
// `--check-config` lists every problem with file:line:column and the key path.
#include <yaml-cpp/yaml.h>

#include <cstdint>
#include <functional>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "common/units.hpp"

namespace hakit::config {

/// One problem found in a config file.
struct Diagnostic {
  std::string file;
  int line = 0;    ///< 1-based; 0 when unknown
  int column = 0;  ///< 1-based; 0 when unknown
  std::string key_path;  ///< "instances.VI_1.promote[0].mysql_promote.catchup_timeout"
  std::string message;
  /// "FILE:LINE:COLUMN: KEY: MESSAGE"
  std::string render() const;
};

/// Collects diagnostics for one file.
class Diagnostics {
 public:
  /// render() prints at most this many, then a count of the rest.
  static constexpr size_t kMaxRendered = 100;
  explicit Diagnostics(std::string file) : file_(std::move(file)) {}
  /// Records an error at the position of `at` (or unknown position for a null node).
  void error(const YAML::Node& at, const std::string& key_path, const std::string& message);
  /// Records an error at an explicit position.
  void error_at(int line, int column, const std::string& key_path, const std::string& message);
  bool ok() const { return items_.empty(); }
  const std::vector<Diagnostic>& items() const { return items_; }
  const std::string& file() const { return file_; }
  /// All diagnostics, one per line, in file order.
  std::string render() const;

 private:
  std::string file_;
  std::vector<Diagnostic> items_;
};

/// One key a section parser reads, as hakit.yaml(5) documents it.
struct SchemaKey {
  std::string path;          ///< "checks.NAME.timeout"
  std::string type;          ///< "duration (1ms to 1h)", "one of: GET, HEAD", ...
  std::string default_value; ///< "" when the key has no default
};

/// While one is alive (on this thread), every MapReader getter records the key it reads, so
/// the man page is generated from the parsers themselves and cannot drift from them.
class SchemaRecorder {
 public:
  SchemaRecorder();
  ~SchemaRecorder();
  SchemaRecorder(const SchemaRecorder&) = delete;
  SchemaRecorder& operator=(const SchemaRecorder&) = delete;
  /// Every key seen, in the order the parsers first read them.
  const std::vector<SchemaKey>& keys() const { return keys_; }
  /// The recorder of this thread, or nullptr.
  static SchemaRecorder* active();
  /// Records (or refines) one key.
  void note(const std::string& path, const std::string& type, const std::string& default_value);

 private:
  std::vector<SchemaKey> keys_;
  SchemaRecorder* previous_ = nullptr;
};

/// Closest candidate to `word` by edit distance, or "" when none is close enough.
std::string closest(const std::string& word, const std::set<std::string>& candidates);

/// Reads one YAML mapping. Every getter marks its key as known, whether present or not.
class MapReader {
 public:
  /// `node` must be a mapping (anything else is reported, and the reader reads nothing).
  MapReader(const YAML::Node& node, std::string path, Diagnostics& diag);

  const std::string& path() const { return path_; }
  const YAML::Node& node() const { return node_; }
  Diagnostics& diag() const { return *diag_; }
  bool valid() const { return valid_; }

  /// True when the key is present (and marks it known).
  bool has(const std::string& key);

  std::optional<std::string> string(const std::string& key);
  std::string string(const std::string& key, const std::string& fallback);
  std::optional<bool> boolean(const std::string& key);
  bool boolean(const std::string& key, bool fallback);
  std::optional<std::int64_t> integer(const std::string& key, std::int64_t min, std::int64_t max);
  std::int64_t integer(const std::string& key, std::int64_t fallback, std::int64_t min,
                       std::int64_t max);
  std::optional<double> number(const std::string& key, double min, double max);
  /// A duration; a bare number is seconds.
  std::optional<Millis> duration(const std::string& key, Millis min, Millis max);
  Millis duration(const std::string& key, Millis fallback, Millis min, Millis max);
  std::optional<std::uint64_t> size(const std::string& key);
  /// One of `allowed`; anything else is reported with a suggestion.
  std::optional<std::string> choice(const std::string& key, const std::set<std::string>& allowed);
  std::string choice(const std::string& key, const std::string& fallback,
                     const std::set<std::string>& allowed);
  /// A scalar or a sequence of scalars.
  std::vector<std::string> strings(const std::string& key);
  /// A nested mapping.
  std::optional<MapReader> map(const std::string& key);
  /// The raw node (for sequences and polymorphic values), marked known; null when absent.
  YAML::Node raw(const std::string& key);
  /// For a mapping of named entries ("checks:", "instances:"): calls fn(name, reader) for each.
  void each_entry(const std::string& key,
                  const std::function<void(const std::string& name, MapReader& entry)>& fn);

  /// Reports keys that no getter asked for ("unknown key 'promte', did you mean 'promote'?").
  void finish();

  /// Error helpers bound to this mapping.
  void error(const std::string& key, const std::string& message);
  /// Reports a non-empty `value` of `key` that is not an absolute path.
  void require_absolute(const std::string& key, const std::string& value);
  std::string key_path(const std::string& key) const;

 private:
  YAML::Node get(const std::string& key);
  std::optional<std::string> scalar(const std::string& key);
  void note(const std::string& key, const std::string& type, const std::string& def = "");
  YAML::Node node_;
  std::string path_;
  Diagnostics* diag_;
  bool valid_ = false;
  std::set<std::string> known_;
};

/// Parses YAML text; syntax errors (tabs, bad indentation, duplicate keys) go to `diag`.
/// Returns a null node on failure.
YAML::Node parse_yaml(const std::string& text, Diagnostics& diag);

}  // namespace hakit::config
