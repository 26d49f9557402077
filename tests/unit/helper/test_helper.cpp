// A helper process for unit tests that need a second real process: lock contention,
// concurrent journal appends, children that ignore SIGTERM and fork grandchildren.
//   test_helper lock PATH HOLD_MS        take the lock, hold it, release
//   test_helper journal PATH N TAG       append N entries
//   test_helper stubborn PIDFILE         ignore SIGTERM, fork a grandchild, sleep forever
//   test_helper orphan PIDFILE           print "hello", leave a child holding stdout, exit 0
//   test_helper raise SIGNUM             die by that signal
//   test_helper arp-holders ADDR IFACE MS  the other hosts answering ARP for ADDR (one MAC a line)
#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <string>
#include <thread>

#include "common/arp_probe.hpp"
#include "common/lock.hpp"
#include "common/state.hpp"

int main(int argc, char** argv) {
  if (argc < 3) return 2;
  std::string cmd = argv[1];
  if (cmd == "lock" && argc == 4) {
    std::string err;
    auto lock = hakit::FileLock::acquire(argv[2], hakit::Millis(10000), &err);
    if (!lock) {
      std::fprintf(stderr, "%s\n", err.c_str());
      return 1;
    }
    std::puts("locked");
    std::fflush(stdout);
    std::this_thread::sleep_for(std::chrono::milliseconds(std::atoi(argv[3])));
    return 0;
  }
  if (cmd == "journal" && argc == 5) {
    hakit::Journal j(argv[2]);
    for (int i = 0; i < std::atoi(argv[3]); ++i) {
      std::string err;
      if (!j.append({{"tag", argv[4]}, {"i", i}, {"pad", std::string(200, 'x')}}, &err)) {
        std::fprintf(stderr, "%s\n", err.c_str());
        return 1;
      }
    }
    return 0;
  }
  if (cmd == "arp-holders" && argc == 5) {
    std::string err;
    auto macs = hakit::other_holders(argv[2], argv[3], hakit::Millis(std::atoi(argv[4])), &err);
    if (!macs) {
      std::fprintf(stderr, "%s\n", err.c_str());
      return 1;
    }
    for (const auto& m : *macs) std::puts(m.c_str());
    return 0;
  }
  if (cmd == "stubborn") {
    signal(SIGTERM, SIG_IGN);
    pid_t child = fork();
    if (child == 0) {
      signal(SIGTERM, SIG_IGN);
      for (;;) pause();
    }
    std::ofstream(argv[2]) << child << "\n";
    for (;;) pause();
  }
  if (cmd == "orphan") {
    pid_t child = fork();
    if (child == 0) {
      sleep(30);
      _exit(0);
    }
    std::ofstream(argv[2]) << child << "\n";
    std::fputs("hello", stdout);
    std::fflush(stdout);
    return 0;
  }
  if (cmd == "raise") {
    signal(std::atoi(argv[2]), SIG_DFL);
    raise(std::atoi(argv[2]));
    return 0;
  }
  return 2;
}
