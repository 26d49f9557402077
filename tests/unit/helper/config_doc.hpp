#pragma once
// A config Document from YAML text for the unit tests: parsed as load_document does (minus the
// file) and validated as --check-config does, so a test sees every problem.
#include <string>

#include "common/config.hpp"
#include "sections.hpp"

namespace hakit::test {

/// Fills *doc from `text`; false when any section has a problem (*problems has them all).
inline bool make_doc(const std::string& text, config::Document* doc,
                     std::string* problems = nullptr) {
  *doc = config::Document{};
  doc->path = "hakit.yaml";
  config::Diagnostics diag("hakit.yaml");
  bool ok = config::parse_document(text, doc, &diag);
  ok = config::validate_all(*doc, sections::all(), &diag) && ok;
  if (problems) *problems = diag.render();
  return ok;
}

}  // namespace hakit::test
