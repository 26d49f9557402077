#include "sitesync/config.hpp"

#include <fmt/format.h>

#include <cmath>

namespace hakit::config {

std::optional<std::uint64_t> parse_rate(std::string text, std::string* err) {
  if (text.size() > 2 && text.compare(text.size() - 2, 2, "/s") == 0) text.resize(text.size() - 2);
  auto v = parse_size(text, err);
  if (v && *v == 0) {
    *err = "a bandwidth must be more than 0 bytes per second";
    return std::nullopt;
  }
  return v;
}

void parse_sync_job(MapReader& e, SyncJob* out) {
  out->line = e.node().Mark().line + 1;
  out->sources = e.strings("source");
  if (out->sources.empty()) e.error("source", "missing");
  for (const auto& s : out->sources)
    if (s.empty() || s.front() == '-') e.error("source", "'" + s + "' is not a source");
  out->dest = e.string("dest", out->dest);
  if (out->dest.empty()) {
    e.error("dest", "missing");
  } else if (out->dest.front() != '/') {
    e.error("dest", "must be an absolute local path");
  }
  out->delete_extraneous = e.boolean("delete", out->delete_extraneous);
  if (auto v = e.integer("max_delete", 0, 1'000'000'000)) out->max_delete = *v;
  if (auto v = e.number("min_source_fraction", 0.0, 1.0)) {
    // A NaN passes every range comparison and would switch the guard off.
    if (std::isfinite(*v))
      out->min_source_fraction = *v;
    else
      e.error("min_source_fraction", "must be a number from 0 to 1");
  }
  out->when = e.choice("when", out->when, {"any", "master", "backup"});
  out->instance = e.string("instance", out->instance);
  if (out->when != "any" && out->instance.empty())
    e.error("instance", "when: " + out->when + " needs the keepalived instance whose role it reads");
  out->skip_on_failover_flag = e.boolean("skip_on_failover_flag", out->skip_on_failover_flag);
  out->after = e.strings("after");
  out->after_timeout = e.duration("after_timeout", out->after_timeout, Millis(100), Millis(86400000));
  out->after_if = e.choice("after_if", out->after_if, {"always", "changed"});
  out->rounds = static_cast<int>(e.integer("rounds", out->rounds, 1, 1000));
  out->interval = e.duration("interval", out->interval, Millis(0), Millis(86400000));
  out->timeout = e.duration("timeout", out->timeout, Millis(1000), Millis(7 * 86400000LL));
  out->io_timeout = e.duration("io_timeout", out->io_timeout, Millis(0), Millis(86400000));
  out->contimeout = e.duration("contimeout", out->contimeout, Millis(0), Millis(3600000));
  out->exclude = e.strings("exclude");
  out->grep = e.strings("grep");
  if (auto text = e.string("bwlimit")) {
    std::string err;
    if (auto v = parse_rate(*text, &err)) {
      out->bwlimit = *v;
    } else {
      e.error("bwlimit", err);
    }
  }
  out->partial_dir = e.string("partial_dir", out->partial_dir);
  if (out->partial_dir.empty() || out->partial_dir.front() == '/' ||
      out->partial_dir.find("..") != std::string::npos)
    e.error("partial_dir", "must be a relative directory name inside dest");
  out->delay_updates = e.boolean("delay_updates", out->delay_updates);
  out->rsync = e.string("rsync", out->rsync);
  out->rsh = e.string("rsh", out->rsh);
  out->extra_args = e.strings("extra_args");
  out->follow_dest_symlink = e.boolean("follow_dest_symlink", out->follow_dest_symlink);
  out->site_home = e.string("site_home", out->site_home);
  if (!out->site_home.empty() && out->site_home.front() != '/')
    e.error("site_home", "must be an absolute path");
  if (auto text = e.string("extract_max_size")) {
    std::string err;
    if (auto v = parse_size(*text, &err); v && *v > 0)
      out->extract_max_size = *v;
    else
      e.error("extract_max_size", err.empty() ? "must be more than 0" : err);
  }
  out->aggregate = e.strings("aggregate");
  out->getperf_home = e.string("getperf_home", out->getperf_home);
  out->aggregate_timeout =
      e.duration("aggregate_timeout", out->aggregate_timeout, Millis(100), Millis(86400000));
  out->purge = e.boolean("purge", out->purge);
  out->purge_analysis =
      e.duration("purge_analysis", out->purge_analysis, Millis(60000), Millis(3650LL * 86400000));
  out->purge_summary =
      e.duration("purge_summary", out->purge_summary, Millis(60000), Millis(3650LL * 86400000));
  out->purge_may_empty = e.boolean("purge_may_empty", out->purge_may_empty);
  if ((out->purge || !out->aggregate.empty() || !out->getperf_home.empty()) &&
      out->site_home.empty())
    e.error("site_home", "purge and aggregate work on a getperf site home: set site_home");
  e.finish();
}

bool read_sync_job(const Document& doc, const std::string& name, SyncJob* out, Diagnostics* diag) {
  if (!parse_entry(doc, "sync", name, parse_sync_job, out, diag)) return false;
  if (out->when == "any") return true;
  size_t before = diag->items().size();
  if (!doc.entry("instances", out->instance).IsDefined()) {
    const YAML::Node job_node = doc.entry("sync", name);
    diag->error(job_node["instance"], "sync." + name + ".instance",
                fmt::format("no instance named '{}' (the role gate reads its role)", out->instance));
    return false;
  }
  out->instance_vip = read_instance_vip(doc, out->instance, diag);
  return diag->items().size() == before;
}

void validate_sync(const Document& doc, Diagnostics& diag) {
  check_entry_section(doc, "sync", diag);
  for (const auto& name : doc.entry_names("sync")) {
    SyncJob job;
    read_sync_job(doc, name, &job, &diag);
  }
}

}  // namespace hakit::config
