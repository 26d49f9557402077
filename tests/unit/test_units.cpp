#include <doctest/doctest.h>

#include "common/result.hpp"
#include "common/units.hpp"

using namespace hakit;

TEST_CASE("durations: units, bare seconds, errors") {
  std::string err;
  CHECK(parse_duration("250ms", &err) == Millis(250));
  CHECK(parse_duration("2s", &err) == Millis(2000));
  CHECK(parse_duration("1.5s", &err) == Millis(1500));
  CHECK(parse_duration("5m", &err) == Millis(300000));
  CHECK(parse_duration("1h", &err) == Millis(3600000));
  CHECK(parse_duration("3", &err) == Millis(3000));
  CHECK_FALSE(parse_duration("3x", &err));
  CHECK(err.find("unknown unit") != std::string::npos);
  CHECK_FALSE(parse_duration("", &err));
  CHECK_FALSE(parse_duration("-1s", &err));
  CHECK_FALSE(parse_duration("1e9h", &err));
}

TEST_CASE("sizes") {
  std::string err;
  CHECK(parse_size("10MB", &err) == 10u * 1024 * 1024);
  CHECK(parse_size("512k", &err) == 512u * 1024);
  CHECK(parse_size("7", &err) == 7u);
  CHECK_FALSE(parse_size("10XB", &err));
}

TEST_CASE("check result renders one Nagios line") {
  CheckResult r{State::kOk, "200 in 0.004 s, 1234 bytes",
                {{"time", 0.004, "s", {}, {}, 0.0, {}}, {"size", 1234, "B", {}, {}, 0.0, {}}}};
  CHECK(r.render("HTTP") == "HTTP OK - 200 in 0.004 s, 1234 bytes | time=0.004s;;;0 size=1234B;;;0");
  CheckResult multi{State::kCritical, "line one\nline two | x", {}};
  CHECK(multi.render("X") == "X CRITICAL - line one line two   x");
}

TEST_CASE("worst follows monitoring-plugins order") {
  CHECK(worst(State::kOk, State::kWarning) == State::kWarning);
  CHECK(worst(State::kUnknown, State::kWarning) == State::kWarning);
  CHECK(worst(State::kCritical, State::kWarning) == State::kCritical);
  CHECK(worst(State::kOk, State::kUnknown) == State::kUnknown);
  CHECK(check_exit_code(State::kWarning, false) == 0);
  CHECK(check_exit_code(State::kWarning, true) == 1);
  CHECK(check_exit_code(State::kCritical, false) == 2);
}

TEST_CASE("durations and sizes: hostile numbers are errors, not exceptions") {
  std::string err;
  CHECK_FALSE(parse_duration(std::string(400, '9') + "s", &err));
  CHECK(err.find("too large") != std::string::npos);
  CHECK_FALSE(parse_size(std::string(400, '9'), &err));
  CHECK_FALSE(parse_duration(".", &err));
  CHECK_FALSE(parse_duration("1.2.3s", &err));
  CHECK(parse_duration(" 2 s ", &err) == Millis(2000));
  CHECK(parse_duration("250", &err, "ms") == Millis(250));
  CHECK(format_duration(Millis(250)) == "250 ms");
  CHECK(format_duration(Millis(1500)) == "1.500 s");
  CHECK(format_duration(Millis(300000)) == "5 m 0 s");
}

TEST_CASE("RFC 3339 timestamps are UTC with milliseconds") {
  std::chrono::system_clock::time_point t{std::chrono::milliseconds(1234)};
  CHECK(format_rfc3339(t) == "1970-01-01T00:00:01.234Z");
  CHECK(format_rfc3339(t + std::chrono::hours(24 * 365)) == "1971-01-01T00:00:01.234Z");
}

TEST_CASE("perfdata labels with spaces, '=' or quotes are quoted as the plugin guidelines say") {
  CHECK(Perfdata{"time", 0.5, "s", 1.0, 2.0, 0.0, {}}.render() == "time=0.5s;1;2;0");
  CHECK(Perfdata{"slave lag", 3, "s", {}, {}, {}, {}}.render() == "'slave lag'=3s");
  CHECK(Perfdata{"it's", 1, "", {}, {}, {}, {}}.render() == "'it''s'=1");
  CHECK(Perfdata{"a=b", 1, "", {}, {}, {}, {}}.render() == "'a=b'=1");
}
