#include "common/log.hpp"

#include <fmt/format.h>
#include <nlohmann/json.hpp>
#include <spdlog/pattern_formatter.h>
#include <spdlog/sinks/base_sink.h>
#include <spdlog/sinks/basic_file_sink.h>
#include <spdlog/sinks/stdout_sinks.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <syslog.h>
#include <unistd.h>

#include <cstring>
#include <ctime>
#include <mutex>
#include <vector>

#include "common/units.hpp"

namespace hakit::log {

namespace {

std::string g_tool = "hakit";
std::string g_syslog_socket = "/dev/log";

class JsonFormatter : public spdlog::formatter {
 public:
  void format(const spdlog::details::log_msg& msg, spdlog::memory_buf_t& dest) override {
    nlohmann::json j{
        {"time", format_rfc3339(msg.time)},
        {"tool", std::string(msg.logger_name.data(), msg.logger_name.size())},
        {"level", std::string(spdlog::level::to_string_view(msg.level).data(),
                              spdlog::level::to_string_view(msg.level).size())},
        {"pid", static_cast<long>(getpid())},
        {"msg", std::string(msg.payload.data(), msg.payload.size())}};
    // replace: a byte sequence that is not UTF-8 (a server's error text) must not throw here.
    std::string line = j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
    dest.append(line.data(), line.data() + line.size());
    dest.push_back('\n');
  }
  std::unique_ptr<spdlog::formatter> clone() const override {
    return std::make_unique<JsonFormatter>();
  }
};

// syslog over the local datagram socket, written here rather than through openlog(): the
// glibc ident is process-global and closelog() (run when spdlog drops an old sink) resets it,
// after which messages lose "hakit/TOOL".
class SyslogSink : public spdlog::sinks::base_sink<std::mutex> {
 public:
  SyslogSink(std::string ident, std::string socket_path)
      : ident_(std::move(ident)), socket_path_(std::move(socket_path)) {}
  ~SyslogSink() override {
    if (fd_ >= 0) close(fd_);
  }

 protected:
  void sink_it_(const spdlog::details::log_msg& msg) override {
    spdlog::memory_buf_t body;
    formatter_->format(msg, body);
    std::string text(body.data(), body.size());
    while (!text.empty() && (text.back() == '\n' || text.back() == '\r')) text.pop_back();
    std::time_t now = std::chrono::system_clock::to_time_t(msg.time);
    std::tm tm{};
    localtime_r(&now, &tm);
    char stamp[32];
    std::strftime(stamp, sizeof stamp, "%b %e %H:%M:%S", &tm);
    std::string datagram = fmt::format("<{}>{} {}[{}]: {}", LOG_DAEMON | severity(msg.level),
                                       stamp, ident_, getpid(), text);
    // A missing or restarting syslog daemon costs a message, never the check.
    for (int attempt = 0; attempt < 2; ++attempt) {
      if (fd_ < 0 && !connect_socket()) return;
      if (send(fd_, datagram.data(), datagram.size(), MSG_NOSIGNAL | MSG_DONTWAIT) >= 0) return;
      close(fd_);
      fd_ = -1;
    }
  }
  void flush_() override {}

 private:
  static int severity(spdlog::level::level_enum l) {
    switch (l) {
      case spdlog::level::trace:
      case spdlog::level::debug: return LOG_DEBUG;
      case spdlog::level::info: return LOG_INFO;
      case spdlog::level::warn: return LOG_WARNING;
      case spdlog::level::err: return LOG_ERR;
      case spdlog::level::critical: return LOG_CRIT;
      default: return LOG_INFO;
    }
  }
  bool connect_socket() {
    sockaddr_un addr{};
    if (socket_path_.size() >= sizeof addr.sun_path) return false;
    addr.sun_family = AF_UNIX;
    std::memcpy(addr.sun_path, socket_path_.c_str(), socket_path_.size() + 1);
    fd_ = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd_ < 0) return false;
    if (connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
      close(fd_);
      fd_ = -1;
      return false;
    }
    return true;
  }
  std::string ident_;
  std::string socket_path_;
  int fd_ = -1;
};

void install(const std::string& level, bool syslog, const std::string& file, bool json,
             int verbosity) {
  std::vector<spdlog::sink_ptr> sinks;
  if (verbosity > 0 || isatty(STDERR_FILENO)) {
    auto s = std::make_shared<spdlog::sinks::stderr_sink_mt>();
    if (json)
      s->set_formatter(json_formatter());
    else
      s->set_pattern("%^%l%$: %v");
    sinks.push_back(s);
  }
  if (syslog) {
    auto s = std::make_shared<SyslogSink>("hakit/" + g_tool, g_syslog_socket);
    s->set_pattern("%v");
    sinks.push_back(s);
  }
  if (!file.empty()) {
    auto s = std::make_shared<spdlog::sinks::basic_file_sink_mt>(file);
    if (json)
      s->set_formatter(json_formatter());
    else
      s->set_pattern("%Y-%m-%d %H:%M:%S.%e %n[%P] %l: %v");
    sinks.push_back(s);
  }
  auto logger = std::make_shared<spdlog::logger>(g_tool, sinks.begin(), sinks.end());
  logger->set_level(level_for(level, verbosity));
  logger->flush_on(spdlog::level::trace);
  spdlog::set_default_logger(logger);
}

}  // namespace

spdlog::level::level_enum level_for(const std::string& name, int verbosity) {
  if (verbosity >= 2) return spdlog::level::trace;
  if (verbosity == 1) return spdlog::level::debug;
  return spdlog::level::from_str(name == "warning" ? "warn" : name);
}

std::unique_ptr<spdlog::formatter> json_formatter() { return std::make_unique<JsonFormatter>(); }

void set_syslog_socket(const std::string& path) { g_syslog_socket = path; }

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
