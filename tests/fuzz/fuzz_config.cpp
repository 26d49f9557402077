// libFuzzer target for the config loader: any byte string must give either a Config or a
// list of diagnostics, never a crash, a hang or an exception escaping into a check.
#include <cstddef>
#include <cstdint>
#include <string>

#include "common/config.hpp"
#include "common/secrets.hpp"
#include "common/units.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  hakit::config::Config cfg;
  hakit::config::Diagnostics diag("fuzz.yaml");
  bool ok = hakit::config::parse_config(text, &cfg, &diag);
  // The verdict and the diagnostics must agree, and rendering must work on whatever was found.
  if (ok != diag.ok()) __builtin_trap();
  (void)diag.render();
  if (ok) (void)cfg.metrics_path();

  // The scalar parsers see the same bytes: they read operator-typed values from argv too.
  std::string err;
  const std::string first_line = text.substr(0, text.find('\n'));
  (void)hakit::parse_duration(first_line, &err);
  (void)hakit::parse_size(first_line, &err);
  (void)hakit::is_secret_key(first_line);
  return 0;
}
