#include "check_http_200/check_http_200.hpp"

#include <CLI/CLI.hpp>
#include <fmt/format.h>
#include <spdlog/spdlog.h>
#include <sys/stat.h>

#include <fstream>

#include "common/netaddr.hpp"
#include "common/regex/regex.hpp"
#include "common/secrets.hpp"

namespace hakit::check_http {

namespace {

constexpr const char* kTool = "check_http_200";

/// A repeatable option: every occurrence takes exactly one value (so a URL after it stays
/// positional) and the list replaces the config's.
CLI::Option* add_list(CLI::App& app, const std::string& names, std::vector<std::string>* out,
                      const std::string& help, const std::string& type) {
  return app.add_option(names, *out, help)->type_name(type)->allow_extra_args(false);
}

std::string reason_of(const http::Response& r) {
  // "HTTP/1.1 404 Not Found" -> "Not Found"
  auto sp = r.status_line.find(' ');
  if (sp == std::string::npos) return "";
  auto sp2 = r.status_line.find(' ', sp + 1);
  return sp2 == std::string::npos ? "" : r.status_line.substr(sp2 + 1);
}

bool status_expected(const std::vector<config::StatusRange>& ranges,
                     const std::vector<std::string>& status_texts, const http::Response& r) {
  for (const auto& range : ranges)
    if (r.status >= range.low && r.status <= range.high) return true;
  for (const auto& text : status_texts)
    if (r.status_line.find(text) != std::string::npos) return true;
  return false;
}

std::string join(const std::vector<std::string>& v) {
  std::string out;
  for (const auto& s : v) out += (out.empty() ? "" : ",") + s;
  return out;
}

/// Body match: substring or RE2 regex over the bytes read (NULs included). RE2 matches in
/// time linear in the body, which max_body bounds.
bool body_matches(const config::HttpCheckConfig& c, const std::string& body) {
  if (!c.body_string.empty()) return body.find(c.body_string) != std::string::npos;
  std::string err;
  auto re = regex::Regex::compile(c.body_regex, &err, c.body_regex_icase);
  return re && re->search(body);
}

std::string shorten(std::string s, size_t max = 60) {
  if (s.size() > max) s = s.substr(0, max) + "...";
  return s;
}

/// False when the command line only selects the entry (--check, --config, -v): then the
/// entry is used as it is and the parser need not be built twice (keepalived's form, paid
/// every second or two). Anything else counts as an override.
bool has_overrides(const std::vector<std::string>& args) {
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    if (a == "--check" || a == "--config") {
      ++i;
      continue;
    }
    if (a.rfind("--check=", 0) == 0 || a.rfind("--config=", 0) == 0) continue;
    bool verbose_flag =
        a.size() >= 2 && a[0] == '-' && a.find_first_not_of('v', 1) == std::string::npos;
    if (a == "--verbose" || verbose_flag) continue;
    return true;
  }
  return false;
}

void add_problem(CheckResult* res, State state, const std::string& text) {
  res->state = worst(res->state, state);
  res->summary += "; " + text;
}

/// Certificate expiry against the -C / cert_expiry_days thresholds (days left, rounded down;
/// check_http counts a certificate with exactly WARN days left as a WARNING, so does this).
void judge_certificate(const config::HttpCheckConfig& c, const http::Response& r, std::int64_t now,
                       CheckResult* res) {
  if (!c.cert_warning_days && !c.cert_critical_days) return;
  if (!r.cert_not_after) {
    add_problem(res, State::kUnknown, "certificate expiry unknown (no TLS certificate seen)");
  } else {
    std::int64_t left = *r.cert_not_after - now;
    if (left < 0) {
      // Expired (only reachable with --insecure): CRITICAL whatever the thresholds.
      add_problem(res, State::kCritical,
                  fmt::format("certificate expired {} days ago", -left / 86400));
    } else {
      std::int64_t days = left / 86400;  // whole days left, rounded down
      std::string text = fmt::format("certificate expires in {} days", days);
      if (c.cert_critical_days && days <= *c.cert_critical_days)
        add_problem(res, State::kCritical, text);
      else if (c.cert_warning_days && days <= *c.cert_warning_days)
        add_problem(res, State::kWarning, text);
    }
  }
}

}  // namespace

std::unique_ptr<CLI::App> make_parser(Options* opts, cli::CommonOptions* common) {
  auto app = cli::make_app(
      kTool,
      "One HTTP(S) request; OK when the status is expected (default 200) and the optional body "
      "string/regex matches. Prints one Nagios line. Exit 0 OK, 1 WARNING (only with "
      "--warning-fails: by default a WARNING exits 0 so a slow answer does not move a "
      "keepalived VIP), 2 CRITICAL, 3 UNKNOWN. A hung server costs exactly --timeout.",
      "  check_http_200 http://127.0.0.1/site1/\n"
      "  check_http_200 --check site                 # checks.site in hakit.yaml\n"
      "  check_http_200 --check site -t 800ms        # command line overrides the config\n"
      "  check_http_200 http://127.0.0.1:8080/client -e 200-299 -s '\"status\":\"ok\"'\n"
      "  check_http_200 https://www.example.com/health --resolve www.example.com:443:127.0.0.1\n"
      "  check_http_200 https://192.0.2.15/ -H www.example.com --ca-file /etc/hakit/ca.pem\n"
      "  check_http_200 http://127.0.0.1/ -w 0.5 -c 1 --warning-fails   # Nagios/Icinga\n"
      "check_http / check_curl command lines work as they are (see "
      "docs/migrating-from-monitoring-plugins.md):\n"
      "  check_http_200 -H www.example.com -I 192.0.2.15 -u /health -S -e 200 -w 1 -c 2\n"
      "  check_http_200 -H www.example.com -C 30,14\n"
      "keepalived: vrrp_script chk_site { script \"/usr/libexec/hakit/check_http_200 --check "
      "site\"; interval 2; timeout 3; fall 3; rise 2 }\n",
      common);
  auto& c = opts->check;
  app->add_option("url", c.url, "http:// or https:// URL to request")->type_name("URL");
  app->add_option("--check", opts->check_name,
                  "Use the checks: entry NAME (type: http) of the config")
      ->type_name("NAME");
  add_list(*app, "-e,--expect", &c.expect,
           "Expected status: codes, ranges, classes, comma separated (default 200; 200-299, 2xx); "
           "other items are text the status line must contain ('HTTP/1.1 200', as check_http)",
           "LIST");
  cli::add_positive_duration(*app, "-t,--timeout", &c.timeout,
             "Whole request, hard: DNS, connect, TLS, body (default 1500ms; bare number = s)");
  cli::add_duration(*app, "--connect-timeout", &c.connect_timeout, "DNS + TCP + TLS handshake");
  cli::add_duration(*app, "-w,--warning", &c.warning, "WARNING when the response takes longer");
  cli::add_duration(*app, "-c,--critical", &c.critical, "CRITICAL when the response takes longer");
  app->add_option("-j,--method", c.method, "GET (default) or HEAD")
      ->type_name("METHOD")
      ->transform(CLI::IsMember({"GET", "HEAD"}, CLI::ignore_case));
  app->add_option("-s,--string", c.body_string, "The body must contain this text")
      ->type_name("TEXT");
  app->add_option_function<std::string>(
         "-r,--regex,--ereg",
         [&c](const std::string& re) {
           c.body_regex = re;
           c.body_regex_icase = false;
         },
         "The body must match this regex (RE2 syntax, linear time)")
      ->type_name("REGEX")
      ->trigger_on_parse();  // with -R, the last one given decides
  app->add_flag("--invert,--invert-regex,!--no-invert", c.invert_match,
                "CRITICAL when the string/regex DOES match (e.g. an error page)");
  app->add_option("--host-header", c.host_header, "Send this Host: header (virtual host)")
      ->type_name("NAME");
  add_list(*app, "--resolve", &c.resolve,
           "Resolve HOST:PORT to ADDR, as curl --resolve (repeatable)", "HOST:PORT:ADDR");
  add_list(*app, "-k,--header", &c.headers, "Extra request header (repeatable)", "'NAME: VALUE'");
  app->add_flag("--insecure,!--no-insecure", c.insecure, "https: do not verify the certificate");
  app->add_option("--ca-file,--ca-cert", c.ca_file, "https: trust only this PEM CA bundle")
      ->type_name("FILE");
  app->add_option("-J,--client-cert", c.client_cert, "https: PEM client certificate")
      ->type_name("FILE");
  app->add_option("-K,--client-key,--private-key", c.client_key,
                  "https: PEM key of the client certificate")
      ->type_name("FILE");
  app->add_option_function<int>(
         "--cert-warning", [&c](int d) { c.cert_warning_days = d; },
         "https: WARNING when the certificate expires within DAYS")
      ->type_name("DAYS")
      ->check(CLI::Range(0, 3650));
  app->add_option_function<int>(
         "--cert-critical", [&c](int d) { c.cert_critical_days = d; },
         "https: CRITICAL when the certificate expires within DAYS")
      ->type_name("DAYS")
      ->check(CLI::Range(0, 3650));
  app->add_option("--follow", c.follow_redirects,
                  "Follow up to N redirects (default 0: a redirect is the answer)")
      ->type_name("N")
      ->check(CLI::Range(0, 50));
  app->add_option_function<std::string>(
         "--max-body",
         [&c](const std::string& text) {
           std::string err;
           auto v = parse_size(text, &err);
           if (!v || *v == 0) throw CLI::ValidationError("--max-body", v ? "must be > 0" : err);
           c.max_body = *v;
         },
         "Stop reading the body after SIZE (default 1MiB)")
      ->type_name("SIZE");
  app->add_option("--auth-file", c.auth_file,
                  "Basic auth: first line 'user:password' of this file (mode 0600)")
      ->type_name("FILE");
  app->add_option("-A,--user-agent,--useragent", c.user_agent,
                  "User-Agent (default check_http_200/VERSION)")
      ->type_name("TEXT");
  app->add_flag_callback(
      "-4", [&c] { c.ip_version = "4"; }, "Connect over IPv4 only");
  app->add_flag_callback(
      "-6", [&c] { c.ip_version = "6"; }, "Connect over IPv6 only");
  app->add_option("--proxy", c.proxy,
                  "Use this proxy (default none: http_proxy and friends are ignored)")
      ->type_name("URL");
  app->add_option_function<std::string>(
         "--maintenance-file", [opts](const std::string& p) { opts->maintenance_file = p; },
         "CRITICAL while this file exists (default: config maintenance_file or "
         "/etc/hakit/maintenance; '' disables)")
      ->type_name("FILE");
  app->add_flag("--warning-fails,!--no-warning-fails", c.warning_fails,
                "WARNING exits 1 (Nagios convention; keepalived then counts it as a failure). "
                "Default: WARNING exits 0");
  add_plugin_options(*app, opts);
  return app;
}

bool resolve_options(const config::Document& doc, const std::vector<std::string>& args,
                     Options* opts, std::string* err) {
  if (!opts->check_name.empty()) {
    // Only this entry is read: a problem anywhere else in the shared file is not ours.
    Options merged;
    config::Diagnostics diag(doc.where());
    if (!doc.entry("checks", opts->check_name).IsDefined()) {
      *err = config::missing_entry(doc, "http check", opts->check_name, doc.entry_names("checks"));
      return false;
    }
    if (!config::read_http_check(doc, opts->check_name, &merged.check, &diag)) {
      *err = "config: " + diag.items().front().render();
      for (const auto& d : diag.items()) spdlog::error("{}", d.render());
      return false;
    }
    merged.check_name = opts->check_name;
    // Seed with the entry, then apply the command line again on top: what was given there wins.
    if (has_overrides(args)) {
      cli::CommonOptions ignored;
      auto app = make_parser(&merged, &ignored);
      if (auto code = cli::parse(*app, args)) {
        *err = "bad command line";
        return false;
      }
    }
    *opts = std::move(merged);
  }
  if (!opts->maintenance_file) opts->maintenance_file = doc.maintenance_file;
  if (!apply_plugin_target(opts->target, &opts->check, err)) return false;

  const auto& c = opts->check;
  if (c.url.empty()) {
    *err = "no URL: give one, -H VHOST or -I ADDRESS (check_http style), or --check NAME";
    return false;
  }
  // The same rules as --check-config, now over the merged settings.
  std::string first;
  config::validate_http_check(c, [&](const std::string& key, const std::string& m) {
    if (first.empty()) first = key + ": " + m;
  });
  if (!first.empty()) {
    *err = first;
    return false;
  }
  // libcurl's own parser has the last word on what it will fetch.
  http::UrlParts url;
  if (!http::parse_url(c.url, &url, err)) return false;
  return true;
}

bool build_request(const config::HttpCheckConfig& c, http::Request* req, std::string* err) {
  http::UrlParts url;
  if (!http::parse_url(c.url, &url, err)) return false;
  req->method = c.method;
  req->url = c.url;
  req->timeout = c.timeout;
  req->connect_timeout = c.connect_timeout;
  req->max_redirects = c.follow_redirects;
  req->max_body_bytes = c.max_body;
  req->keep_body = !c.body_string.empty() || !c.body_regex.empty();
  req->verify_tls = !c.insecure;
  req->ca_file = c.ca_file;
  req->client_cert = c.client_cert;
  req->client_key = c.client_key;
  req->resolve = c.resolve;
  req->headers = c.headers;
  if (!c.host_header.empty()) req->headers.push_back("Host: " + c.host_header);
  std::string target_port = c.connect_port ? std::to_string(c.connect_port) : "";
  if (!c.sni.empty()) {
    // libcurl takes the TLS server name from the URL: put the name there and connect-to the
    // URL's real host (or the -H node), so SNI, Host and the certificate check use the name.
    if (!http::replace_url_host(c.url, c.sni, &req->url, err)) return false;
    req->connect_to.push_back(
        fmt::format("{}:{}:{}:{}", bracket_host(c.sni), url.port,
                    bracket_host(c.connect_host.empty() ? url.host : c.connect_host),
                    target_port.empty() ? std::to_string(url.port) : target_port));
  } else if (!c.connect_host.empty() || c.connect_port) {
    req->connect_to.push_back(fmt::format("::{}:{}", bracket_host(c.connect_host), target_port));
  }
  req->proxy = c.proxy;
  req->ip_version = c.ip_version == "4"   ? http::IpVersion::kV4
                    : c.ip_version == "6" ? http::IpVersion::kV6
                                          : http::IpVersion::kAny;
  req->user_agent = c.user_agent.empty() ? std::string(kTool) + "/" + HAKIT_VERSION : c.user_agent;
  req->cert_info = c.cert_warning_days || c.cert_critical_days;
  if (!c.auth_file.empty()) {
    auto secret = read_secret_file(c.auth_file, err);
    if (!secret) return false;
    auto colon = secret->find(':');
    if (colon == std::string::npos) {
      *err = fmt::format("{}: want one line 'user:password'", c.auth_file);
      return false;
    }
    req->username = secret->substr(0, colon);
    req->password = Secret(secret->substr(colon + 1));
  }
  return true;
}

CheckResult evaluate(const config::HttpCheckConfig& c, const http::Response& r, std::int64_t now) {
  CheckResult res;
  res.state = State::kOk;
  auto seconds_of = [](const std::optional<Millis>& m) -> std::optional<double> {
    if (!m) return std::nullopt;
    return seconds(*m);
  };
  res.perfdata.push_back({"time", r.total_seconds, "s", seconds_of(c.warning),
                          seconds_of(c.critical), 0.0, std::nullopt});
  res.perfdata.push_back({"size", static_cast<double>(r.body_bytes), "B", std::nullopt,
                          std::nullopt, 0.0, std::nullopt});

  if (!r.ok()) {
    res.state = r.failure == http::Failure::kBadRequest ? State::kUnknown : State::kCritical;
    res.summary = r.error;
    if (r.status) res.summary += fmt::format(" (status {} received)", r.status);
    return res;
  }

  res.summary = fmt::format("{} in {:.3f} s, {} bytes", r.status, r.total_seconds, r.body_bytes);
  if (r.body_cut) res.summary += fmt::format(" (body cut at max_body {})", c.max_body);

  if (c.certificate_only) {
    // check_http -C: the certificate is the whole check (--continue-after-certificate not given).
    res.summary = fmt::format("{} in {:.3f} s", r.status, r.total_seconds);
    judge_certificate(c, r, now, &res);
    return res;
  }

  std::vector<config::StatusRange> ranges;
  std::vector<std::string> status_texts;
  std::string err;
  const bool redirect = r.status >= 300 && r.status < 400;
  if (!config::parse_expect(c.expect, &ranges, &status_texts, &err)) {
    add_problem(&res, State::kUnknown, err);
  } else if (!status_expected(ranges, status_texts, r) &&
             !(redirect && c.on_redirect == config::OnRedirect::kOk)) {
    std::string reason = reason_of(r);
    std::string text = fmt::format("status {}{}{} not expected ({})", r.status,
                                   reason.empty() ? "" : " ", reason, join(c.expect));
    if (redirect && !r.redirect_url.empty())
      text += fmt::format(", redirect to {} not followed (--follow N)", shorten(r.redirect_url));
    bool warn = redirect && c.on_redirect == config::OnRedirect::kWarning;
    add_problem(&res, warn ? State::kWarning : State::kCritical, text);
  }

  if (!c.body_string.empty() || !c.body_regex.empty()) {
    bool found = body_matches(c, r.body);
    const std::string& what = c.body_string.empty() ? c.body_regex : c.body_string;
    const char* kind = c.body_string.empty() ? "regex" : "string";
    if (found && c.invert_match)
      add_problem(&res, State::kCritical, fmt::format("body matches {} '{}'", kind, shorten(what)));
    else if (!found && !c.invert_match)
      add_problem(&res, State::kCritical,
                  fmt::format("{} '{}' not found in the body{}", kind, shorten(what),
                              r.body_cut ? " (first max_body bytes)" : ""));
  }

  if (c.critical && r.total_seconds > seconds(*c.critical))
    add_problem(&res, State::kCritical,
                fmt::format("response time {:.3f} s > critical {:.3f} s", r.total_seconds,
                            seconds(*c.critical)));
  else if (c.warning && r.total_seconds > seconds(*c.warning))
    add_problem(&res, State::kWarning,
                fmt::format("response time {:.3f} s > warning {:.3f} s", r.total_seconds,
                            seconds(*c.warning)));

  judge_certificate(c, r, now, &res);
  return res;
}

CheckResult run(const Options& opts, int verbosity) {
  if (auto m = maintenance_result(opts.maintenance_file.value_or(""))) return *m;
  http::Request req;
  std::string err;
  if (!build_request(opts.check, &req, &err)) return CheckResult{State::kUnknown, err, {}};
  req.debug = verbosity >= 2;
  auto resp = http::perform(req);
  spdlog::debug(
      "{} {} -> status {} failure {} in {:.6f} s (connect {:.6f}, tls {:.6f}, first "
      "byte {:.6f}), {} bytes from {}",
      req.method, req.url, resp.status, http::failure_name(resp.failure), resp.total_seconds,
      resp.connect_seconds, resp.tls_seconds, resp.first_byte_seconds, resp.body_bytes,
      resp.primary_ip);
  return evaluate(opts.check, resp, static_cast<std::int64_t>(std::time(nullptr)));
}

}  // namespace hakit::check_http
