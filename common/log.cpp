#include "common/log.hpp"

#include <spdlog/pattern_formatter.h>
#include <spdlog/sinks/basic_file_sink.h>
#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/sinks/syslog_sink.h>
#include <unistd.h>

#include <memory>
#include <vector>

namespace hakit::log {

namespace {

std::string g_tool = "hakit";
std::string g_ident;  // syslog keeps the pointer given to openlog(): it must outlive the logger

spdlog::level::level_enum level_for(const std::string& name, int verbosity) {
  if (verbosity >= 2) return spdlog::level::trace;
  if (verbosity == 1) return spdlog::level::debug;
  return spdlog::level::from_str(name == "warning" ? "warn" : name);
}

// JSON lines: one object per message with the tool and level, for log shippers.
const char* kJsonPattern =
    R"({"time":"%Y-%m-%dT%H:%M:%S.%e%z","tool":"%n","level":"%l","pid":%P,"msg":"%v"})";

void install(const std::string& level, bool syslog, const std::string& file, bool json,
             int verbosity) {
  std::vector<spdlog::sink_ptr> sinks;
  if (verbosity > 0 || isatty(STDERR_FILENO)) {
    auto s = std::make_shared<spdlog::sinks::stderr_sink_mt>();
    s->set_pattern(json ? kJsonPattern : "%^%l%$: %v");
    sinks.push_back(s);
  }
  if (syslog) {
    g_ident = "hakit/" + g_tool;
    auto s = std::make_shared<spdlog::sinks::syslog_sink_mt>(g_ident, LOG_PID, LOG_DAEMON, true);
    s->set_pattern("%v");
    sinks.push_back(s);
  }
  if (!file.empty()) {
    auto s = std::make_shared<spdlog::sinks::basic_file_sink_mt>(file);
    s->set_pattern(json ? kJsonPattern : "%Y-%m-%d %H:%M:%S.%e %n[%P] %l: %v");
    sinks.push_back(s);
  }
  auto logger = std::make_shared<spdlog::logger>(g_tool, sinks.begin(), sinks.end());
  logger->set_level(level_for(level, verbosity));
  logger->flush_on(spdlog::level::trace);
  spdlog::set_default_logger(logger);
}

}  // namespace

const std::string& tool() { return g_tool; }

void init(const std::string& tool, int verbosity) {
  g_tool = tool;
  install("info", true, "", false, verbosity);
}

bool configure(const config::LogConfig& cfg, int verbosity) {
  try {
    install(cfg.level, cfg.syslog, cfg.file, cfg.format == "json", verbosity);
    return true;
  } catch (const spdlog::spdlog_ex& e) {
    install(cfg.level, cfg.syslog, "", cfg.format == "json", verbosity);
    spdlog::warn("log file {}: {}; logging to syslog/stderr only", cfg.file, e.what());
    return false;
  }
}

}  // namespace hakit::log
