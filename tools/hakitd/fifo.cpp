#include "hakitd/fifo.hpp"

#include <fcntl.h>
#include <fmt/format.h>
#include <poll.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "common/lock.hpp"

namespace hakit::hakitd {

namespace {

bool is_upper_word(const std::string& s) {
  if (s.empty()) return false;
  for (char c : s)
    if (!((c >= 'A' && c <= 'Z') || c == '_')) return false;
  return true;
}

}  // namespace

bool FifoEvent::role_change() const {
  return state == "MASTER" || state == "BACKUP" || state == "FAULT" || state == "STOP";
}

std::optional<FifoEvent> parse_fifo_line(const std::string& line, std::string* err) {
  // TYPE "NAME" STATE PRIORITY; keepalived quotes the name, which may hold no quote itself.
  FifoEvent ev;
  auto q1 = line.find(" \"");
  if (q1 == std::string::npos) {
    *err = "no quoted name";
    return std::nullopt;
  }
  ev.type = line.substr(0, q1);
  if (ev.type != "INSTANCE" && ev.type != "GROUP") {
    *err = "not an INSTANCE or GROUP line";
    return std::nullopt;
  }
  auto q2 = line.find('"', q1 + 2);
  if (q2 == std::string::npos || q2 == q1 + 2) {
    *err = "bad quoted name";
    return std::nullopt;
  }
  ev.name = line.substr(q1 + 2, q2 - q1 - 2);
  for (unsigned char c : ev.name)
    if (c < 0x20 || c == 0x7f) {
      *err = "control character in the name";
      return std::nullopt;
    }
  std::string rest = line.substr(q2 + 1);
  if (rest.empty() || rest.front() != ' ') {
    *err = "no state after the name";
    return std::nullopt;
  }
  rest.erase(0, 1);
  auto sp = rest.find(' ');
  ev.state = rest.substr(0, sp);
  if (!is_upper_word(ev.state)) {
    *err = "bad state";
    return std::nullopt;
  }
  if (sp != std::string::npos) {
    const std::string prio = rest.substr(sp + 1);
    char* end = nullptr;
    long p = std::strtol(prio.c_str(), &end, 10);
    if (prio.empty() || *end != '\0' || p < 0 || p > 255) {
      *err = "bad priority";
      return std::nullopt;
    }
    ev.priority = static_cast<int>(p);
  }
  return ev;
}

std::vector<std::string> LineSplitter::feed(const char* data, size_t n) {
  std::vector<std::string> lines;
  for (size_t i = 0; i < n; ++i) {
    char c = data[i];
    if (c == '\n') {
      if (!skipping_) lines.push_back(std::move(partial_));
      partial_.clear();
      skipping_ = false;
      continue;
    }
    if (skipping_) continue;
    if (partial_.size() >= kMaxLine) {
      partial_.clear();
      skipping_ = true;
      ++dropped_;
      continue;
    }
    partial_ += c;
  }
  return lines;
}

FifoReader::~FifoReader() {
  close_fd();
}

void FifoReader::close_fd() {
  if (fd_ >= 0) close(fd_);
  fd_ = -1;
  splitter_.reset();
}

bool FifoReader::ensure_open(std::string* err) {
  struct stat st {};
  if (fd_ >= 0) {
    // keepalived recreates its FIFO on some reloads: the old one then never sees a writer.
    if (stat(path_.c_str(), &st) == 0 && st.st_dev == dev_ && st.st_ino == ino_) return true;
    close_fd();
  }
  const auto slash = path_.rfind('/');
  if (slash != std::string::npos && slash > 0 && !make_dirs(path_.substr(0, slash), 0755, err))
    return false;
  if (mkfifo(path_.c_str(), 0600) != 0 && errno != EEXIST) {
    *err = fmt::format("cannot create the FIFO {}: {}", path_, std::strerror(errno));
    return false;
  }
  // Non-blocking: opening for reading never waits for a writer.
  int fd = open(path_.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC);
  if (fd < 0) {
    *err = fmt::format("cannot open the FIFO {}: {}", path_, std::strerror(errno));
    return false;
  }
  if (fstat(fd, &st) != 0 || !S_ISFIFO(st.st_mode)) {
    close(fd);
    *err = fmt::format("{} is not a FIFO", path_);
    return false;
  }
  fd_ = fd;
  dev_ = st.st_dev;
  ino_ = st.st_ino;
  ++opens_;
  return true;
}

bool FifoReader::poll_once(int timeout_ms, const std::function<void(const std::string&)>& on_line,
                           std::string* err) {
  if (!ensure_open(err)) {
    usleep(static_cast<useconds_t>(timeout_ms) * 1000);
    return false;
  }
  pollfd p{fd_, POLLIN, 0};
  int r = poll(&p, 1, timeout_ms);
  if (r <= 0) return true;
  bool writer_gone = (p.revents & POLLHUP) != 0;
  char buf[65536];
  for (;;) {
    ssize_t n = read(fd_, buf, sizeof buf);
    if (n > 0) {
      for (auto& line : splitter_.feed(buf, static_cast<size_t>(n))) on_line(line);
      continue;
    }
    if (n == 0) writer_gone = true;
    if (n < 0 && errno == EINTR) continue;
    break;  // EAGAIN: drained
  }
  // Every writer closed (keepalived stopped or reloaded): a fresh open waits for the next
  // writer instead of reporting the hang-up again and again, and at once, so a writer that
  // opens write-only and non-blocking always finds a reader.
  if (writer_gone) {
    close_fd();
    std::string ignored;
    ensure_open(&ignored);
  }
  return true;
}

}  // namespace hakit::hakitd
