// check_http_200: the check_http / check_curl (monitoring-plugins) spellings, so a Nagios
// command line works by changing only the binary name. Where a letter meant something else in
// hakit, the monitoring-plugins meaning won (docs/migrating-from-monitoring-plugins.md).
#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include "check_http_200/check_http_200.hpp"
#include "common/netaddr.hpp"

namespace hakit::check_http {

namespace {

constexpr const char* kMigration = "docs/migrating-from-monitoring-plugins.md";

/// An option of check_http that check_http_200 refuses, with the reason (never ignored
/// silently: the operator's check would judge something else than they think).
void refuse(CLI::App& app, const std::string& names, const std::string& why, bool takes_value) {
  auto fail = [names, why] {
    throw CLI::ValidationError(names, fmt::format("not supported: {} (see {})", why, kMigration));
  };
  if (takes_value)
    app.add_option_function<std::string>(
           names, [fail](const std::string&) { fail(); }, "check_http option, refused: " + why)
        ->group("");
  else
    app.add_flag_callback(names, fail, "check_http option, refused: " + why)->group("");
}

/// A check_http option whose only effect is on the output's decoration: accepted, no effect.
void accept_cosmetic(CLI::App& app, const std::string& names, const std::string& what) {
  app.add_flag_callback(
         names, [] {}, "check_http option, accepted without effect: " + what)
      ->group("");
}

/// "name", "name:port", "[v6]", "[v6]:port", "v6" (several colons: no port) as check_http
/// reads -H.
bool split_host_port(const std::string& text, std::string* host, int* port, std::string* err) {
  *port = 0;
  std::string port_text;
  if (!text.empty() && text.front() == '[') {
    auto close = text.find(']');
    if (close == std::string::npos) {
      *err = fmt::format("-H '{}': unbalanced '['", text);
      return false;
    }
    *host = text.substr(1, close - 1);
    if (close + 1 < text.size()) {
      if (text[close + 1] != ':') {
        *err = fmt::format("-H '{}': want [ADDRESS]:PORT", text);
        return false;
      }
      port_text = text.substr(close + 2);
    }
  } else if (auto colon = text.find(':');
             colon != std::string::npos && text.find(':', colon + 1) == std::string::npos) {
    *host = text.substr(0, colon);
    port_text = text.substr(colon + 1);
  } else {
    *host = text;
  }
  if (host->empty()) {
    *err = fmt::format("-H '{}': no host name", text);
    return false;
  }
  if (!port_text.empty()) {
    if (port_text.find_first_not_of("0123456789") != std::string::npos || port_text.size() > 5 ||
        std::stoi(port_text) < 1 || std::stoi(port_text) > 65535) {
      *err = fmt::format("-H '{}': bad port '{}' (1-65535)", text, port_text);
      return false;
    }
    *port = std::stoi(port_text);
  }
  return true;
}

/// -C WARN[,CRIT] in days.
void parse_certificate_days(const std::string& text, config::HttpCheckConfig* c) {
  auto day_count = [&text](const std::string& s) {
    if (s.empty() || s.size() > 4 || s.find_first_not_of("0123456789") != std::string::npos)
      throw CLI::ValidationError("-C", fmt::format("'{}': want DAYS or WARN,CRIT (days)", text));
    return std::stoi(s);
  };
  auto comma = text.find(',');
  c->cert_warning_days = day_count(text.substr(0, comma));
  // check_http: CRITICAL days default to 0 (a certificate expiring within the day).
  c->cert_critical_days = comma == std::string::npos ? 0 : day_count(text.substr(comma + 1));
}

}  // namespace

void add_plugin_options(CLI::App& app, Options* opts) {
  auto& c = opts->check;
  auto& t = opts->target;
  app.add_option("-H,--hostname", t.vhost,
                 "Virtual host: Host header, TLS name, and where to connect unless -I "
                 "(NAME:PORT sets the port)")
      ->type_name("VHOST");
  app.add_option("-I,--IP-address", t.address,
                 "Connect to this address (Host and TLS name stay -H's or the URL's)")
      ->type_name("ADDRESS");
  app.add_option("-p,--port", t.port, "Connect to this port (default the URL's, 80 or 443)")
      ->type_name("PORT")
      ->check(CLI::Range(1, 65535));
  app.add_option("-u,--url", t.uri, "Path to request when the URL is built from -H/-I (default /)")
      ->type_name("PATH");
  app.add_option_function<std::string>(
         "-S,--ssl",
         [&t](const std::string& version) {
           if (!version.empty())
             throw CLI::ValidationError(
                 "--ssl", fmt::format("TLS version '{}' not supported: libcurl negotiates TLS "
                                      "1.2 or newer; give -S alone (see {})",
                                      version, kMigration));
           t.ssl = true;
         },
         "https (TLS) when the URL is built from -H/-I; port 443 by default")
      ->expected(0, 1)
      ->default_str("")
      ->type_name("");
  app.add_flag_callback(
      "--sni", [] {}, "Accepted: the TLS server name is always sent (the name of -H or the URL)");
  app.add_option_function<std::string>(
         "-C,--certificate",
         [&c, &t](const std::string& days) {
           parse_certificate_days(days, &c);
           t.ssl = true;
           t.certificate_days_given = true;
         },
         "Certificate: WARNING when it expires within WARN days, CRITICAL within CRIT; only the "
         "certificate is judged unless --continue-after-certificate")
      ->type_name("WARN[,CRIT]");
  app.add_flag("--continue-after-certificate", t.continue_after_certificate,
               "With -C, judge the answer (status, body, time) as well");
  app.add_option_function<std::string>(
         "-f,--onredirect",
         [&c, &t](const std::string& how) {
           t.follow = how == "follow" || how == "sticky" || how == "stickyport" || how == "curl";
           c.on_redirect = how == "ok"         ? config::OnRedirect::kOk
                           : how == "warning"  ? config::OnRedirect::kWarning
                           : how == "critical" ? config::OnRedirect::kCritical
                                               : config::OnRedirect::kExpect;
         },
         "A redirect: ok, warning, critical (its state), or follow (sticky, stickyport, curl: "
         "the same; every hop goes to -I/-p when given)")
      ->type_name("HOW")
      ->check(
          CLI::IsMember({"ok", "warning", "critical", "follow", "sticky", "stickyport", "curl"}));
  app.add_option("--max-redirs", t.max_redirs, "With -f follow: at most N redirects (default 15)")
      ->type_name("N")
      ->check(CLI::Range(0, 50));
  app.add_option_function<std::string>(
         "-R,--eregi",
         [&c](const std::string& re) {
           c.body_regex = re;
           c.body_regex_icase = true;
         },
         "The body must match this POSIX extended regex, ignoring case")
      ->type_name("REGEX")
      ->trigger_on_parse();  // with -r, the last one given decides
  accept_cosmetic(app, "-l,--linespan", "the regex always spans lines");
  accept_cosmetic(app, "-D,--verify-cert", "the certificate is always verified (--insecure not)");
  accept_cosmetic(app, "-E,--extended-perfdata", "perfdata is time and size");
  accept_cosmetic(app, "-N,--no-body", "the body is read only to match -s/-r, up to --max-body");
  accept_cosmetic(app, "-L,--link", "no HTML in the output");

  refuse(app, "-a,--authorization",
         "a password in argv is visible to every user (ps): put 'user:password' in a 0600 file "
         "and give --auth-file FILE",
         true);
  refuse(app, "-b,--proxy-authorization",
         "a password in argv is visible to every user (ps); proxy authentication is not "
         "supported",
         true);
  refuse(app, "-P,--post", "the request is GET or HEAD", true);
  refuse(app, "-T,--content-type", "the request is GET or HEAD (nothing is posted)", true);
  refuse(app, "-d,--header-string", "response headers are not matched; use -s/-r on the body",
         true);
  refuse(app, "-m,--pagesize", "page size limits are not checked (--max-body bounds reading)",
         true);
  refuse(app, "-M,--max-age", "document age is not checked", true);
  refuse(app, "-B,--show-body", "a check prints exactly one line", false);
  refuse(app, "--http-version", "libcurl negotiates the HTTP version", true);
  refuse(app, "--enable-automatic-decompression", "the body is matched as sent", false);
  refuse(app, "--cookie-jar", "no cookies are kept between checks", true);
  refuse(app, "--extra-opts", "settings come from hakit.yaml (--check NAME)", true);
}

bool apply_plugin_target(const PluginTarget& t, config::HttpCheckConfig* c, std::string* err) {
  if (t.certificate_days_given && !t.continue_after_certificate) c->certificate_only = true;
  if (t.follow) c->follow_redirects = t.max_redirs;
  std::string vhost;
  int vport = 0;
  if (!t.vhost.empty() && !split_host_port(t.vhost, &vhost, &vport, err)) return false;
  std::string path = t.uri.empty() ? "/" : t.uri;
  if (path.rfind("http://", 0) == 0 || path.rfind("https://", 0) == 0) {
    *err = fmt::format("-u '{}': give a path; a whole URL is the argument (and --proxy a proxy)",
                       t.uri);
    return false;
  }
  if (path.front() != '/') path = "/" + path;

  if (c->url.empty()) {
    if (vhost.empty() && t.address.empty()) return true;  // the caller says "no URL"
    const std::string scheme = t.ssl ? "https" : "http";
    const int default_port = t.ssl ? 443 : 80;
    // check_http: the port of -H is the URL's unless -p says where to connect.
    int url_port = vport ? vport : t.port ? t.port : default_port;
    c->url = fmt::format("{}://{}{}{}", scheme, bracket_host(vhost.empty() ? t.address : vhost),
                         url_port == default_port ? "" : ":" + std::to_string(url_port), path);
    if (!vhost.empty() && !t.address.empty()) c->connect_host = t.address;
    if (t.port && t.port != url_port) c->connect_port = t.port;
    return true;
  }

  // A URL is given (argument or config entry): -H renames it, -I/-p say where to connect.
  http::UrlParts url;
  if (!http::parse_url(c->url, &url, err)) return false;
  if (t.ssl && url.scheme != "https") {
    *err = fmt::format("-S/-C with the http URL {}: give an https URL", c->url);
    return false;
  }
  if (!t.uri.empty()) {
    *err = "-u with a URL: give the path in the URL";
    return false;
  }
  if (!vhost.empty()) {
    const int default_port = url.scheme == "https" ? 443 : 80;
    const int name_port = vport ? vport : url.port;
    c->url = fmt::format("{}://{}{}{}", url.scheme, bracket_host(vhost),
                         name_port == default_port ? "" : ":" + std::to_string(name_port),
                         url.path.empty() ? "/" : url.path);
    // The node stays the URL's unless -I/-p (or the entry's connect_host/port) say otherwise.
    if (c->connect_host.empty()) c->connect_host = url.host;
    if (!c->connect_port && name_port != url.port) c->connect_port = url.port;
  }
  if (!t.address.empty()) c->connect_host = t.address;
  if (t.port) c->connect_port = t.port;
  return true;
}

}  // namespace hakit::check_http
