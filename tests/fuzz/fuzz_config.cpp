// libFuzzer target for the config loader and every section parser (the registry's validators,
// and each tool's own entry readers as they run at run time): any byte string must give
// either a config or a list of diagnostics, never a crash, a hang or an exception escaping
// into a check.
#include <cstddef>
#include <cstdint>
#include <string>

#include "common/config.hpp"
#include "common/secrets.hpp"
#include "common/units.hpp"
#include "check_http_200/config.hpp"
#include "check_mysql_slave/config.hpp"
#include "notify/config.hpp"
#include "sections.hpp"
#include "sitesync/config.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  namespace config = hakit::config;
  config::Document doc;
  config::Diagnostics diag("fuzz.yaml");
  bool ok = config::parse_document(text, &doc, &diag);
  if (ok) ok = config::validate_all(doc, hakit::sections::all(), &diag);
  // The verdict and the diagnostics must agree, and rendering must work on whatever was found.
  if (ok != diag.ok()) __builtin_trap();
  (void)diag.render();
  if (doc.root.IsDefined()) {
    // What the tools read at run time: each entry on its own, whatever the rest looks like.
    config::Diagnostics one("fuzz.yaml");
    for (const auto& name : doc.entry_names("checks")) {
      config::HttpCheckConfig h;
      config::MysqlCheckConfig m;
      (void)config::read_http_check(doc, name, &h, &one);
      (void)config::read_mysql_check(doc, name, &m, &one);
    }
    for (const auto& name : doc.entry_names("instances")) {
      config::NotifyConfig n;
      (void)config::load_notify_config(doc, name, &n, &one);
      (void)config::read_instance_vip(doc, name, &one);
    }
    for (const auto& name : doc.entry_names("sync")) {
      config::SyncJob j;
      (void)config::read_sync_job(doc, name, &j, &one);
    }
    (void)one.render();
    (void)doc.metrics_path();
  }

  // The scalar parsers see the same bytes: they read operator-typed values from argv too.
  std::string err;
  const std::string first_line = text.substr(0, text.find('\n'));
  (void)hakit::parse_duration(first_line, &err);
  (void)hakit::parse_size(first_line, &err);
  (void)hakit::is_secret_key(first_line);
  return 0;
}
