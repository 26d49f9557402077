#include "hakitd/config.hpp"

#include <fmt/format.h>

#include <set>

namespace hakit::config {

namespace {

constexpr Millis kMaxPeriod{60000};

void parse_hysteresis(MapReader& r, const Hysteresis& defaults, Hysteresis* out) {
  out->fall = static_cast<int>(r.integer("fall", defaults.fall, 1, 1000));
  out->rise = static_cast<int>(r.integer("rise", defaults.rise, 1, 1000));
  out->fall_after = defaults.fall_after;
  // 0 switches the time rule off (a per-check 0 overrides the section's default).
  if (auto t = r.duration("fall_after", Millis(0), Millis(3600000)))
    out->fall_after = t->count() > 0 ? std::optional<Millis>(*t) : std::nullopt;
}

void parse_check(MapReader& r, const std::string& name, const DaemonConfig& defaults,
                 const std::string& track_dir, DaemonCheck* out) {
  out->name = name;
  out->line = r.node().Mark().line + 1;
  out->period = r.duration("period", defaults.period, kMinDaemonPeriod, kMaxPeriod);
  parse_hysteresis(r, defaults.hysteresis, &out->hysteresis);
  out->track_file = r.string("track_file", track_dir.empty() ? "" : track_dir + "/" + name);
  if (out->track_file.empty() || out->track_file.front() != '/')
    r.error("track_file", "must be an absolute path (keepalived's track_file 'file')");
  else if (out->track_file.back() == '/')
    r.error("track_file", "must name a file, not a directory");
  out->fail_value = static_cast<int>(r.integer("fail_value", out->fail_value, 1, 254));
  r.finish();
}

}  // namespace

void parse_daemon(MapReader& r, const std::string& run_dir, DaemonConfig* out) {
  out->present = true;
  out->period = r.duration("period", out->period, kMinDaemonPeriod, kMaxPeriod);
  parse_hysteresis(r, out->hysteresis, &out->hysteresis);
  out->track_dir = r.string("track_dir", run_dir + "/track");
  if (out->track_dir.empty() || out->track_dir.front() != '/')
    r.error("track_dir", "must be an absolute directory");
  out->notify_fifo = r.string("notify_fifo", "");
  if (!out->notify_fifo.empty() && out->notify_fifo.front() != '/')
    r.error("notify_fifo", "must be an absolute path (keepalived's vrrp_notify_fifo)");
  out->instances = r.strings("instances");
  out->status_interval =
      r.duration("status_interval", out->status_interval, Millis(100), Millis(3600000));

  // checks: a list of names (every setting from the defaults above) or a mapping of name to
  // overrides (`site: {period: 100ms}`; an empty value takes the defaults).
  const YAML::Node checks = r.raw("checks");
  std::set<std::string> files;
  auto add = [&](const std::string& name, const YAML::Node& at, const YAML::Node& body) {
    const std::string path = r.key_path("checks") + "." + name;
    if (name.empty()) {
      r.diag().error(at, r.key_path("checks"), "a check needs a plain, non-empty name");
      return;
    }
    for (const auto& c : out->checks)
      if (c.name == name) {
        r.diag().error(at, path, "listed twice");
        return;
      }
    DaemonCheck c;
    YAML::Node map = body.IsDefined() && !body.IsNull() ? body : YAML::Node(YAML::NodeType::Map);
    MapReader entry(map, path, r.diag());
    if (!entry.valid()) return;
    parse_check(entry, name, *out, out->track_dir, &c);
    if (!c.track_file.empty() && !files.insert(c.track_file).second)
      r.diag().error(body.IsDefined() && !body.IsNull() ? body : at, path + ".track_file",
                     fmt::format("{} is already another check's track_file", c.track_file));
    if (c.line == 0) c.line = at.Mark().line + 1;
    out->checks.push_back(std::move(c));
  };
  if (checks.IsSequence()) {
    for (const auto& n : checks) add(n.IsScalar() ? n.Scalar() : "", n, YAML::Node());
  } else if (checks.IsMap()) {
    for (auto it = checks.begin(); it != checks.end(); ++it)
      add(it->first.IsScalar() ? it->first.Scalar() : "", it->first, it->second);
  } else if (checks.IsDefined() && !checks.IsNull()) {
    r.error("checks", "must be a list of check names or a mapping of name to settings");
  }
  if (out->checks.empty() && out->notify_fifo.empty())
    r.error("checks", "nothing to do: name checks to run, or a notify_fifo to read (or both)");
  r.finish();
}

bool read_daemon_config(const Document& doc, DaemonConfig* out, Diagnostics* diag) {
  if (!doc.root.IsDefined() || !doc.root.IsMap() || !doc.root["daemon"].IsDefined()) return true;
  const YAML::Node node = doc.root["daemon"];
  size_t before = diag->items().size();
  try {
    MapReader r(node, "daemon", *diag);
    if (!r.valid()) return false;
    parse_daemon(r, doc.run_dir, out);
  } catch (const std::exception& e) {
    diag->error(node, "daemon", std::string("cannot read this section: ") + e.what());
    return false;
  }
  const auto known_checks = doc.entry_names("checks");
  for (auto& c : out->checks) {
    const YAML::Node entry = doc.entry("checks", c.name);
    const std::string path = "daemon.checks." + c.name;
    if (!entry.IsDefined()) {
      diag->error_at(c.line, 0, path, config::missing_entry(doc, "check", c.name, known_checks));
      continue;
    }
    const YAML::Node type = entry.IsMap() ? entry["type"] : YAML::Node();
    if (type.IsDefined() && type.IsScalar() &&
        (type.Scalar() == "http" || type.Scalar() == "mysql")) {
      c.type = type.Scalar();
    } else {
      diag->error_at(c.line, 0, path,
                     fmt::format("checks.{} has no type hakitd runs (http or mysql)", c.name));
    }
  }
  const auto known_instances = doc.entry_names("instances");
  const YAML::Node at = node.IsMap() ? node["instances"] : YAML::Node();
  for (const auto& i : out->instances)
    if (!doc.entry("instances", i).IsDefined())
      diag->error(at, "daemon.instances",
                  config::missing_entry(doc, "instance", i, known_instances));
  return diag->items().size() == before;
}

void validate_daemon(const Document& doc, Diagnostics& diag) {
  DaemonConfig c;
  read_daemon_config(doc, &c, &diag);
}

}  // namespace hakit::config
