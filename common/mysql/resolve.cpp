#include "common/mysql/resolve.hpp"

#include <arpa/inet.h>
#include <netdb.h>
#include <sys/socket.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <ctime>

namespace hakit::mysql {

namespace {

// One asynchronous request. Heap-allocated: when the lookup cannot be cancelled it is left
// to finish in glibc's helper thread, which still writes into it.
struct Request {
  std::string name;
  addrinfo hints{};
  gaicb cb{};
};

std::string numeric(const addrinfo* ai) {
  char buf[INET6_ADDRSTRLEN] = {};
  if (getnameinfo(ai->ai_addr, ai->ai_addrlen, buf, sizeof buf, nullptr, 0, NI_NUMERICHOST) != 0)
    return "";
  return buf;
}

}  // namespace

bool is_literal_host(const std::string& host) {
  if (host == "localhost") return true;
  unsigned char buf[sizeof(in6_addr)];
  return inet_pton(AF_INET, host.c_str(), buf) == 1 || inet_pton(AF_INET6, host.c_str(), buf) == 1;
}

Lookup resolve_bounded(const std::string& host, Millis limit) {
  Lookup out;
  auto* req = new Request;
  req->name = host;
  req->hints.ai_family = AF_UNSPEC;
  req->hints.ai_socktype = SOCK_STREAM;
  req->hints.ai_flags = AI_ADDRCONFIG;
  req->cb.ar_name = req->name.c_str();
  req->cb.ar_request = &req->hints;
  gaicb* list[] = {&req->cb};
  if (int rc = getaddrinfo_a(GAI_NOWAIT, list, 1, nullptr); rc != 0) {
    out.error = gai_strerror(rc);
    delete req;
    return out;
  }
  const auto deadline = std::chrono::steady_clock::now() + limit;
  int rc = EAI_INPROGRESS;
  for (;;) {
    auto left = std::chrono::duration_cast<std::chrono::nanoseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) break;
    timespec ts{static_cast<time_t>(left.count() / 1'000'000'000),
                static_cast<long>(left.count() % 1'000'000'000)};
    rc = gai_suspend(list, 1, &ts);
    if (rc == EAI_INTR || (rc == EAI_SYSTEM && errno == EINTR)) continue;
    break;
  }
  rc = gai_error(&req->cb);
  if (rc == EAI_INPROGRESS) {
    out.outcome = Lookup::Outcome::kTimedOut;
    // Not cancellable once glibc's thread runs it: leave the request to it (a few bytes, only
    // on this failure path); freeing it here would let that thread write into freed memory.
    if (gai_cancel(&req->cb) == EAI_CANCELED) delete req;
    return out;
  }
  if (rc != 0) {
    out.error = gai_strerror(rc);
  } else if (req->cb.ar_result) {
    out.address = numeric(req->cb.ar_result);
    out.outcome = out.address.empty() ? Lookup::Outcome::kFailed : Lookup::Outcome::kResolved;
    if (out.address.empty()) out.error = "no usable address";
  }
  if (req->cb.ar_result) freeaddrinfo(req->cb.ar_result);
  delete req;
  return out;
}

}  // namespace hakit::mysql
