#pragma once
// Who else holds an IPv4 address on the link? An ARP probe (RFC 5227: sender address
// 0.0.0.0, so no neighbour's ARP cache changes) for the VIP, sent from this host's MAC: every
// other host that has the address configured answers it. Two keepalived MASTERs that cannot
// hear each other's VRRP (protocol 112 dropped, a one-way fault) both hold the VIP and both
// answer; this is how a node sees that directly instead of guessing from its peer's database.
// Needs CAP_NET_RAW (keepalived runs hakit's scripts as root). A link cut between the nodes
// hides them from each other here too: then only the arbiter can tell.
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "common/units.hpp"

namespace hakit {

/// How long hakit waits for ARP answers from other holders of a VIP (a LAN answers in < 1 ms).
inline constexpr Millis kVipProbeWait{100};
/// A second probe this long after an answer confirms it (a failover's old master lets the VIP
/// go within milliseconds; a live one cut off from VRRP keeps it).
inline constexpr Millis kVipConfirmAfter{50};
/// The same, where the answer makes a promotion give up and mark itself fenced (notify's
/// arbiter gate): longer, still well within the guard's two runs 0.5 s apart.
inline constexpr Millis kVipGateConfirm{200};

/// The probe's frame (an ARP request without the Ethernet header): who has `target`, tell
/// 0.0.0.0, from `mac` (6 bytes).
std::vector<unsigned char> arp_probe_frame(const unsigned char mac[6], std::uint32_t target_be);

/// The sender MAC ("aa:bb:cc:dd:ee:ff") of an ARP frame (without the Ethernet header) that
/// says another host holds `target`: a reply from it, or its own announcement or probe
/// answer; nullopt for anything else, including frames sent from `own_mac`.
std::optional<std::string> arp_holder_of(const unsigned char* frame, std::size_t len,
                                         std::uint32_t target_be, const unsigned char own_mac[6]);

/// Sends the probe for `address` (IPv4, "/prefix" ignored) on `interface` (a keepalived
/// label "eth0:1" means eth0; empty: the interface the address is on) and collects answers
/// for `wait`. The MACs of the other hosts that answered, sorted, without duplicates;
/// nullopt + *err when it cannot ask (not IPv4, no such interface, no CAP_NET_RAW).
std::optional<std::vector<std::string>> other_holders(const std::string& address,
                                                      const std::string& interface, Millis wait,
                                                      std::string* err);

}  // namespace hakit
