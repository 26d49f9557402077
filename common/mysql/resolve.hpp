#pragma once
// Name lookup bounded by a time limit. Connector/C resolves a host name with a blocking
// getaddrinfo() inside its (otherwise non-blocking) connect, so a resolver that never answers
// held a check for resolv.conf's timeout × attempts (10 s by default) and was then reported
// as "unknown host". hakit resolves first, with the check's limit, and connects by address.
#include <string>

#include "common/units.hpp"

namespace hakit::mysql {

/// What a bounded lookup found.
struct Lookup {
  enum class Outcome { kResolved, kTimedOut, kFailed };
  Outcome outcome = Outcome::kFailed;
  std::string address;  ///< numeric address of the first result (kResolved)
  std::string error;    ///< resolver's message (kFailed)
};

/// True when `host` needs no lookup: a numeric IPv4/IPv6 address, or "localhost" (which the
/// connector turns into the Unix socket).
bool is_literal_host(const std::string& host);

/// Resolves `host` (TCP, any family) within `limit`. On time-out the lookup is abandoned: it
/// finishes in the background and its result is dropped.
Lookup resolve_bounded(const std::string& host, Millis limit);

}  // namespace hakit::mysql
