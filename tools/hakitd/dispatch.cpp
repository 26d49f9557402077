#include "hakitd/dispatch.hpp"

#include <spdlog/spdlog.h>

#include <vector>

namespace hakit::hakitd {

void Dispatcher::submit(notify::Event ev) {
  std::lock_guard<std::mutex> lock(mu_);
  if (closing_) {
    spdlog::error("{} {}: arrived while hakitd stops; not run", ev.instance, ev.state);
    return;
  }
  auto& lane = lanes_[ev.instance];
  const bool start = !lane;
  if (start) lane = std::make_unique<Lane>();
  const std::string instance = ev.instance;
  lane->queue.push_back(std::move(ev));
  if (start) lane->worker = std::thread([this, instance] { work(instance); });
  cv_.notify_all();
}

void Dispatcher::work(const std::string& instance) {
  std::unique_lock<std::mutex> lock(mu_);
  Lane& lane = *lanes_.at(instance);
  for (;;) {
    cv_.wait(lock, [&] { return closing_ || !lane.queue.empty(); });
    if (lane.queue.empty()) return;  // closing and nothing left
    notify::Event ev = std::move(lane.queue.front());
    lane.queue.pop_front();
    lane.running = true;
    lock.unlock();
    try {
      handler_(ev);
    } catch (const std::exception& e) {
      spdlog::error("{} {}: {}", ev.instance, ev.state, e.what());
    }
    lock.lock();
    lane.running = false;
  }
}

void Dispatcher::shutdown() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    closing_ = true;
    cv_.notify_all();
  }
  // Workers only read their own lane, which stays in the map until they are joined.
  std::vector<std::thread*> workers;
  {
    std::lock_guard<std::mutex> lock(mu_);
    for (auto& [name, lane] : lanes_) workers.push_back(&lane->worker);
  }
  for (auto* w : workers)
    if (w->joinable()) w->join();
}

size_t Dispatcher::pending() const {
  std::lock_guard<std::mutex> lock(mu_);
  size_t n = 0;
  for (const auto& [name, lane] : lanes_) n += lane->queue.size() + (lane->running ? 1 : 0);
  return n;
}

}  // namespace hakit::hakitd
