#include "common/yaml_reader.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <limits>
#include <string_view>

namespace hakit::config {

std::string Diagnostic::render() const {
  std::string pos = file;
  if (line > 0) pos += fmt::format(":{}:{}", line, column);
  if (key_path.empty()) return fmt::format("{}: {}", pos, message);
  return fmt::format("{}: {}: {}", pos, key_path, message);
}

void Diagnostics::error(const YAML::Node& at, const std::string& key_path,
                        const std::string& message) {
  int line = 0, column = 0;
  if (at.IsDefined() && !at.Mark().is_null()) {
    line = at.Mark().line + 1;
    column = at.Mark().column + 1;
  }
  error_at(line, column, key_path, message);
}

void Diagnostics::error_at(int line, int column, const std::string& key_path,
                           const std::string& message) {
  items_.push_back(Diagnostic{file_, line, column, key_path, message});
}

std::string Diagnostics::render() const {
  // In file order, which is how an operator fixes them; a file of garbage is summarized
  // rather than printed in full.
  std::vector<const Diagnostic*> sorted;
  for (const auto& d : items_) sorted.push_back(&d);
  std::stable_sort(sorted.begin(), sorted.end(), [](const Diagnostic* a, const Diagnostic* b) {
    return std::pair(a->line, a->column) < std::pair(b->line, b->column);
  });
  std::string out;
  for (size_t i = 0; i < sorted.size() && i < kMaxRendered; ++i) out += sorted[i]->render() + "\n";
  if (sorted.size() > kMaxRendered)
    out += fmt::format("{}: ... and {} more problems\n", file_, sorted.size() - kMaxRendered);
  return out;
}

static size_t edit_distance(const std::string& a, const std::string& b) {
  std::vector<size_t> prev(b.size() + 1), cur(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j) prev[j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    cur[0] = i;
    for (size_t j = 1; j <= b.size(); ++j) {
      size_t sub = prev[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1);
      cur[j] = std::min({prev[j] + 1, cur[j - 1] + 1, sub});
    }
    std::swap(prev, cur);
  }
  return prev[b.size()];
}

std::string closest(const std::string& word, const std::set<std::string>& candidates) {
  std::string best;
  size_t best_d = std::numeric_limits<size_t>::max();
  for (const auto& c : candidates) {
    size_t d = edit_distance(word, c);
    if (d < best_d) {
      best_d = d;
      best = c;
    }
  }
  // A suggestion three edits away from a four-letter word is noise, not help.
  size_t limit = std::max<size_t>(2, word.size() / 3);
  if (best_d <= limit) return best;
  // An abbreviation ("warn" for "warning") is close in intent though far in edits.
  if (word.size() >= 3)
    for (const auto& c : candidates)
      if (c.compare(0, word.size(), word) == 0) return c;
  return std::string();
}

namespace {
thread_local SchemaRecorder* g_recorder = nullptr;
}  // namespace

SchemaRecorder::SchemaRecorder() : previous_(g_recorder) { g_recorder = this; }
SchemaRecorder::~SchemaRecorder() { g_recorder = previous_; }
SchemaRecorder* SchemaRecorder::active() { return g_recorder; }

void SchemaRecorder::note(const std::string& path, const std::string& type,
                          const std::string& default_value) {
  for (auto& k : keys_)
    if (k.path == path) {
      // The typed getter that runs last knows most (a fallback getter adds the default).
      if (!type.empty()) k.type = type;
      if (!default_value.empty()) k.default_value = default_value;
      return;
    }
  keys_.push_back({path, type, default_value});
}

// A duration as an operator writes it in hakit.yaml ("1500ms", "2s", "5m").
static std::string config_duration(Millis d) {
  auto ms = d.count();
  if (ms != 0 && ms % 3'600'000 == 0) return std::to_string(ms / 3'600'000) + "h";
  if (ms != 0 && ms % 60'000 == 0) return std::to_string(ms / 60'000) + "m";
  if (ms != 0 && ms % 1000 == 0) return std::to_string(ms / 1000) + "s";
  return std::to_string(ms) + "ms";
}

void MapReader::note(const std::string& key, const std::string& type, const std::string& def) {
  if (auto* r = SchemaRecorder::active()) r->note(key_path(key), type, def);
}

MapReader::MapReader(const YAML::Node& node, std::string path, Diagnostics& diag)
    : node_(node), path_(std::move(path)), diag_(&diag) {
  if (!node.IsDefined() || node.IsNull()) {
    // An empty section ("checks:") is an empty mapping, not an error.
    node_ = YAML::Node(YAML::NodeType::Map);
    valid_ = true;
  } else if (!node.IsMap()) {
    diag.error(node, path_, "must be a mapping (key: value)");
  } else {
    valid_ = true;
  }
}

std::string MapReader::key_path(const std::string& key) const {
  return path_.empty() ? key : path_ + "." + key;
}

void MapReader::error(const std::string& key, const std::string& message) {
  // const lookup: operator[] on a non-const node would insert the key.
  const YAML::Node& cn = node_;
  YAML::Node n = valid_ ? cn[key] : YAML::Node();
  diag_->error(n.IsDefined() ? n : node_, key_path(key), message);
}

void MapReader::require_absolute(const std::string& key, const std::string& value) {
  if (!value.empty() && value.front() != '/') error(key, "must be an absolute path");
}

YAML::Node MapReader::get(const std::string& key) {
  known_.insert(key);
  if (!valid_) return YAML::Node();
  // const lookup: operator[] on a non-const node would insert the key.
  const YAML::Node& cn = node_;
  YAML::Node n = cn[key];
  return n;
}

bool MapReader::has(const std::string& key) {
  YAML::Node n = get(key);
  return n.IsDefined() && !n.IsNull();
}

YAML::Node MapReader::raw(const std::string& key) {
  YAML::Node n = get(key);
  if (!n.IsDefined()) return YAML::Node();
  return n;
}

std::optional<std::string> MapReader::scalar(const std::string& key) {
  YAML::Node n = get(key);
  if (!n.IsDefined() || n.IsNull()) return std::nullopt;
  if (!n.IsScalar()) {
    diag_->error(n, key_path(key), "must be a single value, not a list or mapping");
    return std::nullopt;
  }
  return n.Scalar();
}

std::optional<std::string> MapReader::string(const std::string& key) {
  note(key, "string");
  return scalar(key);
}

std::string MapReader::string(const std::string& key, const std::string& fallback) {
  note(key, "string", fallback.empty() ? "" : "\"" + fallback + "\"");
  return scalar(key).value_or(fallback);
}

std::optional<bool> MapReader::boolean(const std::string& key) {
  note(key, "boolean");
  auto s = scalar(key);
  if (!s) return std::nullopt;
  std::string v = *s;
  for (auto& c : v) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  if (v == "true" || v == "yes" || v == "on") return true;
  if (v == "false" || v == "no" || v == "off") return false;
  error(key, fmt::format("'{}' is not a boolean (use true or false)", *s));
  return std::nullopt;
}

bool MapReader::boolean(const std::string& key, bool fallback) {
  note(key, "boolean", fallback ? "true" : "false");
  return boolean(key).value_or(fallback);
}

std::optional<std::int64_t> MapReader::integer(const std::string& key, std::int64_t min,
                                               std::int64_t max) {
  note(key, fmt::format("integer ({} to {})", min, max));
  auto s = scalar(key);
  if (!s) return std::nullopt;
  std::int64_t v = 0;
  try {
    size_t used = 0;
    v = std::stoll(*s, &used, 10);
    if (used != s->size()) throw std::invalid_argument("trailing");
  } catch (const std::exception&) {
    error(key, fmt::format("'{}' is not a whole number", *s));
    return std::nullopt;
  }
  if (v < min || v > max) {
    error(key, fmt::format("{} is out of range ({} to {})", v, min, max));
    return std::nullopt;
  }
  return v;
}

std::int64_t MapReader::integer(const std::string& key, std::int64_t fallback, std::int64_t min,
                                std::int64_t max) {
  note(key, "", std::to_string(fallback));
  return integer(key, min, max).value_or(fallback);
}

std::optional<double> MapReader::number(const std::string& key, double min, double max) {
  note(key, fmt::format("number ({} to {})", min, max));
  auto s = scalar(key);
  if (!s) return std::nullopt;
  double v = 0;
  try {
    size_t used = 0;
    v = std::stod(*s, &used);
    if (used != s->size()) throw std::invalid_argument("trailing");
  } catch (const std::exception&) {
    error(key, fmt::format("'{}' is not a number", *s));
    return std::nullopt;
  }
  if (!(v >= min && v <= max)) {
    error(key, fmt::format("{} is out of range ({} to {})", *s, min, max));
    return std::nullopt;
  }
  return v;
}

std::optional<Millis> MapReader::duration(const std::string& key, Millis min, Millis max) {
  note(key, fmt::format("duration ({} to {})", config_duration(min), config_duration(max)));
  auto s = scalar(key);
  if (!s) return std::nullopt;
  std::string err;
  auto d = parse_duration(*s, &err);
  if (!d) {
    error(key, err);
    return std::nullopt;
  }
  if (*d < min || *d > max) {
    error(key, fmt::format("{} is out of range ({} to {})", format_duration(*d),
                           format_duration(min), format_duration(max)));
    return std::nullopt;
  }
  return d;
}

Millis MapReader::duration(const std::string& key, Millis fallback, Millis min, Millis max) {
  note(key, "", config_duration(fallback));
  return duration(key, min, max).value_or(fallback);
}

std::optional<std::uint64_t> MapReader::size(const std::string& key) {
  note(key, "size (64k, 1M, ...)");
  auto s = scalar(key);
  if (!s) return std::nullopt;
  std::string err;
  auto v = parse_size(*s, &err);
  if (!v) error(key, err);
  return v;
}

std::optional<std::string> MapReader::choice(const std::string& key,
                                             const std::set<std::string>& allowed) {
  std::string list;
  for (const auto& a : allowed) list += (list.empty() ? "" : ", ") + a;
  note(key, "one of: " + list);
  auto s = scalar(key);
  if (!s) return std::nullopt;
  if (allowed.count(*s)) return s;
  std::string hint = closest(*s, allowed);
  error(key, fmt::format("'{}' is not one of: {}{}", *s, list,
                         hint.empty() ? "" : fmt::format(" (did you mean '{}'?)", hint)));
  return std::nullopt;
}

std::string MapReader::choice(const std::string& key, const std::string& fallback,
                              const std::set<std::string>& allowed) {
  note(key, "", fallback);
  return choice(key, allowed).value_or(fallback);
}

std::vector<std::string> MapReader::strings(const std::string& key) {
  note(key, "string or list of strings");
  YAML::Node n = get(key);
  std::vector<std::string> out;
  if (!n.IsDefined() || n.IsNull()) return out;
  if (n.IsScalar()) {
    out.push_back(n.Scalar());
  } else if (n.IsSequence()) {
    for (size_t i = 0; i < n.size(); ++i) {
      if (!n[i].IsScalar()) {
        diag_->error(n[i], fmt::format("{}[{}]", key_path(key), i), "must be a single value");
        continue;
      }
      out.push_back(n[i].Scalar());
    }
  } else {
    diag_->error(n, key_path(key), "must be a value or a list of values");
  }
  return out;
}

std::optional<MapReader> MapReader::map(const std::string& key) {
  note(key, "mapping");
  YAML::Node n = get(key);
  if (!n.IsDefined()) return std::nullopt;
  MapReader r(n, key_path(key), *diag_);
  if (!r.valid()) return std::nullopt;
  return r;
}

void MapReader::each_entry(const std::string& key,
                           const std::function<void(const std::string&, MapReader&)>& fn) {
  YAML::Node n = get(key);
  if (!n.IsDefined() || n.IsNull()) return;
  if (!n.IsMap()) {
    diag_->error(n, key_path(key), "must be a mapping of named entries");
    return;
  }
  for (auto it = n.begin(); it != n.end(); ++it) {
    std::string name = it->first.IsScalar() ? it->first.Scalar() : "";
    if (name.empty()) {
      diag_->error(it->first, key_path(key), "an entry needs a plain, non-empty name");
      continue;
    }
    MapReader entry(it->second, key_path(key) + "." + name, *diag_);
    if (!entry.valid()) continue;
    fn(name, entry);
  }
}

void MapReader::finish() {
  if (!valid_) return;
  for (auto it = node_.begin(); it != node_.end(); ++it) {
    const std::string key = it->first.IsScalar() ? it->first.Scalar() : "?";
    if (known_.count(key)) continue;
    std::string hint = closest(key, known_);
    diag_->error(it->first, key_path(key),
                 hint.empty() ? "unknown key"
                              : fmt::format("unknown key (did you mean '{}'?)", hint));
  }
}

namespace {

// Bounds for the parsed tree. yaml-cpp shares aliased nodes, so "a: &a [*a]" is a cycle and
// nested aliases expand exponentially ("billion laughs"); every walk over the tree, ours and
// the section parsers', would loop or explode. A real config is a few levels deep and a few
// thousand nodes big.
constexpr int kMaxDepth = 64;
constexpr size_t kMaxNodes = 200'000;

struct Walk {
  Diagnostics& diag;
  size_t nodes = 0;
  bool too_big = false;
};

// Checks depth and size, and reports duplicate keys: yaml-cpp keeps both of two equal keys
// and lookups see the first; an operator who wrote a key twice meant one of them.
void check_structure(const YAML::Node& n, const std::string& path, int depth, Walk& w) {
  if (w.too_big) return;
  if (++w.nodes > kMaxNodes || depth > kMaxDepth) {
    w.too_big = true;
    w.diag.error(n, path,
                 depth > kMaxDepth
                     ? fmt::format("nested deeper than {} levels (a recursive alias?)", kMaxDepth)
                     : fmt::format("expands to more than {} values (aliases?)", kMaxNodes));
    return;
  }
  if (n.IsMap()) {
    std::set<std::string> seen;
    for (auto it = n.begin(); it != n.end() && !w.too_big; ++it) {
      std::string key = it->first.IsScalar() ? it->first.Scalar() : "";
      std::string child = path.empty() ? key : path + "." + key;
      if (!it->first.IsScalar()) {
        w.diag.error(it->first, path, "a key must be a plain value, not a list or mapping");
      } else if (!seen.insert(key).second) {
        w.diag.error(it->first, child, "duplicate key (each key may appear once)");
      }
      check_structure(it->second, child, depth + 1, w);
    }
  } else if (n.IsSequence()) {
    for (size_t i = 0; i < n.size() && !w.too_big; ++i)
      check_structure(n[i], fmt::format("{}[{}]", path, i), depth + 1, w);
  }
}

// yaml-cpp's message for a tab is generic; name the usual cause.
std::string explain(const YAML::Exception& e, const std::string& text) {
  std::string msg = e.msg;
  if (e.mark.is_null() || e.mark.line < 0) return msg;
  size_t line_start = 0;
  for (int l = 0; l < e.mark.line && line_start != std::string::npos; ++l) {
    line_start = text.find('\n', line_start);
    if (line_start != std::string::npos) ++line_start;
  }
  if (line_start == std::string::npos || line_start >= text.size()) return msg;
  size_t line_end = text.find('\n', line_start);
  std::string line = text.substr(line_start, line_end - line_start);
  if (line.find('\t') != std::string::npos)
    msg += " (the line contains a tab; YAML indents with spaces only)";
  return msg;
}

// A document that is just "~" or "null" is an empty config, not garbage.
bool first_content_is_null(const std::string& text) {
  for (size_t pos = 0; pos < text.size();) {
    size_t end = text.find('\n', pos);
    if (end == std::string::npos) end = text.size();
    std::string line = text.substr(pos, end - pos);
    pos = end + 1;
    size_t a = line.find_first_not_of(" \t\r");
    if (a == std::string::npos || line[a] == '#') continue;
    if (line.compare(0, 3, "---") == 0) line = line.substr(3);
    a = line.find_first_not_of(" \t\r");
    if (a == std::string::npos) continue;
    size_t b = line.find_last_not_of(" \t\r");
    std::string v = line.substr(a, b - a + 1);
    return v == "~" || v == "null" || v == "Null" || v == "NULL";
  }
  return false;
}

}  // namespace

YAML::Node parse_yaml(const std::string& text, Diagnostics& diag) {
  // YAML::LoadAll loops forever on some inputs in yaml-cpp 0.7 (a stray ',' at the top; found
  // by the fuzzer), so one document is loaded and a second one is found by its marker.
  int first_content = 0, line_no = 0;
  size_t pos = 0;
  while (pos < text.size()) {
    size_t end = text.find('\n', pos);
    if (end == std::string::npos) end = text.size();
    std::string_view line(text.data() + pos, end - pos);
    ++line_no;
    pos = end + 1;
    auto is_marker = [&](std::string_view m) {
      return line.substr(0, 3) == m && (line.size() == 3 || line[3] == ' ' || line[3] == '\t' ||
                                        line[3] == '\r');
    };
    if (is_marker("---") && first_content > 0) {
      diag.error_at(line_no, 1, "", "more than one YAML document ('---'); hakit reads exactly one");
      return YAML::Node();
    }
    size_t nb = line.find_first_not_of(" \t\r");
    if (first_content == 0 && nb != std::string::npos && line[nb] != '#' && !is_marker("---") &&
        !is_marker("..."))
      first_content = line_no;
  }
  YAML::Node root;
  try {
    root = YAML::Load(text);
  } catch (const YAML::Exception& e) {
    diag.error_at(e.mark.is_null() ? 0 : e.mark.line + 1, e.mark.is_null() ? 0 : e.mark.column + 1,
                  "", "YAML syntax error: " + explain(e, text));
    return YAML::Node();
  }
  if (!root.IsDefined() || root.IsNull()) {
    // yaml-cpp reads some garbage (", a: 1") as an empty document; an operator who wrote
    // something meant something.
    if (first_content > 0 && !first_content_is_null(text))
      diag.error_at(first_content, 1, "", "YAML syntax error: no YAML value could be read here");
    return diag.ok() ? YAML::Node(YAML::NodeType::Null) : YAML::Node();
  }
  Walk w{diag};
  check_structure(root, "", 0, w);
  return diag.ok() ? root : YAML::Node();
}

}  // namespace hakit::config
