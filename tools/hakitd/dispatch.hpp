#pragma once
// keepalived's events, run asynchronously but in arrival order per instance: the FIFO reader
// only queues (it must keep draining the FIFO), and one worker per instance runs that
// instance's events one after the other. Two instances never wait for each other.
#include <condition_variable>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "notify/notify.hpp"

namespace hakit::hakitd {

class Dispatcher {
 public:
  using Handler = std::function<void(const notify::Event&)>;
  explicit Dispatcher(Handler handler) : handler_(std::move(handler)) {}
  ~Dispatcher() { shutdown(); }
  Dispatcher(const Dispatcher&) = delete;
  Dispatcher& operator=(const Dispatcher&) = delete;

  /// Queues an event behind the others of its instance (never blocks on a running one).
  void submit(notify::Event ev);
  /// Runs what is queued, then ends the workers. Later submits are dropped (logged).
  void shutdown();
  /// Events queued or running, over every instance.
  size_t pending() const;

 private:
  struct Lane {
    std::deque<notify::Event> queue;
    bool running = false;
    std::thread worker;
  };
  void work(const std::string& instance);
  Handler handler_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::map<std::string, std::unique_ptr<Lane>> lanes_;
  bool closing_ = false;
};

}  // namespace hakit::hakitd
