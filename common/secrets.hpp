#pragma once
// Secrets come only from files with safe permissions, as ssh insists for its keys.
#include <optional>
#include <string>

namespace hakit {

/// A file that holds a secret must be a regular file owned by root or by us, and neither
/// readable nor writable by group or others. On refusal *err says what to run to fix it.
bool check_secret_file(const std::string& path, std::string* err);

/// A config file must be owned by root or by us and not writable by group or others; when it
/// holds a secret inline it must not be readable by them either.
bool check_config_file(const std::string& path, bool holds_secrets, std::string* err);

/// The same checks on a file already opened as `path`, so it cannot be swapped between the
/// check and the read. `secret`: also refuse group/other read access. `what` names the file
/// in messages ("secret file", "config file").
bool check_opened_file(int fd, const std::string& path, bool secret, const std::string& what,
                       std::string* err);

/// Every symlink on the way from `path` to the file (the last component, followed link by
/// link) must be owned by root or by us: whoever owns a link decides what we read.
bool check_symlinks(const std::string& path, const std::string& what, std::string* err);

/// True for a config key that would hold a secret inline ("password", "api_token",
/// "webhook_secret"), but not for references to files ("password_file").
bool is_secret_key(const std::string& key);

/// Reads the first line of a password file (after the checks above), without the newline.
std::optional<std::string> read_secret_file(const std::string& path, std::string* err);

/// A secret value that cannot be logged by accident: it has no formatter and no stream
/// operator; use reveal() only where the value is handed to a library.
class Secret {
 public:
  Secret() = default;
  explicit Secret(std::string v) : value_(std::move(v)) {}
  ~Secret();
  Secret(const Secret&) = default;
  Secret& operator=(const Secret&) = default;
  const std::string& reveal() const { return value_; }
  bool empty() const { return value_.empty(); }

 private:
  std::string value_;
};

}  // namespace hakit
