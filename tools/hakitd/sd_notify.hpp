#pragma once
// systemd's notification protocol (sd_notify(3)): one datagram of "KEY=VALUE" lines to the
// AF_UNIX socket in $NOTIFY_SOCKET. Done by hand (a dozen lines) rather than linking
// libsystemd, which would add a shared library and its start-up to a binary that must also
// run where systemd is absent (the test labs, containers): without $NOTIFY_SOCKET every call
// is a no-op.
#include <optional>
#include <string>

#include "common/units.hpp"

namespace hakit::hakitd {

/// Sends `state` ("READY=1", "WATCHDOG=1", "STOPPING=1", "STATUS=...") when systemd asked for
/// notifications. False only when a socket is configured and the send failed.
bool sd_notify(const std::string& state);

/// The watchdog interval systemd expects pings within ($WATCHDOG_USEC, when $WATCHDOG_PID is
/// unset or ours); nullopt when there is no watchdog.
std::optional<Millis> watchdog_interval();

}  // namespace hakit::hakitd
