#pragma once
// The pure parts of hakitd, driven by a clock the caller passes in (unit tests use a fake
// one): when the next probe is due, and when a run of probe results turns a check failed or
// healthy again.
#include <chrono>
#include <optional>
#include <string>

#include "hakitd/config.hpp"

namespace hakit::hakitd {

using Clock = std::chrono::steady_clock;

/// The first tick of the grid `last_due + k * period` (k >= 1) that is after `now`: a probe that
/// overran its period skips the ticks it missed instead of running back to back.
Clock::time_point next_due(Clock::time_point last_due, Clock::time_point now, Millis period);

/// What a check's probes add up to. Starts failed: a check is healthy only once it has
/// proved it (`rise` successes), so a fresh start never claims health it has not seen.
class Health {
 public:
  explicit Health(config::Hysteresis h) : h_(h) {}

  /// One probe result: started at `started`, known at `now`. True when the state changed.
  bool observe(bool ok, Clock::time_point started, Clock::time_point now);
  /// A probe started at `started` has not answered at `now`: with fall_after set, a probe
  /// hanging that long (counted from the first failure before it, if any) fails the check
  /// without waiting for its timeout. True when the state changed.
  bool in_flight(Clock::time_point started, Clock::time_point now);

  /// New settings for the state carried over a reload.
  void set_hysteresis(config::Hysteresis h) { h_ = h; }
  bool healthy() const { return healthy_; }
  int failures_in_row() const { return failures_; }
  int successes_in_row() const { return successes_; }
  /// Why the state is what it is, for the log ("2 failures in a row", "failing for 400 ms").
  const std::string& reason() const { return reason_; }

 private:
  bool fail(const std::string& why);
  config::Hysteresis h_;
  bool healthy_ = false;
  int failures_ = 0;
  int successes_ = 0;
  std::optional<Clock::time_point> failing_since_;
  std::string reason_ = "starting: no successful probe yet";
};

}  // namespace hakit::hakitd
