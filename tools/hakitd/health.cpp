#include "hakitd/health.hpp"

#include <fmt/format.h>

namespace hakit::hakitd {

Clock::time_point next_due(Clock::time_point last_due, Clock::time_point now, Millis period) {
  auto due = last_due + period;
  if (due > now) return due;
  const auto behind = now - last_due;
  const auto periods = behind / period + 1;
  return last_due + periods * period;
}

bool Health::fail(const std::string& why) {
  if (!healthy_) return false;
  healthy_ = false;
  reason_ = why;
  return true;
}

bool Health::observe(bool ok, Clock::time_point started, Clock::time_point now) {
  if (ok) {
    failures_ = 0;
    failing_since_.reset();
    ++successes_;
    if (!healthy_ && successes_ >= h_.rise) {
      healthy_ = true;
      reason_ = fmt::format("{} success{} in a row", successes_, successes_ == 1 ? "" : "es");
      return true;
    }
    return false;
  }
  successes_ = 0;
  ++failures_;
  if (!failing_since_) failing_since_ = started;
  if (failures_ >= h_.fall)
    return fail(fmt::format("{} failure{} in a row", failures_, failures_ == 1 ? "" : "s"));
  if (h_.fall_after && now - *failing_since_ >= *h_.fall_after)
    return fail(fmt::format("failing for {}", format_duration(*h_.fall_after)));
  return false;
}

bool Health::in_flight(Clock::time_point started, Clock::time_point now) {
  if (!h_.fall_after || !healthy_) return false;
  const auto since = failing_since_ ? std::min(*failing_since_, started) : started;
  if (now - since < *h_.fall_after) return false;
  successes_ = 0;
  return fail(
      fmt::format("no answer for {} (probe still running)", format_duration(*h_.fall_after)));
}

}  // namespace hakit::hakitd
