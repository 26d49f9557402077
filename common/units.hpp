#pragma once
// Durations ("250ms", "2s", "5m", "1h", "1.5s") and sizes ("10MB", "512k", "1GiB").
#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace hakit {

using Millis = std::chrono::milliseconds;

/// Parses a duration; a bare number means `bare_unit` ("s" by default). Empty on error,
/// with the reason in *err.
std::optional<Millis> parse_duration(std::string_view text, std::string* err,
                                     std::string_view bare_unit = "s");

/// Parses a byte size: B, k/KB/KiB, M/MB/MiB, G/GB/GiB, T (powers of 1024, as rsync does).
std::optional<std::uint64_t> parse_size(std::string_view text, std::string* err);

/// "1.500 s", "250 ms", "5 m 0 s" style rendering for messages.
std::string format_duration(Millis d);

/// A point in time as RFC 3339 UTC with milliseconds: "2026-11-22T03:04:05.123Z".
std::string format_rfc3339(std::chrono::system_clock::time_point t);

/// Seconds as a double, for perfdata.
inline double seconds(Millis d) { return static_cast<double>(d.count()) / 1000.0; }

}  // namespace hakit
