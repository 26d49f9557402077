#pragma once
// checks: entries of `type: http` (check_http_200).
#include <optional>
#include <string>
#include <vector>

#include "common/units.hpp"
#include "common/yaml_reader.hpp"

namespace hakit::config {

/// One `checks:` entry with `type: http`.
struct HttpCheckConfig {
  std::string url;
  std::vector<std::string> expect{"200"};  ///< codes or ranges ("200-299")
  Millis timeout{1500};
  std::optional<Millis> connect_timeout;
  // Owned by check_http_200: add the remaining options here and in parse_http_check().
};

/// Parses one http check entry; `entry` is the check's mapping.
void parse_http_check(MapReader& entry, HttpCheckConfig* out);

}  // namespace hakit::config
