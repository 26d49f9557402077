#pragma once
// Regular expressions from configs and command lines, matched against what servers send.
// Both sides are hostile input: RE2 guarantees linear-time matching (no backtracking
// blow-up), parses without recursion limits being a crash (deep nesting is an error), and
// compiles within a memory budget. RE2 syntax (Perl-like, a superset of POSIX extended
// without back-references).
#include <memory>
#include <string>
#include <string_view>

namespace re2 {
class RE2;
}

namespace hakit::regex {

/// Longest pattern accepted: matching cost grows with pattern size times text size.
inline constexpr std::size_t kMaxPatternBytes = 4096;
/// Memory budget of one compiled pattern (RE2 program and DFA cache).
inline constexpr long long kMaxMemoryBytes = 8 << 20;

/// A compiled pattern; searches anywhere in the text (bytes, NULs included).
class Regex {
 public:
  /// Compiles `pattern` (`ignore_case`: check_http -R); nullptr with *err saying why
  /// ("bad regex '(': missing ) ...").
  static std::unique_ptr<Regex> compile(const std::string& pattern, std::string* err,
                                        bool ignore_case = false);
  ~Regex();
  Regex(const Regex&) = delete;
  Regex& operator=(const Regex&) = delete;
  /// True when the pattern matches somewhere in `text`.
  bool search(std::string_view text) const;

 private:
  explicit Regex(std::unique_ptr<re2::RE2> re);
  std::unique_ptr<re2::RE2> re_;
};

/// True when `pattern` compiles; else *err says why.
bool valid(const std::string& pattern, std::string* err);

}  // namespace hakit::regex
