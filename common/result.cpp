#include "common/result.hpp"

#include <fcntl.h>
#include <fmt/format.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <string_view>

namespace hakit {

namespace {
// Bytes of the maintenance file shown as its reason.
constexpr size_t kMaintenanceReasonBytes = 100;
// Longest summary printed in the one-line output (Nagios keeps 4 KB of plugin output).
constexpr size_t kMaxSummaryBytes = 2048;
}  // namespace

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
  std::string line = fmt::format("{} {} - ", service, state_name(state));
  // One line only: a stray newline in a server's message must not split the output, and no
  // other control character from a server (escape sequences, NUL) reaches a terminal or
  // a monitoring UI raw.
  // Bounded: a server's 100 KB reason phrase or error text must not become the line.
  const bool cut = summary.size() > kMaxSummaryBytes;
  for (char c : std::string_view(summary).substr(0, kMaxSummaryBytes)) {
    auto u = static_cast<unsigned char>(c);
    if (c == '\n' || c == '\r' || c == '\t' || c == '|')
      line += ' ';
    else if (u < 0x20 || u == 0x7f)
      line += fmt::format("\\x{:02x}", u);
    else
      line += c;
  }
  if (cut) line += "...";
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
  if (!S_ISREG(st.st_mode)) {
    // A FIFO would block the read until a writer comes, a device (/dev/zero) never ends:
    // its presence is the signal, its content is not read.
    res.summary += " (not a regular file: content not read)";
    return res;
  }
  // The file's first line, when there is one, says why (who, which ticket). Read bounded and
  // non-blocking: the path may be swapped for a FIFO between stat() and open().
  int fd = open(path.c_str(), O_RDONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
  if (fd < 0) return res;
  char buf[kMaintenanceReasonBytes + 1];
  ssize_t n = -1;
  if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode)) {
    do n = read(fd, buf, sizeof buf);
    while (n < 0 && errno == EINTR);
  }
  close(fd);
  if (n <= 0) return res;
  std::string why(buf, static_cast<size_t>(n));
  why = why.substr(0, why.find('\n'));
  if (!why.empty() && why.back() == '\r') why.pop_back();
  if (why.size() > kMaintenanceReasonBytes) why = why.substr(0, kMaintenanceReasonBytes) + "...";
  if (!why.empty()) res.summary += " (" + why + ")";
  return res;
}

CheckResult combine(CheckResult a, const CheckResult& b) {
  a.state = worst(a.state, b.state);
  if (!b.summary.empty()) a.summary = a.summary.empty() ? b.summary : a.summary + ", " + b.summary;
  a.perfdata.insert(a.perfdata.end(), b.perfdata.begin(), b.perfdata.end());
  return a;
}

}  // namespace hakit
