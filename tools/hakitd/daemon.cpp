#include "hakitd/daemon.hpp"

#include <fmt/format.h>
#include <signal.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <algorithm>
#include <ctime>

#include "common/exit_codes.hpp"
#include "common/state.hpp"
#include "hakitd/fifo.hpp"
#include "hakitd/sd_notify.hpp"
#include "notify/config.hpp"
#include "sections.hpp"

namespace hakit::hakitd {

namespace {

/// How long past its period or timeout a probe thread may go silent before the watchdog is
/// no longer fed (systemd then restarts hakitd; keepalived's track_process guard covers it).
constexpr Millis kStallSlack{5000};

/// A FIFO line quoted for the log: bounded, control characters escaped.
std::string quoted(const std::string& line) {
  std::string out;
  for (unsigned char c : line.substr(0, 200)) {
    if (c < 0x20 || c == 0x7f)
      out += fmt::format("\\x{:02x}", c);
    else
      out += static_cast<char>(c);
  }
  if (line.size() > 200) out += "...";
  return out;
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// CheckRunner

CheckRunner::CheckRunner(config::DaemonCheck cfg, std::unique_ptr<Probe> probe,
                         std::string journal_path)
    : cfg_(std::move(cfg)),
      probe_(std::move(probe)),
      journal_path_(std::move(journal_path)),
      health_(cfg_.hysteresis),
      track_(cfg_.track_file, cfg_.fail_value) {
  status_.name = cfg_.name;
  status_.type = cfg_.type;
  status_.track_file = cfg_.track_file;
  status_.reason = health_.reason();
  status_.since = now_rfc3339();
  last_progress_ = Clock::now();
}

CheckRunner::~CheckRunner() {
  stop();
}

void CheckRunner::inherit(const CheckRunner& old) {
  std::scoped_lock lock(mu_, old.mu_);
  health_ = old.health_;
  health_.set_hysteresis(cfg_.hysteresis);
  CheckStatus keep = old.status_;
  keep.type = status_.type;
  keep.track_file = status_.track_file;
  keep.in_flight = false;
  status_ = keep;
}

void CheckRunner::start() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    last_progress_ = Clock::now();
    apply(false, "");  // a stale file from an earlier run says what we know now: failed
  }
  thread_ = std::thread([this] { loop(); });
}

void CheckRunner::stop() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void CheckRunner::give_up() {
  std::lock_guard<std::mutex> lock(mu_);
  gave_up_ = true;
  std::string err;
  if (!track_.force_failed(&err))
    spdlog::error("check {}: cannot write the failed value: {}", cfg_.name, err);
  else
    spdlog::info("check {}: {} now says failed ({})", cfg_.name, cfg_.track_file,
                 track_.value(false));
}

void CheckRunner::apply(bool changed, const std::string& summary) {
  if (gave_up_) return;
  std::string err;
  const bool healthy = health_.healthy();
  if (!track_.set(healthy, &err)) spdlog::error("check {}: {}", cfg_.name, err);
  if (!changed) return;
  status_.healthy = healthy;
  status_.reason = health_.reason();
  status_.since = now_rfc3339();
  const std::string msg =
      fmt::format("check {} {}: {} ({}); {} = {}", cfg_.name, healthy ? "healthy" : "FAILED",
                  health_.reason(), summary, cfg_.track_file, track_.value(healthy));
  if (healthy)
    spdlog::info("{}", msg);
  else
    spdlog::warn("{}", msg);
  Json j{{"kind", "check"},
         {"check", cfg_.name},
         {"healthy", healthy},
         {"reason", health_.reason()},
         {"summary", summary},
         {"track_file", cfg_.track_file},
         {"value", track_.value(healthy)},
         {"tool", "hakitd"}};
  if (!Journal(journal_path_).append(j, &err)) spdlog::error("journal: {}", err);
}

void CheckRunner::loop() {
  auto due = Clock::now();
  std::unique_lock<std::mutex> lock(mu_);
  while (!stopping_) {
    if (cv_.wait_until(lock, due, [&] { return stopping_; })) break;
    const auto started = Clock::now();
    in_flight_since_ = started;
    status_.in_flight = true;
    lock.unlock();
    CheckResult r;
    bool passed = false;
    try {
      r = probe_->run();
      passed = probe_->passed(r);
    } catch (const std::exception& e) {
      r = CheckResult{State::kUnknown, std::string("probe failed: ") + e.what(), {}};
    }
    const auto now = Clock::now();
    lock.lock();
    in_flight_since_.reset();
    status_.in_flight = false;
    last_progress_ = now;
    ++status_.probes;
    if (!passed) ++status_.failures;
    status_.last_state = state_name(r.state);
    status_.last_summary = r.summary;
    status_.last_passed = passed;
    status_.last_latency = std::chrono::duration<double>(now - started).count();
    spdlog::trace("check {}: {} {} in {:.3f} s", cfg_.name, status_.last_state, r.summary,
                  status_.last_latency);
    apply(health_.observe(passed, started, now), r.summary);
    due = next_due(due, now, cfg_.period);
  }
}

void CheckRunner::supervise(Clock::time_point now) {
  std::lock_guard<std::mutex> lock(mu_);
  bool changed = in_flight_since_ && health_.in_flight(*in_flight_since_, now);
  apply(changed, changed ? "probe still running" : "");
}

bool CheckRunner::alive(Clock::time_point now) const {
  std::lock_guard<std::mutex> lock(mu_);
  if (in_flight_since_) return now - *in_flight_since_ < probe_->timeout() + kStallSlack;
  return now - last_progress_ < cfg_.period + kStallSlack;
}

CheckStatus CheckRunner::status() const {
  std::lock_guard<std::mutex> lock(mu_);
  return status_;
}

// ---------------------------------------------------------------------------------------------
// Daemon

Daemon::~Daemon() {
  stopping_ = true;
  if (fifo_thread_.joinable()) fifo_thread_.join();
  if (dispatcher_) dispatcher_->shutdown();
  for (auto& r : runners_) r->stop();
}

void Daemon::block_signals() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGHUP);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
}

bool Daemon::build(std::shared_ptr<const config::Document> doc, const config::DaemonConfig& dc,
                   std::vector<std::unique_ptr<CheckRunner>>* out, std::string* err) {
  for (const auto& c : dc.checks) {
    std::string why;
    auto probe = make_probe(*doc, c, &why);
    if (!probe) {
      *err = fmt::format("check {}: {}", c.name, why);
      return false;
    }
    out->push_back(std::make_unique<CheckRunner>(c, std::move(probe), doc->journal_path()));
  }
  return true;
}

bool Daemon::load(std::string* err) {
  auto doc = std::make_shared<config::Document>();
  config::Diagnostics diag(config_path_);
  if (!config::load_document(config_path_, doc.get(), &diag)) {
    *err = diag.render();
    return false;
  }
  for (const auto& w : doc->warnings) spdlog::warn("{}", w.render());
  config::DaemonConfig dc;
  if (!config::read_daemon_config(*doc, &dc, &diag)) {
    *err = diag.render();
    return false;
  }
  if (!dc.present) {
    *err =
        fmt::format("{}: no daemon: section (which checks to run, the notify FIFO)", doc->where());
    return false;
  }
  std::vector<std::unique_ptr<CheckRunner>> runners;
  if (!build(doc, dc, &runners, err)) return false;
  std::lock_guard<std::mutex> lock(mu_);
  doc_ = std::move(doc);
  dc_ = std::move(dc);
  runners_ = std::move(runners);
  return true;
}

void Daemon::reload() {
  sd_notify("RELOADING=1");
  std::string err;
  auto doc = std::make_shared<config::Document>();
  config::Diagnostics diag(config_path_);
  config::DaemonConfig dc;
  std::vector<std::unique_ptr<CheckRunner>> fresh;
  if (!config::load_document(config_path_, doc.get(), &diag) ||
      !config::read_daemon_config(*doc, &dc, &diag) || !build(doc, dc, &fresh, &err)) {
    spdlog::error("reload refused, the running configuration stays: {}",
                  err.empty() ? diag.render() : err);
    sd_notify("READY=1");
    return;
  }
  std::vector<std::unique_ptr<CheckRunner>> old;
  {
    std::lock_guard<std::mutex> lock(mu_);
    old = std::move(runners_);
    doc_ = doc;
    const std::string old_fifo = dc_.notify_fifo;
    dc_ = dc;
    if (old_fifo != dc.notify_fifo)
      spdlog::warn("notify_fifo changed ({} -> {}): restart hakitd to read the new one", old_fifo,
                   dc.notify_fifo);
  }
  for (auto& o : old) o->stop();
  for (auto& f : fresh) {
    for (auto& o : old)
      if (o && o->config().name == f->config().name &&
          o->config().track_file == f->config().track_file)
        f->inherit(*o);
  }
  for (auto& o : old) {
    bool kept = false;
    for (auto& f : fresh) kept = kept || f->config().track_file == o->config().track_file;
    if (!kept) o->give_up();  // keepalived may still read it: it must not say healthy
  }
  for (auto& f : fresh) {
    guard_.add(f->config().track_file, std::to_string(f->config().fail_value));
    f->start();
  }
  {
    std::lock_guard<std::mutex> lock(mu_);
    runners_ = std::move(fresh);
  }
  spdlog::info("configuration reloaded from {}: {} check(s)", config_path_, dc.checks.size());
  sd_notify("READY=1");
}

void Daemon::on_fifo_line(const std::string& line) {
  std::string err;
  auto fe = parse_fifo_line(line, &err);
  if (!fe) {
    ++fifo_garbage_;
    spdlog::warn("notify FIFO: ignored a line that is not keepalived's ({}): '{}'", err,
                 quoted(line));
    return;
  }
  if (!fe->role_change()) {
    spdlog::debug("notify FIFO: {} {} {} (informational)", fe->type, fe->name, fe->state);
    return;
  }
  std::shared_ptr<const config::Document> doc;
  std::vector<std::string> handled;
  {
    std::lock_guard<std::mutex> lock(mu_);
    doc = doc_;
    handled = dc_.instances;
  }
  if (!handled.empty() && std::find(handled.begin(), handled.end(), fe->name) == handled.end()) {
    spdlog::debug("notify FIFO: {} {}: not one of daemon.instances; ignored", fe->name, fe->state);
    return;
  }
  config::NotifyConfig core = config::notify_core(*doc);
  if (!valid_instance_name(fe->name, &err) ||
      std::find(core.instance_names.begin(), core.instance_names.end(), fe->name) ==
          core.instance_names.end()) {
    spdlog::error("notify FIFO: {} {} {}: no such instance in {}; ignored", fe->type, fe->name,
                  fe->state, doc->where());
    return;
  }
  ++fifo_events_;
  notify::Event ev;
  ev.instance = fe->name;
  ev.type = fe->type;
  ev.state = fe->state;
  ev.priority = fe->priority;
  ev.args = {"hakitd", "fifo", line};
  ev.received = std::chrono::steady_clock::now();
  // The ticket is taken now, in arrival order: an event still queued when a newer one
  // arrives is superseded by the engine exactly as a notify script's would be.
  ev.ticket = notify::take_ticket(notify::ticket_path(core, ev.instance), &err);
  if (!ev.ticket) spdlog::warn("{} {}: {}", ev.instance, ev.state, err);
  spdlog::info("notify FIFO: {} {} {} (ticket {})", ev.type, ev.instance, ev.state, ev.ticket);
  dispatcher_->submit(std::move(ev));
}

void Daemon::handle(const notify::Event& ev) {
  std::shared_ptr<const config::Document> doc;
  {
    std::lock_guard<std::mutex> lock(mu_);
    doc = doc_;
  }
  // Read for this event, strictly, as notify_master would: a reload applies to the next one.
  config::NotifyConfig cfg = config::notify_core(*doc);
  config::Diagnostics diag(doc->where());
  if (!config::load_notify_config(*doc, ev.instance, &cfg, &diag)) {
    spdlog::error("{} {}: instance config is not valid; nothing changed:\n{}", ev.instance,
                  ev.state, diag.render());
    return;
  }
  notify::Services svc = notify::real_services();
  notify::handle_event(ev, cfg, config_path_, svc);
}

void Daemon::fifo_loop() {
  std::string path;
  {
    std::lock_guard<std::mutex> lock(mu_);
    path = dc_.notify_fifo;
  }
  FifoReader reader(path);
  std::string last_err;
  while (!stopping_) {
    std::string err;
    // Short waits: the loop notices a recreated FIFO and the stop request quickly.
    bool ok = reader.poll_once(
        200, [this](const std::string& l) { on_fifo_line(l); }, &err);
    if (!ok && err != last_err) spdlog::error("notify FIFO: {}", err);
    last_err = ok ? "" : err;
    fifo_opens_ = static_cast<std::uint64_t>(reader.opens());
  }
}

std::vector<CheckStatus> Daemon::statuses() const {
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<CheckStatus> out;
  for (const auto& r : runners_) out.push_back(r->status());
  return out;
}

void Daemon::write_status() {
  std::shared_ptr<const config::Document> doc;
  std::string fifo;
  {
    std::lock_guard<std::mutex> lock(mu_);
    doc = doc_;
    fifo = dc_.notify_fifo;
  }
  const auto checks = statuses();
  Json j{{"pid", getpid()},
         {"started", started_},
         {"time", now_rfc3339()},
         {"fifo",
          {{"path", fifo},
           {"events", fifo_events_.load()},
           {"garbage_lines", fifo_garbage_.load()},
           {"opens", fifo_opens_.load()}}}};
  Json list = Json::array();
  std::vector<Metric> m;
  for (const auto& c : checks) {
    list.push_back({{"name", c.name},
                    {"type", c.type},
                    {"healthy", c.healthy},
                    {"reason", c.reason},
                    {"since", c.since},
                    {"track_file", c.track_file},
                    {"last_state", c.last_state},
                    {"last_summary", c.last_summary},
                    {"last_passed", c.last_passed},
                    {"last_latency_seconds", c.last_latency},
                    {"probes", c.probes},
                    {"failures", c.failures}});
    std::vector<std::pair<std::string, std::string>> l{{"check", c.name}};
    m.push_back({"hakit_daemon_check_healthy",
                 "1 while hakitd's hysteresis says the check is healthy (its track_file says 0)",
                 "gauge", l, c.healthy ? 1.0 : 0.0});
    m.push_back({"hakit_daemon_probe_success", "1 when the last probe passed", "gauge", l,
                 c.last_passed ? 1.0 : 0.0});
    m.push_back({"hakit_daemon_probe_latency_seconds", "How long the last probe took", "gauge", l,
                 c.last_latency});
    m.push_back(
        {"hakit_daemon_probes_total", "Probes run", "counter", l, static_cast<double>(c.probes)});
    m.push_back({"hakit_daemon_probe_failures_total", "Probes that did not pass", "counter", l,
                 static_cast<double>(c.failures)});
  }
  j["checks"] = list;
  m.push_back({"hakit_daemon_fifo_events_total",
               "keepalived role changes read from the FIFO",
               "counter",
               {},
               static_cast<double>(fifo_events_.load())});
  m.push_back({"hakit_daemon_fifo_garbage_lines_total",
               "FIFO lines that were not keepalived notify lines (ignored)",
               "counter",
               {},
               static_cast<double>(fifo_garbage_.load())});
  // Metrics first: a reader that sees a new status file finds metrics at least as new.
  std::string err;
  if (!write_metrics(doc->metrics_path() + "/hakit_daemon.prom", m, &err))
    spdlog::warn("metrics: {}", err);
  if (!write_file_atomic(doc->state_dir + "/hakitd.json", dump_json(j) + "\n", 0644, &err,
                         Durability::kAtomicOnly))
    spdlog::warn("status: {}", err);
}

int Daemon::run() {
  started_ = now_rfc3339();
  // First, while hakitd has one thread: fork() copies only the caller.
  std::string err;
  if (guard_.start(&err)) {
    std::lock_guard<std::mutex> lock(mu_);
    for (const auto& c : dc_.checks) guard_.add(c.track_file, std::to_string(c.fail_value));
    spdlog::debug("exit guard {} watches {} track file(s)", guard_.pid(), dc_.checks.size());
  } else {
    spdlog::error(
        "no exit guard ({}): a SIGKILLed hakitd would leave its track files as they "
        "are; only keepalived's vrrp_track_process guards the node",
        err);
  }
  dispatcher_ = std::make_unique<Dispatcher>([this](const notify::Event& ev) { handle(ev); });
  // The supervision tick: often enough to notice a hanging probe well within fall_after and a
  // replaced track file within a period, no more (every wake-up costs CPU all day long).
  Millis tick{200};
  Millis status_every{1000};
  {
    std::lock_guard<std::mutex> lock(mu_);
    for (auto& r : runners_) r->start();
    if (!dc_.notify_fifo.empty()) fifo_thread_ = std::thread([this] { fifo_loop(); });
    status_every = dc_.status_interval;
    for (const auto& c : dc_.checks) {
      tick = std::min(tick, c.period);
      if (c.hysteresis.fall_after) tick = std::min(tick, *c.hysteresis.fall_after / 4);
    }
    tick = std::max(tick, Millis(50));
  }
  const auto watchdog = watchdog_interval();
  sd_notify(fmt::format("READY=1\nSTATUS=running {} check(s)", runners_.size()));
  spdlog::info("hakitd started: {} check(s){}", runners_.size(),
               dc_.notify_fifo.empty() ? "" : ", notify FIFO " + dc_.notify_fifo);
  write_status();

  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGHUP);
  auto last_ping = Clock::now() - std::chrono::hours(1);
  auto last_status = Clock::now();
  int stop_signal = 0;
  while (!stop_signal) {
    timespec ts{0, static_cast<long>(tick.count()) * 1000000L};
    int sig = sigtimedwait(&set, nullptr, &ts);
    if (sig == SIGHUP) reload();
    if (sig == SIGTERM || sig == SIGINT) stop_signal = sig;
    const auto now = Clock::now();
    bool all_alive = true;
    {
      std::lock_guard<std::mutex> lock(mu_);
      for (auto& r : runners_) {
        r->supervise(now);
        if (!r->alive(now)) all_alive = false;
      }
    }
    // A stuck probe thread stops the pings: systemd restarts hakitd rather than letting a
    // track file say "healthy" that nobody checks any more.
    if (watchdog && all_alive && now - last_ping >= *watchdog / 2) {
      sd_notify("WATCHDOG=1");
      last_ping = now;
    }
    if (now - last_status >= status_every) {
      write_status();
      last_status = now;
    }
  }

  spdlog::info("hakitd stopping on signal {}: every track file now says failed", stop_signal);
  sd_notify("STOPPING=1");
  stopping_ = true;
  {
    // Give up first (keepalived reads the files at once), then wait for the probes.
    std::lock_guard<std::mutex> lock(mu_);
    for (auto& r : runners_) r->give_up();
  }
  if (fifo_thread_.joinable()) fifo_thread_.join();
  if (auto n = dispatcher_->pending())
    spdlog::info("waiting for {} keepalived event(s) still queued or running", n);
  dispatcher_->shutdown();
  for (auto& r : runners_) r->stop();
  write_status();
  return 0;
}

}  // namespace hakit::hakitd
