// Logging: JSON lines that stay valid whatever the message holds, syslog ident hakit/TOOL,
// -v levels, the log file.
#include <doctest/doctest.h>
#include <sys/socket.h>
#include <sys/un.h>

#include <nlohmann/json.hpp>

#include "common/log.hpp"
#include "helper/support.hpp"

using namespace hakit;
using hakit::test::TempDir;
using hakit::test::contains;

namespace {


std::string format_json(const std::string& text, spdlog::level::level_enum level) {
  spdlog::details::log_msg msg("check_x", level, text);
  spdlog::memory_buf_t buf;
  log::json_formatter()->format(msg, buf);
  return std::string(buf.data(), buf.size());
}

// A datagram socket standing in for /dev/log.
struct FakeSyslog {
  TempDir dir;
  std::string path = dir / "log.sock";
  int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  FakeSyslog() {
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::snprintf(addr.sun_path, sizeof addr.sun_path, "%s", path.c_str());
    REQUIRE(bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
    timeval tv{2, 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    log::set_syslog_socket(path);
  }
  ~FakeSyslog() {
    close(fd);
    log::set_syslog_socket("/dev/log");
  }
  std::string receive() {
    char buf[4096];
    ssize_t n = recv(fd, buf, sizeof buf, 0);
    return n > 0 ? std::string(buf, static_cast<size_t>(n)) : std::string();
  }
};

}  // namespace

TEST_CASE("log: JSON lines escape quotes, newlines, control bytes and bad UTF-8") {
  std::string nasty = "say \"hi\"\n\tback\\slash \x01 and \xff\xfe";
  std::string line = format_json(nasty, spdlog::level::warn);
  REQUIRE(line.back() == '\n');
  CHECK(std::count(line.begin(), line.end(), '\n') == 1);
  auto j = nlohmann::json::parse(line, nullptr, false);
  REQUIRE_FALSE(j.is_discarded());
  CHECK(j["level"] == "warning");
  CHECK(j["tool"] == "check_x");
  CHECK(j["pid"] == getpid());
  std::string msg = j["msg"];
  CHECK(msg.rfind("say \"hi\"\n\tback\\slash \x01 and ", 0) == 0);  // bad bytes replaced
  std::string t = j["time"];
  CHECK(t.size() == 24);
  CHECK(t.back() == 'Z');
}

TEST_CASE("log: -v beats the configured level") {
  CHECK(log::level_for("warning", 0) == spdlog::level::warn);
  CHECK(log::level_for("error", 0) == spdlog::level::err);
  CHECK(log::level_for("info", 0) == spdlog::level::info);
  CHECK(log::level_for("error", 1) == spdlog::level::debug);
  CHECK(log::level_for("error", 3) == spdlog::level::trace);
}

TEST_CASE("log: syslog messages carry the ident hakit/TOOL, also after configure()") {
  FakeSyslog sys;
  log::init("check_x", 0);
  CHECK(log::tool() == "check_x");
  spdlog::info("first {}", 1);
  std::string d = sys.receive();
  CHECK(contains(d, "<30>"));  // daemon.info
  CHECK(contains(d, " hakit/check_x[" + std::to_string(getpid()) + "]: first 1"));
  config::LogConfig cfg;
  cfg.level = "warning";
  REQUIRE(log::configure(cfg, 0));
  spdlog::info("dropped below the level");
  spdlog::error("second");
  d = sys.receive();
  CHECK(contains(d, "<27>"));  // daemon.err
  CHECK(contains(d, "hakit/check_x["));
  CHECK(contains(d, "]: second"));
  spdlog::set_default_logger(std::make_shared<spdlog::logger>("null"));
}

TEST_CASE("log: file sink in JSON or text; an unopenable file falls back") {
  TempDir dir;
  config::LogConfig cfg;
  cfg.syslog = false;
  cfg.file = dir / "hakit.log";
  cfg.format = "json";
  log::init("sitesync", 0);
  REQUIRE(log::configure(cfg, 0));
  spdlog::info("copied {} files", 3);
  spdlog::debug("not at info level");
  auto j = nlohmann::json::parse(hakit::test::slurp(cfg.file), nullptr, false);
  REQUIRE_FALSE(j.is_discarded());
  CHECK(j["msg"] == "copied 3 files");
  CHECK(j["tool"] == "sitesync");

  cfg.format = "text";
  cfg.file = dir / "text.log";
  REQUIRE(log::configure(cfg, 1));
  spdlog::debug("now visible");
  std::string text = hakit::test::slurp(cfg.file);
  CHECK(contains(text, "sitesync["));
  CHECK(contains(text, "debug: now visible"));

  cfg.file = dir / "no/such/dir/x.log";
  dir.write("no", "a file where a directory should be");
  CHECK_FALSE(log::configure(cfg, 0));
  spdlog::set_default_logger(std::make_shared<spdlog::logger>("null"));
}
