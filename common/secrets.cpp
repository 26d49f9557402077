#include "common/secrets.hpp"

#include <fcntl.h>
#include <fmt/format.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cctype>
#include <cerrno>
#include <climits>
#include <cstring>

namespace hakit {

Secret::~Secret() {
  // Scrub the bytes before the allocator reuses them.
  volatile char* p = value_.data();
  for (size_t i = 0; i < value_.size(); ++i) p[i] = 0;
}

namespace {

std::string owner_fix(const std::string& path) {
  uid_t me = geteuid();
  return fmt::format("chown {} {}", me == 0 ? "root:root" : std::to_string(me), path);
}

bool owner_ok(uid_t uid) { return uid == 0 || uid == geteuid(); }

// O_NONBLOCK: a FIFO planted where a file should be must not hang a check.
int open_for_check(const std::string& path, const std::string& what, std::string* err) {
  int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
  if (fd < 0) *err = fmt::format("{} {}: {}", what, path, std::strerror(errno));
  return fd;
}

}  // namespace

bool check_opened_file(int fd, const std::string& path, bool secret, const std::string& what,
                       std::string* err) {
  struct stat st {};
  if (fstat(fd, &st) != 0) {
    *err = fmt::format("{} {}: {}", what, path, std::strerror(errno));
    return false;
  }
  if (!S_ISREG(st.st_mode)) {
    *err = fmt::format("{} {} is not a regular file", what, path);
    return false;
  }
  if (!owner_ok(st.st_uid)) {
    *err = fmt::format("{} {} is owned by uid {}, not by root or uid {}; refused (fix: {})", what,
                       path, st.st_uid, geteuid(), owner_fix(path));
    return false;
  }
  mode_t bad = secret ? (S_IRWXG | S_IRWXO) : (S_IWGRP | S_IWOTH);
  if (st.st_mode & bad) {
    *err = fmt::format("{} {} has mode {:04o}: {} by group or others; refused (fix: chmod {} {})",
                       what, path, st.st_mode & 07777,
                       secret ? "readable or writable" : "writable", secret ? "600" : "go-w", path);
    return false;
  }
  return true;
}

bool check_symlinks(const std::string& path, const std::string& what, std::string* err) {
  std::string cur = path;
  // The kernel gives up after 40 links; so do we.
  for (int hops = 0; hops < 40; ++hops) {
    struct stat lst {};
    if (lstat(cur.c_str(), &lst) != 0 || !S_ISLNK(lst.st_mode)) return true;
    if (!owner_ok(lst.st_uid)) {
      *err = fmt::format("{} {}: the symlink {} is owned by uid {}; refused (fix: replace it with "
                         "a link owned by root, or point to the file directly)",
                         what, path, cur, lst.st_uid);
      return false;
    }
    char buf[PATH_MAX];
    ssize_t n = readlink(cur.c_str(), buf, sizeof buf - 1);
    if (n < 0) return true;  // vanished: open() reports it
    std::string target(buf, static_cast<size_t>(n));
    if (target.front() != '/') {
      auto slash = cur.rfind('/');
      target = (slash == std::string::npos ? std::string() : cur.substr(0, slash + 1)) + target;
    }
    cur = target;
  }
  *err = fmt::format("{} {}: too many levels of symbolic links", what, path);
  return false;
}

bool is_secret_key(const std::string& key) {
  std::string k;
  for (char c : key) k += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  auto ends_with = [&](const char* s) {
    size_t n = std::strlen(s);
    return k.size() >= n && k.compare(k.size() - n, n, s) == 0;
  };
  if (ends_with("_file") || ends_with("_path") || ends_with("_dir")) return false;
  for (const char* word : {"password", "passwd", "secret", "token", "api_key", "apikey"})
    if (k.find(word) != std::string::npos) return true;
  return k == "authorization";
}

bool check_secret_file(const std::string& path, std::string* err) {
  if (!check_symlinks(path, "secret file", err)) return false;
  int fd = open_for_check(path, "secret file", err);
  if (fd < 0) return false;
  bool ok = check_opened_file(fd, path, true, "secret file", err);
  close(fd);
  return ok;
}

bool check_config_file(const std::string& path, bool holds_secrets, std::string* err) {
  const std::string what = holds_secrets ? "config file (it holds a secret inline)" : "config file";
  if (!check_symlinks(path, what, err)) return false;
  int fd = open_for_check(path, what, err);
  if (fd < 0) return false;
  bool ok = check_opened_file(fd, path, holds_secrets, what, err);
  close(fd);
  return ok;
}

std::optional<std::string> read_secret_file(const std::string& path, std::string* err) {
  if (!check_symlinks(path, "secret file", err)) return std::nullopt;
  int fd = open_for_check(path, "secret file", err);
  if (fd < 0) return std::nullopt;
  if (!check_opened_file(fd, path, true, "secret file", err)) {
    close(fd);
    return std::nullopt;
  }
  // Only the first line matters; a huge file is read no further than 64 KiB.
  std::string data;
  char buf[4096];
  ssize_t n;
  while (data.size() < 64 * 1024 && (n = read(fd, buf, sizeof buf)) != 0) {
    if (n < 0) {
      if (errno == EINTR) continue;
      *err = fmt::format("secret file {}: {}", path, std::strerror(errno));
      close(fd);
      return std::nullopt;
    }
    data.append(buf, static_cast<size_t>(n));
    if (data.find('\n') != std::string::npos) break;
  }
  close(fd);
  explicit_bzero(buf, sizeof buf);
  auto nl = data.find_first_of("\r\n");
  if (nl != std::string::npos) data.resize(nl);
  if (data.empty()) {
    *err = fmt::format("secret file {} is empty (its first line is the secret)", path);
    return std::nullopt;
  }
  return data;
}

}  // namespace hakit
