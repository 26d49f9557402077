#include "common/netaddr.hpp"

#include <arpa/inet.h>
#include <ifaddrs.h>
#include <netinet/in.h>

#include <cerrno>
#include <cstring>

namespace hakit {

std::optional<bool> address_is_local(const std::string& address, const std::string& interface,
                                     std::string* err) {
  const std::string addr = address.substr(0, address.find('/'));
  // Compare binary addresses so every spelling of an IPv6 address matches.
  unsigned char want[sizeof(in6_addr)] = {};
  int family = AF_INET;
  if (inet_pton(AF_INET, addr.c_str(), want) != 1) {
    family = AF_INET6;
    if (inet_pton(AF_INET6, addr.c_str(), want) != 1) {
      *err = "'" + address + "' is not an IPv4 or IPv6 address";
      return std::nullopt;
    }
  }
  ifaddrs* list = nullptr;
  if (getifaddrs(&list) != 0) {
    *err = std::string("getifaddrs: ") + std::strerror(errno);
    return std::nullopt;
  }
  bool found = false;
  for (ifaddrs* i = list; i && !found; i = i->ifa_next) {
    if (!i->ifa_addr || i->ifa_addr->sa_family != family) continue;
    // keepalived labels VIPs "eth0:1"; the label's base is the interface.
    const std::string name = i->ifa_name ? i->ifa_name : "";
    if (!interface.empty() && name != interface && name.rfind(interface + ":", 0) != 0) continue;
    if (family == AF_INET) {
      const auto* sa = reinterpret_cast<const sockaddr_in*>(i->ifa_addr);
      found = std::memcmp(&sa->sin_addr, want, sizeof(in_addr)) == 0;
    } else {
      const auto* sa = reinterpret_cast<const sockaddr_in6*>(i->ifa_addr);
      found = std::memcmp(&sa->sin6_addr, want, sizeof(in6_addr)) == 0;
    }
  }
  freeifaddrs(list);
  return found;
}

std::string bracket_host(const std::string& host) {
  return host.find(':') != std::string::npos && host.front() != '[' ? "[" + host + "]" : host;
}

}  // namespace hakit
