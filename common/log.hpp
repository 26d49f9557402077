#pragma once
// Logging: spdlog to stderr (on a terminal, or always with -v), syslog (ident hakit/TOOL)
// and an optional file, as text or JSON lines. stdout is never used: it belongs to the
// one-line check output.
#include <spdlog/formatter.h>
#include <spdlog/spdlog.h>

#include <memory>
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

/// The level a config name and a -v count give: -v is debug, -vv trace, else the name.
spdlog::level::level_enum level_for(const std::string& name, int verbosity);

/// One JSON object per line: {"time","tool","level","pid","msg"}; every string is escaped,
/// so a message with quotes, newlines or bad UTF-8 stays one valid line.
std::unique_ptr<spdlog::formatter> json_formatter();

/// Where syslog datagrams go (default /dev/log); tests point it at their own socket.
/// Takes effect at the next init()/configure().
void set_syslog_socket(const std::string& path);

}  // namespace hakit::log
