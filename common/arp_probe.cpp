#include "common/arp_probe.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <ifaddrs.h>
#include <net/ethernet.h>
#include <net/if.h>
#include <net/if_arp.h>
#include <netinet/in.h>
#include <netpacket/packet.h>
#include <poll.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>

namespace hakit {

namespace {

// ARP over Ethernet for IPv4: the fixed header, then sha(6) spa(4) tha(6) tpa(4).
constexpr std::size_t kArpLen = 28;

std::string mac_text(const unsigned char* m) {
  char buf[18];
  std::snprintf(buf, sizeof buf, "%02x:%02x:%02x:%02x:%02x:%02x", m[0], m[1], m[2], m[3], m[4], m[5]);
  return buf;
}

std::string errno_text(const char* what) { return std::string(what) + ": " + std::strerror(errno); }

// The interface `address` is configured on (its base name, without a keepalived label).
std::string interface_of(std::uint32_t addr_be) {
  ifaddrs* list = nullptr;
  if (getifaddrs(&list) != 0) return "";
  std::string name;
  for (ifaddrs* i = list; i; i = i->ifa_next) {
    if (!i->ifa_addr || i->ifa_addr->sa_family != AF_INET || !i->ifa_name) continue;
    if (reinterpret_cast<const sockaddr_in*>(i->ifa_addr)->sin_addr.s_addr == addr_be) {
      name = i->ifa_name;
      break;
    }
  }
  freeifaddrs(list);
  return name.substr(0, name.find(':'));
}

struct Fd {
  int fd = -1;
  ~Fd() {
    if (fd >= 0) close(fd);
  }
};

}  // namespace

std::vector<unsigned char> arp_probe_frame(const unsigned char mac[6], std::uint32_t target_be) {
  std::vector<unsigned char> f(kArpLen, 0);
  f[0] = 0x00, f[1] = 0x01;  // hardware: Ethernet
  f[2] = 0x08, f[3] = 0x00;  // protocol: IPv4
  f[4] = 6, f[5] = 4;
  f[6] = 0x00, f[7] = 0x01;  // request
  std::memcpy(&f[8], mac, 6);
  // spa 0.0.0.0 (a probe), tha zero
  std::memcpy(&f[24], &target_be, 4);
  return f;
}

std::optional<std::string> arp_holder_of(const unsigned char* f, std::size_t len,
                                         std::uint32_t target_be, const unsigned char own_mac[6]) {
  if (len < kArpLen) return std::nullopt;
  if (f[0] != 0x00 || f[1] != 0x01 || f[2] != 0x08 || f[3] != 0x00 || f[4] != 6 || f[5] != 4)
    return std::nullopt;
  const int op = f[6] << 8 | f[7];
  if (op != 1 && op != 2) return std::nullopt;
  // Sent from the holder's address: a reply, a gratuitous ARP or a request it makes itself.
  if (std::memcmp(&f[14], &target_be, 4) != 0) return std::nullopt;
  if (std::memcmp(&f[8], own_mac, 6) == 0) return std::nullopt;
  return mac_text(&f[8]);
}

std::optional<std::vector<std::string>> other_holders(const std::string& address,
                                                      const std::string& interface, Millis wait,
                                                      std::string* err) {
  const std::string addr = address.substr(0, address.find('/'));
  in_addr target{};
  if (inet_pton(AF_INET, addr.c_str(), &target) != 1) {
    *err = "'" + address + "' is not an IPv4 address (ARP only; IPv6 VIPs are not probed)";
    return std::nullopt;
  }
  std::string ifname = interface.substr(0, interface.find(':'));
  if (ifname.empty()) ifname = interface_of(target.s_addr);
  if (ifname.empty()) {
    *err = "the address " + addr + " is on no interface here, and none was configured";
    return std::nullopt;
  }
  const unsigned ifindex = if_nametoindex(ifname.c_str());
  if (ifindex == 0) {
    *err = errno_text(("interface " + ifname).c_str());
    return std::nullopt;
  }
  Fd s;
  s.fd = socket(AF_PACKET, SOCK_DGRAM | SOCK_CLOEXEC, htons(ETH_P_ARP));
  if (s.fd < 0) {
    *err = errno_text("ARP socket (needs CAP_NET_RAW: run as root)");
    return std::nullopt;
  }
  ifreq ifr{};
  std::snprintf(ifr.ifr_name, sizeof ifr.ifr_name, "%s", ifname.c_str());
  if (ioctl(s.fd, SIOCGIFHWADDR, &ifr) != 0) {
    *err = errno_text(("MAC of " + ifname).c_str());
    return std::nullopt;
  }
  if (ifr.ifr_hwaddr.sa_family != ARPHRD_ETHER) {
    *err = ifname + " is not an Ethernet interface";
    return std::nullopt;
  }
  unsigned char mac[6];
  std::memcpy(mac, ifr.ifr_hwaddr.sa_data, 6);
  sockaddr_ll ll{};
  ll.sll_family = AF_PACKET;
  ll.sll_protocol = htons(ETH_P_ARP);
  ll.sll_ifindex = static_cast<int>(ifindex);
  if (bind(s.fd, reinterpret_cast<sockaddr*>(&ll), sizeof ll) != 0) {
    *err = errno_text(("bind to " + ifname).c_str());
    return std::nullopt;
  }
  ll.sll_halen = 6;
  std::memset(ll.sll_addr, 0xff, 6);
  const auto frame = arp_probe_frame(mac, target.s_addr);
  if (sendto(s.fd, frame.data(), frame.size(), 0, reinterpret_cast<sockaddr*>(&ll), sizeof ll) < 0) {
    *err = errno_text(("ARP probe on " + ifname).c_str());
    return std::nullopt;
  }
  std::vector<std::string> macs;
  const auto deadline = std::chrono::steady_clock::now() + wait;
  for (;;) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
                          deadline - std::chrono::steady_clock::now())
                          .count();
    if (left <= 0) break;
    pollfd p{s.fd, POLLIN, 0};
    const int n = poll(&p, 1, static_cast<int>(left));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    unsigned char buf[256];
    const ssize_t got = recv(s.fd, buf, sizeof buf, MSG_DONTWAIT);
    if (got < 0) continue;
    if (auto m = arp_holder_of(buf, static_cast<std::size_t>(got), target.s_addr, mac))
      macs.push_back(*m);
  }
  std::sort(macs.begin(), macs.end());
  macs.erase(std::unique(macs.begin(), macs.end()), macs.end());
  return macs;
}

}  // namespace hakit
