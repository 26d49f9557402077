#pragma once
// Logging: spdlog to stderr (on a terminal, or always with -v), syslog (ident hakit/TOOL)
// and an optional file, as text or JSON lines. stdout is never used: it belongs to the
// one-line check output.
#include <spdlog/spdlog.h>

#include <string>

#include "common/config.hpp"

namespace hakit::log {

/// Early set-up before the config is read: stderr only when it is a terminal or verbosity > 0,
/// plus syslog. verbosity 0 = info, 1 = debug, 2+ = trace.
void init(const std::string& tool, int verbosity);

/// Applies the config's log section (level, syslog, file, format). -v still wins over level.
/// Returns false (and logs why) when the log file cannot be opened; logging goes on without it.
bool configure(const config::LogConfig& cfg, int verbosity);

/// The tool name given to init().
const std::string& tool();

}  // namespace hakit::log
