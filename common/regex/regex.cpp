#include "common/regex/regex.hpp"

#include <re2/re2.h>

namespace hakit::regex {

namespace {

std::string shown(const std::string& pattern) {
  return pattern.size() > 60 ? pattern.substr(0, 60) + "..." : pattern;
}

}  // namespace

Regex::Regex(std::unique_ptr<re2::RE2> re) : re_(std::move(re)) {}
Regex::~Regex() = default;

std::unique_ptr<Regex> Regex::compile(const std::string& pattern, std::string* err,
                                      bool ignore_case) {
  if (pattern.size() > kMaxPatternBytes) {
    *err = "bad regex '" + shown(pattern) + "': longer than " + std::to_string(kMaxPatternBytes) +
           " bytes";
    return nullptr;
  }
  re2::RE2::Options o;
  o.set_log_errors(false);  // RE2 would print to stderr itself; the caller reports
  o.set_max_mem(kMaxMemoryBytes);
  o.set_dot_nl(true);  // '.' matches a newline, as it did with the POSIX engine
  o.set_case_sensitive(!ignore_case);
  auto re = std::make_unique<re2::RE2>(pattern, o);
  if (!re->ok()) {
    *err = "bad regex '" + shown(pattern) + "': " + re->error();
    return nullptr;
  }
  return std::unique_ptr<Regex>(new Regex(std::move(re)));
}

bool Regex::search(std::string_view text) const {
  return re2::RE2::PartialMatch(re2::StringPiece(text.data(), text.size()), *re_);
}

bool valid(const std::string& pattern, std::string* err) {
  return Regex::compile(pattern, err) != nullptr;
}

}  // namespace hakit::regex
