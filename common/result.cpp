#include "common/result.hpp"

#include <fmt/format.h>
#include <sys/stat.h>

#include <fstream>

namespace hakit {

const char* state_name(State s) {
  switch (s) {
    case State::kOk: return "OK";
    case State::kWarning: return "WARNING";
    case State::kCritical: return "CRITICAL";
    case State::kUnknown: return "UNKNOWN";
  }
  return "UNKNOWN";
}

static int severity(State s) {
  switch (s) {
    case State::kOk: return 0;
    case State::kUnknown: return 1;
    case State::kWarning: return 2;
    case State::kCritical: return 3;
  }
  return 1;
}

State worst(State a, State b) { return severity(a) >= severity(b) ? a : b; }

int check_exit_code(State s, bool warning_fails) {
  if (s == State::kWarning && !warning_fails) return 0;
  return static_cast<int>(s);
}

static std::string number(double v) {
  // Perfdata wants plain decimals; 6 significant places covers seconds to the microsecond.
  std::string s = fmt::format("{:.6f}", v);
  while (!s.empty() && s.back() == '0') s.pop_back();
  if (!s.empty() && s.back() == '.') s.pop_back();
  return s.empty() ? "0" : s;
}

static std::string opt(const std::optional<double>& v) { return v ? number(*v) : ""; }

std::string Perfdata::render() const {
  // Labels with spaces or '=' must be quoted (Nagios plugin guidelines).
  std::string l = label;
  if (l.find_first_of(" ='") != std::string::npos) {
    std::string q = "'";
    for (char c : label) q += c == '\'' ? std::string("''") : std::string(1, c);
    l = q + "'";
  }
  std::string out = fmt::format("{}={}{};{};{};{};{}", l, number(value), uom, opt(warn), opt(crit),
                                opt(min), opt(max));
  while (!out.empty() && out.back() == ';') out.pop_back();
  return out;
}

std::string CheckResult::render(const std::string& service) const {
  std::string line = fmt::format("{} {} - {}", service, state_name(state), summary);
  // One line only: a stray newline in a server's message must not split the output.
  for (char& c : line)
    if (c == '\n' || c == '\r' || c == '|') c = ' ';
  if (!perfdata.empty()) {
    line += " |";
    for (const auto& p : perfdata) line += " " + p.render();
  }
  return line;
}

std::optional<CheckResult> maintenance_result(const std::string& path) {
  struct stat st {};
  if (path.empty() || stat(path.c_str(), &st) != 0) return std::nullopt;
  CheckResult res;
  res.state = State::kCritical;
  res.summary = fmt::format("maintenance: {} exists, failing on purpose", path);
  // The file's first line, when there is one, says why (who, which ticket).
  std::ifstream in(path);
  std::string why;
  if (in && std::getline(in, why) && !why.empty()) {
    if (why.size() > 100) why = why.substr(0, 100) + "...";
    res.summary += " (" + why + ")";
  }
  return res;
}

CheckResult combine(CheckResult a, const CheckResult& b) {
  a.state = worst(a.state, b.state);
  if (!b.summary.empty()) a.summary = a.summary.empty() ? b.summary : a.summary + ", " + b.summary;
  a.perfdata.insert(a.perfdata.end(), b.perfdata.begin(), b.perfdata.end());
  return a;
}

}  // namespace hakit
