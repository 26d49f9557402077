#pragma once
// The registry of every section of hakit.yaml and the tool that owns it. Each tool reads only
// its own entries at run time; --check-config (any tool) and `hakit-config check` run every
// validator here, so one command lists every problem in the shared file.
#include <vector>

#include "common/config.hpp"

namespace hakit::sections {

/// Every section, in the order the man page and `hakit-config sections` list them.
const std::vector<config::Section>& all();

}  // namespace hakit::sections
