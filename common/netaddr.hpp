#pragma once
// Is an address configured on this host? notify's stale-event check, sitesync's role gate
// and hakit-status all ask; one answer, from getifaddrs(3) (no shell, no `ip` command).
#include <optional>
#include <string>

namespace hakit {

/// True when `address` (IPv4 or IPv6; a "/prefix" suffix is ignored) is on an interface of
/// this host, on `interface` (or one of its keepalived labels, "eth0:1") when that is not
/// empty. nullopt with *err when `address` is not an address or the interfaces cannot be
/// read: the caller decides what "cannot tell" means, and says so.
std::optional<bool> address_is_local(const std::string& address, const std::string& interface,
                                     std::string* err);

/// `host` as it goes before ":port" in a URL or a message: an IPv6 literal in brackets.
std::string bracket_host(const std::string& host);

}  // namespace hakit
