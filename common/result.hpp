#pragma once
// CheckResult: what every check returns, and its one-line Nagios rendering.
#include <optional>
#include <string>
#include <vector>

#include "common/exit_codes.hpp"

namespace hakit {

/// One perfdata item: label=value[uom];warn;crit;min;max
struct Perfdata {
  std::string label;
  double value = 0;
  std::string uom;  ///< "s", "B", "%", "" ...
  std::optional<double> warn, crit, min, max;
  std::string render() const;
};

/// What a check found: a state, a one-line summary and perfdata.
struct CheckResult {
  State state = State::kUnknown;
  std::string summary;
  std::vector<Perfdata> perfdata;

  /// "HTTP OK - 200 in 0.004 s, 1234 bytes | time=0.004s;;;0 size=1234B;;;0"
  std::string render(const std::string& service) const;
};

/// CRITICAL "maintenance: PATH exists, failing on purpose (first line of the file)" when the
/// maintenance file exists (Percona clustercheck style, for a planned switchover); else nothing.
std::optional<CheckResult> maintenance_result(const std::string& path);

/// Combine two sub-results: the worse state wins; summaries are joined with ", ".
CheckResult combine(CheckResult a, const CheckResult& b);

}  // namespace hakit
