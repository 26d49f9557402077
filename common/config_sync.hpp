#pragma once
// sync: jobs (sitesync).
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "common/units.hpp"
#include "common/yaml_reader.hpp"

namespace hakit::config {

/// One named rsync pull job.
struct SyncJob {
  std::vector<std::string> sources;
  std::string dest;
  bool delete_extraneous = true;
  std::optional<std::uint64_t> max_delete;
  std::string when = "any";  ///< any | master | backup
  std::vector<std::string> after;  ///< argv of the after-command
  // Owned by sitesync: rounds, interval, timeouts, excludes, bwlimit, guards ...
};

void parse_sync_job(MapReader& entry, SyncJob* out);

}  // namespace hakit::config
