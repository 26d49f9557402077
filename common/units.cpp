#include "common/units.hpp"

#include <fmt/format.h>

#include <cctype>
#include <cmath>
#include <cstdlib>
#include <ctime>

namespace hakit {

namespace {

// Splits "12.5ms" into 12.5 and "ms". Rejects signs, exponents and empty numbers.
bool split_number(std::string_view text, double* value, std::string* unit, std::string* err) {
  while (!text.empty() && text.front() == ' ') text.remove_prefix(1);
  while (!text.empty() && text.back() == ' ') text.remove_suffix(1);
  size_t i = 0;
  bool digits = false, dot = false;
  for (; i < text.size(); ++i) {
    char c = text[i];
    if (c >= '0' && c <= '9') {
      digits = true;
    } else if (c == '.' && !dot) {
      dot = true;
    } else {
      break;
    }
  }
  if (!digits) {
    *err = fmt::format("'{}' is not a number with a unit", text);
    return false;
  }
  // strtod, not stod: a 400-digit number is "too large", not an uncaught out_of_range.
  std::string num(text.substr(0, i));
  *value = std::strtod(num.c_str(), nullptr);
  if (!std::isfinite(*value)) {
    *err = fmt::format("'{}' is too large", text);
    return false;
  }
  std::string_view u = text.substr(i);
  while (!u.empty() && u.front() == ' ') u.remove_prefix(1);
  *unit = std::string(u);
  return true;
}

}  // namespace

std::optional<Millis> parse_duration(std::string_view text, std::string* err,
                                     std::string_view bare_unit) {
  double v = 0;
  std::string unit;
  if (!split_number(text, &v, &unit, err)) return std::nullopt;
  if (unit.empty()) unit = bare_unit;
  double factor;
  if (unit == "ms") {
    factor = 1;
  } else if (unit == "s") {
    factor = 1000;
  } else if (unit == "m" || unit == "min") {
    factor = 60'000;
  } else if (unit == "h") {
    factor = 3'600'000;
  } else if (unit == "d") {
    factor = 86'400'000;
  } else {
    *err = fmt::format("'{}' has an unknown unit '{}' (use ms, s, m, h or d)", text, unit);
    return std::nullopt;
  }
  double ms = v * factor;
  if (ms > 1e15) {
    *err = fmt::format("'{}' is too large", text);
    return std::nullopt;
  }
  return Millis(static_cast<std::int64_t>(std::llround(ms)));
}

std::optional<std::uint64_t> parse_size(std::string_view text, std::string* err) {
  double v = 0;
  std::string unit;
  if (!split_number(text, &v, &unit, err)) return std::nullopt;
  for (auto& c : unit) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  double factor;
  if (unit.empty() || unit == "b") {
    factor = 1;
  } else if (unit == "k" || unit == "kb" || unit == "kib") {
    factor = 1024.0;
  } else if (unit == "m" || unit == "mb" || unit == "mib") {
    factor = 1024.0 * 1024;
  } else if (unit == "g" || unit == "gb" || unit == "gib") {
    factor = 1024.0 * 1024 * 1024;
  } else if (unit == "t" || unit == "tb" || unit == "tib") {
    factor = 1024.0 * 1024 * 1024 * 1024;
  } else {
    *err = fmt::format("'{}' has an unknown size unit '{}' (use B, KB, MB, GB or TB)", text, unit);
    return std::nullopt;
  }
  double bytes = v * factor;
  if (bytes > 9.2e18) {
    *err = fmt::format("'{}' is too large", text);
    return std::nullopt;
  }
  return static_cast<std::uint64_t>(std::llround(bytes));
}

std::string format_duration(Millis d) {
  auto ms = d.count();
  if (ms < 1000) return fmt::format("{} ms", ms);
  if (ms < 60'000) return fmt::format("{:.3f} s", ms / 1000.0);
  if (ms < 3'600'000) return fmt::format("{} m {} s", ms / 60'000, (ms % 60'000) / 1000);
  return fmt::format("{} h {} m", ms / 3'600'000, (ms % 3'600'000) / 60'000);
}

std::string format_rfc3339(std::chrono::system_clock::time_point t) {
  auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(t.time_since_epoch()).count();
  std::time_t secs = ms / 1000;
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S", &tm);
  return fmt::format("{}.{:03d}Z", buf, static_cast<int>(ms % 1000));
}

}  // namespace hakit
