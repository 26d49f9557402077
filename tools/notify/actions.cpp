#include "notify/actions.hpp"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <algorithm>

namespace hakit::notify {

namespace {

std::string tail_line(const std::string& s) {
  std::string t = s;
  while (!t.empty() && (t.back() == '\n' || t.back() == '\r' || t.back() == ' ')) t.pop_back();
  auto nl = t.rfind('\n');
  if (nl != std::string::npos) t = t.substr(nl + 1);
  if (t.size() > 300) t = t.substr(0, 300) + "...";
  return t;
}

Attempt run_argv(std::vector<std::string> argv, const std::vector<std::string>& env,
                 RunContext& ctx, Clock::time_point deadline) {
  Attempt at;
  ProcessSpec spec;
  spec.argv = std::move(argv);
  spec.env_extra = env;
  // The children learn what is happening without any secret: instance, state, role before.
  spec.env_extra.push_back("HAKIT_INSTANCE=" + ctx.event.instance);
  spec.env_extra.push_back("HAKIT_STATE=" + ctx.event.state);
  spec.env_extra.push_back("HAKIT_FROM=" + ctx.from_role);
  spec.timeout = remaining(deadline);
  ProcessResult r = ctx.svc.runner->run(spec);
  at.details["command"] = format_argv(spec.argv);
  at.details["result"] = r.describe();
  at.ok = r.ok();
  if (!at.ok) {
    std::string why = tail_line(r.err.empty() ? r.out : r.err);
    at.error = fmt::format("{}: {}{}", format_argv(spec.argv), r.describe(),
                           why.empty() ? "" : ": " + why);
  }
  return at;
}

Attempt run_flag(const config::FlagSpec& a, RunContext& ctx) {
  Attempt at;
  std::string err;
  if (a.op == config::FlagOp::kSet) {
    FailoverFlag f;
    f.set_by = log_tool_name(ctx);
    f.instance = ctx.event.instance;
    f.reason = fmt::format("{} became {}", ctx.event.instance, ctx.event.state);
    at.ok = set_failover_flag(ctx.cfg.state_dir, f, &err);
  } else {
    at.ok = clear_failover_flag(ctx.cfg.state_dir, &err);
  }
  at.error = err;
  at.details["flag"] = config::to_string(a.op);
  return at;
}

std::string default_body(const RunContext& ctx) {
  return "hakit on {host}: instance {instance} went {state} at {time} (was {from}).\n"
         "Outcome so far: {outcome}{message}\n\n"
         "Actions:\n{actions}\n"
         "Positions: {positions}\n\n"
         "Journal: " + ctx.cfg.journal_path() + "\n";
}

Attempt run_notify(const config::NotifySpec& a, RunContext& ctx, Clock::time_point deadline) {
  Attempt at;
  auto it = ctx.cfg.notifications.find(a.channel);
  if (it == ctx.cfg.notifications.end()) {
    at.error = "no notifications: channel named '" + a.channel + "'";
    return at;
  }
  auto vars = placeholders(ctx);
  std::vector<std::string> errors;
  if (const auto& email = it->second.email) {
    std::string subject = expand(a.subject.empty() ? email->subject : a.subject, vars);
    std::string err;
    bool sent = ctx.svc.messenger->send_email(*email, subject, expand(default_body(ctx), vars),
                                              remaining(deadline), &err);
    at.details["email"] = sent ? "sent" : err;
    if (!sent) errors.push_back("e-mail: " + err);
  }
  if (const auto& hook = it->second.webhook) {
    std::string err;
    bool sent = ctx.svc.messenger->post_json(*hook, dump_json(webhook_document(ctx)),
                                             remaining(deadline), &err);
    at.details["webhook"] = sent ? "sent" : err;
    if (!sent) errors.push_back("webhook: " + err);
  }
  at.ok = errors.empty();
  for (const auto& e : errors) at.error += (at.error.empty() ? "" : "; ") + e;
  return at;
}

}  // namespace

std::string log_tool_name(const RunContext& ctx) {
  return ctx.event.promotion() ? "notify_master" : "notify_backup";
}

Millis remaining(Clock::time_point deadline) {
  auto left = std::chrono::duration_cast<Millis>(deadline - Clock::now());
  return std::max(left, Millis(1));
}

std::map<std::string, std::string> placeholders(const RunContext& ctx) {
  std::string positions;
  for (const auto& [k, v] : ctx.positions.items())
    positions += (positions.empty() ? "" : ", ") + k + "=" + (v.is_string() ? v.get<std::string>() : dump_json(v));
  std::string actions;
  for (const auto& r : ctx.actions)
    actions += fmt::format("  {}: {}{}{}\n", r.value("action", ""), r.value("outcome", ""),
                           r.contains("ms") ? fmt::format(" ({} ms)", r.value("ms", 0)) : "",
                           r.contains("error") ? " - " + r.value("error", "") : "");
  return {{"instance", ctx.event.instance},
          {"state", ctx.event.state},
          {"event", fmt::format("{} {} {}", ctx.event.type, ctx.event.instance, ctx.event.state)},
          {"host", hostname()},
          {"time", now_rfc3339()},
          {"from", ctx.from_role.empty() ? "unknown" : ctx.from_role},
          {"to", ctx.event.role()},
          {"outcome", ctx.outcome == "ok" ? "ok" : "FAILED"},
          {"message", ctx.message.empty() ? "" : " - " + ctx.message},
          {"positions", positions.empty() ? "none" : positions},
          {"actions", actions.empty() ? "  (none before this notification)\n" : actions}};
}

Json webhook_document(const RunContext& ctx) {
  return Json{{"source", "hakit"},
              {"instance", ctx.event.instance},
              {"type", ctx.event.type},
              {"state", ctx.event.state},
              {"priority", ctx.event.priority},
              {"from", ctx.from_role},
              {"to", ctx.event.role()},
              {"host", hostname()},
              {"time", now_rfc3339()},
              {"outcome", ctx.outcome},
              {"message", ctx.message},
              {"positions", ctx.positions},
              {"actions", ctx.actions}};
}

Attempt run_once(const config::Action& a, RunContext& ctx, Clock::time_point deadline) {
  return std::visit(
      config::Overloaded{
          [&](const config::RunSpec& r) { return run_argv(r.argv, r.env, ctx, deadline); },
          [&](const config::ServiceSpec& v) {
            return run_argv({"systemctl", config::to_string(v.op), v.unit}, {}, ctx, deadline);
          },
          [&](const config::SyncSpec& j) {
            return run_argv({ctx.svc.self_dir + "/sitesync", "--config", ctx.config_path, j.job},
                            {}, ctx, deadline);
          },
          [&](const config::FlagSpec& f) { return run_flag(f, ctx); },
          [&](const config::NotifySpec& n) { return run_notify(n, ctx, deadline); },
          [&](const config::MysqlPromoteSpec& p) { return mysql_promote(p, ctx, deadline); },
          [&](const config::MysqlDemoteSpec& d) { return mysql_demote(d, ctx, deadline); },
      },
      a.spec);
}

std::string run_action(const config::Action& a, size_t index, RunContext& ctx) {
  const auto start = Clock::now();
  const std::string label = a.label();
  Attempt at;
  int attempts = 0;
  Millis pause = a.backoff;
  for (;;) {
    ++attempts;
    spdlog::debug("{} {}: action {} '{}' attempt {}", ctx.event.instance, ctx.event.state,
                  index + 1, label, attempts);
    at = run_once(a, ctx, Clock::now() + a.timeout);
    if (at.ok || at.refused || attempts > a.retries) break;
    spdlog::warn("{} {}: '{}' failed (attempt {}/{}): {}; retrying in {}", ctx.event.instance,
                 ctx.event.state, label, attempts, a.retries + 1, at.error, format_duration(pause));
    ctx.svc.sleep(pause);
    pause = std::min(pause * 2, Millis(60000));
  }
  const auto ms = std::chrono::duration_cast<Millis>(Clock::now() - start).count();
  std::string outcome = at.ok ? "ok" : at.refused ? "refused" : "failed";
  Json rec{{"action", label}, {"kind", a.kind()}, {"outcome", outcome}, {"attempts", attempts},
           {"ms", ms}};
  if (!at.ok) rec["error"] = at.error;
  if (!at.details.empty()) rec["details"] = at.details;
  ctx.actions.push_back(rec);
  if (at.ok) {
    spdlog::info("{} {}: '{}' ok in {} ms", ctx.event.instance, ctx.event.state, label, ms);
  } else {
    spdlog::error("{} {}: '{}' {} after {} attempt{} ({} ms): {}{}", ctx.event.instance,
                  ctx.event.state, label, outcome, attempts, attempts == 1 ? "" : "s", ms, at.error,
                  a.on_failure == config::OnFailure::kContinue ? " (on_failure: continue)" : "");
  }
  return outcome;
}

}  // namespace hakit::notify
