#include "common/secrets.hpp"

#include <fcntl.h>
#include <fmt/format.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace hakit {

Secret::~Secret() {
  // Scrub the bytes before the allocator reuses them.
  volatile char* p = value_.data();
  for (size_t i = 0; i < value_.size(); ++i) p[i] = 0;
}

namespace {

bool check_owner_and_mode(const std::string& path, const struct stat& st, bool forbid_read,
                          const char* what, std::string* err) {
  uid_t me = geteuid();
  if (st.st_uid != 0 && st.st_uid != me) {
    *err = fmt::format("{} {} is owned by uid {}, not by root or uid {}; refused (fix: chown {} {})",
                       what, path, st.st_uid, me, me == 0 ? "root:root" : std::to_string(me), path);
    return false;
  }
  mode_t bad = forbid_read ? (S_IRWXG | S_IRWXO) : (S_IWGRP | S_IWOTH);
  if (st.st_mode & bad) {
    *err = fmt::format("{} {} has mode {:04o}: {} by group or others; refused (fix: chmod {} {})",
                       what, path, st.st_mode & 07777,
                       forbid_read ? "readable or writable" : "writable",
                       forbid_read ? "600" : "go-w", path);
    return false;
  }
  return true;
}

bool stat_regular(const std::string& path, struct stat* st, const char* what, std::string* err) {
  if (stat(path.c_str(), st) != 0) {
    *err = fmt::format("{} {}: {}", what, path, std::strerror(errno));
    return false;
  }
  if (!S_ISREG(st->st_mode)) {
    *err = fmt::format("{} {} is not a regular file", what, path);
    return false;
  }
  return true;
}

}  // namespace

bool check_secret_file(const std::string& path, std::string* err) {
  struct stat lst {};
  if (lstat(path.c_str(), &lst) == 0 && S_ISLNK(lst.st_mode)) {
    // A link is as safe as whoever may change it: root or us only.
    if (lst.st_uid != 0 && lst.st_uid != geteuid()) {
      *err = fmt::format("secret file {} is a symlink owned by uid {}; refused", path, lst.st_uid);
      return false;
    }
  }
  struct stat st {};
  if (!stat_regular(path, &st, "secret file", err)) return false;
  return check_owner_and_mode(path, st, true, "secret file", err);
}

bool check_config_file(const std::string& path, bool holds_secrets, std::string* err) {
  struct stat st {};
  if (!stat_regular(path, &st, "config file", err)) return false;
  if (!check_owner_and_mode(path, st, holds_secrets,
                            holds_secrets ? "config file (it holds a secret inline)" : "config file",
                            err))
    return false;
  return true;
}

std::optional<std::string> read_secret_file(const std::string& path, std::string* err) {
  if (!check_secret_file(path, err)) return std::nullopt;
  int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    *err = fmt::format("secret file {}: {}", path, std::strerror(errno));
    return std::nullopt;
  }
  std::string data;
  char buf[4096];
  ssize_t n;
  while ((n = read(fd, buf, sizeof buf)) > 0 && data.size() < 64 * 1024) data.append(buf, n);
  close(fd);
  auto nl = data.find_first_of("\r\n");
  if (nl != std::string::npos) data.resize(nl);
  if (data.empty()) {
    *err = fmt::format("secret file {} is empty", path);
    return std::nullopt;
  }
  return data;
}

}  // namespace hakit
