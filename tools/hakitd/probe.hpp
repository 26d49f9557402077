#pragma once
// One check run in-process, again and again, through the same code as the check binaries:
// check_http_200's request and judgement (a new connection every probe, so a listener that
// stopped accepting fails) and check_mysql_slave's queries over a connection kept between
// probes and opened again after any failed probe. Each probe is bounded by the check's
// timeout.
#include <memory>
#include <string>

#include "common/config.hpp"
#include "common/result.hpp"
#include "hakitd/config.hpp"

namespace hakit::hakitd {

class Probe {
 public:
  virtual ~Probe() = default;
  /// Runs the check once; never throws, never outlives the check's timeout (plus a few ms).
  virtual CheckResult run() = 0;
  /// True when the result counts as a success for keepalived: OK, or WARNING unless the
  /// check says warning_fails (as the binary's exit code would be 0).
  virtual bool passed(const CheckResult& r) const = 0;
  /// The check's own timeout (how long one probe may take).
  virtual Millis timeout() const = 0;
};

/// Builds the probe of a daemon check from the document: the check's own entry (and its
/// mysql profile), read strictly as the binary reads them. nullptr with *err.
std::unique_ptr<Probe> make_probe(const config::Document& doc, const config::DaemonCheck& check,
                                  std::string* err);

}  // namespace hakit::hakitd
